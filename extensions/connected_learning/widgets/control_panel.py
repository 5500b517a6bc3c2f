"""ControlPanel: a heading, sliders, drop-downs and buttons as ONE widget model, like `CellGrid`.

Built from ipywidgets controls, a beat maker's settings (a heading, two sliders, a drop-down,
two buttons and the boxes that line them up) cost about ten widget models, and each costs about a
millisecond before a fresh kernel shows the widget. ControlPanel is a single model speaking
anywidget's front-end protocol (see `cell_grid.py`) whose inline JavaScript draws native form
controls: `<input type="range">`, `<select>` and `<button>`, each with a `<label>` or its
text, so keyboard use (Tab, arrows, Home, End, Page Up and Down, Enter, Space) and screen
readers work as the browser made them. The controls wear ipywidgets' CSS classes
(`widget-label`, `widget-button`, `mod-primary`), so they look like their neighbours.

Python owns the values: `panel.control(name)` gives a `PanelControl` with the parts of the
ipywidgets API the widgets here use (`value`, `min`, `max`, `options`, `description`,
`observe`, `click`, `on_click`). A slider clamps a value to its range, as IntSlider does; a
drop-down refuses a value that is not one of its options, as Dropdown does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import traitlets

from connected_learning.widgets.cell_grid import InlineAnyWidget

__all__ = ["ControlPanel", "PanelControl", "button", "select", "slider"]

log = logging.getLogger(__name__)

_ESM = r"""
function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "clh-panel";
  // The keys that work a slider, drop-down or button belong to it: JupyterLab would otherwise
  // take them as notebook shortcuts (an arrow selects another cell) and cancel what the
  // browser does with them. Tab, Escape and keys with Ctrl, Alt or Cmd still reach JupyterLab.
  const ownKeys = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown",
                   "Enter", " "];
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  root.addEventListener("keydown", (event) => {
    if (!event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey && ownKeys.includes(event.key)) {
      event.stopPropagation();
    }
  });
  el.appendChild(root);
  let inputs = {};

  function show(name) {
    const control = inputs[name];
    if (!control) return;
    const value = model.get("values")[name];
    control.input.value = String(value);
    if (control.readout) control.readout.textContent = String(value);
  }

  function choose(name, value) {
    model.set("values", { ...model.get("values"), [name]: value });
    model.save_changes();
  }

  function labelled(spec, input) {
    const box = document.createElement("div");
    box.className = "clh-panel-control widget-inline-hbox";
    const id = `clh-panel-${Math.random().toString(36).slice(2)}`;
    const label = document.createElement("label");
    label.className = "widget-label";
    label.htmlFor = input.id = id;
    label.textContent = spec.description;
    if (spec.tooltip) box.title = spec.tooltip;
    box.append(label, input);
    return box;
  }

  function slider(spec) {
    const input = document.createElement("input");
    input.type = "range";
    input.min = String(spec.min);
    input.max = String(spec.max);
    input.step = String(spec.step);
    const box = labelled(spec, input);
    const readout = document.createElement("output");
    readout.className = "widget-readout";
    readout.htmlFor = input.id;
    box.appendChild(readout);
    input.addEventListener("input", () => { readout.textContent = input.value; });
    // Like continuous_update=False: Python hears of the value once it is let go.
    input.addEventListener("change", () => choose(spec.name, Number(input.value)));
    inputs[spec.name] = { input, readout };
    return box;
  }

  function select(spec) {
    const input = document.createElement("select");
    for (const [text, value] of spec.options) {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      input.appendChild(option);
    }
    input.addEventListener("change", () => choose(spec.name, input.value));
    inputs[spec.name] = { input };
    return labelled(spec, input);
  }

  function button(spec) {
    const input = document.createElement("button");
    input.type = "button";
    input.className = "jupyter-widgets jupyter-button widget-button" + (spec.primary ? " mod-primary" : "");
    if (spec.tooltip) input.title = spec.tooltip;
    if (spec.icon) {
      const icon = document.createElement("i");
      icon.className = `fa fa-${spec.icon}`;
      icon.setAttribute("aria-hidden", "true");
      input.append(icon, " ");
    }
    input.append(spec.description);
    input.addEventListener("click", () => model.send({ event: "press", name: spec.name }));
    return input;
  }

  function build() {
    root.replaceChildren();
    inputs = {};
    const heading = model.get("heading");
    if (heading.length) {
      const line = document.createElement("div");
      line.className = "clh-panel-heading";
      for (const [style, text] of heading) {
        const part = document.createElement({ b: "b", i: "i" }[style] || "span");
        part.textContent = text;
        line.appendChild(part);
      }
      root.appendChild(line);
    }
    const makers = { slider, select, button };
    for (const row of model.get("rows")) {
      const line = document.createElement("div");
      line.className = "clh-panel-row";
      for (const spec of row) line.appendChild(makers[spec.kind](spec));
      root.appendChild(line);
    }
    for (const name of Object.keys(inputs)) show(name);
  }

  function update() {
    for (const name of Object.keys(inputs)) show(name);
  }

  model.on("change:heading", build);
  model.on("change:rows", build);
  model.on("change:values", update);
  build();
  return () => {
    model.off("change:heading", build);
    model.off("change:rows", build);
    model.off("change:values", update);
  };
}

export default { render };
"""

_CSS = """
.clh-panel-heading { margin-bottom: 4px; }
.clh-panel-row { display: flex; flex-flow: row wrap; align-items: center; gap: 4px 16px; margin: 2px 0; }
.clh-panel-control label.widget-label { width: auto; margin-right: 8px; }
.clh-panel-control input[type="range"] { width: 160px; min-width: 160px; flex: 0 0 160px; }
.clh-panel-control output.widget-readout { min-width: 3ch; margin-left: 8px; text-align: right; }
.clh-panel-control select { min-width: 10em; }
.clh-panel button.widget-button { width: auto; }  /* as wide as its words, in every language */
.clh-panel :focus-visible { outline: 3px solid #1565c0; outline-offset: 1px; }
"""


def slider(name: str, description: str, low: int, high: int, *, step: int = 1, tooltip: str = "") -> dict[str, Any]:
    """A whole-number slider from `low` to `high`, labelled `description`; its value is an int."""
    return {
        "kind": "slider",
        "name": name,
        "description": description,
        "min": low,
        "max": high,
        "step": step,
        "tooltip": tooltip,
    }


def select(name: str, description: str, options: Sequence[tuple[str, str]], *, tooltip: str = "") -> dict[str, Any]:
    """A drop-down labelled `description` of (text shown, value) pairs; its value is one of the values."""
    return {
        "kind": "select",
        "name": name,
        "description": description,
        "options": [list(pair) for pair in options],
        "tooltip": tooltip,
    }


def button(name: str, description: str, *, icon: str = "", primary: bool = False, tooltip: str = "") -> dict[str, Any]:
    """A button whose text is `description`, with a Font Awesome `icon` (e.g. "music") before it."""
    return {
        "kind": "button",
        "name": name,
        "description": description,
        "icon": icon,
        "primary": primary,
        "tooltip": tooltip,
    }


class ControlPanel(InlineAnyWidget):
    """Rows of controls under a heading, drawn by one widget model; see the module docstring.

    Args:
        heading: the line above the controls, as (style, text) parts: style "b" is bold, "i"
            italic, "" plain, e.g. [("b", "Beat maker"), ("", ": press steps...")].
        rows: rows of control specs made by `slider`, `select` and `button`; names are unique.
        values: the first value of each slider and drop-down, by name.
    """

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    _anywidget_id = traitlets.Unicode("connected_learning.widgets.control_panel.ControlPanel").tag(sync=True)

    heading = traitlets.List(
        traitlets.List(traitlets.Unicode()),
        help="The line above the controls as [style, text] parts; style 'b' (bold), 'i' (italic) or '' (plain).",
    ).tag(sync=True)
    rows = traitlets.List(
        traitlets.List(traitlets.Dict()), help="Rows of control specs made by slider(), select() and button()."
    ).tag(sync=True)
    values = traitlets.Dict(help="The value of each slider and drop-down, by name, e.g. {'tempo': 100}.").tag(sync=True)

    def __init__(
        self,
        heading: Sequence[tuple[str, str]],
        rows: Sequence[Sequence[dict[str, Any]]],
        values: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        specs = [spec for row in rows for spec in row]
        self._specs = {spec["name"]: spec for spec in specs}
        if len(self._specs) != len(specs):
            raise ValueError("Two controls of a panel have the same name; give each its own.")
        missing = [name for name, spec in self._specs.items() if spec["kind"] != "button" and name not in values]
        if missing:
            raise ValueError(f"The panel needs a first value for {', '.join(missing)}.")
        self._press_callbacks: dict[str, list[Callable[[], None]]] = {name: [] for name in self._specs}
        self._controls: dict[str, PanelControl] = {}
        self._accepted: dict[str, Any] = {}
        super().__init__(
            heading=[list(part) for part in heading], rows=[list(row) for row in rows], values=dict(values), **kwargs
        )
        self.on_msg(self._handle_message)

    @traitlets.validate("values")
    def _valid_values(self, proposal: Any) -> dict[str, Any]:
        # What the browser sends is untrusted: keep only known names, clamp sliders, and keep
        # the last good value of a control given something it cannot show. (Not `self.values`:
        # while ipywidgets applies a message from the browser, that already holds the new dict.)
        clean: dict[str, Any] = {}
        for name, value in proposal["value"].items():
            spec = self._specs.get(name)
            if spec is None or spec["kind"] == "button":
                continue
            clean[name] = self._checked(spec, value, self._accepted.get(name))
        self._accepted = clean
        return clean

    @staticmethod
    def _checked(spec: dict[str, Any], value: Any, old: Any) -> Any:
        if spec["kind"] == "slider":
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                return old if old is not None else spec["min"]
            return max(spec["min"], min(spec["max"], int(value)))
        allowed = [option_value for _, option_value in spec["options"]]
        return value if value in allowed else (old if old in allowed else allowed[0])

    def control(self, name: str) -> PanelControl:
        """The control called `name`, to read or set its value, observe it or press it."""
        if name not in self._specs:
            raise KeyError(f"This panel has no control {name!r}; it has {', '.join(self._specs)}.")
        if name not in self._controls:
            self._controls[name] = PanelControl(self, self._specs[name])
        return self._controls[name]

    def press(self, name: str) -> None:
        """Exactly what a click (or Enter or Space) on the button `name` in the browser does."""
        if name not in self._specs or self._specs[name]["kind"] != "button":
            raise ValueError(f"This panel has no button {name!r}.")
        for callback in self._press_callbacks[name]:
            callback()

    def _handle_message(self, _widget: Any, content: Any, buffers: Any) -> None:
        name = content.get("name") if isinstance(content, dict) and content.get("event") == "press" else None
        if not isinstance(name, str) or name not in self._specs or self._specs[name]["kind"] != "button":
            log.warning("ControlPanel ignored an unknown message from the browser: %r", content)
            return
        self.press(name)


class PanelControl:
    """One control of a `ControlPanel`, used like the ipywidgets control it stands for.

    `value`, `min`, `max`, `options` (of a drop-down: the allowed values), `description`,
    `tooltip`, `observe(handler, "value")`, and for a button `click()` and `on_click(callback)`.
    """

    def __init__(self, panel: ControlPanel, spec: dict[str, Any]) -> None:
        self.panel = panel
        self.name: str = spec["name"]
        self.kind: str = spec["kind"]
        self.description: str = spec["description"]
        self.tooltip: str = spec["tooltip"]
        self.min: int | None = spec.get("min")
        self.max: int | None = spec.get("max")
        self.options: list[str] = [value for _, value in spec.get("options", [])]

    @property
    def value(self) -> Any:
        """The value shown (not for buttons)."""
        return self.panel.values[self.name]

    @value.setter
    def value(self, value: Any) -> None:
        if self.kind == "button":
            raise AttributeError(f"The button {self.description!r} has no value.")
        if self.kind == "select" and value not in self.options:
            raise traitlets.TraitError(
                f"{value!r} is not one of the choices of {self.description!r}: {', '.join(map(repr, self.options))}."
            )
        self.panel.values = {**self.panel.values, self.name: value}

    def observe(self, handler: Callable[[dict[str, Any]], None], names: str = "value") -> None:
        """Call `handler({"name": "value", "old", "new", "owner"})` whenever the value changes."""
        if names != "value":
            raise ValueError("A panel control can only observe 'value'.")

        def on_values(change: dict[str, Any]) -> None:
            old, new = change["old"].get(self.name), change["new"].get(self.name)
            if old != new:
                handler({"name": "value", "old": old, "new": new, "owner": self, "type": "change"})

        self.panel.observe(on_values, "values")

    def click(self) -> None:
        """Press the button, as a learner does."""
        self.panel.press(self.name)

    def on_click(self, callback: Callable[[PanelControl], None]) -> None:
        """Call `callback(this control)` whenever the button is pressed."""
        self.panel._press_callbacks[self.name].append(lambda: callback(self))
