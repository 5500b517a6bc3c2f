"""What every creative-exercise widget shares: its creation as JSON state, and small UI parts.

How a creation survives closing the notebook, for every widget in this package:

1. The robust way, a JSON sidecar in the learner's folder. ``Widget(sidecar="my_art.json")``
   loads that file if it exists and rewrites it (atomically) after every change, so running
   the cell again after a restart, on another computer or the next week brings the creation
   back. ``save_to(path)`` and ``Widget.load_from(path)`` do the same by hand.
2. The notebook itself. Every control is an ipywidgets model, so when JupyterLab's "Save
   Widget State Automatically" is on (setting `saveState` of
   `@jupyter-widgets/jupyterlab-manager:plugin`, off by default, so the hub's lab settings
   should turn it on) their values go into the notebook's widget-state metadata, and a
   reopened notebook shows the creation before any kernel runs. That metadata only redraws
   the views; it cannot rebuild the Python object, so running the cell again would start
   afresh without (1).

`state` is a plain dict that `json.dumps` accepts and ``Widget.from_state(w.state).state ==
w.state``. Loading validates it, because a sidecar is a file anyone could edit.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_string import LabelStyle

from connected_learning.widgets.files import ExportPathError, atomic_write, check_export_path
from connected_learning.widgets.i18n import _, t

__all__ = [
    "LIVE_SHOWCASE_ENV",
    "STATUS_CLASS",
    "TitledImage",
    "CreationState",
    "SharedModels",
    "StateError",
    "close_all",
    "export_row",
    "live_showcase",
    "make_status",
]

MAX_STATE_BYTES = 8 * 1024 * 1024
#: The class of every widget's status line (`make_status`), which static pages leave out.
STATUS_CLASS = "clh-status"
WIDE = {"description_width": "initial"}
T = TypeVar("T")


class StateError(ExportPathError):
    """A saved creation that cannot be loaded (wrong widget, damaged or edited file)."""

    code = "bad-state"


class CreationState:
    """Mixin for a widget whose creation lives in a JSON-serializable `state`.

    Subclasses set `kind`, implement `_dump()` and `_restore(state)`, call `_changed()`
    after every change a learner makes, and `_start_sidecar(sidecar)` at the end of
    `__init__` (or `_read_sidecar` at its start, to create each control showing the saved
    creation, and `_save_new_creation` at its end). A new creation is saved at once, so the
    sidecar exists from the first run of the cell. They also have a `status` Label for messages.
    """

    kind: ClassVar[str] = ""
    version: ClassVar[int] = 1
    status: widgets.Label
    _sidecar: Path | None = None
    _restoring: bool = False

    def _dump(self) -> dict[str, Any]:
        raise NotImplementedError

    def _restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    @property
    def state(self) -> dict[str, Any]:
        """The creation as a JSON-serializable dict."""
        return {"kind": self.kind, "version": self.version, **self._dump()}

    def load_state(self, state: dict[str, Any]) -> None:
        """Replace the creation with `state`. Raises StateError (a ValueError) if it does not fit."""
        self._check_header(state)
        self._restoring = True
        try:
            self._restore(state)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            raise self._damaged(error) from error
        finally:
            self._restoring = False
        self._changed()

    def _check_header(self, state: Any) -> None:
        """Refuse a saved creation of another widget or another version."""
        if not isinstance(state, dict):
            raise StateError(t("A saved {kind} must be a JSON object.", kind=self.kind))
        if state.get("kind") != self.kind:
            raise StateError(
                t(
                    "This file holds a {found}, not a {kind}. Open it with the right widget.",
                    found=repr(state.get("kind")),
                    kind=repr(self.kind),
                )
            )
        if state.get("version") != self.version:
            raise StateError(
                t(
                    "This {kind} was saved by version {found}; this widget reads version {version}.",
                    kind=self.kind,
                    found=repr(state.get("version")),
                    version=self.version,
                )
            )

    def _damaged(self, error: Exception) -> StateError:
        """The StateError to raise for an error met while reading a saved creation."""
        if isinstance(error, StateError):
            return error
        return StateError(
            t("This saved {kind} is damaged ({error}); it was not loaded.", kind=self.kind, error=repr(error))
        )

    @classmethod
    def from_state(cls, state: dict[str, Any], **kwargs: Any) -> Self:
        """A new widget showing the creation in `state`."""
        widget = cls(**kwargs)
        widget.load_state(state)
        return widget

    def save_to(self, path: str | os.PathLike[str]) -> Path:
        """Write `state` as JSON to `path` (inside the working directory, ending in .json), atomically."""
        text = json.dumps(self.state, ensure_ascii=False, indent=1, sort_keys=True)
        return atomic_write(path, text.encode("utf-8"), suffix=".json")

    @classmethod
    def load_from(cls, path: str | os.PathLike[str], **kwargs: Any) -> Self:
        """A new widget showing the creation saved in the JSON file `path` (for example a peer's, to remix)."""
        return cls.from_state(read_state_file(path), **kwargs)

    def _start_sidecar(self, sidecar: str | os.PathLike[str] | None) -> None:
        if sidecar is None:
            return
        path = check_export_path(sidecar, suffix=".json")
        if path.exists():
            try:
                self.load_state(read_state_file(path))
            except (OSError, ValueError) as error:
                # Keep the file: overwriting it with an empty creation would lose the learner's work.
                self._say(_not_loaded(path, error))
                return
            self._say(_welcome(path))
            self._sidecar = path
            return
        self._sidecar = path
        self._save_new_creation()

    def _read_sidecar(
        self, sidecar: str | os.PathLike[str] | None, check: Callable[[dict[str, Any]], T]
    ) -> tuple[T | None, str]:
        """`_start_sidecar` for a widget that has no controls yet, so it can create each showing the creation.

        Every control a widget changes after creating it is one more message to the browser
        before the widget appears. Reads the creation saved in `sidecar`, checks it with
        `check(state)` (which raises StateError, KeyError, TypeError, ... when it does not fit)
        and starts saving to `sidecar` unless the file could not be loaded, which is kept as it is.

        Returns:
            (what `check` returned, or None when there is no saved creation; the message for `status`).
        """
        if sidecar is None:
            return None, ""
        path = check_export_path(sidecar, suffix=".json")
        checked: T | None = None
        message = ""
        if path.exists():
            try:
                state = read_state_file(path)
                self._check_header(state)
                checked = check(state)
            except OSError as error:
                return None, _not_loaded(path, error)
            except (KeyError, TypeError, ValueError, IndexError) as error:
                return None, _not_loaded(path, self._damaged(error))
            message = _welcome(path)
        self._sidecar = path
        return checked, message

    def _save_new_creation(self) -> None:
        """Save a creation that has no sidecar file yet, so the learner's folder holds it from the start.

        `_start_sidecar` calls it; a widget that uses `_read_sidecar` calls it at the end of
        `__init__`, once `state` can be read. The catalog check counts an exercise as making
        something when running its cell leaves a file. A family's live copy saves nothing.
        """
        if self._sidecar is not None and not self._sidecar.exists() and not live_showcase():
            self._changed()

    def _changed(self) -> None:
        if self._sidecar is None or self._restoring:
            return
        try:
            self.save_to(self._sidecar)
        except (OSError, ValueError) as error:
            self._say(t("Could not save your work to {name}: {error}", name=self._sidecar.name, error=error))

    def _say(self, message: str) -> None:
        self.status.value = message

    def __repr__(self) -> str:
        # ipywidgets' repr lists every trait of every child: slow to build for a whole widget
        # tree, and it is sent with each display. A short one is enough.
        return f"<{type(self).__name__} {self.kind}>"


#: Set (to "1") in a family's "Play with it" kernel by the showcase's live copy: there is no learner
#: and no folder of theirs, so the widgets offer no saving to a file and say nothing about one.
LIVE_SHOWCASE_ENV = "CONNECTED_LEARNING_LIVE_PAGE"


def live_showcase() -> bool:
    """Whether this kernel plays a published piece for a family (see `LIVE_SHOWCASE_ENV`)."""
    return os.environ.get(LIVE_SHOWCASE_ENV) == "1"


def _welcome(path: Path) -> str:
    if live_showcase():
        return ""
    return t("Welcome back! Your work from {name} is loaded.", name=path.name)


def _not_loaded(path: Path, error: Exception) -> str:
    return t(
        "Could not open your saved work in {name}: {error} "
        "Changes here are NOT saved automatically. Ask a mentor to look at the file.",
        name=path.name,
        error=error,
    )


def read_state_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a saved creation from JSON, refusing files that are too big or not a JSON object."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_STATE_BYTES + 1)
    if len(data) > MAX_STATE_BYTES:
        raise StateError(
            t(
                "{path} is bigger than {mb} MB; it was not loaded.",
                path=repr(os.fspath(path)),
                mb=MAX_STATE_BYTES // 1024 // 1024,
            )
        )
    try:
        state = json.loads(data.decode("utf-8"))
    except RecursionError:  # JSON nested thousands deep: an edited file, never a creation
        raise StateError(
            t("{path} is not a saved creation (it is nested too deep).", path=repr(os.fspath(path)))
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StateError(
            t("{path} is not a saved creation (bad JSON: {error}).", path=repr(os.fspath(path)), error=error)
        ) from None
    if not isinstance(state, dict):
        raise StateError(
            t("{path} is not a saved creation (it should hold a JSON object).", path=repr(os.fspath(path)))
        )
    return state


class TitledImage(widgets.Image):
    """An Image (a widget's picture of the creation) whose `tooltip` is its title, read by screen readers.

    ipywidgets 8's front-end decides where a tooltip goes by reading `description`, which an
    Image has not: a plain Image with a tooltip fails to draw and shows an error box instead.
    An empty description lets the tooltip through. The model stays an ImageModel, so the
    showcase's static page draws the picture from its saved bytes.
    """

    description = traitlets.Unicode("", help="Always empty: it lets the front-end show `tooltip`.").tag(sync=True)


def close_all(old: Sequence[widgets.Widget]) -> None:
    """Close widgets that are being replaced, and their children, so a long session does not leak models."""
    for widget in old:
        close_all(getattr(widget, "children", ()))
        widget.close()


class SharedModels:
    """Layout and style models that many controls of one widget share.

    Every ipywidgets model costs the kernel about a millisecond to create and announce, and
    each control would otherwise make its own empty Layout and default style. Sharing them
    roughly halves a widget's models, so it appears sooner. Do not change these shared
    models to restyle one control: give that control its own Layout or style instead.
    """

    @cached_property
    def layout(self) -> widgets.Layout:
        """An empty Layout: every control that keeps the default layout."""
        return widgets.Layout()

    @cached_property
    def fit(self) -> widgets.Layout:
        """A button as wide as its words: ipywidgets' default width cuts a longer label off."""
        return widgets.Layout(width="auto")

    @cached_property
    def button(self) -> widgets.ButtonStyle:
        """The default style of a plain button."""
        return widgets.ButtonStyle()

    @cached_property
    def slider(self) -> widgets.SliderStyle:
        """A slider style whose description is as wide as its text."""
        return widgets.SliderStyle(description_width="initial")

    @cached_property
    def label(self) -> LabelStyle:
        """The default style of a Label."""
        return LabelStyle()


def make_status(shared: SharedModels | None = None, value: str = "") -> widgets.Label:
    """The line where a widget tells the learner what happened, first showing `value`.

    It needs no Layout of its own to keep its height while empty: in a VBox, as every
    widget here puts it, ipywidgets' CSS gives a Label one line's height
    (`.widget-vbox .widget-label`). Its class `STATUS_CLASS` tells the showcase's static page
    to leave it out: it tells about the last press, not about the creation.
    """
    shared_models = {} if shared is None else {"style": shared.label, "layout": shared.layout}
    return widgets.Label(value=value, _dom_classes=(STATUS_CLASS,), **shared_models)


def export_row(
    default_name: str,
    button_text: str,
    save: Callable[[str], Path],
    status: widgets.Label,
    shared: SharedModels | None = None,
) -> tuple[widgets.Text, widgets.Button, widgets.HBox]:
    """A 'File name' box and a save button that calls `save(name)` and reports the result in `status`."""
    layout = {} if shared is None else {"layout": shared.layout}
    name = widgets.Text(
        value=default_name,
        description=_("File name:"),
        style=WIDE,
        **layout,
        tooltip=t("The file to save, in your folder, like {name}", name=default_name),
    )
    button = widgets.Button(
        description=button_text,
        icon="download",
        layout=widgets.Layout(width="auto") if shared is None else shared.fit,
        **({} if shared is None else {"style": shared.button}),
        tooltip=t("{button} to the file name on the left", button=button_text),
    )

    def on_click(_button: widgets.Button) -> None:
        try:
            written = save(name.value)
        except (OSError, ValueError) as error:
            status.value = t("Not saved: {error}", error=error)
        else:
            status.value = t("Saved {path} in your folder.", path=os.path.relpath(written))

    button.on_click(on_click)
    if live_showcase():  # a family's phone has no folder to save to: the row is there, hidden
        return name, button, widgets.HBox([name, button], layout=widgets.Layout(display="none"))
    return name, button, widgets.HBox([name, button], **layout)
