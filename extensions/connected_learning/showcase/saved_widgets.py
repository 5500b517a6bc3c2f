"""Saved widgets drawn without JavaScript: a notebook's widget state as plain, static HTML.

nbconvert's answer to saved widgets is a `<script>` that loads the widget HTML manager
(`@jupyter-widgets/html-manager`'s `embed-amd.js`, with require.js) from unpkg. That cannot
work on a showcase page: the network is closed, the page is served with no scripts at all,
and bundling the manager instead would cost hundreds of KB (JupyterLab's widget manager
alone is about 700 KB) of a 500 KB budget. So the saved widget state is drawn here, in
Python, as plain HTML: labels and HTML widgets, the values of text boxes, sliders and
drop-downs, pictures (Image) and sounds (Audio) from their saved buffers, Output widgets'
outputs, and this package's CellGrid (the pixel canvas, the beat grid) as coloured squares.
Buttons, check boxes and file-name boxes mean nothing without a kernel and are left out; a
widget with nothing left to show, or with no saved state, becomes a short note pointing to
the live version ("Play with it"). A large sound or picture that is also a file of the piece
is inlined once, at the top of the page, and only named here.

`prepare_notebook` puts the drawings in place of the widget views (and SVG pictures, which
nbconvert would also leave to a script) before `render` hands the notebook to nbconvert.
Nothing here is sanitized: `render` sanitizes the whole page body once.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from ..widgets.contrast import text_colour
from .messages import message
from .sanitize import data_uri, esc, markdown_html
from .snapshot import WIDGET_STATE, WIDGET_VIEW, sniff_audio, sniff_image

__all__ = ["INLINE_ONCE_BYTES", "MADE", "cell_grid_html", "prepare_notebook", "render_widget"]

#: The output metadata flag `prepare_notebook` sets on what the learner made (a drawn widget, a
#: picture), which the family page shows first; other outputs are the workbook's steps.
MADE = "clh-made"

MAX_WIDGET_DEPTH = 30
#: A picture or sound that is also a file of the piece is inlined once (at the top) when it is at
#: least this large (a beat's WAV is about 200 KB); smaller ones also show where the notebook made them.
INLINE_ONCE_BYTES = 64_000

_BOXES = {"BoxModel", "HBoxModel", "VBoxModel", "GridBoxModel"}
_SECTIONS = {"TabModel", "AccordionModel", "StackModel"}
_TEXT_INPUTS = {"TextModel", "TextareaModel", "ComboboxModel"}
_VALUES = {
    "IntSliderModel",
    "FloatSliderModel",
    "FloatLogSliderModel",
    "IntRangeSliderModel",
    "FloatRangeSliderModel",
    "BoundedIntTextModel",
    "BoundedFloatTextModel",
    "IntTextModel",
    "FloatTextModel",
    "IntProgressModel",
    "FloatProgressModel",
    "DatePickerModel",
    "ColorPickerModel",
}
_SELECTIONS = {
    "DropdownModel",
    "RadioButtonsModel",
    "SelectModel",
    "ToggleButtonsModel",
    "SelectionSliderModel",
    "SelectMultipleModel",
    "SelectionRangeSliderModel",
}
_CELL_GRID = "connected_learning.widgets.cell_grid.CellGrid"
_CONTROL_PANEL = "connected_learning.widgets.control_panel.ControlPanel"
# The class of a widget's status line (widgets.base.STATUS_CLASS; not imported: ipywidgets is heavy).
STATUS_CLASS = "clh-status"
# The widgets' "File name:" boxes hold the name an export is saved as: nothing for a family.
_FILE_NAME = re.compile(r"[\w .-]{1,100}\.(png|jpe?g|gif|wav|md|html|json|csv|txt|ipynb)", re.I)
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
_MODEL = re.compile(r"IPY_MODEL_([0-9A-Za-z_-]+)")
_STATUS = re.compile(r"""aria-live|role=["']?(status|alert)""", re.I)

# What a widget drew: real content; the value of a control (content, unless it sits beside a
# button, where it is only a setting for that button: "Row: 1  Column: 1  [Paint square]");
# only a label; a control that means nothing without a kernel (a button, a check box, any
# widget not known here), left out; or nothing at all (empty).
CONTENT, VALUE, LABEL, CONTROL, NOTHING = "content", "value", "label", "control", "nothing"
# For families (`made_only`): a widget's own text (an HTML widget: its heading, its help) shows, but
# is not by itself something the learner made.
TEXT = "text"


def _ref(value: Any) -> str | None:
    match = _MODEL.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def _buffer(model: Mapping[str, Any], name: str) -> bytes | None:
    for entry in model.get("buffers") or []:
        if isinstance(entry, dict) and entry.get("path") == [name] and isinstance(entry.get("data"), str):
            try:
                return base64.b64decode(entry["data"], validate=True)
            except ValueError:
                return None
    return None


def _cell_grid(state: Mapping[str, Any]) -> str:
    """CellGrid (pixel art, beat steps) as rows of coloured squares, with their marks."""
    rows, values = state.get("rows"), state.get("values")
    colours, marks = state.get("colours") or {}, state.get("marks") or {}
    if not (isinstance(rows, list) and isinstance(values, list) and values and len(values) <= 64):
        return ""
    if not all(isinstance(line, list) and len(line) <= 64 for line in values):
        return ""
    size = cell_size if isinstance(cell_size := state.get("cell_size"), int) else 24
    columns = max(len(line) for line in values)
    headers = state.get("headers") is True
    width = columns * max(8, min(size, 48)) + (96 if headers else 0)
    lines = []
    for index, line in enumerate(values):
        cells = []
        if headers:
            name = rows[index] if index < len(rows) else ""
            cells.append(f'<span class="clh-grid-name">{esc(name)}</span>')
        for value in line:
            colour = colours.get(value) if isinstance(value, str) and isinstance(colours, dict) else None
            style = (
                f' style="background-color: {colour}; color: {text_colour(colour)}"'
                if (isinstance(colour, str) and _HEX.fullmatch(colour))
                else ""
            )
            mark = marks.get(value, "") if isinstance(marks, dict) else ""
            cells.append(f"<span{style}>{esc(mark)}</span>")
        lines.append(f'<div class="clh-grid-row">{"".join(cells)}</div>')
    label = esc(state.get("label") or "")
    return f'<div class="clh-grid" role="img" aria-label="{label}" style="max-width: {width}px">{"".join(lines)}</div>'


def cell_grid_html(state: Any, label: str = "") -> str:
    """A saved CellGrid model's state (pixel art, beat steps) as coloured squares; "" for any other model.

    `label` names the picture for screen readers, in place of the grid's own label (the widget's words).
    """
    if not isinstance(state, dict) or state.get("_anywidget_id") != _CELL_GRID:
        return ""
    return _cell_grid({**state, "label": label or state.get("label")})


def _control_panel(state: Mapping[str, Any]) -> str:
    """ControlPanel (the beat maker's settings): its heading and the value of each slider and drop-down."""
    parts = []
    for part in state.get("heading") or []:
        if isinstance(part, list) and len(part) == 2:
            style, text = part
            parts.append(f"<{style}>{esc(text)}</{style}>" if style in ("b", "i") else esc(text))
    out = [f"<p>{''.join(parts)}</p>"] if parts else []
    values = saved_values if isinstance(saved_values := state.get("values"), dict) else {}
    for row in state.get("rows") or []:
        for spec in row if isinstance(row, list) else []:
            if not isinstance(spec, dict) or spec.get("kind") == "button" or spec.get("name") not in values:
                continue
            value = values[spec["name"]]
            for option in spec.get("options") or []:
                if isinstance(option, list) and len(option) == 2 and option[1] == value:
                    value = option[0]
            out.append(f'<p class="clh-value">{esc(spec.get("description", ""))} <b>{esc(value)}</b></p>')
    return "".join(out)


def _selection(state: Mapping[str, Any]) -> str | None:
    labels, index = state.get("_options_labels") or [], state.get("index")
    indices = index if isinstance(index, list) else [index]
    chosen = [labels[i] for i in indices if isinstance(i, int) and 0 <= i < len(labels)]
    return ", ".join(str(c) for c in chosen) if chosen else None


class _WidgetDrawer:
    """Draws saved widget models (the notebook's widget state) as static HTML."""

    def __init__(
        self, models: Mapping[str, Any], lang: str, above: Mapping[str, str] | None = None, made_only: bool = False
    ) -> None:
        self.models, self.lang = models, lang
        self.above = above or {}  # sha256 of a picture or sound shown at the top -> its caption
        self.made_only = made_only

    def _made_parts(self, model_id: str, depth: int, seen: frozenset[str]) -> list[str]:
        """Ids of the creations under a widget: squares (CellGrid), settings (ControlPanel), pictures, sounds."""
        model = self.models.get(model_id)
        if not isinstance(model, dict):
            return []
        state = model.get("state")
        if depth > MAX_WIDGET_DEPTH or model_id in seen or not isinstance(state, dict) or self._hidden(state):
            return []
        if state.get("_anywidget_id") in (_CELL_GRID, _CONTROL_PANEL) or model.get("model_name") in (
            "ImageModel",
            "AudioModel",
        ):
            return [model_id]
        children = [ref for child in state.get("children") or [] if (ref := _ref(child))]
        return [part for ref in children for part in self._made_parts(ref, depth + 1, seen | {model_id})]

    def draw(self, model_id: str, depth: int = 0, seen: frozenset[str] = frozenset()) -> tuple[str, str]:
        model = self.models.get(model_id)
        if depth > MAX_WIDGET_DEPTH or model_id in seen or not isinstance(model, dict):
            return "", NOTHING
        state = model.get("state")
        if not isinstance(state, dict) or self._hidden(state):
            return "", NOTHING
        seen = seen | {model_id}
        name = model.get("model_name") or state.get("_model_name")
        description = described if isinstance(described := state.get("description"), str) else ""
        description = description.strip()
        if description and description[-1].isalnum():
            description += ":"
        lead = f'<span class="clh-desc">{esc(description)}</span> ' if description else ""
        if name in _BOXES or name in _SECTIONS:
            parts = self._made_parts(model_id, depth, frozenset()) if self.made_only else []
            grids = [p for p in parts if self.models[p].get("state", {}).get("_anywidget_id") == _CELL_GRID]
            if grids and any(self._whole_picture(p) for p in parts):
                # A maker that also draws its whole creation as one picture (a comic, a map, a
                # flipbook's GIF): that picture, not also the squares of the panel or frame being edited.
                parts = [p for p in parts if p not in grids]
            if grids:
                # A maker widget (pixel canvas, beat maker): for families, what was made, not the
                # widget's help, buttons and status lines, which speak to the learner.
                drawn = "".join(self.draw(p, depth + 1, seen)[0] for p in parts)
                return (f'<div class="clh-vbox">{drawn}</div>', CONTENT) if drawn else ("", NOTHING)
            return self._children(name, state, depth, seen)
        if name == "LabelModel":
            text = state.get("value")
            if STATUS_CLASS in (state.get("_dom_classes") or ()):
                return "", NOTHING  # a widget's status line tells about the last press, not about the creation
            return (f"<p>{esc(text)}</p>", LABEL) if isinstance(text, str) and text.strip() else ("", NOTHING)
        if name in ("HTMLModel", "HTMLMathModel"):
            text = state.get("value")
            if not (isinstance(text, str) and text.strip()) or _STATUS.search(text):
                return "", NOTHING  # a status message tells about the last press, not about the creation
            return f'<div class="clh-widget-html">{lead}{text}</div>', (TEXT if self.made_only else CONTENT)
        if name in _TEXT_INPUTS:
            text = state.get("value")
            if not isinstance(text, str) or not text.strip() or _FILE_NAME.fullmatch(text.strip()):
                return "", NOTHING
            return f'<p class="clh-value">{lead}<span class="clh-text">{esc(text)}</span></p>', VALUE
        if name in _VALUES or name in _SELECTIONS:
            value = _selection(state) if name in _SELECTIONS else state.get("value")
            if isinstance(value, list):
                value = " – ".join(str(v) for v in value)
            if value is None or value == "":
                return "", NOTHING
            swatch = (
                f'<span class="clh-swatch" style="background-color: {value}"></span>'
                if name == "ColorPickerModel" and _HEX.fullmatch(str(value))
                else ""
            )
            return f'<p class="clh-value">{lead}{swatch}<b>{esc(value)}</b></p>', VALUE
        if name in ("ImageModel", "AudioModel"):
            return self._media(model, state)
        if name == "OutputModel":
            outputs = kept if isinstance(kept := state.get("outputs"), list) else []
            drawn = "".join(self.output(o, depth + 1, seen) for o in outputs if isinstance(o, dict))
            return (f"<div>{drawn}</div>", CONTENT) if drawn else ("", NOTHING)
        if name == "AnyModel" and state.get("_anywidget_id") == _CELL_GRID:
            # The widget names its squares in English ("Pixel art squares"): the page's own words instead.
            drawn = cell_grid_html(state, message("picture", self.lang))
            return (drawn, CONTENT) if drawn else ("", NOTHING)
        if name == "AnyModel" and state.get("_anywidget_id") == _CONTROL_PANEL:
            drawn = _control_panel(state)
            return (drawn, CONTENT) if drawn else ("", NOTHING)
        return "", CONTROL  # buttons, check boxes, uploads, players, unknown widgets

    def shown_above(self, model_id: str) -> bool:
        """Whether a widget's creation includes a picture or sound already shown at the top of the page."""
        for part in self._made_parts(model_id, 0, frozenset()):
            data = _buffer(self.models[part], "value")
            if data is not None and hashlib.sha256(data).hexdigest() in self.above:
                return True
        return False

    def _whole_picture(self, model_id: str) -> bool:
        """Whether a model is a maker's picture of its whole creation (`widgets.base.TitledImage`).

        A TitledImage is an ImageModel that carries an (always empty) `description`, which a
        plain Image has not.
        """
        model = self.models.get(model_id, {})
        state = model.get("state")
        return model.get("model_name") == "ImageModel" and isinstance(state, dict) and state.get("description") == ""

    def _hidden(self, state: Mapping[str, Any]) -> bool:
        layout_id = _ref(state.get("layout"))
        layout = self.models.get(layout_id, {}).get("state") if layout_id else None
        return isinstance(layout, dict) and (layout.get("display") == "none" or layout.get("visibility") == "hidden")

    def _children(self, name: str, state: Mapping[str, Any], depth: int, seen: frozenset[str]) -> tuple[str, str]:
        drawn = [self.draw(ref, depth + 1, seen) for child in state.get("children") or [] if (ref := _ref(child))]
        setting = LABEL if any(kind == CONTROL for _, kind in drawn) else CONTENT
        drawn = [(text, setting if kind == VALUE else kind) for text, kind in drawn]
        kinds = {kind for _, kind in drawn}
        if CONTENT not in kinds and TEXT not in kinds and CONTROL in kinds:
            return "", CONTROL  # a row of controls: its labels ("Colours:") mean nothing without them
        if name in _SECTIONS:
            titles = state.get("titles") or state.get("_titles") or []
            if isinstance(titles, dict):  # ipywidgets 7 kept {"0": "title"}
                titles = [titles.get(str(i), "") for i in range(len(drawn))]
            drawn = [
                (f"<section><h3>{esc(titles[i])}</h3>{text}</section>", kind)
                if i < len(titles) and isinstance(titles[i], str) and titles[i]
                else (text, kind)
                for i, (text, kind) in enumerate(drawn)
            ]
        parts = [text for text, kind in drawn if kind in (CONTENT, LABEL, TEXT)]
        if not parts:
            return "", NOTHING
        css = "clh-hbox" if name == "HBoxModel" else "clh-vbox"
        made = CONTENT if CONTENT in kinds else TEXT if TEXT in kinds else LABEL
        return f'<div class="{css}">{"".join(parts)}</div>', made

    def _media(self, model: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[str, str]:
        data = _buffer(model, "value")
        if data is None:
            return "", NOTHING
        digest = hashlib.sha256(data).hexdigest()
        if self.made_only and digest in self.above:
            return "", NOTHING  # a file of the piece, shown above among what was made: once is enough
        caption = self.above.get(digest) if len(data) >= INLINE_ONCE_BYTES else None
        if caption:  # a sound is hundreds of KB: inline it once, where the page begins
            return f'<p class="clh-value">{esc(message("shown_above", self.lang, name=caption))}</p>', CONTENT
        if model.get("model_name") == "ImageModel":
            mime = sniff_image(data)
            if mime is None:
                return "", NOTHING
            width = state.get("width") if str(state.get("width", "")).isdigit() else ""
            size = f' width="{width}"' if width else ""
            alt = esc(message("picture", self.lang))
            return f'<img src="{data_uri(mime, data)}" alt="{alt}"{size}>', CONTENT
        if sniff_audio(data) is None:
            return "", NOTHING
        return (
            f'<audio controls preload="none" src="{data_uri("audio/wav", data)}">'
            f"{esc(message('no_audio', self.lang))}</audio>"
        ), CONTENT

    def output(self, output: Mapping[str, Any], depth: int = 0, seen: frozenset[str] = frozenset()) -> str:
        """One output kept by an Output widget, drawn the way nbconvert would, without scripts."""
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            return f"<pre>{esc(''.join(text) if isinstance(text, list) else text)}</pre>"
        data = bundle if isinstance(bundle := output.get("data"), dict) else {}
        view = data.get(WIDGET_VIEW)
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            return self.draw(view["model_id"], depth, seen)[0]
        for mime in ("image/png", "image/jpeg", "image/gif"):
            if isinstance(data.get(mime), str):
                alt = esc(message("picture", self.lang))
                return f'<img src="data:{mime};base64,{esc(data[mime].strip())}" alt="{alt}">'
        if isinstance(data.get("text/html"), str):
            return f"<div>{data['text/html']}</div>"
        if isinstance(data.get("text/markdown"), str):
            return markdown_html(data["text/markdown"])
        if isinstance(data.get("text/plain"), str):
            return f"<pre>{esc(data['text/plain'])}</pre>"
        return ""


def render_widget(model_id: str, widget_state: Mapping[str, Any], *, lang: str = "en") -> str:
    """Static HTML of the saved widget `model_id` ("" when nothing of it can be shown without a kernel).

    `widget_state` is the notebook's `metadata.widgets["application/vnd.jupyter.widget-state+json"]`.
    The result is not yet sanitized: `render_page` sanitizes the whole page body.
    """
    models = state if isinstance(state := widget_state.get("state"), dict) else {}
    drawn, kind = _WidgetDrawer(models, lang).draw(model_id)
    return drawn if kind in (CONTENT, VALUE) else ""


def prepare_notebook(notebook: Any, lang: str, live: bool, above: Mapping[str, str], made_only: bool = False) -> None:
    """Replace what nbconvert would draw with scripts (widgets, SVG) by static HTML, in place.

    Args:
        notebook: the notebook node, about to go to nbconvert's HTMLExporter.
        lang: the page's language, for the notes and alt texts.
        live: whether the page has a live version, which a widget that cannot be drawn points to.
        above: sha256 -> caption of the pictures and sounds already inlined at the top of the page.
        made_only: for families: a maker widget (one with squares, a CellGrid) is drawn as what was
            made (its squares, settings, pictures, sounds), without its help and status lines.
    """
    saved = (notebook.metadata.get("widgets") or {}).get(WIDGET_STATE) or {}
    drawer = _WidgetDrawer(models if isinstance(models := saved.get("state"), dict) else {}, lang, above, made_only)
    note = f'<p class="clh-note">{esc(message("live_only" if live else "not_saved", lang))}</p>'
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not isinstance(data, dict):
                continue
            view = data.get(WIDGET_VIEW)
            if isinstance(view, dict):
                drawn, kind = drawer.draw(str(view.get("model_id")))
                still = {m: data[m] for m in ("image/png", "image/jpeg", "image/gif") if m in data}
                if kind in (CONTENT, VALUE) or still:
                    output["data"] = {"text/html": drawn} if kind in (CONTENT, VALUE) else still
                    output.setdefault("metadata", {})[MADE] = True
                elif made_only and drawer.shown_above(str(view.get("model_id"))):
                    output["data"] = {"text/html": ""}  # its creation is a file shown at the top: not "not saved"
                else:  # a widget's own words go with the steps; a widget of controls only, a note
                    output["data"] = {"text/html": drawn if kind == TEXT else note}
            elif isinstance(data.get("image/svg+xml"), str) and not any(m in data for m in ("image/png", "image/jpeg")):
                svg = data.pop("image/svg+xml").encode("utf-8")
                alt = esc(message("picture", lang))
                data["text/html"] = f'<img src="{data_uri("image/svg+xml", svg)}" alt="{alt}">'
                output.setdefault("metadata", {})[MADE] = True
            elif any(m in data for m in ("image/png", "image/jpeg", "image/gif")):
                output.setdefault("metadata", {})[MADE] = True
            if "text/plain" in data:
                data.pop("text/latex", None)  # LaTeX shows as raw source without MathJax
    notebook.metadata.pop("widgets", None)  # nbconvert would embed it for the widget manager script
