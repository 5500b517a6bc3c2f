"""The text colour that reads on a coloured square: for the pixel canvas's palette buttons in a
notebook and for the drawn squares of a family's page (showcase.saved_widgets). Standard library only."""

from __future__ import annotations


def text_colour(hex_colour: str) -> str:
    """Black or white, whichever contrasts more with `hex_colour` ("#rrggbb"; WCAG's relative
    luminance): white on the palette's blue was 3.7:1, under the 4.5:1 text needs; black on it is 5.7:1."""

    def linear(value: int) -> float:
        share = value / 255
        return share / 12.92 if share <= 0.03928 else ((share + 0.055) / 1.055) ** 2.4

    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    light = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    return "black" if (light + 0.05) / 0.05 >= 1.05 / (light + 0.05) else "white"
