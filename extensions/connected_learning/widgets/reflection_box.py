"""ReflectionBox: three questions to look back on a piece of work, kept with the notebook.

What I made, what I learned, what I would try next: three Textareas whose questions are
their visible labels (ipywidgets ties a description to its box for screen readers). "Save
as Markdown" writes the answers to a file a learner can share.

Saving with the notebook: pass `sidecar="name.json"` and `state` is kept as JSON in the
learner's folder, rewritten atomically after every change and loaded when the cell runs
again (the robust way); with JupyterLab's "Save Widget State Automatically" on, the
notebook also stores the controls' values, so it reopens showing the creation. See `base.py`.
An answer counts as changed when the learner leaves its box.

State: {"made", "learned", "next"}, each the text of one answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from connected_learning.widgets.base import CreationState, StateError, export_row, make_status
from connected_learning.widgets.files import export
from connected_learning.widgets.i18n import N_, _

__all__ = ["QUESTIONS", "ReflectionBox"]

QUESTIONS = {
    "made": (N_("What I made"), N_("Tell a friend what you made. What does it do or show?")),
    "learned": (N_("What I learned"), N_("What do you know now that you did not know before?")),
    "next": (N_("What I would try next"), N_("If you had one more hour, what would you change or add?")),
}
MAX_ANSWER = 5000


class ReflectionBox(CreationState, widgets.VBox):
    """Three reflection questions with room to answer, saved with the notebook and to a sidecar.

    Args:
        sidecar: a JSON file in the learner's folder that keeps the answers between sessions.
    """

    kind = "reflection_box"

    def __init__(self, *, sidecar: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        self.status = make_status()
        self.answers: dict[str, widgets.Textarea] = {}
        for key, (question, placeholder) in QUESTIONS.items():
            box = widgets.Textarea(
                description=_(question),
                placeholder=_(placeholder),
                continuous_update=False,
                style={"description_width": "12em"},
                tooltip=_(question),
                layout=widgets.Layout(width="95%", height="5em"),
            )
            box.observe(lambda _: self._changed(), "value")
            self.answers[key] = box
        self.file_name, self.export_button, export = export_row(
            "my_reflection.md", _("Save as Markdown"), self.export_markdown, self.status
        )
        super().__init__(
            children=[
                widgets.HTML(_("<b>Look back</b>: answer in a few sentences.")),
                *self.answers.values(),
                export,
                self.status,
            ],
            **kwargs,
        )
        self._start_sidecar(sidecar)

    def to_markdown(self) -> str:
        """The answers as Markdown, one heading per question ('<', '>' and '&' written as entities)."""
        lines = [_("# My reflection"), ""]
        for key, (question, _placeholder) in QUESTIONS.items():
            answer = self.answers[key].value.strip() or _("(not answered yet)")
            answer = answer.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            lines += [f"## {_(question)}", "", answer, ""]
        return "\n".join(lines)

    def export_markdown(self, path: str | os.PathLike[str]) -> Path:
        """Save the answers as Markdown in the learner's folder (atomically); returns the path written."""
        return export(path, lambda: self.to_markdown().encode("utf-8"), suffix=".md")

    def _dump(self) -> dict[str, Any]:
        return {key: box.value for key, box in self.answers.items()}

    def _restore(self, state: dict[str, Any]) -> None:
        for key in QUESTIONS:
            if not isinstance(state[key], str) or len(state[key]) > MAX_ANSWER:
                raise StateError(
                    f"The saved answer to {QUESTIONS[key][0]!r} must be text of at most {MAX_ANSWER} characters."
                )
        for key, box in self.answers.items():
            box.value = state[key]
