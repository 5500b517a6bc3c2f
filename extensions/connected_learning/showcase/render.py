"""One static page per published piece: light, sanitized, readable on a family's phone.

`render_page` turns a snapshot (what `showcase_snapshot.clean_snapshot` returns) into ONE
self-contained HTML page that the showcase service stores at approval time and serves with
`Content-Security-Policy: sandbox`. Pure: nothing is read from disk or fetched.

How it is made, and why:

- Notebooks go through nbconvert's HTMLExporter with the `basic` template (body only: the
  `lab` template adds about 280 KB of JupyterLab CSS and scripts a sandboxed page cannot run);
  code is left out unless `show_code`, like the live version with its sources stripped.
- Saved widgets. nbconvert's answer is a `<script>` that loads the widget HTML manager
  (`@jupyter-widgets/html-manager`'s `embed-amd.js`, with require.js) from unpkg. That cannot
  work here: the network is closed, the page is served with no scripts at all, and bundling
  the manager instead would cost hundreds of KB (JupyterLab's widget manager alone is about
  700 KB) of a 500 KB budget. So the saved widget state is drawn here, in Python, as plain
  HTML: labels and HTML widgets, the values of text boxes, sliders and drop-downs, pictures
  (Image) and sounds (Audio) from their saved buffers, Output widgets' outputs, and this
  package's CellGrid (the pixel canvas, the beat grid) as coloured squares. Buttons, check
  boxes and file-name boxes mean nothing without a kernel and are left out; a widget with
  nothing left to show, or with no saved state, becomes a short note pointing to the live
  version ("Play with it"). A large sound or picture that is also a file of the piece is
  inlined once, at the top (a beat's WAV is about 200 KB).
- Everything student-made (Markdown, HTML outputs, HTML files, widget HTML) ends up in one
  body that goes through `sanitize_html` once: nh3 (the Rust `ammonia` sanitizer; bleach is
  deprecated) with an allow-list of tags and attributes, no scripts, frames, forms, `<style>`
  or event handlers; links only to http(s), mailto and anchors; pictures and sounds only as
  `data:` URIs of the snapshot's own files, so the page loads nothing from anywhere; style
  attributes only with a few harmless properties and no `url(`, escapes or functions. The
  page also carries its own `Content-Security-Policy` meta tag (nothing but inline data and
  styles), a second lock should it ever be served without the header.
- Translations: the dozen words the page adds come from `MESSAGES`, a plain table with
  English and Spanish. gettext would need compiled .mo files and a build step for so few
  strings; `message()` is the one place to change should the catalog grow into .po files.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import html
import io
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

import nbformat
import nh3
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import TagRemovePreprocessor

from .snapshot import (
    AUDIO_TYPES,
    IMAGE_TYPES,
    REMOVE_INPUT,
    WIDGET_STATE,
    WIDGET_VIEW,
    SnapshotError,
    sniff_audio,
    sniff_image,
)

__all__ = ["MESSAGES", "markdown_html", "message", "page_language", "render_page", "render_widget", "sanitize_html"]

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "made_by": "Made by {name}",
        "play": "Play with it",
        "play_hint": "Opens the live version, where the buttons work.",
        "live_only": "This part is interactive: open the live version to play with it.",
        "not_saved": "This part was interactive; it was not saved, so it cannot be shown here.",
        "more_rows": "… and {count} more rows",
        "no_audio": "Your browser cannot play this sound.",
        "shown_above": "{name}: at the top of this page.",
        "picture": "A picture from the notebook",
        "footer": "Made with Connected Learning Hub. Published with a teacher's approval.",
    },
    "es": {
        "made_by": "Creado por {name}",
        "play": "Pruébalo",
        "play_hint": "Abre la versión en vivo, donde los botones funcionan.",
        "live_only": "Esta parte es interactiva: abre la versión en vivo para probarla.",
        "not_saved": "Esta parte era interactiva; no se guardó, así que no se puede mostrar aquí.",
        "more_rows": "… y {count} filas más",
        "no_audio": "Tu navegador no puede reproducir este sonido.",
        "shown_above": "{name}: al principio de esta página.",
        "picture": "Una imagen del cuaderno",
        "footer": "Hecho con Connected Learning Hub. Publicado con la aprobación de un docente.",
    },
}

MAX_CSV_ROWS = 100
MAX_CSV_COLUMNS = 30
MAX_WIDGET_DEPTH = 30
#: A picture or sound that is also a file of the piece is inlined once (at the top) when it is at
#: least this large (a beat's WAV is about 200 KB); smaller ones also show where the notebook made them.
INLINE_ONCE_BYTES = 64_000

# --- the sanitizer ----------------------------------------------------------------------

_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "caption",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "u",
    "ul",
    "audio",
    "source",
}
# Removed together with everything inside them (the rest of unknown tags keeps its text).
_DROP_WITH_CONTENT = {
    "script",
    "style",
    "template",
    "noscript",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "title",
    "textarea",
    "select",
    "button",
    "canvas",
    "video",
    "picture",
    "head",
}
_ATTRIBUTES = {
    "*": {"class", "title", "lang", "dir", "role", "aria-label", "aria-hidden", "style"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start", "type"},
    "col": {"span"},
    "colgroup": {"span"},
    "audio": {"controls", "src", "preload"},
    "source": {"src", "type"},
    "details": {"open"},
}
_STYLE_PROPERTIES = {
    "color",
    "background-color",
    "text-align",
    "font-weight",
    "font-style",
    "text-decoration",
    "width",
    "max-width",
    "white-space",
}
# A style attribute passes only when it is plain: no functions (url(, image-set(...)), no
# escapes, quotes or at-rules that could smuggle one in.
_SAFE_STYLE = re.compile(r"[A-Za-z0-9#%.,:;\s-]*")
_LINK = re.compile(r"(?i)(https?:|mailto:)")
_DATA_IMAGE = re.compile(r"data:image/(png|jpeg|gif|svg\+xml);base64,[A-Za-z0-9+/=\s]*")
_DATA_AUDIO = re.compile(r"data:audio/(wav|x-wav|wave);base64,[A-Za-z0-9+/=\s]*")


def sanitize_html(fragment: str, *, media: Mapping[str, str] | None = None) -> str:
    """`fragment` with everything that could run, load or submit anything removed.

    Args:
        fragment: untrusted HTML (rendered Markdown, an output, a student's HTML file).
        media: file name -> data URI of the snapshot's pictures and sounds; `<img src="my_pet.png">`
            becomes that data URI, any other non-data source is removed (nothing is fetched).
    """
    known = media or {}

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "style":
            return value if _SAFE_STYLE.fullmatch(value) and "\\" not in value else None
        if attribute == "href":
            return value if value.startswith("#") or _LINK.match(value) else None
        if attribute == "src":
            pattern = _DATA_IMAGE if tag == "img" else _DATA_AUDIO
            if pattern.fullmatch(value):
                return value
            found = known.get(unquote(value).removeprefix("./"))
            return found if found and pattern.fullmatch(found) else None
        return value

    return nh3.clean(
        fragment,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto", "data"},
        filter_style_properties=_STYLE_PROPERTIES,
        link_rel="noopener noreferrer nofollow",
        # A wide table scrolls sideways on a phone (see _CSS); focusable, a keyboard can scroll it too.
        set_tag_attribute_values={"table": {"tabindex": "0"}},
        strip_comments=True,
    )


def markdown_html(source: str) -> str:
    """Markdown as HTML the way notebooks render it (nbconvert's mistune), not yet sanitized."""
    return MarkdownWithMath(renderer=IPythonRenderer(escape=False, exclude_anchor_links=True)).render(source)


# --- messages ---------------------------------------------------------------------------


def page_language(lang: str) -> str:
    """The catalog language for `lang` ("es-MX" -> "es"); English when there is no such catalog."""
    base = str(lang or "").replace("_", "-").split("-")[0].lower()
    return base if base in MESSAGES else "en"


def message(key: str, lang: str, **values: Any) -> str:
    """The page text `key` in `lang` (English if missing), with `values` filled in (not escaped)."""
    table = MESSAGES[page_language(lang)]
    return table.get(key, MESSAGES["en"][key]).format(**values)


# --- saved widgets, drawn without JavaScript ---------------------------------------------

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


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _ref(value: Any) -> str | None:
    match = _MODEL.fullmatch(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def _text_colour(colour: str) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return "black" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "white"


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
            cells.append(f'<span class="clh-grid-name">{_esc(name)}</span>')
        for value in line:
            colour = colours.get(value) if isinstance(value, str) and isinstance(colours, dict) else None
            style = (
                f' style="background-color: {colour}; color: {_text_colour(colour)}"'
                if (isinstance(colour, str) and _HEX.fullmatch(colour))
                else ""
            )
            mark = marks.get(value, "") if isinstance(marks, dict) else ""
            cells.append(f"<span{style}>{_esc(mark)}</span>")
        lines.append(f'<div class="clh-grid-row">{"".join(cells)}</div>')
    label = _esc(state.get("label") or "")
    return f'<div class="clh-grid" role="img" aria-label="{label}" style="max-width: {width}px">{"".join(lines)}</div>'


def _control_panel(state: Mapping[str, Any]) -> str:
    """ControlPanel (the beat maker's settings): its heading and the value of each slider and drop-down."""
    parts = []
    for part in state.get("heading") or []:
        if isinstance(part, list) and len(part) == 2:
            style, text = part
            parts.append(f"<{style}>{_esc(text)}</{style}>" if style in ("b", "i") else _esc(text))
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
            out.append(f'<p class="clh-value">{_esc(spec.get("description", ""))} <b>{_esc(value)}</b></p>')
    return "".join(out)


def _selection(state: Mapping[str, Any]) -> str | None:
    labels, index = state.get("_options_labels") or [], state.get("index")
    indices = index if isinstance(index, list) else [index]
    chosen = [labels[i] for i in indices if isinstance(i, int) and 0 <= i < len(labels)]
    return ", ".join(str(c) for c in chosen) if chosen else None


class _WidgetDrawer:
    """Draws saved widget models (the notebook's widget state) as static HTML."""

    def __init__(self, models: Mapping[str, Any], lang: str, above: Mapping[str, str] | None = None) -> None:
        self.models, self.lang = models, lang
        self.above = above or {}  # sha256 of a picture or sound shown at the top -> its caption

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
        lead = f'<span class="clh-desc">{_esc(description)}</span> ' if description else ""
        if name in _BOXES or name in _SECTIONS:
            return self._children(name, state, depth, seen)
        if name == "LabelModel":
            text = state.get("value")
            return (f"<p>{_esc(text)}</p>", LABEL) if isinstance(text, str) and text.strip() else ("", NOTHING)
        if name in ("HTMLModel", "HTMLMathModel"):
            text = state.get("value")
            if not (isinstance(text, str) and text.strip()) or _STATUS.search(text):
                return "", NOTHING  # a status message tells about the last press, not about the creation
            return f'<div class="clh-widget-html">{lead}{text}</div>', CONTENT
        if name in _TEXT_INPUTS:
            text = state.get("value")
            if not isinstance(text, str) or not text.strip() or _FILE_NAME.fullmatch(text.strip()):
                return "", NOTHING
            return f'<p class="clh-value">{lead}<span class="clh-text">{_esc(text)}</span></p>', VALUE
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
            return f'<p class="clh-value">{lead}{swatch}<b>{_esc(value)}</b></p>', VALUE
        if name in ("ImageModel", "AudioModel"):
            return self._media(model, state)
        if name == "OutputModel":
            outputs = kept if isinstance(kept := state.get("outputs"), list) else []
            drawn = "".join(self.output(o, depth + 1, seen) for o in outputs if isinstance(o, dict))
            return (f"<div>{drawn}</div>", CONTENT) if drawn else ("", NOTHING)
        if name == "AnyModel" and state.get("_anywidget_id") == _CELL_GRID:
            drawn = _cell_grid(state)
            return (drawn, CONTENT) if drawn else ("", NOTHING)
        if name == "AnyModel" and state.get("_anywidget_id") == _CONTROL_PANEL:
            drawn = _control_panel(state)
            return (drawn, CONTENT) if drawn else ("", NOTHING)
        return "", CONTROL  # buttons, check boxes, uploads, players, unknown widgets

    def _hidden(self, state: Mapping[str, Any]) -> bool:
        layout_id = _ref(state.get("layout"))
        layout = self.models.get(layout_id, {}).get("state") if layout_id else None
        return isinstance(layout, dict) and (layout.get("display") == "none" or layout.get("visibility") == "hidden")

    def _children(self, name: str, state: Mapping[str, Any], depth: int, seen: frozenset[str]) -> tuple[str, str]:
        drawn = [self.draw(ref, depth + 1, seen) for child in state.get("children") or [] if (ref := _ref(child))]
        setting = LABEL if any(kind == CONTROL for _, kind in drawn) else CONTENT
        drawn = [(text, setting if kind == VALUE else kind) for text, kind in drawn]
        kinds = {kind for _, kind in drawn}
        if CONTENT not in kinds and CONTROL in kinds:
            return "", CONTROL  # a row of controls: its labels ("Colours:") mean nothing without them
        if name in _SECTIONS:
            titles = state.get("titles") or state.get("_titles") or []
            if isinstance(titles, dict):  # ipywidgets 7 kept {"0": "title"}
                titles = [titles.get(str(i), "") for i in range(len(drawn))]
            drawn = [
                (f"<section><h3>{_esc(titles[i])}</h3>{text}</section>", kind)
                if i < len(titles) and isinstance(titles[i], str) and titles[i]
                else (text, kind)
                for i, (text, kind) in enumerate(drawn)
            ]
        parts = [text for text, kind in drawn if kind in (CONTENT, LABEL)]
        if not parts:
            return "", NOTHING
        css = "clh-hbox" if name == "HBoxModel" else "clh-vbox"
        return f'<div class="{css}">{"".join(parts)}</div>', (CONTENT if CONTENT in kinds else LABEL)

    def _media(self, model: Mapping[str, Any], state: Mapping[str, Any]) -> tuple[str, str]:
        data = _buffer(model, "value")
        if data is None:
            return "", NOTHING
        caption = self.above.get(hashlib.sha256(data).hexdigest()) if len(data) >= INLINE_ONCE_BYTES else None
        if caption:  # a sound is hundreds of KB: inline it once, where the page begins
            return f'<p class="clh-value">{_esc(message("shown_above", self.lang, name=caption))}</p>', CONTENT
        if model.get("model_name") == "ImageModel":
            mime = sniff_image(data)
            if mime is None:
                return "", NOTHING
            width = state.get("width") if str(state.get("width", "")).isdigit() else ""
            size = f' width="{width}"' if width else ""
            alt = _esc(message("picture", self.lang))
            return f'<img src="{_data_uri(mime, data)}" alt="{alt}"{size}>', CONTENT
        if sniff_audio(data) is None:
            return "", NOTHING
        return (
            f'<audio controls preload="none" src="{_data_uri("audio/wav", data)}">'
            f"{_esc(message('no_audio', self.lang))}</audio>"
        ), CONTENT

    def output(self, output: Mapping[str, Any], depth: int = 0, seen: frozenset[str] = frozenset()) -> str:
        """One output kept by an Output widget, drawn the way nbconvert would, without scripts."""
        if output.get("output_type") == "stream" and output.get("name") == "stdout":
            text = output.get("text", "")
            return f"<pre>{_esc(''.join(text) if isinstance(text, list) else text)}</pre>"
        data = bundle if isinstance(bundle := output.get("data"), dict) else {}
        view = data.get(WIDGET_VIEW)
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            return self.draw(view["model_id"], depth, seen)[0]
        for mime in ("image/png", "image/jpeg", "image/gif"):
            if isinstance(data.get(mime), str):
                alt = _esc(message("picture", self.lang))
                return f'<img src="data:{mime};base64,{_esc(data[mime].strip())}" alt="{alt}">'
        if isinstance(data.get("text/html"), str):
            return f"<div>{data['text/html']}</div>"
        if isinstance(data.get("text/markdown"), str):
            return markdown_html(data["text/markdown"])
        if isinstance(data.get("text/plain"), str):
            return f"<pre>{_esc(data['text/plain'])}</pre>"
        return ""


def render_widget(model_id: str, widget_state: Mapping[str, Any], *, lang: str = "en") -> str:
    """Static HTML of the saved widget `model_id` ("" when nothing of it can be shown without a kernel).

    `widget_state` is the notebook's `metadata.widgets["application/vnd.jupyter.widget-state+json"]`.
    The result is not yet sanitized: `render_page` sanitizes the whole page body.
    """
    models = state if isinstance(state := widget_state.get("state"), dict) else {}
    drawn, kind = _WidgetDrawer(models, lang).draw(model_id)
    return drawn if kind in (CONTENT, VALUE) else ""


# --- the page ---------------------------------------------------------------------------

# Content links are purple, scoped to <main>: a bare `a[href]` outranked `.clh-play` and drew the
# button's text purple on purple (1.2:1). An <img> whose source the sanitizer removed (a tracker,
# `src=x onerror=...`) is hidden instead of showing as a broken picture. A table wider than the
# phone scrolls sideways; a shadow on the side with more columns says so (the white covers ride
# with the content, background-attachment local), else a cut at a column border looks like the end.
_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:18px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1d1d1f;
background:#fff;overflow-wrap:break-word}
.clh-top{background:#f3efff;border-bottom:3px solid #6a4fc9;padding:20px 16px 16px}
.clh-top h1{font-size:1.6rem;line-height:1.25;margin:0 0 6px}
.clh-by{margin:0;font-size:1.05rem;color:#3b3b45}
.clh-play{display:inline-block;margin-top:12px;padding:12px 22px;min-height:48px;border-radius:24px;
background:#4b2fb0;color:#fff;font-weight:700;text-decoration:none}
.clh-play:focus-visible{outline:3px solid #1d1d1f;outline-offset:3px}
.clh-hint{margin:6px 0 0;font-size:.9rem;color:#4a4a55}
main{max-width:46rem;margin:0 auto;padding:8px 16px 24px}
h1,h2,h3,h4{line-height:1.25}
main h1{font-size:1.45rem}main h2{font-size:1.25rem}main h3{font-size:1.1rem}
img{max-width:100%;height:auto}
img:not([src]){display:none}
audio{width:100%;max-width:28rem;display:block;margin:8px 0}
figure{margin:16px 0}figcaption{font-size:.9rem;color:#4a4a55}
pre{white-space:pre-wrap;background:#f6f6f8;border-radius:6px;padding:10px 12px;font-size:.85rem;
line-height:1.45;overflow-x:auto}
code{font-size:.9em}
table{border-collapse:collapse;display:block;max-width:100%;overflow-x:auto;font-size:.9rem;margin:12px 0;
background:linear-gradient(to right,#fff 30%,#fff0) left/32px 100% no-repeat local,
linear-gradient(to left,#fff 30%,#fff0) right/32px 100% no-repeat local,
linear-gradient(to right,#0003,#0000) left/14px 100% no-repeat scroll,
linear-gradient(to left,#0003,#0000) right/14px 100% no-repeat scroll}
td,th{border:1px solid #c9c9d1;padding:4px 8px;text-align:left;vertical-align:top}
table:focus-visible{outline:3px solid #4b2fb0;outline-offset:2px}
main li+li{margin-top:8px}
details{margin:12px 0}summary{padding:6px 0}
blockquote{margin:12px 0;padding:4px 12px;border-left:4px solid #c9c2ee;color:#333}
main a[href]{color:#3a23a0}
.cell{margin:0 0 8px}
.output_area{margin:6px 0}
.clh-hbox{display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center}
.clh-value{margin:6px 0}.clh-text{white-space:pre-wrap}.clh-desc{color:#4a4a55}
.clh-swatch{display:inline-block;width:1em;height:1em;border:1px solid #555;vertical-align:middle;margin-right:6px}
.clh-grid{display:flex;flex-direction:column;gap:1px;background:#777;border:1px solid #777;margin:12px 0}
.clh-grid-row{display:flex;gap:1px}
.clh-grid-row span{flex:1 1 0;min-width:0;aspect-ratio:1/1;display:flex;align-items:center;justify-content:center;
font-size:.7rem;background:#fff}
.clh-grid-row .clh-grid-name{flex:0 0 auto;width:96px;aspect-ratio:auto;justify-content:flex-start;padding:0 4px;
background:#f3f3f5}
.clh-note{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px;border-radius:4px}
footer{border-top:1px solid #ddd;padding:16px;font-size:.85rem;color:#4a4a55;text-align:center}
"""
# Even if a page were served without the showcase's header: no scripts, nothing fetched, no forms.
_CSP = (
    "default-src 'none'; img-src data:; media-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
)


def _kind(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    if suffix in IMAGE_TYPES:
        return "image"
    if suffix in AUDIO_TYPES:
        return "audio"
    return {".md": "doc", ".html": "doc", ".txt": "doc", ".ipynb": "notebook", ".csv": "table"}.get(suffix, "")


def _caption(name: str) -> str:
    return PurePosixPath(name).stem.replace("_", " ").replace("-", " ").strip()


def _media_map(snapshot: Mapping[str, bytes]) -> dict[str, str]:
    found = {}
    for name, data in snapshot.items():
        mime = sniff_image(data) if _kind(name) == "image" else sniff_audio(data) if _kind(name) == "audio" else None
        if mime:
            found[name] = _data_uri(mime, data)
    return found


def _prepare_notebook(notebook: Any, lang: str, live: bool, above: Mapping[str, str]) -> None:
    """Replace what nbconvert would draw with scripts (widgets, SVG) by static HTML, in place."""
    saved = (notebook.metadata.get("widgets") or {}).get(WIDGET_STATE) or {}
    drawer = _WidgetDrawer(models if isinstance(models := saved.get("state"), dict) else {}, lang, above)
    note = f'<p class="clh-note">{_esc(message("live_only" if live else "not_saved", lang))}</p>'
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data")
            if not isinstance(data, dict):
                continue
            view = data.get(WIDGET_VIEW)
            if isinstance(view, dict):
                drawn, kind = drawer.draw(str(view.get("model_id")))
                still = {m: data[m] for m in ("image/png", "image/jpeg", "image/gif") if m in data}
                output["data"] = {"text/html": drawn} if kind in (CONTENT, VALUE) else still or {"text/html": note}
            elif isinstance(data.get("image/svg+xml"), str) and not any(m in data for m in ("image/png", "image/jpeg")):
                svg = data.pop("image/svg+xml").encode("utf-8")
                alt = _esc(message("picture", lang))
                data["text/html"] = f'<img src="{_data_uri("image/svg+xml", svg)}" alt="{alt}">'
            if "text/plain" in data:
                data.pop("text/latex", None)  # LaTeX shows as raw source without MathJax
    notebook.metadata.pop("widgets", None)  # nbconvert would embed it for the widget manager script


# What nbconvert's HTMLExporter writes into every <img> without alt text: English on any page.
_NBCONVERT_ALT = "No description has been provided for this image"


def _notebook_html(name: str, data: bytes, lang: str, live: bool, show_code: bool, above: Mapping[str, str]) -> str:
    try:
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # nbformat raises many kinds for a damaged file
        raise SnapshotError(
            f"{name!r} in this snapshot cannot be read; publish the piece again.", code="bad-notebook"
        ) from None
    _prepare_notebook(notebook, lang, live, above)
    exporter = HTMLExporter(
        template_name="basic",
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        exclude_raw=True,
        extra_template_basedirs=[],
    )
    if show_code:
        exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={REMOVE_INPUT}), enabled=True)
    body, _ = exporter.from_notebook_node(notebook)
    body = body.replace(f'alt="{_NBCONVERT_ALT}"', f'alt="{_esc(message("picture", lang))}"')
    return f'<section class="clh-notebook">{body}</section>'


def _table_html(data: bytes, lang: str) -> str:
    text = data.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:  # not really CSV (a huge field, a NUL byte): show it as text
        return f"<pre>{_esc(text[:20_000])}</pre>"
    shown = rows[: MAX_CSV_ROWS + 1]
    head, *body = shown or [[]]
    cells = "".join(f'<th scope="col">{_esc(c)}</th>' for c in head[:MAX_CSV_COLUMNS])
    lines = [f"<tr>{''.join(f'<td>{_esc(c)}</td>' for c in row[:MAX_CSV_COLUMNS])}</tr>" for row in body]
    more = len(rows) - len(shown)
    tail = f"<p>{_esc(message('more_rows', lang, count=more))}</p>" if more > 0 else ""
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(lines)}</tbody></table>{tail}"


def _file_html(
    name: str, data: bytes, media: Mapping[str, str], lang: str, live: bool, show_code: bool, above: Mapping[str, str]
) -> str:
    kind, suffix, caption = _kind(name), PurePosixPath(name).suffix.lower(), _esc(_caption(name))
    if kind == "image" and name in media:
        return f'<figure><img src="{media[name]}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'
    if kind == "audio" and name in media:
        return (
            f'<figure><figcaption>{caption}</figcaption><audio controls preload="none" src="{media[name]}">'
            f"{_esc(message('no_audio', lang))}</audio></figure>"
        )
    if kind == "notebook":
        return _notebook_html(name, data, lang, live, show_code, above)
    if kind == "table":
        return f"<figure>{_table_html(data, lang)}<figcaption>{caption}</figcaption></figure>"
    text = data.decode("utf-8", errors="replace")
    if suffix == ".md":
        return f'<section class="clh-doc">{markdown_html(text)}</section>'
    if suffix == ".html":
        return f'<section class="clh-doc">{text}</section>'
    if suffix == ".txt":
        return f'<section class="clh-doc"><pre>{_esc(text)}</pre></section>'
    return ""  # JSON sidecars and anything else: kept for remixes and the live version, not shown


def render_page(
    snapshot: Mapping[str, bytes],
    *,
    title: str,
    author_display: str,
    lang: str = "en",
    live_url: str | None = None,
    show_code: bool = False,
) -> str:
    """The static page of a published piece: one HTML document with everything inline.

    Args:
        snapshot: file name -> bytes, as returned by `showcase_snapshot.clean_snapshot`.
        title: the piece's title, as the student gave it.
        author_display: the name families see.
        lang: language of the words the page adds ("en" or "es"; others fall back to English).
        live_url: where "Play with it" leads (a path such as "/services/showcase/p/<token>/live",
            or an https URL); no button when None.
        show_code: also show the notebooks' code (never cells tagged remove-input).

    Returns:
        The page, to be served as text/html; charset=utf-8 with `Content-Security-Policy: sandbox`.
        Files come in this order: pictures, sounds, documents (Markdown, HTML, text), notebooks,
        tables; `.json` files are not shown.

    Raises:
        SnapshotError: a notebook of the snapshot cannot be read.
        ValueError: `live_url` is neither a path nor an http(s) URL.
    """
    language = page_language(lang)
    if live_url is not None and not re.match(r"(/(?!/)|https?://)", live_url):
        raise ValueError(f"live_url must be a path starting with '/' or an http(s) URL, not {live_url!r}")
    media = _media_map(snapshot)
    order = {"image": 0, "audio": 1, "doc": 2, "notebook": 3, "table": 4}
    names = sorted((n for n in snapshot if _kind(n)), key=lambda n: order[_kind(n)])
    heavy = (n for n in media if len(snapshot[n]) >= INLINE_ONCE_BYTES)
    above = {hashlib.sha256(snapshot[n]).hexdigest(): _caption(n) for n in heavy}
    live = live_url is not None
    body = "\n".join(_file_html(n, snapshot[n], media, language, live, show_code, above) for n in names)
    clean = sanitize_html(body, media=media)
    byline = _esc(message("made_by", language, name=author_display))
    play = ""
    if live_url is not None:
        play = (
            f'<p><a class="clh-play" href="{_esc(live_url)}">{_esc(message("play", language))}</a></p>'
            f'<p class="clh-hint">{_esc(message("play_hint", language))}</p>'
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f'<meta name="referrer" content="no-referrer">\n<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{_esc(title)} · {byline}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header class="clh-top"><h1>{_esc(title)}</h1><p class="clh-by">{byline}</p>{play}</header>\n'
        f"<main>\n{clean}\n</main>\n<footer>{_esc(message('footer', language))}</footer>\n</body>\n</html>\n"
    )
