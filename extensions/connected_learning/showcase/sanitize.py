"""What students wrote, made safe to serve: escaping, data URIs, the HTML sanitizer, Markdown.

Everything student-made on a showcase page (Markdown, HTML outputs, HTML files, widget HTML)
ends up in one body that goes through `sanitize_html` once: nh3 (the Rust `ammonia`
sanitizer; bleach is deprecated) with an allow-list of tags and attributes, no scripts,
frames, forms, `<style>` or event handlers; links only to http(s), mailto and anchors;
pictures and sounds only as `data:` URIs of the snapshot's own files, so the page loads
nothing from anywhere; style attributes only with a few harmless properties and no `url(`,
escapes or functions. `markdown_html` renders Markdown the way notebooks do, before it is
sanitized. `render` assembles the page; `publish` also sanitizes the live version's
Markdown here. Pure: nothing is read from disk or fetched.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

import nh3
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

__all__ = ["data_uri", "esc", "markdown_html", "sanitize_html"]


def esc(value: Any) -> str:
    """`value` as text, escaped for HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def data_uri(mime: str, data: bytes) -> str:
    """`data` as a base64 `data:` URI, the only kind of source `sanitize_html` keeps."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


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
        # A wide table scrolls sideways on a phone (see render's _CSS); focusable, a keyboard can scroll it too.
        set_tag_attribute_values={"table": {"tabindex": "0"}},
        strip_comments=True,
    )


def markdown_html(source: str) -> str:
    """Markdown as HTML the way notebooks render it (nbconvert's mistune), not yet sanitized."""
    return MarkdownWithMath(renderer=IPythonRenderer(escape=False, exclude_anchor_links=True)).render(source)
