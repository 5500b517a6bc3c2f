"""ToolChoice: a row of toggle buttons of which one is chosen (the pixel canvas's Brush and Fill).

ipywidgets' ToggleButtons show the chosen button by its colour alone and tell screen readers
nothing. ToolChoice is one model speaking anywidget's front-end protocol (see `cell_grid.py`)
whose inline JavaScript draws a labelled group of real <button>s: each says its tool in
words, the chosen one carries aria-pressed="true" and is drawn bold with a thick border and
a tick, so colour is never the only cue. The browser only reports which button was pressed
(`{"event": "choose", "value": ...}`); Python checks it and sets `value`.
"""

from __future__ import annotations

import logging
import reprlib
from collections.abc import Callable, Sequence
from typing import Any

import traitlets

from connected_learning.widgets.cell_grid import InlineAnyWidget
from connected_learning.widgets.i18n import _

__all__ = ["ToolChoice"]

log = logging.getLogger(__name__)

_ESM = r"""
function render({ model, el }) {
  const group = document.createElement("div");
  group.className = "clh-tool-choice";
  group.setAttribute("role", "group");
  el.appendChild(group);

  function build() {
    group.replaceChildren();
    group.setAttribute("aria-label", model.get("label"));
    const caption = document.createElement("span");
    caption.className = "widget-label";
    caption.textContent = `${model.get("label")}:`;
    caption.setAttribute("aria-hidden", "true");
    group.appendChild(caption);
    for (const [value, text, help] of model.get("options")) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "jupyter-widgets jupyter-button widget-button clh-tool";
      button.dataset.value = value;
      button.textContent = text;
      button.title = help;
      button.addEventListener("click", () => model.send({ event: "choose", value }));
      group.appendChild(button);
    }
    show();
  }

  function show() {
    for (const button of group.querySelectorAll("button.clh-tool")) {
      button.setAttribute("aria-pressed", String(button.dataset.value === model.get("value")));
    }
  }

  model.on("change:options", build);
  model.on("change:label", build);
  model.on("change:value", show);
  build();
  return () => {
    model.off("change:options", build);
    model.off("change:label", build);
    model.off("change:value", show);
  };
}

export default { render };
"""

_CSS = """
.clh-tool-choice { display: flex; align-items: center; gap: 4px; margin: 2px 0; }
.clh-tool-choice .widget-label { width: auto; margin-right: 4px; }
.clh-tool-choice button.clh-tool { width: auto; min-width: 72px; margin: 0; border: 1px solid #757575; }
.clh-tool-choice button.clh-tool[aria-pressed="true"] {
  border: 3px solid #1565c0; font-weight: bold; background: #e3f2fd; color: black;
}
.clh-tool-choice button.clh-tool[aria-pressed="true"]::before { content: "✓ "; }
.clh-tool-choice button.clh-tool:focus-visible { outline: 3px solid #1565c0; outline-offset: 1px; }
"""


class ToolChoice(InlineAnyWidget):
    """Toggle buttons in words, one of them chosen; `value` is the chosen option's value."""

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    _anywidget_id = traitlets.Unicode("connected_learning.widgets.tool_choice.ToolChoice").tag(sync=True)

    options = traitlets.List(
        traitlets.List(traitlets.Unicode(), minlen=3, maxlen=3),
        help="[value, button text, tooltip] per button, e.g. [['fill', 'Fill', 'Paint a whole patch']].",
    ).tag(sync=True)
    value = traitlets.Unicode("", help="The value of the chosen button, e.g. 'brush'.").tag(sync=True)
    label = traitlets.Unicode("", help="Shown before the buttons and read as the group's name, e.g. 'Tool'.").tag(
        sync=True
    )

    def __init__(self, options: Sequence[tuple[str, str, str]], value: str, label: str, **kwargs: Any) -> None:
        # The texts arrive in English (marked with N_ where they are constants) and are said in
        # the widgets' language.
        said = [[option, _(text), _(tip)] for option, text, tip in options]
        super().__init__(options=said, value=value, label=_(label), **kwargs)
        self.on_msg(self._handle_message)

    @traitlets.validate("value")
    def _valid_value(self, proposal: Any) -> str:
        value = proposal["value"]
        choices = [option[0] for option in self.options]
        if value not in choices:
            raise traitlets.TraitError(f"{value!r} is not one of the buttons; choose one of {', '.join(choices)}.")
        return str(value)

    def on_choose(self, callback: Callable[[str], None]) -> None:
        """Call `callback(value)` whenever the chosen button changes."""
        self.observe(lambda change: callback(change["new"]), "value")

    def _handle_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        value = content.get("value") if isinstance(content, dict) and content.get("event") == "choose" else None
        if not isinstance(value, str) or value not in [option[0] for option in self.options]:
            log.warning("ToolChoice ignored a message it cannot use: %s", reprlib.repr(content))
            return
        self.value = value
