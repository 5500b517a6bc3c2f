"""The font the widgets draw words into pictures with (a comic's bubbles, a map's key, a poster).

DejaVu Sans, the font matplotlib ships (else Debian's): it has ñ, á, ¿, £, € and curly quotes,
which Pillow's own default font draws as empty boxes or "?", so Spanish words would come out
broken. Pillow is imported only when a picture is drawn.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import ImageFont

__all__ = ["text_font"]


def _font_file(bold: bool) -> str | None:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    places = [Path("/usr/share/fonts/truetype/dejavu") / name]
    spec = importlib.util.find_spec("matplotlib")  # finds the package without importing it
    if spec is not None and spec.origin is not None:
        places.insert(0, Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf" / name)
    return next((str(place) for place in places if place.is_file()), None)


@cache
def text_font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans at `size` pixels (bold if asked), or Pillow's own font when DejaVu is nowhere."""
    from PIL import ImageFont

    file = _font_file(bold)
    if file is None:
        return ImageFont.load_default(size=size)  # Pillow's own font: English letters only
    return ImageFont.truetype(file, size)
