"""How a poster is drawn: its colour themes, where each part goes, and the picture made with Pillow.

PosterMaker (poster_maker.py) holds the learner's choices and checks them; this module only
draws them. `plan_boxes` is a pure function that says where the header, the picture, the
chart and the footer go for a layout, and `draw_poster` paints a `Poster` into a Pillow
image along that plan. Every text is drawn in black or white, whichever reads better on
the colour under it (contrast.text_colour), and the chart's numbers are written beside
its bars and points, so no part of the poster speaks through colour alone.

Pillow is imported inside the functions that draw, so importing this module costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.fonts import text_font

if TYPE_CHECKING:
    from PIL import Image, ImageDraw

__all__ = ["LAYOUTS", "POSTER_SIZE", "THEMES", "Box", "Poster", "Theme", "contrast_ratio", "draw_poster", "plan_boxes"]

#: Width and height of a poster in pixels: a portrait page, small enough for a notebook and a phone.
POSTER_SIZE = (600, 800)
MARGIN = 24
GAP = 16
HEADER_HEIGHT = 180  # the title (up to two lines) and the slogan (up to two lines)
FOOTER_HEIGHT = 56
#: The layouts a learner picks from, by key (their words are in poster_maker.py).
LAYOUTS = ("picture-top", "chart-top", "side-by-side")


class Theme(NamedTuple):
    """A named colour theme: the page, the chart's panel, its bars and line, and the footer band."""

    background: str
    panel: str
    bar: str
    accent: str


#: Theme key -> colours. Each bar colour stands out from its panel by at least 3:1 (WCAG's
#: measure for shapes), and text takes contrast.text_colour of whatever it is drawn on.
THEMES: dict[str, Theme] = {
    "sunny": Theme(background="#fdd835", panel="#ffffff", bar="#1565c0", accent="#e53935"),
    "ocean": Theme(background="#0d47a1", panel="#e3f2fd", bar="#00695c", accent="#4dd0e1"),
    "forest": Theme(background="#1b5e20", panel="#f1f8e9", bar="#6d4c41", accent="#aed581"),
    "berry": Theme(background="#880e4f", panel="#fce4ec", bar="#6a1b9a", accent="#f48fb1"),
    "night": Theme(background="#212121", panel="#424242", bar="#ffca28", accent="#7e57c2"),
    "paper": Theme(background="#ffffff", panel="#eeeeee", bar="#424242", accent="#000000"),
}


class Box(NamedTuple):
    """A rectangle on the poster: left, top, right, bottom (right and bottom not included)."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True)
class Poster:
    """Everything drawn on a poster, already checked (see poster_maker.check_* functions)."""

    title: str
    slogan: str
    footer: str
    chart: str  # "bar" or "line"
    chart_title: str
    data: tuple[tuple[str, float], ...]
    layout: str
    theme: str
    empty_text: str  # what an empty middle says, in the learner's language


def plan_boxes(layout: str, has_picture: bool, has_chart: bool, size: tuple[int, int] = POSTER_SIZE) -> dict[str, Box]:
    """Where each part of a poster goes: "header" and "footer" always, "picture" and "chart" when there.

    The part between the header and the footer holds the picture and the chart as `layout`
    says (one above the other, or side by side); one of them alone takes all of it, and
    with neither it is the "empty" box.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown layout {layout!r}; choose one of {', '.join(LAYOUTS)}.")
    width, height = size
    boxes = {
        "header": Box(MARGIN, MARGIN, width - MARGIN, MARGIN + HEADER_HEIGHT),
        "footer": Box(0, height - FOOTER_HEIGHT, width, height),
    }
    middle = Box(MARGIN, boxes["header"].bottom + GAP, width - MARGIN, boxes["footer"].top - GAP)
    if has_picture and has_chart:
        if layout == "side-by-side":
            split = middle.left + (middle.width - GAP) // 2
            first, second = (
                Box(middle.left, middle.top, split, middle.bottom),
                Box(split + GAP, middle.top, middle.right, middle.bottom),
            )
        else:
            split = middle.top + (middle.height - GAP) // 2
            first, second = (
                Box(middle.left, middle.top, middle.right, split),
                Box(middle.left, split + GAP, middle.right, middle.bottom),
            )
        picture, chart = (second, first) if layout == "chart-top" else (first, second)
        boxes |= {"picture": picture, "chart": chart}
    elif has_picture:
        boxes["picture"] = middle
    elif has_chart:
        boxes["chart"] = middle
    else:
        boxes["empty"] = middle
    return boxes


def _width(draw: ImageDraw.ImageDraw, text: str, size: int, bold: bool = False) -> float:
    return draw.textlength(text, font=text_font(size, bold))


def _wrap(draw: ImageDraw.ImageDraw, text: str, size: int, width: int, bold: bool = False) -> list[str]:
    """`text` in lines no wider than `width`; a word too long for a line is split where it must be."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while _width(draw, word, size, bold) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and _width(draw, word[:cut], size, bold) > width:
                cut -= 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if _width(draw, candidate, size, bold) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _fit(
    draw: ImageDraw.ImageDraw, text: str, width: int, sizes: tuple[int, ...], max_lines: int, bold: bool = False
) -> tuple[int, list[str]]:
    """The biggest of `sizes` at which `text` fits `max_lines` lines; at the smallest, the end is cut with '…'."""
    for size in sizes:
        lines = _wrap(draw, text, size, width, bold)
        if len(lines) <= max_lines:
            return size, lines
    size = sizes[-1]
    lines = _wrap(draw, text, size, width, bold)[:max_lines]
    last = lines[-1] if lines else ""
    while last and _width(draw, last + "…", size, bold) > width:
        last = last[:-1]
    return size, [*lines[:-1], last.rstrip() + "…"]


def _lines(
    draw: ImageDraw.ImageDraw, lines: list[str], size: int, centre_x: float, top: float, fill: str, bold: bool = False
) -> float:
    """Draw centred lines from `top` down; returns where the next line would start."""
    step = size * 1.2
    for line in lines:
        draw.text((centre_x, top), line, font=text_font(size, bold), fill=fill, anchor="ma")
        top += step
    return top


def _number(value: float) -> str:
    """A number as a poster shows it: 12, 1,250, 3.5 or -0.75."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def draw_poster(poster: Poster, picture: Image.Image | None) -> Image.Image:
    """The poster as an RGB Pillow image of POSTER_SIZE; `picture` (RGBA) is pasted where the layout puts it."""
    from PIL import Image, ImageDraw

    theme = THEMES[poster.theme]
    image = Image.new("RGB", POSTER_SIZE, theme.background)
    draw = ImageDraw.Draw(image)
    ink = text_colour(theme.background)
    boxes = plan_boxes(poster.layout, picture is not None, bool(poster.data))

    header = boxes["header"]
    centre = (header.left + header.right) / 2
    top: float = header.top
    if poster.title.strip():
        size, lines = _fit(draw, poster.title.strip(), header.width, (52, 44, 38, 32), 2, bold=True)
        top = _lines(draw, lines, size, centre, top, ink, bold=True) + 6
    if poster.slogan.strip():
        room = max(1, min(2, int((header.bottom - top) // (26 * 1.2))))
        size, lines = _fit(draw, poster.slogan.strip(), header.width, (28, 24, 20), room)
        _lines(draw, lines, size, centre, top, ink)

    footer = boxes["footer"]
    draw.rectangle(footer, fill=theme.accent)
    if poster.footer.strip():
        size, lines = _fit(draw, poster.footer.strip(), footer.width - 2 * MARGIN, (22, 18), 1)
        _lines(
            draw,
            lines,
            size,
            footer.width / 2,
            footer.top + (footer.height - size * 1.2) / 2 + 2,
            text_colour(theme.accent),
        )

    if picture is not None:
        _paste_picture(image, draw, picture, boxes["picture"], ink)
    if poster.data:
        _chart(draw, poster, boxes["chart"], theme)
    if "empty" in boxes:
        empty = boxes["empty"]
        draw.rectangle(empty, outline=ink, width=2)
        size, lines = _fit(draw, poster.empty_text, empty.width - 40, (24, 20), 3)
        _lines(draw, lines, size, (empty.left + empty.right) / 2, empty.top + empty.height / 2 - size, ink)
    return image


def _paste_picture(image: Image.Image, draw: ImageDraw.ImageDraw, picture: Image.Image, box: Box, ink: str) -> None:
    """`picture` as big as fits `box` (keeping its shape), centred, with a thin frame in the text colour."""
    from PIL import Image

    frame = 3
    scale = min((box.width - 2 * frame) / picture.width, (box.height - 2 * frame) / picture.height)
    size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
    # Pixel art grows square by square; a photo shrinks smoothly.
    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
    fitted = picture.resize(size, resample)
    left = box.left + (box.width - size[0]) // 2
    top = box.top + (box.height - size[1]) // 2
    draw.rectangle((left - frame, top - frame, left + size[0] + frame - 1, top + size[1] + frame - 1), fill=ink)
    image.paste(fitted, (left, top), fitted)


def _chart(draw: ImageDraw.ImageDraw, poster: Poster, box: Box, theme: Theme) -> None:
    """A bar or line chart of `poster.data` on a panel filling `box`, each value written by its bar or point."""
    ink = text_colour(theme.panel)
    draw.rounded_rectangle(box, radius=12, fill=theme.panel)
    pad = 12
    inner = Box(box.left + pad, box.top + pad, box.right - pad, box.bottom - pad)
    top: float = inner.top
    if poster.chart_title.strip():
        size, lines = _fit(draw, poster.chart_title.strip(), inner.width, (22, 18), 2, bold=True)
        top = _lines(draw, lines, size, (inner.left + inner.right) / 2, top, ink, bold=True) + 4
    labels = [label for label, _ in poster.data]
    values = [value for _, value in poster.data]
    slot = inner.width / len(values)
    label_size = 16 if slot >= 60 else 13
    value_size = label_size
    label_lines = min(3, max(len(_wrap(draw, label, label_size, max(8, int(slot) - 4))) for label in labels))
    plot_bottom = inner.bottom - label_lines * label_size * 1.2 - 4
    high, low = max(0.0, *values), min(0.0, *values)
    if high == low:
        high = low + 1
    plot_top = top + value_size * 1.3 + (6 if poster.chart == "line" else 0)
    if low < 0:
        plot_bottom -= value_size * 1.3 + (
            6 if poster.chart == "line" else 0
        )  # room for the numbers under bars that go below zero
    span = max(1.0, plot_bottom - plot_top)

    def y_of(value: float) -> float:
        return plot_top + (high - value) / (high - low) * span

    zero = y_of(0)
    points = []
    for index, (label, value) in enumerate(poster.data):
        centre = inner.left + slot * (index + 0.5)
        y = y_of(value)
        if poster.chart == "bar":
            half = max(2.0, slot * 0.32)
            if value != 0:
                top_y = round(min(y, zero))
                bottom_y = max(top_y, round(max(y, zero)) - 1)  # a tiny number is still one pixel high
                draw.rectangle((round(centre - half), top_y, round(centre + half) - 1, bottom_y), fill=theme.bar)
        points.append((centre, y))
        above = value >= 0
        gap = 4 if poster.chart == "bar" else 10  # clear of the line chart's dot
        number_y = (min(y, zero) - gap) if above else (max(y, zero) + gap)
        draw.text(
            (centre, number_y), _number(value), font=text_font(value_size), fill=ink, anchor="md" if above else "ma"
        )
        size, lines = _fit(draw, label, max(8, int(slot) - 4), (label_size,), label_lines)
        _lines(draw, lines, size, centre, inner.bottom - label_lines * label_size * 1.2, ink)
    draw.line((inner.left, zero, inner.right, zero), fill=ink, width=2)  # the zero line
    if poster.chart == "line":
        if len(points) > 1:
            draw.line(points, fill=theme.bar, width=4, joint="curve")
        radius = 6
        for x, y in points:
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=theme.bar, outline=ink, width=2)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG's contrast ratio of two "#rrggbb" colours (1 to 21)."""

    def light(hex_colour: str) -> float:
        def linear(value: int) -> float:
            share = value / 255
            return share / 12.92 if share <= 0.03928 else ((share + 0.055) / 1.055) ** 2.4

        red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)

    a, b = sorted((light(first), light(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)
