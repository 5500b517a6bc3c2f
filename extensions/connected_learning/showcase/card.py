"""The card for the fridge: a published piece's title, its maker's display name, a picture, the link and its QR code.

`card_facts` decides, at approval, what the card shows (pure: a snapshot in, a small dict
out, stored as `card.json` beside the page); `render_card` draws it when a card is asked for,
since the link's host may be known only then (the request's host when `site.public_url` is
empty). The picture is the piece's first PNG, JPEG or GIF (made smaller when large); a piece
without one shows its first saved pixel grid (the pixel canvas, the beat grid) drawn as
coloured squares, which needs no picture at all. All words come from `messages`, in the
language the teacher chose for the page.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from ..accounts import slips
from .messages import message, page_language
from .sanitize import data_uri, esc
from .snapshot import IMAGE_TYPES, WIDGET_STATE, sniff_image

__all__ = ["CARD_FILE", "card_facts", "render_card"]

CARD_FILE = "card.json"
#: A picture larger than this is made smaller for the card (which is printed about 6 cm wide).
MAX_PICTURE_BYTES = 200_000
THUMBNAIL_PIXELS = 480
MAX_CARD_BYTES = 1_000_000

_CARD = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{page_title}</title>
<style>
*{{box-sizing:border-box}}
body{{font-family:system-ui,sans-serif;margin:0;padding:1rem;color:#1d1d1f}}
.card{{border:1px dashed #555;width:90mm;max-width:100%;padding:5mm;margin:auto;text-align:center}}
.card h1{{font-size:1.4rem;line-height:1.25;margin:0 0 4px;overflow-wrap:break-word}}
.by{{margin:0 0 8px;font-size:1.05rem}}
.pic img{{max-width:100%;max-height:60mm;height:auto;image-rendering:pixelated}}
.clh-grid{{display:flex;flex-direction:column;gap:1px;background:#777;border:1px solid #777;margin:0 auto 8px;
max-width:60mm}}
.clh-grid-row{{display:flex;gap:1px}}
.clh-grid-row span{{flex:1 1 0;min-width:0;aspect-ratio:1/1;background:#fff;font-size:0}}
.qr svg{{width:45mm;height:45mm;max-width:100%}}
.link{{font-family:monospace;font-size:9pt;word-break:break-all}}
@media print{{.card{{page-break-inside:avoid}}}}
</style></head><body><main class="card">
<h1>{title}</h1>
<p class="by">{by}</p>
{picture}
<div class="qr" role="img" aria-label="{qr_label}">{qr}</div>
<p>{scan}</p>
<p class="link">{link}</p>
</main></body></html>
"""


def _thumbnail(data: bytes) -> tuple[str, bytes]:
    """A picture small enough for the card, as (MIME type, bytes); the picture itself when small."""
    mime = sniff_image(data) or "image/png"
    if len(data) <= MAX_PICTURE_BYTES:
        return mime, data
    from PIL import Image

    with Image.open(io.BytesIO(data)) as picture:
        picture.thumbnail((THUMBNAIL_PIXELS, THUMBNAIL_PIXELS), Image.Resampling.NEAREST)
        out = io.BytesIO()
        picture.convert("RGBA").save(out, format="PNG", optimize=True)
    return "image/png", out.getvalue()


def _saved_grid(snapshot: Mapping[str, bytes], label: str) -> str:
    """The first saved pixel grid of the piece's notebooks, as coloured squares ("" when there is none)."""
    from .saved_widgets import cell_grid_html

    for name in sorted(n for n in snapshot if n.lower().endswith(".ipynb")):
        try:
            notebook = json.loads(snapshot[name].decode("utf-8"))
        except ValueError:
            continue
        models = ((notebook.get("metadata") or {}).get("widgets") or {}).get(WIDGET_STATE, {}).get("state") or {}
        for model in models.values() if isinstance(models, dict) else ():
            drawn = cell_grid_html(model.get("state") if isinstance(model, dict) else None, label)
            if drawn:
                return drawn
    return ""


def card_facts(snapshot: Mapping[str, bytes], *, title: str, display: str, lang: str) -> dict[str, Any]:
    """What the card of a piece shows, to store as `card.json`: the words and the picture (a data URI
    or a drawn grid). The texts are the published ones (scrubbed); nothing here is escaped yet."""
    picture, grid = "", ""
    images = sorted(n for n in snapshot if PurePosixPath(n).suffix.lower() in IMAGE_TYPES and sniff_image(snapshot[n]))
    if images:
        try:
            mime, data = _thumbnail(snapshot[images[0]])
            picture = data_uri(mime, data)
        except (OSError, ValueError):  # Pillow could not read it: the grid, or no picture
            picture = ""
    if not picture:
        grid = _saved_grid(snapshot, message("card_picture", lang, title=title))
    return {"title": title, "display": display, "lang": page_language(lang), "picture": picture, "grid": grid}


def render_card(facts: Mapping[str, Any], link: str) -> str:
    """The printable card: `facts` from `card_facts` (or {} for a piece published before cards had
    them), `link` the page's absolute address."""
    lang = page_language(str(facts.get("lang", "en")))
    title = str(facts.get("title") or "")
    display = str(facts.get("display") or "")
    picture = str(facts.get("picture") or "")
    shown = ""
    if picture.startswith("data:image/") and ";base64," in picture and '"' not in picture:
        shown = f'<p class="pic"><img src="{esc(picture)}" alt="{esc(message("card_picture", lang, title=title))}"></p>'
    elif isinstance(facts.get("grid"), str) and facts["grid"]:
        from .sanitize import sanitize_html

        shown = f'<div class="pic">{sanitize_html(facts["grid"])}</div>'
    return _CARD.format(
        lang=lang,
        page_title=esc(message("card_page_title", lang, title=title)),
        title=esc(title),
        by=esc(message("made_by", lang, name=display)) if display else "",
        picture=shown,
        qr_label=esc(message("card_qr", lang, title=title)),
        qr=slips.qr_svg(link),
        scan=esc(message("card_scan", lang)),
        link=esc(link),
    )
