"""The picture of a comic strip (`comic_strip.py`): where each part goes, and drawing it with Pillow.

`strip_layout` plans the picture for a number of panels (pure, so tests find every part);
`draw_strip` draws it: the title on top, then each panel in a black frame with a yellow
caption box, a white speech bubble whose tail points at the drawing, and the drawing's
squares in the pixel canvas's colours. The font is DejaVu Sans (`fonts.text_font`),
so it is there on every computer. Pillow is imported only when a picture is drawn.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connected_learning.widgets.fonts import text_font
from connected_learning.widgets.pixel_canvas import PALETTE

if TYPE_CHECKING:
    from PIL import ImageDraw

__all__ = [
    "COLUMNS",
    "MAX_PANELS",
    "MIN_PANELS",
    "ROWS",
    "Box",
    "PanelBoxes",
    "StripLayout",
    "draw_strip",
    "strip_layout",
    "wrap",
]

MIN_PANELS, MAX_PANELS = 2, 6
ROWS, COLUMNS = 12, 16  # the squares of one panel's drawing

# The picture's geometry, in pixels (see `strip_layout`).
CELL = 12  # one square of a drawing
PAD = 10  # inside a panel's border
GUTTER = 12  # between panels
TITLE_H = 40
CAPTION_H = 38
BUBBLE_H = 104  # the space for a speech bubble; the bubble itself is as big as its words
TAIL_H = 14
DRAW_W, DRAW_H = COLUMNS * CELL, ROWS * CELL
PANEL_W = DRAW_W + 2 * PAD
PANEL_H = PAD + CAPTION_H + 6 + BUBBLE_H + TAIL_H + DRAW_H + PAD
LINE_H = 16
TEXT_SIZE, TITLE_SIZE = 13, 20
MAX_BUBBLE_LINES = (BUBBLE_H - 12) // LINE_H  # a name line and five lines of words
PANEL_COLOUR, CAPTION_COLOUR, INK, NAME_INK = "#dbe8f5", "#fff3b0", "#000000", "#0d47a1"

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded)


@dataclass(frozen=True)
class PanelBoxes:
    """Where one panel's parts go in the picture."""

    frame: Box
    caption: Box
    bubble: Box  # the space the speech bubble and its words may take
    drawing: Box


@dataclass(frozen=True)
class StripLayout:
    """The size of the whole picture, and where each panel goes."""

    width: int
    height: int
    title: Box
    panels: tuple[PanelBoxes, ...]


def strip_layout(count: int) -> StripLayout:
    """The picture's plan for `count` panels: up to three in a row, two rows from four panels on (2+2, 3+2, 3+3)."""
    if not MIN_PANELS <= count <= MAX_PANELS:
        raise ValueError(f"A comic has {MIN_PANELS} to {MAX_PANELS} panels, not {count}.")
    per_row = count if count <= 3 else (count + 1) // 2
    rows = (count + per_row - 1) // per_row
    width = GUTTER + per_row * (PANEL_W + GUTTER)
    height = TITLE_H + rows * (PANEL_H + GUTTER)
    panels = []
    for index in range(count):
        left = GUTTER + (index % per_row) * (PANEL_W + GUTTER)
        top = TITLE_H + (index // per_row) * (PANEL_H + GUTTER)
        inner = left + PAD
        caption_bottom = top + PAD + CAPTION_H
        drawing_top = top + PANEL_H - PAD - DRAW_H
        panels.append(
            PanelBoxes(
                frame=(left, top, left + PANEL_W, top + PANEL_H),
                caption=(inner, top + PAD, inner + DRAW_W, caption_bottom),
                bubble=(inner, caption_bottom + 6, inner + DRAW_W, caption_bottom + 6 + BUBBLE_H),
                drawing=(inner, drawing_top, inner + DRAW_W, drawing_top + DRAW_H),
            )
        )
    return StripLayout(width, height, (GUTTER, 8, width - GUTTER, TITLE_H - 4), tuple(panels))


def _width(font: Any, text: str) -> float:
    return float(font.getlength(text)) if text else 0.0


def wrap(text: str, font: Any, width: int, max_lines: int) -> list[str]:
    """`text` in lines no wider than `width` pixels, words kept whole when they fit; at most `max_lines`
    lines, the last ending in "…" when words were left out."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            joined = f"{line} {word}" if line else word
            if _width(font, joined) <= width:
                line = joined
                continue
            if line:
                lines.append(line)
            while _width(font, word) > width:  # a word longer than a line is broken
                cut = _fits(font, word, width)
                lines.append(word[:cut])
                word = word[cut:]
            line = word
        lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: _fits(font, lines[-1] + "…", width) - 1] + "…"
    return lines


def _fits(font: Any, text: str, width: int) -> int:
    """How many characters from the start of `text` fit in `width` pixels (at least one)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if _width(font, text[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low


def _draw_bubble(draw: ImageDraw.ImageDraw, area: Box, drawing_top: int, speaker: str, speech: str) -> None:
    """A white speech bubble at the bottom of `area`, its tail pointing down at the drawing."""
    font = text_font(TEXT_SIZE)
    inside = area[2] - area[0] - 16
    lines = wrap(speech, font, inside, MAX_BUBBLE_LINES - (1 if speaker.strip() else 0))
    if not lines:
        return
    shown = ([(wrap(speaker + ":", font, inside, 1)[0], NAME_INK)] if speaker.strip() else []) + [
        (line, INK) for line in lines
    ]
    width = max(60, int(max(_width(font, line) for line, _ in shown)) + 16)
    height = len(shown) * LINE_H + 12
    middle = (area[0] + area[2]) // 2
    left, right, bottom = middle - width // 2, middle - width // 2 + width, area[3]
    top = bottom - height
    tail = [(middle - 16, bottom - 2), (middle + 4, bottom - 2), (middle - 22, drawing_top - 3)]
    draw.polygon(tail, fill="white", outline=INK)
    draw.rounded_rectangle((left, top, right, bottom), radius=12, fill="white", outline=INK, width=2)
    draw.polygon([(middle - 14, bottom - 3), (middle + 2, bottom - 3), (middle - 20, drawing_top - 5)], fill="white")
    for number, (line, ink) in enumerate(shown):
        draw.text((left + 8, top + 6 + number * LINE_H), line, fill=ink, font=font)


def draw_strip(title: str, panels: Sequence[Mapping[str, Any]]) -> bytes:
    """The comic as PNG bytes: the title, then every panel with its caption, bubble and drawing."""
    from PIL import Image, ImageColor, ImageDraw

    plan = strip_layout(len(panels))
    image = Image.new("RGB", (plan.width, plan.height), "white")
    draw = ImageDraw.Draw(image)
    title_font = text_font(TITLE_SIZE)
    if title.strip():
        shown = wrap(title, title_font, plan.title[2] - plan.title[0], 1)[0]
        draw.text((plan.title[0], plan.title[1]), shown, fill=INK, font=title_font)
    rgb = {name: ImageColor.getrgb(hex_colour) for name, hex_colour in PALETTE}
    for boxes, panel in zip(plan.panels, panels, strict=True):
        draw.rectangle(boxes.frame, fill=PANEL_COLOUR, outline=INK, width=3)
        small = Image.new("RGB", (COLUMNS, ROWS))
        small.putdata([rgb[name] for line in panel["cells"] for name in line])
        image.paste(small.resize((DRAW_W, DRAW_H), Image.Resampling.NEAREST), boxes.drawing[:2])
        left, top, right, bottom = boxes.drawing
        draw.rectangle((left - 1, top - 1, right, bottom), outline=INK, width=1)
        if panel["caption"].strip():
            font = text_font(TEXT_SIZE)
            lines = wrap(panel["caption"], font, DRAW_W - 12, 2)
            cap_left, cap_top, cap_right, _bottom = boxes.caption
            height = len(lines) * LINE_H + 6
            draw.rectangle(
                (cap_left, cap_top, cap_right - 1, cap_top + height), fill=CAPTION_COLOUR, outline=INK, width=1
            )
            for number, line in enumerate(lines):
                draw.text((cap_left + 6, cap_top + 3 + number * LINE_H), line, fill=INK, font=font)
        if panel["speech"].strip():
            _draw_bubble(draw, boxes.bubble, top, panel["speaker"], panel["speech"])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
