"""Every button of the making widgets is as wide as its words.

ipywidgets gives a Button a fixed width (about 148 px) and cuts a longer label off with an
ellipsis ("Save as Markd…", "Share with my …"): a learner cannot read what the button does.
A button here either has the width "auto" or a label short enough never to need it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import ipywidgets as widgets
import pandas as pd
import pytest

from connected_learning.widgets import BeatMaker, ChartMaker, DataCollector, PixelCanvas, ReflectionBox, StoryBuilder

# The longest label that surely fits ipywidgets' default button with an icon, in characters:
# the button is 148 px wide with 12 px of padding each side, the icon takes about 20 px, which
# leaves about 100 px, some 14 characters of its 13 px font ("Save as Markdown", 16, was cut).
FITS_DEFAULT_WIDTH = 12
SPEC = [{"name": "name", "label": "Your name", "type": "text"}]


def descendants(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)


def makers(tmp: Path) -> dict[str, widgets.Widget]:
    story = StoryBuilder()
    story.add_choice()
    story.play()
    return {
        "PixelCanvas": PixelCanvas(),
        "BeatMaker": BeatMaker(),
        "StoryBuilder": story,
        "ChartMaker": ChartMaker(pd.DataFrame({"park": ["a", "b"], "trees": [3, 4]})),
        "DataCollector": DataCollector(SPEC, tmp / "entries.csv"),
        "ReflectionBox": ReflectionBox(),
    }


@pytest.mark.parametrize(
    "name", ["PixelCanvas", "BeatMaker", "StoryBuilder", "ChartMaker", "DataCollector", "ReflectionBox"]
)
def test_no_button_label_is_cut_off(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    widget = makers(tmp_path)[name]
    buttons = [w for w in descendants(widget) if isinstance(w, widgets.Button)]
    assert buttons, f"{name} has no button: the test looks in the wrong place"
    cut = [
        b.description
        for b in buttons
        if len(b.description) > FITS_DEFAULT_WIDTH and b.layout.width not in ("auto", "max-content", "fit-content")
    ]
    assert not cut, f"{name}: these labels are cut off at ipywidgets' default width: {cut}"
