"""Walking a widget's tree, for the widget tests: `descendants(widget)` is the widget and all inside it.

The creative-exercise widgets are boxes of boxes; a test that checks every control a learner
can reach (its label, its width, a hidden Save row on a family's live page) walks them all.
"""

from __future__ import annotations

from collections.abc import Iterator

import ipywidgets as widgets


def descendants(widget: widgets.Widget) -> Iterator[widgets.Widget]:
    """`widget`, then every widget inside it, depth first."""
    yield widget
    for child in getattr(widget, "children", ()):
        yield from descendants(child)
