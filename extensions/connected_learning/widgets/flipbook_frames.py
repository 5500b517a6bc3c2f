"""The frames of a flipbook as plain data: checking a saved flipbook, frames from letters, the GIF.

A frame is rows of colour names, square (`size` x `size`). `check_flipbook` is the one place a
saved flipbook (a sidecar anyone could edit) is checked before the FlipbookAnimator (flipbook.py)
shows it; `frames_from_letters` turns pictures typed as letters into frames, for workbooks that
give a learner a start; `gif_bytes` draws the frames as a looping GIF (Pillow, imported only here,
when a picture is made). Pure functions, no widgets.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from connected_learning.widgets.base import StateError
from connected_learning.widgets.i18n import t
from connected_learning.widgets.pixel_canvas import _check_palette, _rgb

__all__ = [
    "MAX_FPS",
    "MAX_FRAMES",
    "MAX_SIDE",
    "MIN_FPS",
    "MIN_SIDE",
    "Frame",
    "check_flipbook",
    "fade",
    "frames_from_letters",
    "gif_bytes",
]

MIN_SIDE, MAX_SIDE = 2, 32
#: A flipbook holds 1 to this many frames (two seconds at the top speed).
MAX_FRAMES = 24
MIN_FPS, MAX_FPS = 1, 12
#: How far the onion skin's colours are faded toward white (0: not at all, 1: white).
FADE = 0.65
Frame = list[list[str]]


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_side(size: Any) -> int:
    """`size` if it is a flipbook's number of squares per side; otherwise a StateError that says so."""
    if not _whole(size, MIN_SIDE, MAX_SIDE):
        raise StateError(
            t(
                "A flipbook's side must be a whole number from {low} to {high}, not {value}.",
                low=MIN_SIDE,
                high=MAX_SIDE,
                value=repr(size)[:20],
            )
        )
    return int(size)


def check_fps(fps: Any) -> int:
    """`fps` if it is a speed a flipbook plays at (frames per second); otherwise a StateError."""
    if not _whole(fps, MIN_FPS, MAX_FPS):
        raise StateError(
            t(
                "The speed must be a whole number of frames per second from {low} to {high}, not {value}.",
                low=MIN_FPS,
                high=MAX_FPS,
                value=repr(fps)[:20],
            )
        )
    return int(fps)


def check_frames(frames: Any, size: int, names: set[str]) -> list[Frame]:
    """Copies of `frames` if they are 1 to MAX_FRAMES squares of `size` x `size` colour names from `names`."""
    if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES:
        count = len(frames) if isinstance(frames, list) else type(frames).__name__
        raise StateError(t("A flipbook has 1 to {most} frames, not {count}.", most=MAX_FRAMES, count=count))
    checked = []
    for number, frame in enumerate(frames, 1):
        if not isinstance(frame, list) or len(frame) != size:
            raise StateError(t("Frame {number} must have {size} rows of {size} squares.", number=number, size=size))
        for line in frame:
            if not isinstance(line, list) or len(line) != size:
                raise StateError(t("Frame {number} must have {size} rows of {size} squares.", number=number, size=size))
            unknown = sorted({str(name)[:20] for name in line if not isinstance(name, str) or name not in names})
            if unknown:
                raise StateError(
                    t(
                        "Frame {number} uses colours that are not in the palette: {colours}.",
                        number=number,
                        colours=", ".join(unknown[:5]),
                    )
                )
        checked.append([list(line) for line in frame])
    return checked


def check_flipbook(state: dict[str, Any]) -> dict[str, Any]:
    """A saved flipbook's state, checked and copied; StateError (or KeyError) when it does not fit.

    Returns:
        {"size", "palette": [(name, "#rrggbb"), ...], "colour", "fps", "frames"}.
    """
    size = check_side(state["size"])
    palette = _check_palette(state["palette"])
    names = {name for name, _ in palette}
    frames = check_frames(state["frames"], size, names)
    colour = state["colour"]
    if not isinstance(colour, str) or colour not in names:
        raise StateError(t("The saved colour {colour} is not in the palette.", colour=repr(colour)[:20]))
    return {"size": size, "palette": palette, "colour": colour, "fps": check_fps(state["fps"]), "frames": frames}


def frames_from_letters(pictures: Sequence[Sequence[str]], letters: dict[str, str]) -> list[Frame]:
    """Frames from pictures drawn with letters: each picture is lines of text, each letter one square.

    `letters` says which colour each letter is, e.g. {".": "white", "r": "red"}.
    """
    frames = []
    for number, picture in enumerate(pictures, 1):
        try:
            frames.append([[letters[letter] for letter in line] for line in picture])
        except KeyError as error:
            raise ValueError(
                t(
                    "Picture {number} uses the letter {letter}, which is not one of: {letters}.",
                    number=number,
                    letter=repr(error.args[0]),
                    letters=", ".join(letters),
                )
            ) from None
    return frames


def fade(hex_colour: str) -> str:
    """`hex_colour` ("#rrggbb") faded toward white by FADE: the onion skin's colour for it."""
    return "#" + "".join(f"{round(part + (255 - part) * FADE):02x}" for part in _rgb(hex_colour))


def gif_bytes(frames: Sequence[Frame], palette: Sequence[tuple[str, str]], fps: int, scale: int) -> bytes:
    """An animated GIF that loops forever: each frame for 1/`fps` s, each square `scale` x `scale` px.

    Every frame uses the palette's own colours (a "P" picture), so the squares keep their exact
    colour. Two frames in a row that are the same are stored (by Pillow) as one longer frame.
    """
    from PIL import Image

    index = {name: number for number, (name, _) in enumerate(palette)}
    flat = [part for _, colour in palette for part in _rgb(colour)]
    size = len(frames[0])
    pictures = []
    for frame in frames:
        small = Image.new("P", (size, size))
        small.putpalette(flat)
        small.putdata([index[name] for line in frame for name in line])
        pictures.append(small.resize((size * scale, size * scale), Image.Resampling.NEAREST))
    buffer = io.BytesIO()
    pictures[0].save(
        buffer, format="GIF", save_all=True, append_images=pictures[1:], duration=round(1000 / fps), loop=0
    )
    return buffer.getvalue()
