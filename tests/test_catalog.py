"""The workbook catalog: the shipped one is clean, and every kind of mistake is named.

Each broken catalog is a copy of the repository's, changed in one place under tmp_path;
the problem must name the file and the key so that whoever wrote the workbook can fix it.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from connected_learning.catalog.load import Catalog, CatalogError, Interest, Workbook, load_catalog, scan_catalog
from connected_learning.catalog.table import (
    GETTING_STARTED,
    MIN_ASSIGNABLE,
    MIN_INTERESTS,
    MIN_PER_INTEREST,
    MIN_SPANISH,
    MIN_WORKBOOKS,
    check_targets,
)
from connected_learning.cli import main

REPO = Path(__file__).resolve().parents[1]
WORKBOOKS = REPO / "workbooks"
BEAT = "music/beat-lab/workbook.toml"
BIRDS = "nature/bird-count/workbook.toml"


def set_key(path: Path, key: str, literal: str | None) -> None:
    """Replace (or drop, with None) the top-level `key = ...` line of a workbook.toml."""
    lines = [line for line in path.read_text().splitlines() if not re.match(rf"{re.escape(key)}\s*=", line)]
    if literal is not None:
        lines.append(f"{key} = {literal}")
    path.write_text("\n".join(lines) + "\n")


# The catalog's logic is tested on a fixed part of the shipped catalog, so that the
# collection can grow without these tests changing.
FIXED = ("getting-started/start-here", "music/beat-lab", "nature/bird-count")


def fixed_copy(root: Path) -> Path:
    root.mkdir()
    shutil.copy(WORKBOOKS / "interests.toml", root / "interests.toml")
    for rel in FIXED:
        shutil.copytree(WORKBOOKS / rel, root / rel)
    return root


@pytest.fixture
def catalog(tmp_path: Path) -> Path:
    return fixed_copy(tmp_path / "workbooks")


# ------------------------------------------------------------------ the shipped catalog


def test_the_repository_catalog_is_clean() -> None:
    catalog, problems = scan_catalog(WORKBOOKS)
    assert problems == []
    assert {"beat-lab", "bird-count", "start-here"} <= set(catalog.workbooks)
    assert len(catalog.workbooks) >= 10
    assert len(set(catalog.interests_with_workbooks(["start-here"]))) >= 6
    birds = catalog.workbooks["bird-count"]
    assert birds.delivered == ("bird-count.ipynb", "data/garden-birds.csv", "data/SOURCE.md")
    assert birds.folder == WORKBOOKS / "nature" / "bird-count"


def test_teacher_notes_are_never_delivered() -> None:
    for workbook in load_catalog(WORKBOOKS).workbooks.values():
        assert not {"workbook.toml", "TEACHER.md"} & set(workbook.delivered)


# ------------------------------------------------------------------ broken catalogs

Break = Callable[[Path], None]


def key(file: str, name: str, literal: str | None) -> Break:
    return lambda root: set_key(root / file, name, literal)


def write(file: str, text: str) -> Break:
    return lambda root: (root / file).write_text(text)


def duplicate_id(root: Path) -> None:
    shutil.copytree(root / "music" / "beat-lab", root / "nature" / "beat-lab")
    set_key(root / "nature" / "beat-lab" / "workbook.toml", "interests", '["music", "nature"]')


def hidden_file(root: Path) -> None:
    (root / "nature" / "bird-count" / "data" / ".secret.csv").write_text("a,b\n")
    set_key(root / BIRDS, "files", '["data/.secret.csv"]')


def symlinked_notebook(root: Path) -> None:
    nb = root / "music" / "beat-lab" / "beat-lab.ipynb"
    nb.unlink()
    nb.symlink_to(root / "getting-started" / "start-here" / "start-here.ipynb")


BROKEN: list[tuple[str, Break, str, list[str]]] = [
    # (what, how, the file the problem names, words it must contain)
    ("missing-key", key(BEAT, "level", None), BEAT, ["level", "is missing"]),
    ("unknown-key", key(BEAT, "colour", '"red"'), BEAT, ["colour", "not a known key", "allowed:", "licence", "files"]),
    ("wrong-type-text", key(BEAT, "minutes", '"45"'), BEAT, ["minutes", "must be a whole number", "'45'"]),
    ("wrong-type-bool", key(BEAT, "minutes", "true"), BEAT, ["minutes", "must be a whole number", "True"]),
    ("wrong-type-list", key(BEAT, "interests", '"music"'), BEAT, ["interests", "must be a list"]),
    ("list-of-numbers", key(BEAT, "subjects", "[1]"), BEAT, ["subjects", "list of text"]),
    ("blank-title", key(BEAT, "title", '"  "'), BEAT, ["title", "must not be empty"]),
    (
        "unknown-interest",
        key(BEAT, "interests", '["music", "zz-unknown"]'),
        BEAT,
        ["interests", "'zz-unknown'", "not in interests.toml", "known:", "nature"],
    ),
    ("no-interest", key(BEAT, "interests", "[]"), BEAT, ["interests", "at least one"]),
    ("folder-not-in-interests", key(BEAT, "interests", '["nature"]'), BEAT, ["interests", "must include 'music'"]),
    ("bad-level", key(BEAT, "level", '"expert"'), BEAT, ["level", "'expert'", "beginner, intermediate, advanced"]),
    ("bad-subject", key(BEAT, "subjects", '["history"]'), BEAT, ["subjects", "'history'", "maths, science"]),
    ("no-subject", key(BEAT, "subjects", "[]"), BEAT, ["subjects", "at least one"]),
    ("minutes-too-few", key(BEAT, "minutes", "4"), BEAT, ["minutes", "= 4", "between 5 and 240"]),
    ("minutes-too-many", key(BEAT, "minutes", "241"), BEAT, ["minutes", "= 241", "5 and 240"]),
    ("version-letter", key(BEAT, "version", '"v1"'), BEAT, ["version", "'v1'", '"1.0"']),
    ("version-suffix", key(BEAT, "version", '"1.0-beta"'), BEAT, ["version", "'1.0-beta'"]),
    ("version-too-long", key(BEAT, "version", '"1.2.3.4.5"'), BEAT, ["version", "'1.2.3.4.5'"]),
    ("version-number", key(BEAT, "version", "1.0"), BEAT, ["version", "must be text in quotes", "1.0"]),
    ("version-newline", key(BEAT, "version", '"1.0\\n"'), BEAT, ["version", "'1.0\\n'"]),
    ("id-not-folder", key(BEAT, "id", '"beat-lab-2"'), BEAT, ["id", "'beat-lab-2'", "folder name 'beat-lab'"]),
    (
        "notebook-missing",
        key(BEAT, "notebooks", '["nope.ipynb"]'),
        BEAT,
        ["notebooks", "'nope.ipynb'", "is not a file"],
    ),
    (
        "notebook-dotdot",
        key(BEAT, "notebooks", '["../../nature/bird-count/bird-count.ipynb"]'),
        BEAT,
        ["notebooks", "'../../nature/bird-count/bird-count.ipynb'", "relative path inside"],
    ),
    (
        "notebook-absolute",
        key(BEAT, "notebooks", '["/etc/beat.ipynb"]'),
        BEAT,
        ["notebooks", "'/etc/beat.ipynb'", "relative path inside"],
    ),
    (
        "file-absolute",
        key(BIRDS, "files", '["/etc/passwd"]'),
        BIRDS,
        ["files", "'/etc/passwd'", "relative path inside"],
    ),
    ("file-hidden", hidden_file, BIRDS, ["files", "'data/.secret.csv'", "relative path inside"]),
    # Not the normal spelling of a path: the home would never match it, so every start
    # would copy over the learner's edit.
    (
        "notebook-dot-slash",
        key(BEAT, "notebooks", '["./beat-lab.ipynb"]'),
        BEAT,
        ["notebooks", "'./beat-lab.ipynb'", "relative path inside"],
    ),
    (
        "file-double-slash",
        key(BIRDS, "files", '["data//garden-birds.csv"]'),
        BIRDS,
        ["files", "'data//garden-birds.csv'", "relative path inside"],
    ),
    (
        "file-trailing-slash",
        key(BIRDS, "files", '["data/garden-birds.csv/"]'),
        BIRDS,
        ["files", "'data/garden-birds.csv/'", "relative path inside"],
    ),
    (
        "file-inner-dot",
        key(BIRDS, "files", '["data/./garden-birds.csv"]'),
        BIRDS,
        ["files", "'data/./garden-birds.csv'", "relative path inside"],
    ),
    (
        "notebook-not-ipynb",
        key(BEAT, "notebooks", '["LICENSE.md"]'),
        BEAT,
        ["notebooks", "'LICENSE.md'", "not a .ipynb"],
    ),
    ("no-notebooks", key(BEAT, "notebooks", "[]"), BEAT, ["notebooks", "at least one"]),
    ("teacher-notes-delivered", key(BEAT, "files", '["TEACHER.md"]'), BEAT, ["files", "'TEACHER.md'", "for teachers"]),
    ("listed-twice", key(BEAT, "files", '["beat-lab.ipynb"]'), BEAT, ["files", "twice"]),
    ("notebook-is-a-symlink", symlinked_notebook, BEAT, ["notebooks", "'beat-lab.ipynb'"]),
    ("duplicate-id", duplicate_id, "nature/beat-lab/workbook.toml", ["id 'beat-lab'", "music/beat-lab", "unique"]),
    ("invalid-toml", write(BEAT, 'id = "beat-lab"\ntitle = \n'), BEAT, ["not valid TOML", "line 2"]),
    (
        "folder-without-workbook-toml",
        lambda root: (root / "music" / "drum-kit").mkdir(),
        "music/drum-kit",
        ["without workbook.toml"],
    ),
    ("workbook-toml-removed", lambda root: (root / BEAT).unlink(), "music/beat-lab", ["without workbook.toml"]),
    (
        "missing-interests-toml",
        lambda root: (root / "interests.toml").unlink(),
        "interests.toml",
        ["missing", "[interests.music]"],
    ),
    ("interests-invalid-toml", write("interests.toml", "[interests.music\n"), "interests.toml", ["not valid TOML"]),
    ("interests-no-table", write("interests.toml", 'music = "Music"\n'), "interests.toml", ["[interests.<key>]"]),
    (
        "interest-bad-key",
        write("interests.toml", '[interests.Music]\ntitle = "M"\ndescription = "d"\n'),
        "interests.toml",
        ["'Music'", "lowercase"],
    ),
    (
        "interest-key-newline",
        write("interests.toml", '[interests."music\\n"]\ntitle = "M"\ndescription = "d"\n'),
        "interests.toml",
        ["'music\\n'", "lowercase"],
    ),
    (
        "interest-no-description",
        write("interests.toml", '[interests.music]\ntitle = "M"\n'),
        "interests.toml",
        ["[interests.music]", "'title' and 'description'"],
    ),
]


def problem_about(problems: list[str], path: Path, words: list[str]) -> str:
    for problem in problems:
        if problem.startswith(f"{path}:") and all(w in problem for w in words):
            return problem
    raise AssertionError(f"no problem names {path} with {words}; got:\n" + "\n".join(problems))


@pytest.mark.parametrize(("how", "file", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_mistake_is_named_with_its_file_and_key(catalog: Path, how: Break, file: str, words: list[str]) -> None:
    how(catalog)
    _catalog, problems = scan_catalog(catalog)
    problem = problem_about(problems, catalog / file, words)
    with pytest.raises(CatalogError) as raised:
        load_catalog(catalog)
    assert problem in str(raised.value) and raised.value.code == "bad-catalog"


@pytest.mark.parametrize("what", ["missing-key", "notebook-dotdot", "invalid-toml", "missing-interests-toml"])
def test_a_broken_workbook_is_left_out_and_the_rest_still_load(catalog: Path, what: str) -> None:
    how = next(b[1] for b in BROKEN if b[0] == what)
    how(catalog)
    loaded, problems = scan_catalog(catalog)
    assert problems
    if what == "missing-interests-toml":
        assert loaded.workbooks == {}
    else:
        assert sorted(loaded.workbooks) == ["bird-count", "start-here"]


def test_every_problem_is_listed_not_only_the_first(catalog: Path) -> None:
    set_key(catalog / BEAT, "level", '"expert"')
    set_key(catalog / BIRDS, "minutes", "0")
    (catalog / "music" / "drum-kit").mkdir()
    _catalog, problems = scan_catalog(catalog)
    assert len(problems) == 3


@pytest.mark.parametrize("minutes", [5, 240])
def test_minutes_limits_are_inclusive(catalog: Path, minutes: int) -> None:
    set_key(catalog / BEAT, "minutes", str(minutes))
    assert scan_catalog(catalog)[1] == []


@pytest.mark.parametrize("version", ["1", "2.1.3", "10.0.0.1"])
def test_good_versions_pass(catalog: Path, version: str) -> None:
    set_key(catalog / BEAT, "version", f'"{version}"')
    assert scan_catalog(catalog)[1] == []


@pytest.mark.parametrize(
    "what",
    [
        "missing-key",
        "unknown-interest",
        "notebook-dotdot",
        "duplicate-id",
        "invalid-toml",
        "missing-interests-toml",
        "folder-without-workbook-toml",
    ],
)
def test_clhub_catalog_check_fails_and_names_the_file(
    catalog: Path, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    how, file = next((b[1], b[2]) for b in BROKEN if b[0] == what)
    how(catalog)
    assert main(["catalog", "check", str(catalog)]) != 0
    out = capsys.readouterr()
    assert str(catalog / file) in out.err
    assert "problem(s) in the catalog" in out.err and "Traceback" not in out.err
    assert out.out == ""


def test_clhub_catalog_check_of_a_missing_folder_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-catalog"
    assert main(["catalog", "check", str(missing)]) != 0
    err = capsys.readouterr().err
    assert str(missing) in err and "does not exist" in err and "Traceback" not in err


# ------------------------------------------------------------------ which workbooks


def test_for_interests_gives_chosen_plus_everyone_once_sorted(catalog: Path) -> None:
    catalog = load_catalog(catalog)

    def ids(interests: list[str], everyone: tuple[str, ...] = ("start-here",)) -> list[str]:
        return [w.id for w in catalog.for_interests(interests, everyone)]

    assert ids(["music"]) == ["beat-lab", "start-here"]
    assert ids(["nature", "music"]) == ["beat-lab", "bird-count", "start-here"]
    assert ids([]) == ["start-here"]
    assert ids(["getting-started"]) == ["start-here"]
    assert ids(["art", "no-such-interest"]) == ["start-here"]
    assert ids(["music"], ("beat-lab",)) == ["beat-lab"]
    assert ids([], ("no-such-book",)) == []
    assert ids(["music"], ()) == ["beat-lab"]
    # Sorted by id, not in catalog order (getting-started/start-here comes first there).
    assert ids(["getting-started", "music"], ()) == ["beat-lab", "start-here"]


def test_interests_with_workbooks_skips_those_that_bring_only_everyones(catalog: Path) -> None:
    catalog = load_catalog(catalog)
    assert catalog.interests_with_workbooks(["start-here"]) == ["music", "nature"]
    assert catalog.interests_with_workbooks() == ["getting-started", "music", "nature"]
    # In the order of interests.toml, not alphabetical.
    assert list(catalog.interests)[:3] == ["getting-started", "music", "nature"]


def test_a_workbook_in_two_interests_counts_for_both(catalog: Path) -> None:
    set_key(catalog / BEAT, "interests", '["music", "games"]')
    loaded = load_catalog(catalog)
    assert [w.id for w in loaded.for_interests(["games"])] == ["beat-lab"]
    assert loaded.interests_with_workbooks(["start-here"]) == ["music", "nature", "games"]


# ------------------------------------------------------------------ the catalog's figures
# On small made-up catalogs: the shipped one reaches them only with every workbook of issue 15.


def workbook(wid: str, interests: tuple[str, ...], language: str = "en", assignable: bool = False) -> Workbook:
    return Workbook(
        id=wid, title=wid, version="1.0", interests=interests, subjects=("maths",), level="beginner", minutes=30,
        summary="Make it.", notebooks=(f"{wid}.ipynb",), files=(), licence="CC-BY-4.0",
        folder=Path("/catalog") / interests[0] / wid, assignable=assignable, language=language,
        edition_of=wid.removesuffix("-es") if language == "es" else None,
    )  # fmt: skip


def catalog_of(workbooks: list[Workbook]) -> Catalog:
    keys = dict.fromkeys(i for w in workbooks for i in w.interests)
    return Catalog(Path("/catalog"), {k: Interest(k, k, k) for k in keys}, {w.id: w for w in workbooks})


def just_enough() -> list[Workbook]:
    """Exactly the figures: 24 English workbooks (2 in each of 11 interests, 2 more), 6 assignable, 6 Spanish.

    The getting-started workbook and an assignable Spanish edition count for none of them.
    """
    books = [workbook("start-here", (GETTING_STARTED,))]
    for n in range(MIN_INTERESTS):
        books += [workbook(f"w{n}-{k}", (f"i{n}",), assignable=n < MIN_ASSIGNABLE and k == 0) for k in range(2)]
    books += [workbook(f"extra-{k}", ("i0",)) for k in range(MIN_WORKBOOKS - 2 * MIN_INTERESTS)]
    books += [workbook(f"w{n}-0-es", (f"i{n}",), "es", assignable=n == 0) for n in range(MIN_SPANISH)]
    return books


def test_a_catalog_with_just_enough_meets_every_figure() -> None:
    assert check_targets(catalog_of(just_enough())) == []


def without(wid: str) -> list[Workbook]:
    return [w for w in just_enough() if w.id != wid]


def test_one_english_workbook_short_is_a_problem() -> None:
    assert check_targets(catalog_of(without("extra-0"))) == [
        f"/catalog: has {MIN_WORKBOOKS - 1} English workbooks besides {GETTING_STARTED}; the catalog needs at least "
        f"{MIN_WORKBOOKS}. Add 1 more."
    ]


def test_an_interest_with_one_workbook_is_a_problem_and_no_longer_counts() -> None:
    problems = check_targets(catalog_of([*without("w10-1"), workbook("extra-more", ("i1",))]))
    assert problems == [
        f"/catalog/interests.toml: {MIN_INTERESTS - 1} interests have {MIN_PER_INTEREST} or more English workbooks; "
        f"the catalog needs at least {MIN_INTERESTS}. Add workbooks to the interests that have fewer.",
        f"/catalog/i10: the interest 'i10' has 1 English workbook(s); every interest needs at least "
        f"{MIN_PER_INTEREST}. Add one more.",
    ]
    # A workbook in two interests counts for both.
    two = [*without("w10-1"), workbook("extra-more", ("i1", "i10"))]
    assert check_targets(catalog_of(two)) == []


def test_assignable_and_spanish_figures() -> None:
    fewer = [dataclasses.replace(w, assignable=False) if w.id == "w5-0" else w for w in just_enough()]
    assert check_targets(catalog_of(fewer)) == [
        f"/catalog: has {MIN_ASSIGNABLE - 1} assignable English workbooks (assignable = true); the catalog needs at "
        f"least {MIN_ASSIGNABLE}. Turn parts with one right answer into nbgrader puzzles in 1 more."
    ]
    assert check_targets(catalog_of(without("w5-0-es"))) == [
        f'/catalog: has {MIN_SPANISH - 1} workbooks in Spanish (language = "es"); the catalog needs at least '
        f"{MIN_SPANISH}. Write 1 more Spanish editions."
    ]
