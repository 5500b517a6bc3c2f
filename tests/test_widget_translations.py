"""Every label and message a widget shows through `_`/`t` has a Spanish translation, with the same places.

Widgets are the modules of connected_learning.widgets and peer review's (the Share box).

The texts are read from the code (every `_("...")` and `t("...", ...)` call with a literal),
so a new label without a translation fails here instead of showing in English on a Spanish
workbook.
"""

from __future__ import annotations

import ast
import json
import string
from pathlib import Path

import pytest

from connected_learning.widgets import i18n

WIDGETS = Path(i18n.__file__).parent
PEER_WIDGETS = WIDGETS.parent / "peer_review" / "widgets.py"


def _texts() -> dict[str, str]:
    """English text -> the module it is shown by, for every `_`/`t` call with a literal text."""
    found: dict[str, str] = {}
    for path in [*sorted(WIDGETS.glob("*.py")), PEER_WIDGETS]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "t")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.setdefault(node.args[0].value, path.name)
    return found


def _places(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


TEXTS = _texts()


def test_the_widgets_have_texts_to_translate() -> None:
    # The control: the scan finds the texts of every module that shows a learner words.
    shown = set(TEXTS.values())
    for module in ("base.py", "pixel_canvas.py", "beat_maker.py", "story_builder.py", "widgets.py"):
        assert module in shown, f"{module} shows no text through _ or t"


@pytest.mark.parametrize("code", [c for c in i18n.LANGUAGES if c != "en"])
def test_every_text_has_a_translation_with_the_same_places(code: str) -> None:
    table = i18n.translations(code)
    missing = sorted(text for text in TEXTS if text not in table)
    assert not missing, f"{len(missing)} texts have no {code!r} translation, e.g. {missing[:5]}"
    wrong = sorted(text for text in TEXTS if _places(table[text]) != _places(text))
    assert not wrong, f"these {code!r} translations name other places than the English: {wrong[:5]}"


@pytest.mark.parametrize("code", [c for c in i18n.LANGUAGES if c != "en"])
def test_no_translation_file_holds_a_text_no_widget_shows(code: str) -> None:
    for path in sorted((i18n.TRANSLATIONS / code).glob("*.json")):
        table = json.loads(path.read_text(encoding="utf-8"))
        stale = sorted(set(table) - set(TEXTS))
        assert not stale, f"{path.name} translates texts no widget shows any more: {stale[:5]}"


def test_set_language_changes_what_widgets_made_after_it_say(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(i18n, "_chosen", None)
    monkeypatch.delenv(i18n.LANGUAGE_ENV, raising=False)
    assert i18n.language() == "en"
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "es")
    assert i18n.language() == "es"  # the learner's choice, from the spawner
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "../../etc")
    assert i18n.language() == "en"  # an unknown value is English, never a path
    i18n.set_language("es")
    monkeypatch.setenv(i18n.LANGUAGE_ENV, "en")
    assert i18n.language() == "es"  # the notebook's own choice wins
    with pytest.raises(ValueError, match="Unknown language"):
        i18n.set_language("klingon")
    if TEXTS:
        english = next(iter(TEXTS))
        assert i18n._(english) == i18n.translations("es").get(english, english)
    i18n.set_language("en")
    assert i18n._("Undo") == "Undo"
