"""The workbook catalog: read and validate workbook metadata, answer "which workbooks".

The catalog is a folder: `interests.toml` names the interests, and each workbook is a
folder `<interest>/<workbook-id>/` holding `workbook.toml` beside its notebooks and data.
`load_catalog` collects every problem (file and key named) instead of stopping at the
first, so `clhub catalog check` can list them all. Standard library only: the
provisioning step imports this module in a fresh process for every server start.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ClhubError

LEVELS = ("beginner", "intermediate", "advanced")
SUBJECTS = ("maths", "science", "literacy", "civics", "art", "computing")
# \Z, not $: "$" also matches before a final newline, so "1.0\n" would pass.
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*\Z")
VERSION = re.compile(r"^\d+(\.\d+){0,3}\Z")
# Files of a workbook folder that are for teachers and maintainers, never delivered.
NOT_DELIVERED = ("workbook.toml", "TEACHER.md")

REQUIRED = {
    "id": str,
    "title": str,
    "version": str,
    "interests": list,
    "subjects": list,
    "level": str,
    "minutes": int,
    "summary": str,
    "notebooks": list,
    "licence": str,
}
OPTIONAL = {"files": list, "assignable": bool, "language": str, "edition_of": str}
#: Languages a workbook may be written in (code -> name); English unless workbook.toml says.
LANGUAGES = {"en": "English", "es": "Spanish"}


class CatalogError(ClhubError):
    code = "bad-catalog"


@dataclass(frozen=True)
class Interest:
    key: str
    title: str
    description: str
    # Language code -> (title, description) in that language, from a [interests.<key>.<code>] table.
    translations: tuple[tuple[str, str, str], ...] = ()

    def said_in(self, language: str) -> tuple[str, str]:
        """(title, description) in `language` where interests.toml has them, in English otherwise."""
        for code, title, description in self.translations:
            if code == language:
                return title, description
        return self.title, self.description


@dataclass(frozen=True)
class Workbook:
    id: str
    title: str
    version: str
    interests: tuple[str, ...]
    subjects: tuple[str, ...]
    level: str
    minutes: int
    summary: str
    notebooks: tuple[str, ...]
    files: tuple[str, ...]
    licence: str
    folder: Path
    # A teacher may assign it through nbgrader: its notebooks are in nbgrader's source
    # format, with autograded cells for the parts that have one right answer.
    assignable: bool = False
    # The language its text is written in, and for an edition in another language than
    # English, the id of the English workbook it is an edition of.
    language: str = "en"
    edition_of: str | None = None

    @property
    def delivered(self) -> tuple[str, ...]:
        """Paths, relative to the workbook folder, that a learner's home receives."""
        return self.notebooks + self.files


@dataclass(frozen=True)
class Catalog:
    root: Path
    interests: dict[str, Interest]
    workbooks: dict[str, Workbook]

    def for_interests(
        self, interests: Iterable[str], everyone: Iterable[str] = (), language: str = "en"
    ) -> list[Workbook]:
        """The workbooks of `interests` plus the `everyone` ones, each once, sorted by id.

        Each in its `language` edition where it has one, in English otherwise: a learner who
        reads Spanish still gets every workbook of their interests.
        """
        wanted = set(interests)
        originals = {w.id: w for w in self.workbooks.values() if w.edition_of is None}
        chosen = {w.id: w for w in originals.values() if wanted.intersection(w.interests)}
        for wid in everyone:
            if wid in originals:
                chosen[wid] = originals[wid]
        editions = {w.edition_of: w for w in self.workbooks.values() if w.edition_of and w.language == language}
        return [editions.get(k, chosen[k]) for k in sorted(chosen)]

    def languages(self) -> list[str]:
        """The languages a learner may choose: English, and each language some edition is in."""
        return ["en", *sorted({w.language for w in self.workbooks.values()} - {"en"})]

    def interests_with_workbooks(self, everyone: Iterable[str] = ()) -> list[str]:
        """Interests that bring a learner at least one workbook beyond the `everyone` ones."""
        given = set(everyone)
        used = {i for w in self.workbooks.values() if w.id not in given for i in w.interests}
        return [k for k in self.interests if k in used]


def _safe_relpath(value: str) -> bool:
    """True when `value` is a plain relative path inside its folder (no '..', no '/x')."""
    if not value or "\\" in value or "\x00" in value:
        return False
    p = PurePosixPath(value)
    # Only the normal spelling: "./a", "a//b" or "a/" would never match the path the
    # provisioner finds in a home, so every start would copy over the learner's edit.
    return (
        str(p) == value
        and not p.is_absolute()
        and ".." not in p.parts
        and p.parts[0] not in (".", "")
        and not any(part.startswith(".") for part in p.parts)
    )


def _read_toml(path: Path, problems: list[str]) -> dict[str, Any] | None:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        problems.append(f"{path}: cannot be read ({e}).")
    except tomllib.TOMLDecodeError as e:
        problems.append(f"{path}: is not valid TOML ({e}).")
    return None


def _load_interests(root: Path, problems: list[str]) -> dict[str, Interest]:
    path = root / "interests.toml"
    if not path.is_file():
        problems.append(f'{path}: missing; it lists the interests, e.g. [interests.music] title = "Music".')
        return {}
    raw = _read_toml(path, problems)
    if raw is None:
        return {}
    table = raw.get("interests")
    if not isinstance(table, dict) or not table:
        problems.append(f"{path}: needs a table [interests.<key>] for each interest.")
        return {}
    found: dict[str, Interest] = {}
    for key, entry in table.items():
        if not SLUG.match(key):
            problems.append(f"{path}: interest key {key!r} must be lowercase letters, digits and '-'.")
            continue
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("title"), str)
            or not isinstance(entry.get("description"), str)
        ):
            problems.append(f"{path}: [interests.{key}] needs text keys 'title' and 'description'.")
            continue
        translations = []
        for code, said in entry.items():
            if code in ("title", "description"):
                continue
            if code not in LANGUAGES or code == "en":
                problems.append(f"{path}: [interests.{key}.{code}]: {code!r} is no language; allowed: es.")
            elif not isinstance(said, dict) or not all(isinstance(said.get(k), str) for k in ("title", "description")):
                problems.append(f"{path}: [interests.{key}.{code}] needs text keys 'title' and 'description'.")
            else:
                translations.append((code, said["title"], said["description"]))
        found[key] = Interest(key, entry["title"], entry["description"], tuple(translations))
    return found


def _check_workbook(
    path: Path, raw: dict[str, Any], interests: dict[str, Interest], problems: list[str]
) -> Workbook | None:
    before = len(problems)
    folder = path.parent

    def problem(key: str, why: str) -> None:
        problems.append(f"{path}: {key} {why}")

    for key in raw:
        if key not in REQUIRED and key not in OPTIONAL:
            problem(key, "is not a known key; allowed: " + ", ".join([*REQUIRED, *OPTIONAL]) + ".")
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if key not in raw:
            if key in REQUIRED:
                problem(key, "is missing.")
            continue
        value = raw[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            expected = {
                list: 'a list like ["a", "b"]',
                int: "a whole number",
                str: "text in quotes",
                bool: "true or false",
            }[kind]
            problem(key, f"must be {expected}, not {value!r}.")
        elif isinstance(value, list) and not all(isinstance(v, str) for v in value):
            problem(key, "must be a list of text values.")
        elif isinstance(value, str) and not value.strip():
            problem(key, "must not be empty.")
    if len(problems) > before:
        return None

    if raw["id"] != folder.name or not SLUG.match(raw["id"]):
        problem(
            "id",
            f"= {raw['id']!r} must equal the folder name {folder.name!r} and use lowercase letters, digits and '-'.",
        )
    if not VERSION.match(raw["version"]):
        problem("version", f'= {raw["version"]!r} must look like "1.0" or "2.1.3".')
    if not raw["interests"]:
        problem("interests", "must name at least one interest.")
    for i in raw["interests"]:
        if i not in interests:
            known = ", ".join(interests) or "none"
            problem("interests", f"names {i!r}, which is not in interests.toml; known: {known}.")
    if folder.parent.name not in raw["interests"]:
        problem("interests", f"must include {folder.parent.name!r}, the interest folder it lives in.")
    if not raw["subjects"]:
        problem("subjects", "must name at least one school subject.")
    for s in raw["subjects"]:
        if s not in SUBJECTS:
            problem("subjects", f"names {s!r}; allowed: {', '.join(SUBJECTS)}.")
    if raw["level"] not in LEVELS:
        problem("level", f"= {raw['level']!r}; allowed: {', '.join(LEVELS)}.")
    if not 5 <= raw["minutes"] <= 240:
        problem("minutes", f"= {raw['minutes']} must be between 5 and 240.")
    if not raw["notebooks"]:
        problem("notebooks", "must list at least one notebook.")
    files = raw.get("files", [])
    for key, entries in (("notebooks", raw["notebooks"]), ("files", files)):
        for rel in entries:
            if not _safe_relpath(rel):
                problem(
                    key,
                    f"entry {rel!r} must be a relative path inside the workbook folder "
                    "(no '..', no leading '/' or '.').",
                )
            elif key == "notebooks" and not rel.endswith(".ipynb"):
                problem(key, f"entry {rel!r} is not a .ipynb file.")
            elif rel in NOT_DELIVERED:
                problem(key, f"entry {rel!r} is for teachers and is never delivered.")
            elif not (folder / rel).is_file() or (folder / rel).is_symlink():
                problem(key, f"entry {rel!r} is not a file in {folder}.")
    if raw.get("assignable") and len(problems) == before:
        graded = 0
        for rel in raw["notebooks"]:
            try:
                cells = json.loads((folder / rel).read_text(encoding="utf-8")).get("cells", [])
            except (OSError, ValueError, AttributeError):
                problem("notebooks", f"entry {rel!r} is not a readable notebook.")
                continue
            graded += sum(1 for c in cells if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
        if not graded:
            problem(
                "assignable",
                "is true, but no notebook has an nbgrader autograded cell; "
                "create them with JupyterLab's Create Assignment panel.",
            )
    language = raw.get("language", "en")
    if language not in LANGUAGES:
        problem("language", f"= {language!r}; allowed: {', '.join(LANGUAGES)}.")
    edition_of = raw.get("edition_of")
    if edition_of is not None and language == "en":
        problem("edition_of", "is for an edition in another language; an English workbook is no edition.")
    if language != "en" and edition_of is None:
        problem("edition_of", f"is missing: name the English workbook this {LANGUAGES.get(language)} edition is of.")
    all_entries = [*raw["notebooks"], *files]
    if len(set(all_entries)) != len(all_entries):
        problem("files", "lists a file twice.")
    if len(problems) > before:
        return None
    return Workbook(
        id=raw["id"],
        title=raw["title"],
        version=raw["version"],
        interests=tuple(raw["interests"]),
        subjects=tuple(raw["subjects"]),
        level=raw["level"],
        minutes=raw["minutes"],
        summary=raw["summary"],
        notebooks=tuple(raw["notebooks"]),
        files=tuple(files),
        licence=raw["licence"],
        folder=folder,
        assignable=raw.get("assignable", False),
        language=language,
        edition_of=edition_of,
    )


def _check_editions(workbooks: dict[str, Workbook], problems: list[str]) -> None:
    """Drop (with a problem each) editions of no English workbook, with other interests, or doubled."""
    seen: set[tuple[str, str]] = set()
    for wb in sorted(workbooks.values(), key=lambda w: w.id):
        if wb.edition_of is None:
            continue
        original = workbooks.get(wb.edition_of)
        where = wb.folder / "workbook.toml"
        if original is None or original.language != "en":
            problems.append(f"{where}: edition_of {wb.edition_of!r} is not an English workbook of the catalog.")
        elif set(original.interests) != set(wb.interests):
            problems.append(f"{where}: interests must be those of {original.id!r}: {', '.join(original.interests)}.")
        elif (wb.edition_of, wb.language) in seen:
            problems.append(f"{where}: {wb.edition_of!r} already has a {LANGUAGES[wb.language]} edition.")
        else:
            seen.add((wb.edition_of, wb.language))
            continue
        del workbooks[wb.id]


def scan_catalog(root: Path) -> tuple[Catalog, list[str]]:
    """Read the catalog at `root`; return it with every problem found (empty when clean)."""
    root = Path(root)
    problems: list[str] = []
    if not root.is_dir():
        raise CatalogError(f"The workbook catalog folder {root} does not exist.")
    interests = _load_interests(root, problems)
    workbooks: dict[str, Workbook] = {}
    for path in sorted(root.glob("*/*/workbook.toml")):
        raw = _read_toml(path, problems)
        if raw is None:
            continue
        wb = _check_workbook(path, raw, interests, problems)
        if wb is None:
            continue
        if wb.id in workbooks:
            problems.append(f"{path}: id {wb.id!r} is also used by {workbooks[wb.id].folder}; ids must be unique.")
            continue
        workbooks[wb.id] = wb
    _check_editions(workbooks, problems)
    for stray in sorted(root.glob("*/*")):
        if stray.is_dir() and not (stray / "workbook.toml").exists():
            problems.append(f"{stray}: a workbook folder without workbook.toml.")
    return Catalog(root, interests, workbooks), problems


def load_catalog(root: Path) -> Catalog:
    """The catalog at `root`; raises CatalogError listing every problem if it has any."""
    catalog, problems = scan_catalog(root)
    if problems:
        raise CatalogError("The workbook catalog has problems:\n  " + "\n  ".join(problems))
    return catalog
