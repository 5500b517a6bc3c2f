"""The live copy of a published piece: what "Play with it" runs, and what the teacher reads first.

`live_copy` turns a cleaned snapshot into the notebook the live service (`live.py`) runs: the
piece's title, its code cells without saved outputs or learner-only controls, no workbook text,
the piece's files and its creations' sidecars beside it (so the widgets open with the maker's
work). `live_code_listing`
shows a teacher, in the preview before approval, every line of code that notebook will run.
Pure functions: `publish.approve` writes the result.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Collection
from typing import Any

LIVE_NOTEBOOK = "piece.ipynb"
LIVE_PATH = "/services/showcase-live/p/{token}"
#: `widgets.base.LIVE_SHOWCASE_ENV` (not imported: ipywidgets would load with every showcase service).
LIVE_SHOWCASE_ENV = "CONNECTED_LEARNING_LIVE_PAGE"
# Cells that make a learner-only control (sharing with the group, proposing for the showcase):
# they mean nothing to a family, on the static page or the live one.
_LEARNER_ONLY = re.compile(r"\b(ShareBox|ProposeBox|FeedbackInbox|ReviewPanel|peer_widgets|showcase_widgets)\b")


def learner_only(cell: Any) -> bool:
    """Whether a code cell makes a learner-only control (Share, Propose, feedback): left out for families."""
    return cell.get("cell_type") == "code" and bool(_LEARNER_ONLY.search(str(cell.get("source", ""))))


def live_link(token: str) -> str:
    return LIVE_PATH.format(token=token)


# The first cell the live page runs: the piece's files copied into a private folder of the fenced
# kernel's own /tmp, so that the piece's code may save (a poster, a sidecar) as it did for its
# maker, and nothing it writes outlives the page; and the widgets told they play for a family.
SETUP_CELL = f"""# "Play with it": the piece's files in a private folder that lives as long as this page.
import os as _os, shutil as _shutil, tempfile as _tempfile
_os.environ["{LIVE_SHOWCASE_ENV}"] = "1"
_clh_piece, _here = _os.getcwd(), _tempfile.mkdtemp(prefix="piece-")
for _name in _os.listdir("."):
    if _name != "{LIVE_NOTEBOOK}" and _os.path.isfile(_name):
        try:
            _shutil.copyfile(_name, _os.path.join(_here, _name))
        except OSError:
            pass
_os.chdir(_here)
del _here"""

# Fits a phone 390 px wide: a grid of squares shrinks to the screen, rows of controls wrap,
# buttons and labels are as wide as their words.
_PHONE_CSS = """<style>
body{overflow-x:hidden}
.jp-OutputArea-output,.jp-Cell,.widget-vbox,.widget-hbox,.widget-box{max-width:100%;min-width:0}
.widget-hbox,.widget-box.widget-hbox{flex-wrap:wrap}
.jupyter-widgets.widget-button:not(.clh-cell){width:auto;min-width:2.5em;max-width:100%;white-space:normal;
height:auto;min-height:var(--jp-widgets-inline-height)}
.widget-inline-hbox .widget-label{width:auto;max-width:100%;white-space:normal;overflow:visible}
.clh-cell-grid{width:100%!important;max-width:calc(var(--clh-cell-size) * 24)}
.clh-cell-grid button.clh-cell.widget-button{width:100%!important;height:auto!important;aspect-ratio:1/1}
.clh-live-intro h1{font-size:1.6rem;line-height:1.25;margin:8px 0}
</style>"""
# A picture widget (ipywidgets' Image) has no alt text of its own: a screen reader would read nothing.
# Voila's loading line ("Executing 3 of 8") is English: the page's words instead, while the cells run.
_LIVE_SCRIPT = """<script>
(() => {
  const name = () => document.querySelectorAll("img:not([alt])").forEach((img) => img.setAttribute("alt", ALT));
  new MutationObserver(name).observe(document.documentElement, { childList: true, subtree: true });
  name();
  const loading = (step, steps) => {
    const line = document.getElementById("loading_text");
    if (line) line.textContent = LOADING.replace("{step}", step).replace("{steps}", steps);
  };
  window.voila_process = loading;
  const first = document.getElementById("loading_text");
  if (first) first.textContent = TITLE;
})();
</script>"""
_SIDECAR = re.compile(r"""["']([\w.-]{1,100}\.json)["']""")
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
_CELL_GRID = "connected_learning.widgets.cell_grid.CellGrid"
_MODEL = re.compile(r"IPY_MODEL_([0-9A-Za-z_-]+)")
_COLOUR_NAME = re.compile(r"[a-z][a-z -]{0,19}")
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _grid_in(models: dict[str, Any], model_id: str, depth: int = 0) -> dict[str, Any] | None:
    """The first CellGrid's saved state in the widget tree under `model_id`."""
    model = models.get(model_id)
    state = model.get("state") if isinstance(model, dict) else None
    if depth > 30 or not isinstance(state, dict):
        return None
    if state.get("_anywidget_id") == _CELL_GRID:
        return state
    for child in state.get("children") or []:
        match = _MODEL.fullmatch(child) if isinstance(child, str) else None
        found = _grid_in(models, match.group(1), depth + 1) if match else None
        if found is not None:
            return found
    return None


def pixel_canvas_state(grid: dict[str, Any]) -> dict[str, Any] | None:
    """A pixel canvas's sidecar rebuilt from its saved squares (a CellGrid's saved state), or None when
    the grid is not pixel art (a beat grid has row names; a square must be a colour of the palette)."""
    values, colours = grid.get("values"), grid.get("colours")
    if grid.get("headers") is True or not isinstance(values, list) or not values or not isinstance(colours, dict):
        return None
    palette = [[name, colour.lower()] for name, colour in colours.items() if isinstance(colour, str)]
    if not 2 <= len(palette) <= 24 or not all(_COLOUR_NAME.fullmatch(n) and _HEX.fullmatch(c) for n, c in palette):
        return None
    width = len(values[0]) if isinstance(values[0], list) else 0
    if not all(isinstance(row, list) and len(row) == width and all(v in colours for v in row) for row in values):
        return None
    if not (1 <= width <= 48 and len(values) <= 48):
        return None
    return {
        "kind": "pixel_canvas",
        "version": 1,
        "rows": len(values),
        "columns": width,
        "palette": palette,
        "colour": palette[1][0],
        "cells": values,
    }


def saved_sidecars(notebook: Any, present: Collection[str]) -> dict[str, bytes]:
    """Sidecars rebuilt from what the notebook saved, for the creations whose sidecar the piece lacks.

    A creation widget keeps its work in a JSON sidecar and loads it when its cell runs (see
    `widgets/base.py`); a piece usually holds the notebook and its pictures, not the sidecars. The
    notebook's saved widget state still shows the creation: a code cell that names exactly one
    sidecar and shows a pixel canvas gets that sidecar back from the canvas's saved squares, so the
    live page opens with the maker's drawing, not the workbook's starter.
    """
    saved = (notebook.metadata.get("widgets") or {}).get(_WIDGET_STATE) or {}
    models: dict[str, Any] = saved["state"] if isinstance(saved.get("state"), dict) else {}
    made: dict[str, bytes] = {}
    for cell in notebook.cells:
        if cell.cell_type != "code" or learner_only(cell):
            continue
        names = set(_SIDECAR.findall(cell.source))
        if len(names) != 1 or (name := names.pop()) in present or name in made:
            continue
        for output in cell.get("outputs", []):
            view = (output.get("data") or {}).get(_WIDGET_VIEW)
            grid = _grid_in(models, str(view.get("model_id"))) if isinstance(view, dict) else None
            state = pixel_canvas_state(grid) if grid is not None else None
            if state is not None:
                made[name] = json.dumps(state, ensure_ascii=False).encode("utf-8")
                break
    return made


def _intro_cell(title: str, display: str, lang: str) -> str:
    from .messages import message, page_language

    language = page_language(lang)
    words = html.escape(message("live_intro", language, name=display)) if display else ""
    blanks = {"step": "{step}", "steps": "{steps}"}  # filled in by the page's script
    alt, loading = (
        json.dumps(text).replace("<", "\\u003c")
        for text in (message("picture", language), message("live_loading", language, **blanks))
    )
    return (
        f'{_PHONE_CSS}\n<div class="clh-live-intro" lang="{language}"><h1>{html.escape(title)}</h1>'
        + (f"<p>{words}</p>" if words else "")
        + "</div>\n"
        + _LIVE_SCRIPT.replace("ALT", alt)
        .replace("LOADING", loading)
        .replace("TITLE", json.dumps(title).replace("<", "\\u003c"))
    )


def live_copy(
    snapshot: dict[str, bytes], *, title: str = "", display: str = "", lang: str = "en"
) -> dict[str, bytes] | None:
    """The files of the live version, None when the piece has no notebook.

    The piece's first notebook becomes `piece.ipynb`, made for a family to play with: it opens
    with the piece's title (also the page's title) and its maker's display name, then runs a
    setup cell (`SETUP_CELL`) and the notebook's code cells with no saved outputs. The workbook's
    text is left out, and so are cells of learner-only controls (Share, Propose); in a notebook its
    maker ran, a code cell that showed no widget then runs silently (`%%capture`), so only the
    making widgets show. The piece's other files lie beside it, with sidecars rebuilt from the saved
    creations (`saved_sidecars`) where the piece has none, so the widgets open with the maker's work.
    """
    import nbformat

    notebooks = [n for n in snapshot if n.lower().endswith(".ipynb")]
    if not notebooks:
        return None
    notebook = nbformat.reads(snapshot[notebooks[0]].decode("utf-8"), as_version=4)
    sidecars = saved_sidecars(notebook, snapshot)
    cells = [
        nbformat.v4.new_markdown_cell(_intro_cell(title, display, lang)),
        nbformat.v4.new_code_cell(SETUP_CELL),
    ]
    ran = any(cell.get("outputs") for cell in notebook.cells)  # else nothing tells which cells make things
    for cell in notebook.cells:
        if cell.cell_type != "code" or learner_only(cell) or not cell.source.strip():
            continue
        shows_a_widget = any(_WIDGET_VIEW in (o.get("data") or {}) for o in cell.get("outputs", []))
        source = f"%%capture _clh_quiet\n{cell.source}" if ran and not shows_a_widget else cell.source
        cells.append(nbformat.v4.new_code_cell(source))
    notebook.cells = cells
    notebook.metadata = {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "title": title or "Play with it",
    }
    files = {n: data for n, data in snapshot.items() if not n.lower().endswith(".ipynb")}
    files.update(sidecars)
    files[LIVE_NOTEBOOK] = nbformat.writes(notebook).encode("utf-8")
    return files


LIVE_CODE_SECTION = """<section class="clh-live-code" aria-labelledby="clh-live-code-title">
<h2 id="clh-live-code-title">The code that runs when a family presses "Play with it"</h2>
<p>Families do not see this code; their page runs it, cell by cell, in a fenced kernel with no network.
Read it before you approve.</p>
{cells}
</section>"""


def live_code_listing(snapshot: dict[str, bytes]) -> str:
    """For the teacher's preview: every code cell of the live copy, in order, as escaped HTML.

    It is built from `live_copy`, the very notebook the live service will run, less its setup cell
    (`SETUP_CELL`, the same for every piece). Empty when the piece has no notebook.
    """
    import nbformat

    files = live_copy(snapshot)
    if files is None:
        return ""
    notebook = nbformat.reads(files[LIVE_NOTEBOOK].decode("utf-8"), as_version=4)
    cells = [
        f'<h3>Cell {n}</h3>\n<pre class="clh-code"><code>{html.escape(cell.source)}</code></pre>'
        for n, cell in enumerate(
            (c for c in notebook.cells if c.cell_type == "code" and c.source != SETUP_CELL), start=1
        )
    ]
    return LIVE_CODE_SECTION.format(cells="\n".join(cells) or "<p>This notebook has no code.</p>")
