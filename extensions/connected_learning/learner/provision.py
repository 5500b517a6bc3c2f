"""Provisioning: what a learner's `~/workbooks/` should contain, and making it so.

`plan()` is pure: from the release (what the catalog offers now), the manifest (what was
delivered last time) and the home (what is there now, as content digests) it decides
which files to copy, update or place beside an edited one. The rule it keeps: a file the
learner changed is never overwritten. `apply()` is the thin layer that writes the plan
with atomic renames, and `provision_home()` ties both to real folders.

It runs as the learner (the spawner starts `python -m connected_learning.learner.provision`
with the learner's uid) and copies from releases the hub published (`release.py`), so a
symlink planted in a home can only ever point the learner's own permissions at
something, and a learner never reads the catalog's sources. Standard library only, to
start fast.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

WORKBOOKS_DIR = "workbooks"
RELEASE_COMPLETE = ".complete"  # marks a finished release folder (see release.py)
MANIFEST = ".clhub-manifest.json"
# A home entry that exists but is not a regular file (folder, symlink, device): never
# written through, never overwritten.
NOT_A_FILE = "!not-a-regular-file"


@dataclass(frozen=True)
class ReleaseFile:
    """One file the catalog offers: where it goes in ~/workbooks, its digest and source."""

    path: str  # relative to ~/workbooks, e.g. "beat-lab/beat-lab.ipynb"
    digest: str
    version: str
    source: str = ""  # absolute path in the catalog; the planner never reads it


@dataclass(frozen=True)
class Action:
    kind: str  # "copy" (new), "update" (untouched, newer release), "beside" (edited)
    path: str  # destination relative to ~/workbooks
    source: str
    digest: str
    record: str  # the release path whose manifest entry this action fulfils


@dataclass
class Plan:
    actions: list[Action] = field(default_factory=list)
    manifest: dict[str, str] = field(default_factory=dict)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.actions if a.kind == kind)


def beside_name(path: str, version: str, taken: Iterable[str]) -> str:
    """A clear, free name for a new release placed beside an edited file.

    "beat-lab/beat.ipynb", version "1.1" -> "beat-lab/beat (new version 1.1).ipynb";
    a counter is added when that name is taken too.
    """
    p = PurePosixPath(path)
    stem, suffix = (p.name[: -len(p.suffix)], p.suffix) if p.suffix else (p.name, "")
    used = set(taken)
    n = 1
    while True:
        label = f"new version {version}" + (f", {n}" if n > 1 else "")
        candidate = str(p.with_name(f"{stem} ({label}){suffix}"))
        if candidate not in used:
            return candidate
        n += 1


def plan(release: Mapping[str, ReleaseFile], manifest: Mapping[str, str], home: Mapping[str, str]) -> Plan:
    """Decide what to write so that the home gets the release without losing an edit.

    Args:
        release: home-relative path -> the file the catalog offers there now.
        manifest: home-relative path -> digest delivered there last time (may be empty
            or come from a tampered file; it only ever makes the planner more careful).
        home: home-relative path -> digest of what is there now (NOT_A_FILE for
            anything that is not a regular file); missing paths are absent.

    Returns:
        The actions, and the manifest to store once they are applied.
    """
    result = Plan()
    occupied = set(home)
    for path in sorted(release):
        offered = release[path]
        have = home.get(path)
        delivered = manifest.get(path)
        if have is None:
            # New, or deleted by the learner: (re)deliver; nothing of theirs is there.
            result.actions.append(Action("copy", path, offered.source, offered.digest, path))
            occupied.add(path)
            result.manifest[path] = offered.digest
        elif have == offered.digest:
            result.manifest[path] = offered.digest
        elif have != NOT_A_FILE and delivered is not None and have == delivered:
            # Untouched since we delivered it, and the release moved on.
            result.actions.append(Action("update", path, offered.source, offered.digest, path))
            result.manifest[path] = offered.digest
        elif delivered == offered.digest:
            # Edited by the learner, and there is nothing newer: leave it alone.
            result.manifest[path] = offered.digest
        else:
            # Edited (or not ours) and a newer release exists: put it beside, once.
            target = beside_name(path, offered.version, occupied)
            result.actions.append(Action("beside", target, offered.source, offered.digest, path))
            occupied.add(target)
            result.manifest[path] = offered.digest
    # Files no longer in the release stay in the home and drop out of the manifest.
    return result


# ---------------------------------------------------------------- doing it


def file_digest(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(root: Path) -> dict[str, str]:
    """The manifest in `root`, or {} when it is missing or not what we wrote."""
    try:
        raw = json.loads((root / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
        return {}
    return {k: v for k, v in raw["files"].items() if isinstance(k, str) and isinstance(v, str)}


def scan_home(root: Path, paths: Iterable[str]) -> dict[str, str]:
    """Digest of each of `paths` under `root` and of its siblings (for beside names)."""
    found: dict[str, str] = {}
    folders = {PurePosixPath(p).parent for p in paths}
    for folder in folders:
        base = root / folder
        try:
            entries = list(os.scandir(base)) if not base.is_symlink() else []
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            # A folder the learner made unreadable: every path in it counts as theirs.
            found.update({p: NOT_A_FILE for p in paths if PurePosixPath(p).parent == folder})
            continue
        for entry in entries:
            rel = str(folder / entry.name)
            try:
                found[rel] = file_digest(entry.path) if entry.is_file(follow_symlinks=False) else NOT_A_FILE
            except OSError:
                # Unreadable (the learner chmod-ed it): theirs, never touched, never fatal.
                found[rel] = NOT_A_FILE
    return found


def _safe_parent(root: Path, rel: str) -> Path:
    """Create the folders of `rel` under `root`, refusing to walk through a symlink."""
    parent = root
    for part in PurePosixPath(rel).parent.parts:
        parent = parent / part
        if parent.is_symlink() or (parent.exists() and not parent.is_dir()):
            raise OSError(f"{parent} is not a folder; leaving it alone")
        parent.mkdir(mode=0o755, exist_ok=True)
    return parent


def atomic_copy(source: str, dest: Path) -> None:
    """Copy `source` to `dest` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".clhub-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            while chunk := src.read(1 << 16):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(dest: Path, data: bytes, mode: int = 0o640) -> None:
    """Write `dest` atomically with exactly `mode`: a new temporary file beside it, then rename.

    The temporary file is created with O_EXCL | O_NOFOLLOW, so in a folder others can write
    to (a group folder) nothing planted there is ever written through.
    """
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # whatever the umask
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(dest: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".clhub-", suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def apply(root: Path, the_plan: Plan, old_manifest: Mapping[str, str]) -> list[str]:
    """Write `the_plan` under `root` (~/workbooks); return the problems it skipped.

    A destination that turned into something other than a regular file since the scan is
    skipped, never written through. The manifest is written last, so an interrupted run
    only repeats work next time.
    """
    problems: list[str] = []
    done: dict[str, str] = dict(the_plan.manifest)
    for action in the_plan.actions:
        dest = root / action.path
        try:
            _safe_parent(root, action.path)
            if dest.is_symlink() or (dest.exists() and not dest.is_file()):
                raise OSError(f"{dest} is not a regular file")
            if action.kind == "beside" and dest.exists():
                raise OSError(f"{dest} appeared meanwhile")
            atomic_copy(action.source, dest)
        except OSError as e:
            problems.append(f"{action.path}: {e}")
            # Keep the old record so that the next start tries again.
            if action.record in old_manifest:
                done[action.record] = old_manifest[action.record]
            else:
                done.pop(action.record, None)
    atomic_write_text(root / MANIFEST, json.dumps({"files": done}, indent=1, sort_keys=True))
    return problems


def release_files(releases: Mapping[str, Path]) -> dict[str, ReleaseFile]:
    """The release: every file of each published release folder ({workbook id: folder}).

    A folder is named `<version>+<hash>` by `release.publish`; the version names the
    files placed beside a learner's edits.
    """
    offered: dict[str, ReleaseFile] = {}
    for wid, folder in releases.items():
        version = folder.name.split("+", 1)[0]
        for base, _dirs, files in os.walk(folder):
            for name in files:
                if name == RELEASE_COMPLETE:
                    continue
                source = Path(base) / name
                rel = f"{wid}/{source.relative_to(folder).as_posix()}"
                offered[rel] = ReleaseFile(rel, file_digest(source), version, str(source))
    return offered


def resolve_releases(root: Path, picks: Iterable[str]) -> dict[str, Path]:
    """Check the `id=folder` picks the hub passed and return {id: release folder}."""
    chosen: dict[str, Path] = {}
    for pick in picks:
        wid, _, name = pick.partition("=")
        folder = root / wid / name
        if (
            not wid
            or not name
            or "/" in pick
            or pick.startswith(".")
            or name.startswith(".")
            or not (folder / RELEASE_COMPLETE).is_file()
        ):
            raise ValueError(f"{pick!r} is not a published release under {root}")
        chosen[wid] = folder
    return chosen


def provision_home(home: Path, releases: Mapping[str, Path]) -> dict[str, object]:
    """Bring `home`/workbooks up to date with the published `releases`; return a summary."""
    root = home / WORKBOOKS_DIR
    if root.is_symlink():
        raise OSError(f"{root} is a symbolic link; move it away so your workbooks can be delivered")
    root.mkdir(mode=0o755, exist_ok=True)
    offered = release_files(releases)
    manifest = read_manifest(root)
    the_plan = plan(offered, manifest, scan_home(root, offered))
    problems = apply(root, the_plan, manifest)
    return {
        "workbooks": sorted(releases),
        "copied": the_plan.count("copy"),
        "updated": the_plan.count("update"),
        "beside": [a.path for a in the_plan.actions if a.kind == "beside"],
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Deliver published workbook releases into a learner's home.")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--releases", required=True, type=Path, help="the folder of published releases")
    parser.add_argument(
        "--group-folder",
        action="append",
        default=[],
        help="group=/path of a peer-review folder to link as ~/peer-review/<group>",
    )
    parser.add_argument(
        "--assignments",
        action="append",
        default=[],
        help="group=/path of an nbgrader outbound folder: released assignments to fetch",
    )
    parser.add_argument(
        "--course",
        action="append",
        default=[],
        help="group=/path of a course folder a teacher grades in, linked as ~/courses/<group>",
    )
    parser.add_argument("picks", nargs="*", help="workbook-id=release-folder-name")
    args = parser.parse_args(argv)
    os.umask(0o077)
    try:
        summary = provision_home(args.home, resolve_releases(args.releases, args.picks))
        from ..peer_review.folders import link_group_folders, parse_links

        summary["group_folders"] = link_group_folders(args.home, parse_links(args.group_folder))
        from ..assignments.course import deliver, link_courses

        summary["assignments"] = deliver(args.home, parse_links(args.assignments))
        summary["courses"] = link_courses(args.home, parse_links(args.course))
    except Exception as e:  # reported to the spawner, which logs and explains
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
