"""DataCollector: a form built from a field spec; valid entries are appended to a group's CSV.

The rules live in `entries.py` (pure functions, tested on their own); this module is the
form. Numbers are typed into plain text boxes rather than number boxes, so that a wrong
entry is kept and explained instead of silently reset. Each bad field gets its message
right under it, and the status line repeats all of them, naming each field, so a screen
reader user hears them together. Every row also gets a `submitted_at` time (UTC).

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder, rewritten atomically after every change and loaded when the cell runs
again (the robust way); with JupyterLab's "Save Widget State Automatically" on, the
notebook also stores the controls' values, so it reopens showing the creation. See `base.py`.

State: {"spec", "csv_path", "draft": {field: what is
typed so far}}. The entries themselves are in the CSV, not in the state.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any, Self

import ipywidgets as widgets

from connected_learning.widgets.base import WIDE, CreationState, StateError, make_status
from connected_learning.widgets.entries import append_row, check_spec, hint, validate_entry
from connected_learning.widgets.i18n import N_, _, t

__all__ = ["DataCollector"]

_CHOOSE = N_("(choose one)")


class DataCollector(CreationState, widgets.VBox):
    """A form whose valid entries are added to a CSV that the group shares.

    Args:
        spec: the fields (see `entries.check_spec`), for example
            [{"name": "street", "type": "text", "required": True},
             {"name": "trees", "type": "int", "min": 0, "max": 500, "label": "Trees you counted"}].
        csv_path: the shared CSV, for example in the group's folder.
        title: a heading shown above the form.
        sidecar: a JSON file in the learner's folder that keeps a half-filled form between sessions.
    """

    kind = "data_collector"

    def __init__(
        self,
        spec: Any,
        csv_path: str | os.PathLike[str],
        *,
        title: str | None = None,
        sidecar: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.fields = check_spec(spec)
        self.csv_path = os.fspath(csv_path)
        if not isinstance(self.csv_path, str) or not self.csv_path.endswith(".csv"):
            raise ValueError(f"The data file must be a .csv file name, not {self.csv_path!r}.")
        self.fieldnames = [field["name"] for field in self.fields] + ["submitted_at"]
        self.status = make_status()
        self.inputs: dict[str, widgets.Text | widgets.Dropdown] = {}
        self.errors: dict[str, widgets.Label] = {}
        rows: list[widgets.Widget] = []
        for field in self.fields:
            label = t("{label} (needed):", label=field["label"]) if field["required"] else field["label"] + ":"
            tip = field["help"] or t("Type {hint}", hint=hint(field))
            if field["type"] == "choice":
                control: widgets.Text | widgets.Dropdown = widgets.Dropdown(
                    options=[(_(_CHOOSE), ""), *((choice, choice) for choice in field["choices"])],
                    value="",
                    description=label,
                    style=WIDE,
                    tooltip=tip,
                )
            else:
                control = widgets.Text(
                    description=label,
                    placeholder=hint(field),
                    style=WIDE,
                    tooltip=tip,
                    layout=widgets.Layout(width="95%"),
                )
            control.observe(lambda _: self._changed(), "value")
            self.inputs[field["name"]] = control
            self.errors[field["name"]] = widgets.Label()
            rows += [control, self.errors[field["name"]]]
        self.submit_button = widgets.Button(
            description=_("Add my entry"),
            icon="check",
            layout=widgets.Layout(width="auto"),
            button_style="primary",
            tooltip=t("Check your entry and add it to {name}", name=os.path.basename(self.csv_path)),
        )
        self.submit_button.on_click(lambda _: self.submit())
        heading = widgets.Label(_("Add your entry") if title is None else title)
        super().__init__(children=[heading, *rows, self.submit_button, self.status], **kwargs)
        self._start_sidecar(sidecar)

    @property
    def values(self) -> dict[str, str]:
        """What is typed or chosen in the form right now."""
        return {name: control.value for name, control in self.inputs.items()}

    def submit(self) -> bool:
        """What "Add my entry" does: validate, then append to the CSV or explain what to fix.

        Returns True when the entry was added.
        """
        row, errors = validate_entry(self.fields, self.values)
        for name, label in self.errors.items():
            label.value = f"⚠ {errors[name]}" if name in errors else ""
        if errors:
            fix = (
                _("Please fix 1 thing, then press 'Add my entry' again.")
                if len(errors) == 1
                else t("Please fix {count} things, then press 'Add my entry' again.", count=len(errors))
            )
            self._say(fix + " " + " ".join(errors.values()))
            return False
        row["submitted_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        try:
            append_row(self.csv_path, self.fieldnames, row)
        except (OSError, ValueError) as error:
            self._say(t("Your entry was not added: {error} Try again, or ask a mentor.", error=error))
            return False
        self._restoring = True  # one save of the emptied form, not one per field
        try:
            for control in self.inputs.values():
                control.value = ""
        finally:
            self._restoring = False
        self._changed()
        self._say(t("Thank you! Your entry was added to {name}.", name=os.path.basename(self.csv_path)))
        return True

    @classmethod
    def from_state(cls, state: dict[str, Any], **kwargs: Any) -> Self:
        if not isinstance(state, dict):
            raise StateError("A saved form must be a JSON object.")
        try:
            widget = cls(state.get("spec"), state.get("csv_path", ""), **kwargs)
        except (TypeError, ValueError) as error:
            raise StateError(f"This saved form cannot be opened: {error}") from None
        widget.load_state(state)
        return widget

    def _dump(self) -> dict[str, Any]:
        return {"spec": [dict(field) for field in self.fields], "csv_path": self.csv_path, "draft": self.values}

    def _restore(self, state: dict[str, Any]) -> None:
        if check_spec(state["spec"]) != self.fields or state["csv_path"] != self.csv_path:
            raise StateError("This saved form belongs to a different form or data file.")
        draft = state["draft"]
        if not isinstance(draft, dict) or set(draft) != set(self.inputs):
            raise StateError("The saved answers do not match the form's fields.")
        for name, value in draft.items():
            control = self.inputs[name]
            if not isinstance(value, str) or len(value) > 2000:
                raise StateError(f"The saved answer for {name!r} must be short text.")
            if isinstance(control, widgets.Dropdown) and value not in (option[1] for option in control.options):
                raise StateError(f"The saved answer for {name!r} is not one of its choices.")
        for name, value in draft.items():
            self.inputs[name].value = value
