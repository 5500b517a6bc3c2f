"""The words the family pages add around the student's work, in every language they are translated to.

Each language is one JSON file, `<code>.json` ("es.json"), a flat object of key -> text; the
texts may hold `{name}`-style blanks, the same blanks as the English text. `translations/en.json`
beside this module is the reference: every key a family page uses is there, and `catalog_problems`
names any key another language lacks or any blank it changes. A missing key shows in English.

Where the files are found, once, when a service starts (`MESSAGES` is built at import):

1. `translations/` in this package (English and Spanish ship with it);
2. every folder in the environment variable `CLHUB_SHOWCASE_TRANSLATIONS` (separated by ":"),
   where a site adds a language ("pt.json") or changes a shipped one, without touching the code.

gettext would need compiled .mo files and a build step for so few strings; a plain JSON file is
what a volunteer translator can edit. The static page (`render`), its saved widgets
(`saved_widgets`), the card and the not-found pages (`service`), the live page (`live`) and the
gallery use it.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import string
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "FOLDERS_ENV",
    "MESSAGES",
    "catalog_problems",
    "language_name",
    "languages",
    "load_catalogs",
    "message",
    "page_language",
    "reload",
]

log = logging.getLogger("clhub.showcase")
FOLDERS_ENV = "CLHUB_SHOWCASE_TRANSLATIONS"
SHIPPED = Path(__file__).with_name("translations")
REFERENCE = "en"
_CODE = re.compile(r"[a-z]{2,3}")
_MAX_FILE_BYTES = 200_000


def _blanks(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _read_catalog(path: Path) -> dict[str, str] | None:
    """One translation file as key -> text, or None (logged) when it is not a flat JSON object of texts."""
    try:
        if path.stat().st_size > _MAX_FILE_BYTES:
            raise ValueError(f"bigger than {_MAX_FILE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise ValueError("it must be one JSON object whose values are all texts")
        for text in data.values():
            _blanks(text)  # a stray "{" raises ValueError here, not on a family's page
    except (OSError, ValueError) as error:
        log.warning("Translation file %s is not used: %s", path, error)
        return None
    return data


def load_catalogs(folders: Iterable[str | os.PathLike[str]]) -> dict[str, dict[str, str]]:
    """Every `<code>.json` of `folders`, language code -> texts; a later folder's file adds to and
    overrides an earlier one's. English must be among them (the shipped folder has it)."""
    catalogs: dict[str, dict[str, str]] = {}
    for folder in folders:
        try:
            paths = sorted(Path(folder).glob("*.json"))
        except OSError:
            continue
        for path in paths:
            if not _CODE.fullmatch(path.stem):
                log.warning("Translation file %s is not used: its name must be a language code, like es.json", path)
                continue
            catalog = _read_catalog(path)
            if catalog is not None:
                catalogs.setdefault(path.stem, {}).update(catalog)
    if REFERENCE not in catalogs:
        raise RuntimeError(f"The showcase's English texts ({SHIPPED / 'en.json'}) are missing; reinstall the package.")
    for problem in catalog_problems(catalogs):  # a family sees the English text there: tell the site
        log.warning("Translation: %s", problem)
    return catalogs


def catalog_problems(catalogs: Mapping[str, Mapping[str, str]]) -> list[str]:
    """What each language lacks against English: a missing key, or a text whose blanks differ."""
    reference = catalogs[REFERENCE]
    problems = []
    for code, table in sorted(catalogs.items()):
        for key, text in reference.items():
            if key not in table:
                problems.append(f"{code}.json has no {key!r} (English: {text!r})")
            elif _blanks(table[key]) != _blanks(text):
                problems.append(f"{code}.json: {key!r} must have the blanks {sorted(_blanks(text))}")
        problems += [f"{code}.json has {key!r}, which English does not use" for key in table if key not in reference]
    return problems


def _folders() -> list[str | os.PathLike[str]]:
    extra = [f for f in os.environ.get(FOLDERS_ENV, "").split(os.pathsep) if f.strip()]
    return [SHIPPED, *extra]


MESSAGES: dict[str, dict[str, str]] = load_catalogs(_folders())


def reload() -> None:
    """Read the translation folders again (after `CLHUB_SHOWCASE_TRANSLATIONS` changed)."""
    MESSAGES.clear()
    MESSAGES.update(load_catalogs(_folders()))


def languages() -> list[str]:
    """The language codes families' pages can be made in, English first."""
    return [REFERENCE, *sorted(code for code in MESSAGES if code != REFERENCE)]


def language_name(code: str) -> str:
    """The language's own name ("Español"), for a teacher's choice."""
    return MESSAGES.get(code, {}).get("_language", code)


def page_language(lang: str) -> str:
    """The catalog language for `lang` ("es-MX" -> "es"); English when there is no such catalog."""
    base = str(lang or "").replace("_", "-").split("-")[0].lower()
    return base if base in MESSAGES else REFERENCE


def message(key: str, lang: str, **values: Any) -> str:
    """The page text `key` in `lang` (English if missing), with `values` filled in (not escaped)."""
    table = MESSAGES[page_language(lang)]
    return table.get(key, MESSAGES[REFERENCE][key]).format(**values)


def page_in_every_language(title_key: str, part: Callable[[str, str], str], style: str) -> str:
    """A whole small page for a visitor whose language is not known (a link does not say which one
    they read): English first, then each other language in a section marked with its `lang`.

    Args:
        title_key: the message that titles the page (in English).
        part: (language code, heading tag) -> that language's part of the page, already escaped.
        style: the page's CSS.
    """
    parts = []
    for code in languages():
        lang = "" if code == REFERENCE else f' lang="{code}"'
        parts.append(f"<section{lang}>{part(code, 'h1' if code == REFERENCE else 'h2')}</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(message(title_key, REFERENCE))}</title>\n<style>{style}</style>\n"
        "</head><body><main>\n" + "\n".join(parts) + "\n</main></body></html>\n"
    )
