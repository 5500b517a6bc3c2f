"""One static page per published piece: light, sanitized, readable on a family's phone.

`render_page` turns a snapshot (what `snapshot.clean_snapshot` returns) into ONE
self-contained HTML page that the showcase service stores at approval time and serves with
`Content-Security-Policy: sandbox`. Pure: nothing is read from disk or fetched.

How it is made, and why:

- Notebooks go through nbconvert's HTMLExporter with the `basic` template (body only: the
  `lab` template adds about 280 KB of JupyterLab CSS and scripts a sandboxed page cannot run);
  code is left out unless `show_code`, like the live version with its sources stripped.
  Their saved widgets are drawn as static HTML first (`saved_widgets`).
- Pictures, sounds, documents (Markdown, HTML, text) and CSV tables of the piece are shown
  too, in that order; a large picture or sound is inlined once, at the top.
- Everything student-made ends up in one body that goes through `sanitize.sanitize_html`
  once. The page also carries its own `Content-Security-Policy` meta tag (nothing but inline
  data and styles), a second lock should it ever be served without the header.
- The words the page adds come from `messages`, in English or Spanish.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from .live_copy import learner_only
from .messages import message, page_language
from .sanitize import data_uri, esc, markdown_html, sanitize_html
from .saved_widgets import INLINE_ONCE_BYTES, MADE, prepare_notebook
from .snapshot import AUDIO_TYPES, IMAGE_TYPES, REMOVE_INPUT, SnapshotError, sniff_audio, sniff_image

__all__ = ["render_page", "split_notebook"]

MAX_CSV_ROWS = 100
MAX_CSV_COLUMNS = 30

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
.clh-about{margin:8px 0 0;font-size:1.05rem;white-space:pre-wrap}
.clh-made-title{font-size:1.2rem;margin:16px 0 8px}
.clh-steps{border-top:1px solid #ddd;padding-top:8px}
.clh-steps>summary{cursor:pointer;font-weight:600;color:#3a23a0;min-height:44px}
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
            found[name] = data_uri(mime, data)
    return found


# What nbconvert's HTMLExporter writes into every <img> without alt text: English on any page.
_NBCONVERT_ALT = "No description has been provided for this image"


# Workbook lines about running the notebook itself: nothing a family can or should do.
_HOW_TO_RUN = re.compile(r"shift\s*\+\s*enter|ctrl\s*\+\s*s\b|log\s*out|run the cell", re.I)


def _read_notebook(name: str, data: bytes) -> Any:
    try:
        return nbformat.reads(data.decode("utf-8"), as_version=4)
    except Exception:  # nbformat raises many kinds for a damaged file
        raise SnapshotError(
            f"{name!r} in this snapshot cannot be read; publish the piece again.", code="bad-notebook"
        ) from None


def split_notebook(notebook: Any) -> tuple[Any, Any]:
    """The notebook as two: what the learner made (outputs `prepare_notebook` flagged as made), and the
    workbook's steps (its text and every other output). Cells making a learner-only control (Share,
    Propose) are in neither, and neither are the text's lines about running the notebook."""
    made, steps = nbformat.v4.new_notebook(), nbformat.v4.new_notebook()
    for cell in notebook.cells:
        if learner_only(cell):
            continue
        if cell.cell_type == "markdown":
            paragraphs = re.split(r"\n\s*\n", cell.source)
            kept = [p for p in paragraphs if not _HOW_TO_RUN.search(p)]
            if kept:
                text = nbformat.v4.new_markdown_cell("\n\n".join(kept))
                if cell.get("attachments"):
                    text.attachments = cell.attachments
                steps.cells.append(text)
        elif cell.cell_type == "code":
            outputs = cell.get("outputs", [])
            mine = [o for o in outputs if (o.get("metadata") or {}).get(MADE)]
            rest = [o for o in outputs if not (o.get("metadata") or {}).get(MADE)]
            for part, kept_outputs in ((made, mine), (steps, rest)):
                if kept_outputs:
                    copy = nbformat.v4.new_code_cell(cell.source, metadata=cell.metadata)
                    copy.outputs = kept_outputs
                    part.cells.append(copy)
    return made, steps


def _export(notebook: Any, lang: str, show_code: bool) -> str:
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
    return body.replace(f'alt="{_NBCONVERT_ALT}"', f'alt="{esc(message("picture", lang))}"')


def _notebook_html(name: str, data: bytes, lang: str, live: bool, show_code: bool, above: Mapping[str, str]) -> str:
    """The whole notebook, as the teacher reviewing it sees it (with its code when `show_code`)."""
    notebook = _read_notebook(name, data)
    prepare_notebook(notebook, lang, live, above)
    return f'<section class="clh-notebook">{_export(notebook, lang, show_code)}</section>'


def _notebook_parts(name: str, data: bytes, lang: str, live: bool, above: Mapping[str, str]) -> tuple[str, str]:
    """For families: what the notebook's maker made, and the workbook's steps (both "" when empty)."""
    notebook = _read_notebook(name, data)
    prepare_notebook(notebook, lang, live, above, made_only=True)
    made, steps = split_notebook(notebook)
    return (
        _export(made, lang, False) if made.cells else "",
        _export(steps, lang, False) if steps.cells else "",
    )


def _table_html(data: bytes, lang: str) -> str:
    text = data.decode("utf-8", errors="replace")
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error:  # not really CSV (a huge field, a NUL byte): show it as text
        return f"<pre>{esc(text[:20_000])}</pre>"
    shown = rows[: MAX_CSV_ROWS + 1]
    head, *body = shown or [[]]
    cells = "".join(f'<th scope="col">{esc(c)}</th>' for c in head[:MAX_CSV_COLUMNS])
    lines = [f"<tr>{''.join(f'<td>{esc(c)}</td>' for c in row[:MAX_CSV_COLUMNS])}</tr>" for row in body]
    more = len(rows) - len(shown)
    tail = f"<p>{esc(message('more_rows', lang, count=more))}</p>" if more > 0 else ""
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{''.join(lines)}</tbody></table>{tail}"


def _file_html(
    name: str, data: bytes, media: Mapping[str, str], lang: str, live: bool, show_code: bool, above: Mapping[str, str]
) -> str:
    kind, suffix, caption = _kind(name), PurePosixPath(name).suffix.lower(), esc(_caption(name))
    if kind == "image" and name in media:
        return f'<figure><img src="{media[name]}" alt="{caption}"><figcaption>{caption}</figcaption></figure>'
    if kind == "audio" and name in media:
        return (
            f'<figure><figcaption>{caption}</figcaption><audio controls preload="none" src="{media[name]}">'
            f"{esc(message('no_audio', lang))}</audio></figure>"
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
        return f'<section class="clh-doc"><pre>{esc(text)}</pre></section>'
    return ""  # JSON sidecars and anything else: kept for remixes and the live version, not shown


def render_page(
    snapshot: Mapping[str, bytes],
    *,
    title: str,
    author_display: str,
    lang: str = "en",
    live_url: str | None = None,
    show_code: bool = False,
    description: str = "",
) -> str:
    """The static page of a published piece: one HTML document with everything inline.

    Args:
        snapshot: file name -> bytes, as returned by `snapshot.clean_snapshot`.
        title: the piece's title, as the student gave it.
        author_display: the name families see.
        lang: language of the words the page adds (a language of `messages`; others fall back to English).
        live_url: where "Play with it" leads (a path such as "/services/showcase/p/<token>/live",
            or an https URL); no button when None.
        show_code: the teacher's view: every notebook whole, in order, with its code (never cells
            tagged remove-input).
        description: the student's own words about the piece, under the title.

    Returns:
        The page, to be served as text/html; charset=utf-8 with `Content-Security-Policy: sandbox`.
        For families (not `show_code`) the page opens with what the student made: pictures,
        sounds, documents (Markdown, HTML, text), the notebooks' creations (saved widgets,
        pictures), tables; the workbooks' own text and other outputs follow, collapsed in a
        <details> (a notebook that made nothing drawn or pictured is shown open: its text is
        the work). Cells of learner-only controls (Share, Propose) and the workbook's lines on
        running a notebook are left out. `.json` files are not shown.

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
    if show_code:
        body = "\n".join(_file_html(n, snapshot[n], media, language, live, show_code, above) for n in names)
        main = sanitize_html(body, media=media)
    else:
        made, steps = [], []
        for name in names:
            if _kind(name) == "notebook":
                shown = {hashlib.sha256(snapshot[n]).hexdigest(): _caption(n) for n in media}  # every file shown
                mine, rest = _notebook_parts(name, snapshot[name], language, live, shown)
                if mine:
                    made.append(f'<section class="clh-notebook">{mine}</section>')
                    steps.append(rest)
                elif rest:  # nothing drawn or pictured: its text is what was made (a story, say)
                    made.append(f'<section class="clh-notebook">{rest}</section>')
            else:
                made.append(_file_html(name, snapshot[name], media, language, live, False, above))
        heading = esc(message("made_heading", language, name=author_display))
        main = f'<h2 class="clh-made-title">{heading}</h2>\n{sanitize_html(chr(10).join(made), media=media)}'
        if any(steps):
            summary = esc(message("steps_summary", language))
            main += (
                f'\n<details class="clh-steps"><summary>{summary}</summary>\n'
                f"{sanitize_html(chr(10).join(steps), media=media)}\n</details>"
            )
    byline = esc(message("made_by", language, name=author_display))
    about = f'<p class="clh-about">{esc(description)}</p>' if description.strip() else ""
    play = ""
    if live_url is not None:
        play = (
            f'<p><a class="clh-play" href="{esc(live_url)}">{esc(message("play", language))}</a></p>'
            f'<p class="clh-hint">{esc(message("play_hint", language))}</p>'
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f'<meta name="referrer" content="no-referrer">\n<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{esc(title)} · {byline}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<header class="clh-top"><h1>{esc(title)}</h1><p class="clh-by">{byline}</p>{about}{play}</header>\n'
        f"<main>\n{main}\n</main>\n<footer>{esc(message('footer', language))}</footer>\n</body>\n</html>\n"
    )
