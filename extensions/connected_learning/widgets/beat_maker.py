"""BeatMaker: a step grid of drums and melody notes, a tempo, a sound, real audio and WAV export.

Each row is an instrument (a drum or a note of a pentatonic scale, so every melody sounds
fine) and each column a step, a sixteenth note. The steps are one `CellGrid` (one widget
model for the whole grid, see `cell_grid.py`): a step shows ✓ when on and · when off, besides
its colour, so colour is never the only cue, and its title says which row and step it is, like
"kick, step 1: off". Nothing is rendered until asked: "Make the sound" renders WAV bytes with `synth.py`
and puts them into an `ipywidgets.Audio` player (not autoplaying: the learner presses
play), which appears then, "Save WAV" writes the same bytes to the learner's folder.

A beat maker should appear about as fast as a single slider, and every widget model costs
about a millisecond before it shows: the heading, tempo, repeats, instrument and the two
buttons above the grid are one `ControlPanel` (see `control_panel.py`; `tempo`, `repeats`,
`sound`, `play_button` and `clear_button` are used like the ipywidgets controls they stand
for), every control is created showing the saved beat, and the player is made with the
first sound. That makes 11 models where ipywidgets controls took 23.

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder, rewritten atomically after every change and loaded when the cell runs
again (the robust way); with JupyterLab's "Save Widget State Automatically" on, the
notebook also stores the controls' values, so it reopens showing the creation. See `base.py`.

State: {"steps", "tempo", "repeats", "sound",
"rows": {row name: [bool per step]}}.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from connected_learning.widgets import synth
from connected_learning.widgets.base import CreationState, SharedModels, StateError, export_row, make_status
from connected_learning.widgets.cell_grid import CellGrid
from connected_learning.widgets.control_panel import ControlPanel, button, select, slider
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import N_, _, t

__all__ = ["ROWS", "BeatMaker"]

#: Grid rows, top to bottom: high notes first, then the drums.
ROWS: tuple[str, ...] = ("A", "G", "E", "D", "C", *synth.DRUMS)
ON, OFF = "✓", "·"
#: Step colours: a dark green for on (white ✓), light grey for off (black ·).
STEP_COLOURS = {"on": "#2e7d32", "off": "#eeeeee"}
#: How many times one "Make the sound" plays the loop, at least and at most.
MIN_REPEATS, MAX_REPEATS = 1, 8


# How the drums, sounds and their wave shapes (synth.py's names, kept in the saved beat) are said.
SAID = (N_("kick"), N_("snare"), N_("hi-hat"), N_("soft"), N_("buzzy"), N_("bright"))
SAID_SHAPES = (N_("sine"), N_("square"), N_("sawtooth"), N_("on"), N_("off"))


def _row_label(name: str) -> str:
    return t("note {name}", name=name) if name in synth.NOTES else _(name)


def _check_steps(steps: Any) -> int:
    if not isinstance(steps, int) or isinstance(steps, bool) or not 4 <= steps <= 32:
        raise StateError(f"Steps must be a whole number from 4 to 32, not {steps!r}.")
    return steps


def _check_beat(state: dict[str, Any]) -> dict[str, Any]:
    """A saved beat, checked as a whole before anything shows it (a bad file must not wipe the beat on screen).

    Returns {"steps", "tempo", "repeats", "sound", "rows": one list of bools per row of ROWS}.
    Raises StateError naming what does not fit, or KeyError or TypeError for a damaged state.
    """
    rows, steps = state["rows"], state["steps"]
    _check_steps(steps)
    if not isinstance(rows, dict) or set(rows) != set(ROWS):
        raise StateError(f"A saved beat needs exactly these rows: {', '.join(ROWS)}.")
    for name, values in rows.items():
        if not (isinstance(values, list) and len(values) == steps and all(isinstance(value, bool) for value in values)):
            raise StateError(f"Row {name!r} needs {steps} true/false steps.")
    for field, low, high in (("tempo", synth.MIN_TEMPO, synth.MAX_TEMPO), ("repeats", MIN_REPEATS, MAX_REPEATS)):
        value = state[field]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise StateError(f"The saved {field} must be {low} to {high}, not {value!r}.")
    if state["sound"] not in synth.SOUNDS:
        raise StateError(f"The saved sound must be one of {', '.join(synth.SOUNDS)}.")
    return {
        "steps": steps,
        "tempo": state["tempo"],
        "repeats": state["repeats"],
        "sound": state["sound"],
        "rows": [list(rows[name]) for name in ROWS],
    }


def _grid_values(rows: list[list[bool]]) -> list[list[str]]:
    return [["on" if on else "off" for on in line] for line in rows]


class BeatMaker(CreationState, widgets.VBox):
    """A beat and melody maker: press steps on or off, set the tempo, make the sound, save a WAV.

    Args:
        steps: steps per loop, 4 to 32 (16 by default: one bar of sixteenth notes).
        tempo: beats per minute, 60 to 180.
        sidecar: a JSON file in the learner's folder that keeps the beat between sessions.
    """

    kind = "beat_maker"
    children: Sequence[widgets.Widget]  # VBox's trait (ipywidgets has no types): set a list, read a tuple

    def __init__(
        self, steps: int = 16, tempo: int = 100, *, sidecar: str | os.PathLike[str] | None = None, **kwargs: Any
    ) -> None:
        _check_steps(steps)
        # Read first, so every control is created showing the saved beat: each change after
        # creation would be one more message to the browser before the beat maker appears.
        beat, message = self._read_sidecar(sidecar, _check_beat)
        if beat is None:
            beat = {
                "steps": steps,
                "tempo": tempo,
                "repeats": 2,
                "sound": "soft",
                "rows": [[False] * steps for _ in ROWS],
            }
        self._shared = shared = SharedModels()
        plain = shared.layout
        self.status = make_status(shared, message)
        # The heading, sliders, drop-down and buttons are one widget model (see control_panel.py);
        # `tempo`, `repeats`, `sound`, `play_button` and `clear_button` work like ipywidgets controls.
        self.settings = ControlPanel(
            heading=[
                ("b", _("Beat maker")),
                ("", _(": press steps to turn them on (✓) or off (·), then press ")),
                ("i", _("Make the sound")),
                ("", _(" and play it in the player below.")),
            ],
            rows=[
                [
                    slider("tempo", _("Tempo (beats per minute):"), synth.MIN_TEMPO, synth.MAX_TEMPO),
                    slider("repeats", _("Play the loop this many times:"), MIN_REPEATS, MAX_REPEATS),
                ],
                [
                    select(
                        "sound",
                        _("Melody instrument:"),
                        [(f"{_(name)} ({_(shape)})", name) for name, shape in synth.SOUNDS.items()],
                    )
                ],
                [
                    button(
                        "play",
                        _("Make the sound"),
                        icon="music",
                        primary=True,
                        tooltip=_("Turn the grid into sound, then press play on the player below"),
                    ),
                    button("clear", _("Clear all steps"), icon="eraser", tooltip=_("Turn every step off")),
                ],
            ],
            values={"tempo": beat["tempo"], "repeats": beat["repeats"], "sound": beat["sound"]},
            layout=plain,
        )
        self.tempo = self.settings.control("tempo")
        self.repeats = self.settings.control("repeats")
        self.sound = self.settings.control("sound")
        self.play_button = self.settings.control("play")
        self.clear_button = self.settings.control("clear")
        for control in (self.tempo, self.repeats, self.sound):
            control.observe(lambda _: self._changed(), "value")
        self.play_button.on_click(lambda _: self.play())
        self.clear_button.on_click(lambda _: self.clear())
        self._player: widgets.Audio | None = None  # made by the first "Make the sound", see `player`
        self.steps = beat["steps"]
        self.cell_grid = CellGrid(
            rows=[_row_label(name) for name in ROWS],
            columns=self.steps,
            values=_grid_values(beat["rows"]),
            colours=STEP_COLOURS,
            marks={"on": ON, "off": OFF},
            pressed_value="on",
            column_word=_("step"),
            headers=True,
            cell_size=28,
            label=_("Beat steps"),
            names={"on": _("on"), "off": _("off")},
            layout=plain,
        )
        self.cell_grid.on_press(self._pressed)
        self.file_name, self.export_button, export = export_row(
            "my_beat.wav", _("Save WAV"), self.export_wav, self.status, shared
        )
        kwargs.setdefault("layout", plain)
        super().__init__(
            children=[
                self.settings,
                self.cell_grid,
                export,
                self.status,
            ],
            **kwargs,
        )
        self._save_new_creation()

    @property
    def player(self) -> widgets.Audio:
        """The audio player, between the buttons and the grid, made by the first "Make the sound"."""
        return self._player or self._add_player(b"")

    def _add_player(self, wav: bytes) -> widgets.Audio:
        # No tooltip: ipywidgets 8's AudioView reads a `description` that Audio lacks when a
        # tooltip is set, and the player fails to show. The line above the grid names it.
        self._player = widgets.Audio(
            value=wav, format="wav", autoplay=False, controls=True, loop=False, layout=self._shared.layout
        )
        children = list(self.children)
        children.insert(children.index(self.cell_grid), self._player)
        self.children = children
        return self._player

    def _build(self, steps: int) -> None:
        self.steps = _check_steps(steps)
        self.cell_grid.reshape([_row_label(name) for name in ROWS], steps, "off")

    def _pressed(self, row: int, step: int) -> None:
        """What pressing a step does: turn it on if it was off, off if it was on."""
        self.set_step(ROWS[row], step, self.cell_grid.get(row, step) != "on")

    def set_step(self, name: str, step: int, on: bool) -> None:
        """Turn step `step` (counted from 0) of row `name` (a drum or a note, see ROWS) on or off."""
        if name not in ROWS:
            raise ValueError(f"There is no row {name!r}; the rows are {', '.join(ROWS)}.")
        self.cell_grid.set(ROWS.index(name), step, "on" if on else "off")
        self._changed()

    @property
    def pattern(self) -> dict[str, list[bool]]:
        """Which steps are on, row by row."""
        return {name: [value == "on" for value in line] for name, line in zip(ROWS, self.cell_grid.values, strict=True)}

    def clear(self) -> None:
        """Turn every step off."""
        self.cell_grid.update(
            (row, step, "off")
            for row, line in enumerate(self.cell_grid.values)
            for step, value in enumerate(line)
            if value != "off"
        )
        self._changed()

    def to_wav(self) -> bytes:
        """The beat as WAV bytes (22050 Hz, mono, 16-bit), played `repeats` times."""
        return synth.render_wav(self.pattern, self.tempo.value, self.sound.value, self.repeats.value)

    def play(self) -> None:
        """Put the beat into the player (made now if this is the first sound); the learner presses its play button."""
        wav = self.to_wav()
        if self._player is None:
            self._add_player(wav)
        else:
            self._player.value = wav
        seconds = synth.loop_frames(self.tempo.value, self.steps) * self.repeats.value / synth.RATE
        self._say(t("Your beat is ready: {seconds} seconds. Press play on the player.", seconds=f"{seconds:.1f}"))

    def export_wav(self, path: str | os.PathLike[str]) -> Path:
        """Save the beat as a WAV file in the learner's folder (atomically); returns the path written."""
        return export(path, self.to_wav, suffix=".wav")

    def _dump(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "tempo": self.tempo.value,
            "repeats": self.repeats.value,
            "sound": self.sound.value,
            "rows": self.pattern,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        beat = _check_beat(state)
        if beat["steps"] != self.steps:
            self._build(beat["steps"])
        self.settings.values = {"tempo": beat["tempo"], "repeats": beat["repeats"], "sound": beat["sound"]}
        self.cell_grid.update(
            (row, step, value) for row, line in enumerate(_grid_values(beat["rows"])) for step, value in enumerate(line)
        )
