"""Creative-exercise widgets that workbooks import: each makes something and exports it to a file.

    from connected_learning.widgets import PixelCanvas
    PixelCanvas(sidecar="my_pixel_art.json")

Every widget keeps its creation in a JSON-serializable `state`, can be rebuilt with
`Widget.from_state(state)`, saves a JSON sidecar (`sidecar=`, `save_to`, `load_from`; see
`base.py`), exports atomically to a path inside the working directory (see `files.py`),
works with the keyboard alone, labels every control in text, and never uses colour as
the only cue. A workbook's first widget should appear about as fast as a bare slider, so
each name below is imported from its module only when first used (PEP 562), and heavy
libraries (pandas, matplotlib, Pillow) load only when a widget needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connected_learning.widgets.base import StateError
    from connected_learning.widgets.beat_maker import BeatMaker
    from connected_learning.widgets.chart_maker import ChartMaker
    from connected_learning.widgets.comic_strip import ComicStrip
    from connected_learning.widgets.data_collector import DataCollector
    from connected_learning.widgets.entries import append_row, validate_entry
    from connected_learning.widgets.files import ExportPathError
    from connected_learning.widgets.flipbook import FlipbookAnimator
    from connected_learning.widgets.i18n import language, set_language
    from connected_learning.widgets.map_maker import MapMaker
    from connected_learning.widgets.photo_filter import PhotoFilterLab
    from connected_learning.widgets.pixel_canvas import PixelCanvas
    from connected_learning.widgets.poster_maker import PosterMaker
    from connected_learning.widgets.quiz import QuizBuilder, QuizGame
    from connected_learning.widgets.reflection_box import ReflectionBox
    from connected_learning.widgets.story_builder import StoryBuilder

#: Public name -> the module that defines it.
_HOMES = {
    "BeatMaker": "beat_maker",
    "ChartMaker": "chart_maker",
    "ComicStrip": "comic_strip",
    "DataCollector": "data_collector",
    "ExportPathError": "files",
    "FlipbookAnimator": "flipbook",
    "MapMaker": "map_maker",
    "PhotoFilterLab": "photo_filter",
    "PixelCanvas": "pixel_canvas",
    "PosterMaker": "poster_maker",
    "QuizBuilder": "quiz",
    "QuizGame": "quiz",
    "ReflectionBox": "reflection_box",
    "StateError": "base",
    "StoryBuilder": "story_builder",
    "append_row": "entries",
    "language": "i18n",
    "set_language": "i18n",
    "validate_entry": "entries",
}

__all__ = [
    "BeatMaker",
    "ChartMaker",
    "ComicStrip",
    "DataCollector",
    "ExportPathError",
    "FlipbookAnimator",
    "MapMaker",
    "PhotoFilterLab",
    "PixelCanvas",
    "PosterMaker",
    "QuizBuilder",
    "QuizGame",
    "ReflectionBox",
    "StateError",
    "StoryBuilder",
    "append_row",
    "language",
    "set_language",
    "validate_entry",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_HOMES])
