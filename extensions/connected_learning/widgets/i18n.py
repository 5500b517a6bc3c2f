"""The language of the widgets' labels and messages: English, or Spanish for a Spanish workbook.

    from connected_learning.widgets import set_language
    set_language("es")  # the first cell of a Spanish edition: every widget made after it speaks Spanish

Without `set_language`, a kernel speaks the language its learner chose on the interest form
(the spawner sets `LANGUAGE_ENV` for the server and its kernels), else English.

A widget module writes each text a learner reads through `_` (a label) or `t` (a message
with values), in English, where it is used, not at import time, so a later `set_language`
counts:

    widgets.Button(description=_("Undo"))
    self._say(t("Saved {name} in your folder.", name=path.name))

A text kept in a constant (a palette's colour names, a tool's label) is marked with `N_`,
which changes nothing, so the test finds it; it is translated with `_` where it is shown.

Translations are flat JSON files `translations/<language>/<module>.json` mapping the
English text, exactly as written in the code, to the translation; each widget module has its
own file, all are merged. A text without a translation shows in English (never an error):
tests/test_widget_translations.py checks that every `_`/`t` text of every module has one.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "LANGUAGE_ENV", "N_", "language", "set_language", "t", "translations", "_"]

#: Language code -> its name, written in that language (as a learner picks it).
LANGUAGES = {"en": "English", "es": "Español"}
#: Set by the spawner to the language a learner chose; read when no notebook chose one.
LANGUAGE_ENV = "CONNECTED_LEARNING_LANGUAGE"
TRANSLATIONS = Path(__file__).with_name("translations")

_chosen: str | None = None


def set_language(code: str) -> None:
    """Make the widgets created from now on in this kernel speak `code` ("en" or "es")."""
    global _chosen
    if code not in LANGUAGES:
        raise ValueError(f"Unknown language {code!r}; choose one of: {', '.join(LANGUAGES)}.")
    _chosen = code


def language() -> str:
    """The language widgets speak now: `set_language`'s, else the learner's choice, else English."""
    if _chosen is not None:
        return _chosen
    chosen = os.environ.get(LANGUAGE_ENV, "")
    return chosen if chosen in LANGUAGES else "en"


@cache
def translations(code: str) -> dict[str, str]:
    """Every translation into `code`: English text -> translated text ({} for English)."""
    merged: dict[str, str] = {}
    folder = TRANSLATIONS / code
    if code == "en" or not folder.is_dir():
        return merged
    for path in sorted(folder.glob("*.json")):
        table = json.loads(path.read_text(encoding="utf-8"))
        merged.update({k: v for k, v in table.items() if isinstance(k, str) and isinstance(v, str) and v})
    return merged


def _(text: str) -> str:
    """`text` (English, as written in the code) in the current language."""
    return translations(language()).get(text, text)


def t(message: str, /, **values: Any) -> str:
    """`_(message)` with its `{name}` places filled from `values`."""
    return _(message).format(**values)


def N_(text: str) -> str:
    """Mark `text`, kept in a constant, as a text to translate where it is shown (with `_`); returns it."""
    return text
