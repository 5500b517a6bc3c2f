"""Pictures a widget opens from the learner's folder (the photo lab's photo, a poster's picture).

`read_picture` takes a .png or .jpg inside the learner's folder only: the name goes through
the exports' path check (files.check_export_path: no '..', no absolute path outside, no hidden
name), then the file is opened walking the folders with O_NOFOLLOW, so no symbolic link is
followed even if one is swapped in after the check; a folder, a named pipe or a file over
`MAX_PICTURE_BYTES` is refused. Pillow then reads only the header, and a picture of more than
`MAX_PIXELS` pixels (a small file that would unpack to a huge picture, a "decompression bomb")
is refused before a single pixel is unpacked. Every refusal is a PictureError whose message
names the file, in the learner's words.
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from connected_learning.widgets.base import StateError
from connected_learning.widgets.files import ExportPathError, check_export_path
from connected_learning.widgets.i18n import _, t

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["MAX_PICTURE_BYTES", "MAX_PIXELS", "PICTURE_SUFFIXES", "PictureError", "read_picture"]

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: The most pixels a picture may have (a 16 megapixel photo). A small file that unpacks to far
#: more (a "decompression bomb") could fill the learner's memory, so it is refused unopened.
MAX_PIXELS = 16_000_000
#: The biggest picture file that is read, in bytes.
MAX_PICTURE_BYTES = 30 * 1024 * 1024
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_NAME = 1000


class PictureError(StateError):
    """A picture that cannot be opened: not in the learner's folder, not a picture, too big."""

    code = "bad-picture"


def _read_inside(full: Path, root: Path) -> bytes:
    """The bytes of file `full` inside `root`, never through a symbolic link (walked with O_NOFOLLOW)."""
    relative = full.relative_to(root)
    dir_fd = os.open(root, _DIR_FLAGS)
    try:
        for part in relative.parts[:-1]:
            next_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
        # O_NONBLOCK: a named pipe given as a picture must not make the kernel wait forever.
        fd = os.open(relative.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError("not a plain file")
        if info.st_size > MAX_PICTURE_BYTES:
            raise PictureError(
                t("{name} is too big to open (over {mb} MB).", name=relative.as_posix(), mb=MAX_PICTURE_BYTES >> 20)
            )
        return handle.read(MAX_PICTURE_BYTES + 1)


def read_picture(name: str | os.PathLike[str]) -> tuple[str, PILImage.Image]:
    """Open a picture from the learner's folder, checked: the path, the file, its size in pixels.

    Returns:
        (its path inside the folder, like "data/coffee.jpg"; the picture, loaded and turned the
        way the camera was held, in its own mode).

    Raises:
        PictureError (a ValueError): with a message for the learner that names the file.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    raw = os.fspath(name) if isinstance(name, str | os.PathLike) else None
    if not isinstance(raw, str) or not raw.strip() or len(raw) > _MAX_NAME:
        raise PictureError(_("Type the file name of a picture in your folder, like data/coffee.jpg."))
    suffix = Path(raw).suffix.lower()
    if suffix not in PICTURE_SUFFIXES:
        raise PictureError(t("{name} is not a picture file. Pick a .png or .jpg file.", name=raw[:100]))

    def not_inside(name: str) -> PictureError:
        return PictureError(
            t("{name} is not a picture file inside your folder. Pick a .png or .jpg picture in your folder.", name=name)
        )

    try:
        full = check_export_path(raw, suffix=suffix)
    except ExportPathError:
        raise not_inside(raw[:100]) from None
    root = Path(os.path.realpath(os.getcwd()))
    shown = full.relative_to(root).as_posix()
    try:
        data = _read_inside(full, root)
    except FileNotFoundError:
        raise PictureError(t("There is no picture called {name} in your folder.", name=shown)) from None
    except OSError:  # a folder, a named pipe, or a link swapped in after the check
        raise not_inside(shown) from None
    if len(data) > MAX_PICTURE_BYTES:
        raise PictureError(t("{name} is too big to open (over {mb} MB).", name=shown, mb=MAX_PICTURE_BYTES >> 20))
    not_a_picture = t("{name} is not a picture that can be opened. Pick a .png or .jpg file.", name=shown)
    too_big = t(
        "{name} has too many pixels (more than {limit} million), so it was not opened. Use a smaller picture.",
        name=shown,
        limit=MAX_PIXELS // 1_000_000,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            opened = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
            width, height = opened.size  # read from the header: nothing is unpacked yet
            if width * height <= MAX_PIXELS:
                opened.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PictureError(too_big) from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
            raise PictureError(not_a_picture) from None
    if width * height > MAX_PIXELS:
        raise PictureError(too_big)
    try:  # turned the way the camera was held
        picture: PILImage.Image = ImageOps.exif_transpose(opened)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        picture = opened  # a damaged camera note: the picture as stored
    return shown, picture
