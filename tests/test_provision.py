"""Provisioning: the planner's rule (a learner's edit is never overwritten) and the applier.

The planner is pure, so it is tested case by case and by a stateful model of a home that
a learner and the catalog change in any order. The applier runs against real folders
under tmp_path: a tiny catalog, a home, symlinks planted where files should go.
"""

from __future__ import annotations

import hashlib
import json
import os
import string
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from connected_learning.catalog import release
from connected_learning.catalog.load import load_catalog
from connected_learning.learner import provision
from connected_learning.learner.provision import (
    MANIFEST,
    NOT_A_FILE,
    Action,
    Plan,
    ReleaseFile,
    apply,
    beside_name,
    plan,
    provision_home,
    read_manifest,
    scan_home,
)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def offer(path: str, content: bytes, version: str = "1.0") -> ReleaseFile:
    return ReleaseFile(path, digest(content), version, source=f"/catalog/{path}")


NB = "beat-lab/beat.ipynb"
V1 = b'{"cells": [], "version": "1.0"}'
V2 = b'{"cells": [], "version": "1.1"}'
EDIT = b'{"cells": ["my own beat"]}'
# An explicit alphabet: plain st.text() builds a Unicode table on first use (seconds).
GARBAGE = string.hexdigits + string.punctuation + " "


# ------------------------------------------------------------------ planner, case by case


def test_new_file_is_copied() -> None:
    result = plan({NB: offer(NB, V1)}, {}, {})
    assert result.actions == [Action("copy", NB, f"/catalog/{NB}", digest(V1), NB)]
    assert result.manifest == {NB: digest(V1)}


def test_file_already_current_needs_nothing() -> None:
    result = plan({NB: offer(NB, V1)}, {NB: digest(V1)}, {NB: digest(V1)})
    assert result.actions == []
    assert result.manifest == {NB: digest(V1)}


def test_untouched_file_is_updated_to_the_new_release() -> None:
    result = plan({NB: offer(NB, V2, "1.1")}, {NB: digest(V1)}, {NB: digest(V1)})
    assert result.actions == [Action("update", NB, f"/catalog/{NB}", digest(V2), NB)]
    assert result.manifest == {NB: digest(V2)}


def test_edited_file_gets_the_new_release_beside_it() -> None:
    result = plan({NB: offer(NB, V2, "1.1")}, {NB: digest(V1)}, {NB: digest(EDIT)})
    assert [(a.kind, a.path, a.record) for a in result.actions] == [
        ("beside", "beat-lab/beat (new version 1.1).ipynb", NB)
    ]
    assert all(a.path != NB for a in result.actions)
    # Recorded as delivered, so the next start does not put it beside a second time.
    assert result.manifest == {NB: digest(V2)}
    again = plan(
        {NB: offer(NB, V2, "1.1")},
        result.manifest,
        {NB: digest(EDIT), "beat-lab/beat (new version 1.1).ipynb": digest(V2)},
    )
    assert again.actions == []


def test_edited_file_without_a_new_release_is_left_alone() -> None:
    result = plan({NB: offer(NB, V1)}, {NB: digest(V1)}, {NB: digest(EDIT)})
    assert result.actions == []
    assert result.manifest == {NB: digest(V1)}


def test_file_deleted_by_the_learner_is_copied_again() -> None:
    result = plan({NB: offer(NB, V1)}, {NB: digest(V1)}, {"beat-lab/other.txt": digest(b"x")})
    assert [(a.kind, a.path) for a in result.actions] == [("copy", NB)]


def test_stray_learner_file_where_a_new_release_file_goes_is_kept() -> None:
    result = plan({NB: offer(NB, V1)}, {}, {NB: digest(EDIT)})
    assert [(a.kind, a.path) for a in result.actions] == [("beside", "beat-lab/beat (new version 1.0).ipynb")]


@pytest.mark.parametrize("delivered", [None, digest(V1), digest(V2), NOT_A_FILE, "garbage"])
@pytest.mark.parametrize("offered", [V1, V2])
def test_folder_or_symlink_at_a_path_is_never_copied_or_updated(delivered: str | None, offered: bytes) -> None:
    manifest = {} if delivered is None else {NB: delivered}
    result = plan({NB: offer(NB, offered, "1.1")}, manifest, {NB: NOT_A_FILE})
    assert all(a.path != NB for a in result.actions)
    assert all(a.kind == "beside" for a in result.actions)


@pytest.mark.parametrize(
    "manifest",
    [
        {},
        {NB: ""},
        {NB: "not a digest"},
        {NB: NOT_A_FILE},
        {NB: digest(b"something else")},
        {NB: digest(V2)},  # claims the new release was delivered already
        {"elsewhere/x.ipynb": digest(EDIT)},
        {NB.upper(): digest(EDIT)},
    ],
    ids=["empty", "blank", "text", "not-a-file", "other-digest", "new-digest", "other-path", "other-case"],
)
@pytest.mark.parametrize("release", [V1, V2])
def test_tampered_manifest_never_costs_an_edit(manifest: dict[str, str], release: bytes) -> None:
    result = plan({NB: offer(NB, release, "1.1")}, manifest, {NB: digest(EDIT)})
    assert all(a.path != NB for a in result.actions)


@given(
    manifest=st.dictionaries(
        st.sampled_from([NB, "beat-lab/x.csv", "other"]),
        st.one_of(st.text(GARBAGE, max_size=70), st.sampled_from([digest(V1), digest(V2), NOT_A_FILE])),
    ),
    release=st.sampled_from([V1, V2]),
)
@settings(database=None)
def test_any_manifest_that_does_not_name_the_edit_keeps_it(manifest: dict[str, str], release: bytes) -> None:
    # Only a manifest holding the digest of the learner's own edit could make it look
    # untouched; nothing the hub writes ever does (it records release digests only).
    result = plan({NB: offer(NB, release, "1.1")}, manifest, {NB: digest(EDIT)})
    assert all(a.path != NB for a in result.actions)


def test_beside_name_collision_adds_a_counter() -> None:
    first = "beat-lab/beat (new version 1.1).ipynb"
    second = "beat-lab/beat (new version 1.1, 2).ipynb"
    home = {NB: digest(EDIT), first: digest(b"learner kept an old copy")}
    result = plan({NB: offer(NB, V2, "1.1")}, {NB: digest(V1)}, home)
    assert [a.path for a in result.actions] == [second]
    home[second] = NOT_A_FILE
    result = plan({NB: offer(NB, V2, "1.1")}, {NB: digest(V1)}, home)
    assert [a.path for a in result.actions] == ["beat-lab/beat (new version 1.1, 3).ipynb"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("beat-lab/beat.ipynb", "beat-lab/beat (new version 2.0).ipynb"),
        ("bird-count/data/birds.csv", "bird-count/data/birds (new version 2.0).csv"),
        ("wb/README", "wb/README (new version 2.0)"),
    ],
)
def test_beside_name_keeps_the_folder_and_the_suffix(path: str, expected: str) -> None:
    assert beside_name(path, "2.0", ()) == expected


def test_two_edited_files_in_one_folder_get_distinct_beside_names() -> None:
    a, b = "wb/a.ipynb", "wb/a.csv"
    result = plan({a: offer(a, V2, "2"), b: offer(b, V2, "2")}, {}, {a: digest(EDIT), b: digest(EDIT)})
    targets = [x.path for x in result.actions]
    assert sorted(targets) == ["wb/a (new version 2).csv", "wb/a (new version 2).ipynb"]


def test_files_dropped_from_the_release_stay_and_leave_the_manifest() -> None:
    result = plan({}, {NB: digest(V1)}, {NB: digest(V1)})
    assert result.actions == [] and result.manifest == {}


def test_plan_does_not_touch_its_inputs() -> None:
    release = MappingProxyType({NB: offer(NB, V2, "1.1")})
    manifest = MappingProxyType({NB: digest(V1)})
    home = MappingProxyType({NB: digest(EDIT)})
    assert plan(release, manifest, home) == plan(release, manifest, home)
    assert dict(home) == {NB: digest(EDIT)} and dict(manifest) == {NB: digest(V1)}


# ------------------------------------------------------------------ planner, as a model

# The home in memory: the catalog publishes, the learner edits, deletes, makes strays and
# folders, the manifest gets lost or mangled, and provisioning applies the plan. Paths are
# few so that sequences collide: strays named like beside files, new release files where
# the learner already has something, the same version published twice.
START_FILES = ("wb/a.ipynb", "wb/data/c.csv")
NEW_FILES = ("wb/b.ipynb", "wb/data/d.csv", "extra/e.ipynb")
STRAY_NAMES = (
    "wb/b.ipynb",
    "extra/e.ipynb",
    "wb/notes.txt",
    "wb/a (new version 1.0).ipynb",
    "wb/a (new version 1.1).ipynb",
    "wb/a (new version 1.1, 2).ipynb",
    "wb/data/c (new version 1.1).csv",
)
EDIT_TAG = b"learner:"  # learner content never equals a release's


class Home(RuleBasedStateMachine):
    """After every provisioning run, whatever happened before it:

    - no action targets a path holding the learner's content, a folder or a symlink;
    - every learner edit (not since deleted) is still there, byte for byte;
    - every release file the learner has not touched is the latest release;
    - the latest release of every file reached the home, at its path or beside it;
    - with an honest manifest, a release is put beside an edit at most once.
    """

    def __init__(self) -> None:
        super().__init__()
        self.release: dict[str, tuple[bytes, str]] = {}  # path -> (content, version)
        self.published: dict[str, int] = {}
        self.minor: dict[str, int] = {}
        self.files: dict[str, bytes] = {}
        self.not_files: set[str] = set()  # folders and symlinks the learner made
        self.manifest: dict[str, str] = {}
        self.learner: dict[str, bytes] = {}  # paths whose current content the learner wrote
        self.old_digests: set[str] = set()
        self.given: dict[str, set[str]] = defaultdict(set)  # release path -> digests handed over
        self.beside_count: dict[tuple[str, str], int] = defaultdict(int)
        self.unsure: set[str] = set()  # untouched copies whose manifest entry was mangled
        self.tampered = False
        for path in START_FILES:
            self._publish(path, bump=True)

    def _publish(self, path: str, bump: bool) -> None:
        if path in self.release:
            self.old_digests.add(digest(self.release[path][0]))
        n = self.published.get(path, -1) + 1
        self.published[path] = n
        self.minor[path] = self.minor.get(path, -1) + (1 if bump or n == 0 else 0)
        self.release[path] = (f"release {path} #{n}".encode(), f"1.{self.minor[path]}")

    def _learner_writes(self, path: str, content: bytes) -> None:
        self.files[path] = EDIT_TAG + content
        self.learner[path] = EDIT_TAG + content
        self.unsure.discard(path)

    # -------------------------------------------------------------- the learner

    @precondition(lambda self: self.files)
    @rule(data=st.data(), content=st.binary(max_size=12))
    def learner_edits(self, data: st.DataObject, content: bytes) -> None:
        path = data.draw(st.sampled_from(sorted(self.files)))
        self._learner_writes(path, content)

    @precondition(lambda self: self.files or self.not_files)
    @rule(data=st.data())
    def learner_deletes(self, data: st.DataObject) -> None:
        path = data.draw(st.sampled_from(sorted([*self.files, *self.not_files])))
        self.files.pop(path, None)
        self.not_files.discard(path)
        self.learner.pop(path, None)
        self.unsure.discard(path)

    @rule(path=st.sampled_from(STRAY_NAMES), content=st.binary(max_size=12))
    def learner_creates_a_stray_file(self, path: str, content: bytes) -> None:
        if path not in self.not_files:
            self._learner_writes(path, content)

    @rule(path=st.sampled_from(START_FILES + NEW_FILES + STRAY_NAMES[3:]))
    def learner_makes_a_folder_or_symlink(self, path: str) -> None:
        if path not in self.files:
            self.not_files.add(path)

    @rule(data=st.data(), how=st.sampled_from(["lose", "drop", "garbage", "older"]))
    def manifest_gets_mangled(self, data: st.DataObject, how: str) -> None:
        # Never the digest of the learner's own edit, nor the latest release's: a
        # manifest claiming either is one only the learner could write, about themselves.
        keys = sorted(self.manifest)
        if how == "lose":
            self.manifest = {}
        elif how == "drop" and keys:
            del self.manifest[data.draw(st.sampled_from(keys))]
        elif how == "garbage" and keys:
            self.manifest[data.draw(st.sampled_from(keys))] = data.draw(st.text(string.hexdigits, max_size=64))
        elif how == "older" and keys and self.old_digests:
            key = data.draw(st.sampled_from(keys))
            older = sorted(self.old_digests - {digest(self.release[key][0])})
            if older:
                self.manifest[key] = data.draw(st.sampled_from(older))
        self.tampered = True
        self.unsure.update(p for p in self.release if p in self.files and p not in self.learner)

    # -------------------------------------------------------------- the catalog

    @rule(data=st.data(), bump=st.booleans())
    def catalog_publishes_a_new_release(self, data: st.DataObject, bump: bool) -> None:
        self._publish(data.draw(st.sampled_from(sorted(self.release))), bump)

    @rule(path=st.sampled_from(NEW_FILES))
    def catalog_adds_a_file(self, path: str) -> None:
        if path not in self.release:
            self._publish(path, bump=True)

    # -------------------------------------------------------------- provisioning

    @rule()
    def provision(self) -> None:
        release = {p: ReleaseFile(p, digest(c), v, source=p) for p, (c, v) in self.release.items()}
        home = {p: digest(c) for p, c in self.files.items()}
        home.update(dict.fromkeys(self.not_files, NOT_A_FILE))
        the_plan = plan(release, self.manifest, home)

        targets = [a.path for a in the_plan.actions]
        assert len(targets) == len(set(targets)), f"two actions write one path: {targets}"
        for a in the_plan.actions:
            assert a.path not in self.learner, f"{a.kind} would overwrite the learner's {a.path}"
            assert a.path not in self.not_files, f"{a.kind} would write through {a.path}"
            content, version = self.release[a.record]
            assert a.digest == digest(content)
            if a.kind == "update":
                assert a.path == a.record and a.path in self.files
                assert self.files[a.path] != content, f"needless rewrite of {a.path}"
            elif a.kind == "beside":
                record, target = PurePosixPath(a.record), PurePosixPath(a.path)
                assert target.parent == record.parent, a
                assert target.name.startswith(f"{record.stem} (new version {version}"), a
                assert a.path not in self.files, a
            else:
                assert a.kind == "copy" and a.path == a.record and a.path not in self.files, a
        for a in the_plan.actions:
            self.files[a.path] = self.release[a.record][0]
            self.unsure.discard(a.path)
            self.given[a.record].add(a.digest)
            if a.kind == "beside":
                self.beside_count[(a.record, a.digest)] += 1
        self.manifest = dict(the_plan.manifest)

        for path, content in self.learner.items():
            assert self.files.get(path) == content, f"the learner's edit of {path} was lost"
        for path, (content, _version) in self.release.items():
            assert digest(content) in self.given[path], f"the latest {path} never reached the home"
            if path in self.learner or path in self.not_files or path in self.unsure:
                continue
            assert self.files.get(path) == content, f"untouched {path} is not the latest release"
        assert set(self.manifest) == set(self.release)
        if not self.tampered:
            assert max(self.beside_count.values(), default=0) <= 1, "a release was put beside twice"


# No deadline or speed health check: on a loaded CI machine they would fail by timing alone.
Home.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
TestHomeModel = Home.TestCase


# ------------------------------------------------------------------ applier, real folders

INTERESTS = """
[interests.music]
title = "Music"
description = "Make beats."
"""


def notebook(text: str) -> bytes:
    cell = {"cell_type": "markdown", "metadata": {}, "source": [text]}
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1).encode()


class Site:
    """A one-workbook catalog and a learner's home, both under tmp_path."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.catalog = tmp / "catalog"
        self.folder = self.catalog / "music" / "beat-lab"
        self.home = tmp / "home"
        self.outside = tmp / "outside"
        for folder in (self.folder, self.home, self.outside):
            folder.mkdir(parents=True)
        (self.catalog / "interests.toml").write_text(INTERESTS)
        self.content = {"beat-lab.ipynb": notebook("Beat Lab 1.0"), "samples/kick.txt": b"kick 1.0\n"}
        self.publish("1.0")

    @property
    def root(self) -> Path:
        return self.home / "workbooks"

    def publish(self, version: str, changes: dict[str, bytes] | None = None) -> None:
        """Write the workbook at `version`, with `changes` (relative path -> new content)."""
        self.content.update(changes or {})
        for rel, content in self.content.items():
            (self.folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (self.folder / rel).write_bytes(content)
        files = [r for r in self.content if not r.endswith(".ipynb")]
        (self.folder / "workbook.toml").write_text(f"""
id = "beat-lab"
title = "Beat Lab"
version = "{version}"
interests = ["music"]
subjects = ["maths"]
level = "beginner"
minutes = 45
summary = "Make a beat."
notebooks = ["beat-lab.ipynb"]
files = {json.dumps(files)}
licence = "CC-BY-4.0"
""")

    def releases(self, *ids: str) -> dict[str, Path]:
        """Publish the workbooks `ids` as the hub does and return {id: release folder}."""
        catalog = load_catalog(self.catalog)
        return {w: release.publish(catalog.workbooks[w], self.tmp / "releases") for w in ids or ["beat-lab"]}

    def provision(self, *ids: str) -> dict[str, object]:
        return provision_home(self.home, self.releases(*ids))

    def at(self, rel: str) -> Path:
        return self.root / "beat-lab" / rel

    def leftovers(self) -> list[Path]:
        """Temporary files of an atomic write (".clhub-XXXX.part") still lying about."""
        return [
            p
            for p in self.home.rglob("*")
            if p.name.endswith(".part") or (p.name.startswith(".clhub-") and p.name != MANIFEST)
        ]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path)


def test_first_run_copies_every_file_and_writes_the_manifest(site: Site) -> None:
    summary = site.provision()
    assert summary == {"workbooks": ["beat-lab"], "copied": 2, "updated": 0, "beside": [], "problems": []}
    for rel, content in site.content.items():
        assert site.at(rel).read_bytes() == content
        assert site.at(rel).stat().st_mode & 0o777 == 0o644
    delivered = {f"beat-lab/{rel}": digest(c) for rel, c in site.content.items()}
    assert read_manifest(site.root) == delivered
    assert not site.leftovers()


def test_second_run_without_changes_writes_nothing(site: Site) -> None:
    site.provision()
    stamp = site.at("beat-lab.ipynb").stat().st_mtime_ns
    summary = site.provision()
    assert (summary["copied"], summary["updated"], summary["beside"]) == (0, 0, [])
    assert site.at("beat-lab.ipynb").stat().st_mtime_ns == stamp


def test_edit_is_kept_and_the_new_release_goes_beside_it(site: Site) -> None:
    site.provision()
    edit = notebook("My own beat: boom boom tss")
    site.at("beat-lab.ipynb").write_bytes(edit)
    new_nb, new_kick = notebook("Beat Lab 1.1"), b"kick 1.1\n"
    site.publish("1.1", {"beat-lab.ipynb": new_nb, "samples/kick.txt": new_kick})

    summary = site.provision()

    assert site.at("beat-lab.ipynb").read_bytes() == edit
    beside = site.at("beat-lab (new version 1.1).ipynb")
    assert beside.read_bytes() == new_nb
    assert summary["beside"] == ["beat-lab/beat-lab (new version 1.1).ipynb"]
    assert summary["updated"] == 1 and site.at("samples/kick.txt").read_bytes() == new_kick
    assert read_manifest(site.root)["beat-lab/beat-lab.ipynb"] == digest(new_nb)
    # Once only: the next start leaves both alone.
    again = site.provision()
    assert again["beside"] == [] and site.at("beat-lab.ipynb").read_bytes() == edit
    assert not site.leftovers()


def test_a_garbage_manifest_file_never_costs_an_edit(site: Site) -> None:
    site.provision()
    edit = notebook("mine")
    site.at("beat-lab.ipynb").write_bytes(edit)
    (site.root / MANIFEST).write_text('{"files": {"beat-lab/beat-lab.ipynb": 12, "x": "y"')
    site.publish("1.1", {"beat-lab.ipynb": notebook("Beat Lab 1.1")})
    summary = site.provision()
    assert site.at("beat-lab.ipynb").read_bytes() == edit
    assert summary["beside"] == ["beat-lab/beat-lab (new version 1.1).ipynb"]


def test_a_new_release_file_appears(site: Site) -> None:
    site.provision()
    site.publish("1.1", {"samples/snare.txt": b"snare\n"})
    summary = site.provision()
    assert summary["copied"] == 1
    assert site.at("samples/snare.txt").read_bytes() == b"snare\n"


def test_a_file_the_learner_deleted_comes_back(site: Site) -> None:
    site.provision()
    site.at("samples/kick.txt").unlink()
    assert site.provision()["copied"] == 1
    assert site.at("samples/kick.txt").read_bytes() == site.content["samples/kick.txt"]


@pytest.mark.parametrize("dangling", [False, True], ids=["to-a-file", "dangling"])
def test_a_symlink_at_a_destination_is_never_written_through(site: Site, dangling: bool) -> None:
    site.provision()
    target = site.outside / "precious.txt"
    if not dangling:
        target.write_bytes(b"not yours to change\n")
    site.at("samples/kick.txt").unlink()
    site.at("samples/kick.txt").symlink_to(target)
    site.at("samples/snare.txt").symlink_to(target)  # where a file is about to be added
    site.publish("1.1", {"samples/kick.txt": b"kick 1.1\n", "samples/snare.txt": b"snare\n"})

    summary = site.provision()

    if dangling:
        assert not os.path.lexists(target)
    else:
        assert target.read_bytes() == b"not yours to change\n"
    for name in ("kick.txt", "snare.txt"):
        assert site.at(f"samples/{name}").is_symlink()
        assert os.readlink(site.at(f"samples/{name}")) == str(target)
    assert sorted(summary["beside"]) == [
        "beat-lab/samples/kick (new version 1.1).txt",
        "beat-lab/samples/snare (new version 1.1).txt",
    ]
    assert site.at("samples/kick (new version 1.1).txt").read_bytes() == b"kick 1.1\n"
    assert not site.leftovers()


def test_a_symlinked_workbook_folder_is_never_written_into(site: Site) -> None:
    site.root.mkdir()
    (site.root / "beat-lab").symlink_to(site.outside, target_is_directory=True)
    summary = site.provision()
    assert list(site.outside.iterdir()) == []
    assert len(summary["problems"]) == 2
    assert all("not a folder" in p for p in summary["problems"])
    assert read_manifest(site.root) == {}  # nothing claimed: the next start tries again
    (site.root / "beat-lab").unlink()
    assert site.provision()["copied"] == 2


def test_a_symlink_at_workbooks_itself_is_refused(site: Site) -> None:
    site.root.symlink_to(site.outside, target_is_directory=True)
    with pytest.raises(OSError, match="symbolic link"):
        site.provision()
    assert list(site.outside.iterdir()) == []


def test_a_symlink_planted_after_the_scan_is_not_written_through(site: Site) -> None:
    # The race the applier guards against: the plan says copy, then a link appears.
    site.provision()
    old_manifest = read_manifest(site.root)
    site.publish("1.1", {"samples/kick.txt": b"kick 1.1\n", "samples/snare.txt": b"snare\n"})
    kick, snare = "beat-lab/samples/kick.txt", "beat-lab/samples/snare.txt"
    source = site.folder / "samples"
    the_plan = Plan(
        actions=[
            Action("update", kick, str(source / "kick.txt"), "k", kick),
            Action("copy", snare, str(source / "snare.txt"), "s", snare),
        ],
        manifest={**old_manifest, kick: "k", snare: "s"},
    )
    target = site.outside / "precious.txt"
    target.write_bytes(b"keep\n")
    site.at("samples/kick.txt").unlink()
    site.at("samples/kick.txt").symlink_to(target)
    site.at("samples/snare.txt").symlink_to(target)

    problems = apply(site.root, the_plan, old_manifest)

    assert target.read_bytes() == b"keep\n"
    assert len(problems) == 2 and all("not a regular file" in p for p in problems)
    manifest = read_manifest(site.root)
    assert manifest[kick] == old_manifest[kick] and snare not in manifest
    assert not site.leftovers()


def test_a_beside_file_that_appeared_meanwhile_is_not_replaced(site: Site) -> None:
    site.root.mkdir()
    dest = site.at("beat-lab (new version 1.1).ipynb")
    dest.parent.mkdir()
    dest.write_bytes(b"the learner's")
    action = Action(
        "beside",
        "beat-lab/beat-lab (new version 1.1).ipynb",
        str(site.folder / "beat-lab.ipynb"),
        "d",
        "beat-lab/beat-lab.ipynb",
    )
    problems = apply(site.root, Plan([action], {"beat-lab/beat-lab.ipynb": "d"}), {})
    assert problems and dest.read_bytes() == b"the learner's"
    assert read_manifest(site.root) == {}


def test_a_failed_copy_leaves_no_temporary_file(site: Site) -> None:
    site.root.mkdir()
    action = Action("copy", "beat-lab/gone.ipynb", str(site.folder / "gone.ipynb"), "d", "beat-lab/gone.ipynb")
    problems = apply(site.root, Plan([action], {"beat-lab/gone.ipynb": "d"}), {})
    assert len(problems) == 1 and "gone.ipynb" in problems[0]
    assert not site.at("gone.ipynb").exists()
    assert not site.leftovers()
    assert read_manifest(site.root) == {}


@pytest.mark.parametrize(
    "pick",
    [
        "beat-lab=../../etc",
        "beat-lab=.building-x",
        "../x=1.0",
        "beat-lab=9.9+notpublished",
        "beat-lab=",
        "=1.0",
        "beat-lab/x=1.0",
    ],
)
def test_only_published_releases_are_accepted(site: Site, pick: str) -> None:
    site.releases()
    with pytest.raises(ValueError, match="is not a published release"):
        provision.resolve_releases(site.tmp / "releases", [pick])


@pytest.fixture
def keep_umask() -> Iterator[None]:
    """provision.main() sets the process umask, as the real step does; give it back."""
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def test_command_prints_a_summary_or_an_error(site: Site, keep_umask: None, capsys: pytest.CaptureFixture[str]) -> None:
    folder = site.releases()["beat-lab"]
    args = ["--home", str(site.home), "--releases", str(site.tmp / "releases"), f"beat-lab={folder.name}"]
    assert provision.main(args) == 0
    assert json.loads(capsys.readouterr().out)["copied"] == 2
    other = site.tmp / "other-home"
    other.mkdir()
    (other / "workbooks").symlink_to(site.outside, target_is_directory=True)
    assert provision.main(["--home", str(other), *args[2:]]) == 1
    assert "symbolic link" in json.loads(capsys.readouterr().out)["error"]


# ------------------------------------------------------------------ reading the home


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, {}),
        ("not json", {}),
        ("[]", {}),
        ('{"files": []}', {}),
        ('{"other": {}}', {}),
        ('{"files": {"a": 1, "b": "x", "c": null}}', {"b": "x"}),
    ],
)
def test_read_manifest_ignores_what_it_did_not_write(
    tmp_path: Path, text: str | None, expected: dict[str, str]
) -> None:
    if text is not None:
        (tmp_path / MANIFEST).write_text(text)
    assert read_manifest(tmp_path) == expected


def test_scan_home_marks_anything_but_a_regular_file(tmp_path: Path) -> None:
    wb = tmp_path / "wb"
    wb.mkdir()
    (wb / "a.ipynb").write_bytes(b"a")
    (wb / "sibling.txt").write_bytes(b"s")
    (wb / "folder.ipynb").mkdir()
    (wb / "link.ipynb").symlink_to(wb / "a.ipynb")
    (tmp_path / "file-not-folder").write_bytes(b"f")
    found = scan_home(tmp_path, ["wb/a.ipynb", "missing/x.ipynb", "file-not-folder/y.ipynb"])
    assert found == {
        "wb/a.ipynb": digest(b"a"),
        "wb/sibling.txt": digest(b"s"),
        "wb/folder.ipynb": NOT_A_FILE,
        "wb/link.ipynb": NOT_A_FILE,
    }


def test_scan_home_does_not_look_into_a_symlinked_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.ipynb").write_bytes(b"a")
    (tmp_path / "wb").symlink_to(outside, target_is_directory=True)
    assert scan_home(tmp_path, ["wb/a.ipynb"]) == {}
