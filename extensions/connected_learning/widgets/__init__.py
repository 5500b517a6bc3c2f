"""Creative-exercise widgets that workbooks import: each makes something and exports it to a file.

    from connected_learning.widgets import PixelCanvas
    PixelCanvas(sidecar="my_pixel_art.json")

Every widget keeps its creation in a JSON-serializable `state`, can be rebuilt with
`Widget.from_state(state)`, saves a JSON sidecar (`sidecar=`, `save_to`, `load_from`; see
`base.py`), exports atomically to a path inside the working directory (see `files.py`),
works with the keyboard alone, labels every control in text, and never uses colour as
the only cue. Heavy libraries (pandas, matplotlib, Pillow) load only when a widget needs
them, so importing this package is cheap.
"""

from connected_learning.widgets.base import StateError
from connected_learning.widgets.beat_maker import BeatMaker
from connected_learning.widgets.chart_maker import ChartMaker
from connected_learning.widgets.data_collector import DataCollector
from connected_learning.widgets.entries import append_row, validate_entry
from connected_learning.widgets.files import ExportPathError
from connected_learning.widgets.pixel_canvas import PixelCanvas
from connected_learning.widgets.reflection_box import ReflectionBox
from connected_learning.widgets.story_builder import StoryBuilder

__all__ = [
    "BeatMaker",
    "ChartMaker",
    "DataCollector",
    "ExportPathError",
    "PixelCanvas",
    "ReflectionBox",
    "StateError",
    "StoryBuilder",
    "append_row",
    "validate_entry",
]
