"""The live copy of a published piece: what "Play with it" runs, and what the teacher reads first.

`live_copy` turns a cleaned snapshot into the notebook the live service (`live.py`) runs:
sanitized Markdown, no saved outputs, the piece's other files beside it. `live_code_listing`
shows a teacher, in the preview before approval, every line of code that notebook will run.
Pure functions: `publish.approve` writes the result.
"""

from __future__ import annotations

import html
import re

LIVE_NOTEBOOK = "piece.ipynb"
LIVE_PATH = "/services/showcase-live/p/{token}"


def live_link(token: str) -> str:
    return LIVE_PATH.format(token=token)


def live_copy(snapshot: dict[str, bytes]) -> dict[str, bytes] | None:
    """The files of the live version: the piece's first notebook as `piece.ipynb`, sanitized
    Markdown and no saved outputs (Voila runs it afresh), with the piece's other files beside
    it for the notebook's code to open. None when the piece has no notebook."""
    import nbformat

    from .sanitize import markdown_html, sanitize_html

    notebooks = [n for n in snapshot if n.lower().endswith(".ipynb")]
    if not notebooks:
        return None
    notebook = nbformat.reads(snapshot[notebooks[0]].decode("utf-8"), as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            # Voila renders Markdown's raw HTML as it is: only what the sanitizer keeps goes live.
            clean = sanitize_html(markdown_html(cell.source))
            # A picture whose source the sanitizer removed shows nothing: say so to screen readers.
            cell.source = re.sub(r"<img(?![^>]*\balt=)", '<img alt=""', clean)
            cell.pop("attachments", None)
        elif cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    notebook.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    files = {n: data for n, data in snapshot.items() if not n.lower().endswith(".ipynb")}
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

    It is built from `live_copy`, the very notebook the live service will run. Empty when the
    piece has no notebook.
    """
    import nbformat

    files = live_copy(snapshot)
    if files is None:
        return ""
    notebook = nbformat.reads(files[LIVE_NOTEBOOK].decode("utf-8"), as_version=4)
    cells = [
        f'<h3>Cell {n}</h3>\n<pre class="clh-code"><code>{html.escape(cell.source)}</code></pre>'
        for n, cell in enumerate((c for c in notebook.cells if c.cell_type == "code"), start=1)
    ]
    return LIVE_CODE_SECTION.format(cells="\n".join(cells) or "<p>This notebook has no code.</p>")
