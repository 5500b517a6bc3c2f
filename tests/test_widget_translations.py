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
from typing import Any

import ipywidgets as widgets
import pytest

from connected_learning.widgets import i18n

WIDGETS = Path(i18n.__file__).parent
PEER_REVIEW = [WIDGETS.parent / "peer_review" / name for name in ("widgets.py", "pieces.py")]


def _texts() -> dict[str, str]:
    """English text -> the module it is shown by, for every `_`/`t`/`N_` call with a literal text."""
    found: dict[str, str] = {}
    for path in [*sorted(WIDGETS.glob("*.py")), *PEER_REVIEW]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in ("_", "t", "N_")
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


@pytest.mark.parametrize("code", [c for c in i18n.LANGUAGES if c != "en"])
def test_a_text_two_widgets_show_is_said_the_same_way_in_both(code: str) -> None:
    # The files are merged into one table, so two translations of one text would leave one widget
    # saying the other's words, depending on the order of the file names.
    said: dict[str, dict[str, str]] = {}
    for path in sorted((i18n.TRANSLATIONS / code).glob("*.json")):
        for text, translation in json.loads(path.read_text(encoding="utf-8")).items():
            said.setdefault(text, {})[path.name] = translation
    different = {text: ways for text, ways in said.items() if len(set(ways.values())) > 1}
    assert not different, f"translated differently in different files: {different}"


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


def _shown(widget: Any) -> list[str]:
    """Every text a widget tree shows a learner: descriptions, tooltips, placeholders, labels, HTML."""
    found = []
    for name in ("description", "tooltip", "placeholder", "value", "label"):
        value = getattr(widget, name, None)
        if isinstance(value, str) and value and (name != "value" or isinstance(widget, widgets.Label | widgets.HTML)):
            found.append(value)
    options = getattr(widget, "_options_labels", None)
    if options:
        found += [str(label) for label in options]
    for tool in getattr(widget, "options", None) or []:
        if isinstance(tool, list) and len(tool) == 3:  # ToolChoice: [value, text, tooltip]
            found += tool[1:]
    for child in getattr(widget, "children", ()):
        found += _shown(child)
    return found


def test_a_spanish_workbook_shows_no_english_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pandas as pd

    from connected_learning.peer_review.widgets import ShareBox
    from connected_learning.widgets import (
        BeatMaker,
        ChartMaker,
        DataCollector,
        PixelCanvas,
        ReflectionBox,
        StoryBuilder,
    )

    monkeypatch.chdir(tmp_path)
    spanish = i18n.translations("es")
    english = {text for text in TEXTS if spanish.get(text, text) != text and "{" not in text}
    i18n.set_language("es")
    try:
        made = [
            PixelCanvas(4, 4, sidecar="arte.json"),
            BeatMaker(sidecar="ritmo.json"),
            StoryBuilder(sidecar="historia.json"),
            ChartMaker(pd.DataFrame({"día": ["lunes", "martes"], "pájaros": [3, 5]})),
            DataCollector([{"name": "ave", "type": "text", "label": "Ave"}], "aves.csv"),
            ReflectionBox(sidecar="reflexion.json"),
            ShareBox(["x.ipynb"], title="Mi obra", workbook="pixel-pets-es"),
        ]
        for widget in made:
            shown = _shown(widget)
            assert shown, widget  # the control: the widget shows texts
            left = sorted(text for text in shown if text in english)
            assert not left, f"{type(widget).__name__} shows English on a Spanish workbook: {left}"
        canvas = made[0]
        assert canvas.undo_button.description == "Deshacer"
        assert canvas.cell_grid.names["white"] == "blanco" and canvas.state["cells"][0][0] == "white"
        assert "Bienvenid" not in canvas.status.value  # a new creation: nothing to welcome back
        again = PixelCanvas(4, 4, sidecar="arte.json")  # saved at once, so it comes back
        assert again.status.value.startswith("¡Qué bueno verte de nuevo!")
    finally:
        i18n.set_language("en")


def test_the_pictures_font_draws_spanish_letters() -> None:
    # A comic's bubble, a map's key and a poster are drawn with widgets.fonts.text_font. Pillow's
    # own default font draws á and ñ like a/n or as boxes ("c?sped" in a Spanish map's key).
    from PIL import Image, ImageDraw

    from connected_learning.widgets.fonts import text_font

    def drawn(text: str) -> bytes:
        image = Image.new("L", (60, 40), 0)
        ImageDraw.Draw(image).text((5, 5), text, font=text_font(24), fill=255)
        return image.tobytes()

    assert drawn("n") != drawn("ñ") and drawn("a") != drawn("á") and drawn("?") != drawn("¿")
    assert drawn("ñ") != drawn("\uffff")  # the control: a letter the font has not is drawn as its "missing" box
