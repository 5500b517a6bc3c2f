"""Every button of the making widgets is as wide as its words, and every picture can be drawn.

ipywidgets gives a Button a fixed width (about 148 px) and cuts a longer label off with an
ellipsis ("Save as Markd…", "Share with my …"): a learner cannot read what the button does.
A button here either has the width "auto" or a label short enough never to need it.

ipywidgets 8's front-end reads an Image's `description` to place its tooltip, and an Image has
none: a picture with a tooltip showed an error box instead of the chart, comic or map. Such a
picture is a `base.TitledImage`.
"""

from __future__ import annotations

from pathlib import Path

import ipywidgets as widgets
import pandas as pd
import pytest
from PIL import Image

from connected_learning.widgets import (
    BeatMaker,
    ChartMaker,
    ComicStrip,
    DataCollector,
    FlipbookAnimator,
    MapMaker,
    PhotoFilterLab,
    PixelCanvas,
    PosterMaker,
    QuizBuilder,
    ReflectionBox,
    StoryBuilder,
    set_language,
)
from widget_tree import descendants

# The longest label that surely fits ipywidgets' default button with an icon, in characters:
# the button is 148 px wide with 12 px of padding each side, the icon takes about 20 px, which
# leaves about 100 px, some 14 characters of its 13 px font ("Save as Markdown", 16, was cut).
FITS_DEFAULT_WIDTH = 12
SPEC = [{"name": "name", "label": "Your name", "type": "text"}]


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
        "FlipbookAnimator": FlipbookAnimator(),
        "ComicStrip": ComicStrip(),
        "MapMaker": MapMaker(),
        "PhotoFilterLab": PhotoFilterLab(_photo(tmp)),
        "PosterMaker": PosterMaker(title="Match day", data=[("Mon", 3), ("Tue", 5)]),
        "QuizBuilder": QuizBuilder(),
    }


def _photo(tmp: Path) -> str:
    Image.new("RGB", (40, 30), "teal").save(tmp / "photo.png")
    return "photo.png"


MAKERS = [
    "PixelCanvas",
    "BeatMaker",
    "StoryBuilder",
    "ChartMaker",
    "DataCollector",
    "ReflectionBox",
    "FlipbookAnimator",
    "ComicStrip",
    "MapMaker",
    "PhotoFilterLab",
    "PosterMaker",
    "QuizBuilder",
]


@pytest.mark.parametrize("language", ["en", "es"])  # Spanish labels are longer ("Duplicar fotograma")
@pytest.mark.parametrize("name", MAKERS)
def test_no_button_label_is_cut_off(name: str, language: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    set_language(language)
    try:
        widget = makers(tmp_path)[name]
    finally:
        set_language("en")
    buttons = [w for w in descendants(widget) if isinstance(w, widgets.Button)]
    assert buttons, f"{name} has no button: the test looks in the wrong place"
    cut = [
        b.description
        for b in buttons
        if len(b.description) > FITS_DEFAULT_WIDTH and b.layout.width not in ("auto", "max-content", "fit-content")
    ]
    assert not cut, f"{name}: these labels are cut off at ipywidgets' default width: {cut}"


@pytest.mark.parametrize("name", MAKERS)
def test_no_picture_with_a_tooltip_lacks_the_description_its_view_reads(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    pictures = [w for w in descendants(makers(tmp_path)[name]) if isinstance(w, widgets.Image)]
    broken = [w for w in pictures if w.tooltip and getattr(w, "description", None) != ""]
    assert not broken, f"{name}: a picture with a tooltip and no description shows an error box: {broken}"
