"""Where the widgets may write, and how they write there.

Every export (PNG, WAV, Markdown, HTML, the JSON sidecar) goes through `check_export_path`,
the one function that decides whether a path a learner typed is acceptable, and then
through `atomic_write`, which writes a temporary file in the same folder and renames it
over the target. A path is acceptable when it names a file inside the current working
directory (the learner's folder), has no '..' part, no hidden part, no symbolic link
anywhere on the way, and ends in the expected suffix. The writer walks the folders with
O_NOFOLLOW directory descriptors, so a folder swapped for a link after the check is
still refused instead of followed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path, PurePath

from connected_learning.errors import ClhubError
from connected_learning.widgets.i18n import t

__all__ = ["ExportPathError", "atomic_write", "check_export_path", "export"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_MAX_NAME = 200


class ExportPathError(ClhubError, ValueError):
    """A file name a learner typed that the widgets will not write to."""

    code = "bad-export-path"


def check_export_path(path: str | os.PathLike[str], *, suffix: str, base: str | os.PathLike[str] | None = None) -> Path:
    """Validate a path a learner typed for an export and return it as an absolute path.

    Args:
        path: relative to `base`, or absolute but inside `base`.
        suffix: the file type the export writes, such as ".png"; the name must end with it.
        base: the folder exports must stay in; the current working directory by default.

    Returns:
        The absolute path of the file to write (its folders may not exist yet).

    Raises:
        ExportPathError (a ValueError): with a message that names the path and says what to do.
    """
    example = t("'my_work{suffix}' or 'exports/my_work{suffix}'", suffix=suffix)
    if not isinstance(path, str | os.PathLike):
        raise ExportPathError(t("A file name must be text, like {example}.", example=example))
    raw = os.fspath(path)
    if not isinstance(raw, str):
        raise ExportPathError(t("A file name must be text, like {example}.", example=example))
    if not raw.strip():
        raise ExportPathError(t("Type a file name first, like {example}.", example=example))
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ExportPathError(
            t(
                "The file name {raw} has a hidden control character in it. Type it again, like {example}.",
                raw=repr(raw),
                example=example,
            )
        )
    if len(raw) > 1000:
        raise ExportPathError(t("That file name is too long. Use a shorter one, like {example}.", example=example))
    root = Path(os.path.realpath(base if base is not None else os.getcwd()))
    given = PurePath(raw)
    if ".." in given.parts:
        raise ExportPathError(
            t(
                "The file name {raw} uses '..' to leave your folder. Save inside your folder, like {example}.",
                raw=repr(raw),
                example=example,
            )
        )
    full = Path(os.path.normpath(given if given.is_absolute() else root / given))
    try:
        relative = full.relative_to(root)
    except ValueError:
        raise ExportPathError(
            t(
                "{raw} is outside your folder ({root}). Save inside it, like {example}.",
                raw=repr(raw),
                root=root,
                example=example,
            )
        ) from None
    if not relative.parts:
        raise ExportPathError(
            t("{raw} is your folder, not a file. Add a file name, like {example}.", raw=repr(raw), example=example)
        )
    for part in relative.parts:
        if part.startswith("."):
            raise ExportPathError(
                t(
                    "{raw} has a hidden name (starting with '.'): {part}. Use a name like {example}.",
                    raw=repr(raw),
                    part=repr(part),
                    example=example,
                )
            )
        if len(part) > _MAX_NAME:
            raise ExportPathError(
                t(
                    "The name {part}... is too long. Use a shorter one, like {example}.",
                    part=repr(part[:40]),
                    example=example,
                )
            )
    if full.suffix.lower() != suffix.lower():
        raise ExportPathError(
            t("{raw} must end in {suffix}, like {example}.", raw=repr(raw), suffix=suffix, example=example)
        )
    here = root
    for part in relative.parts:
        here = here / part
        if here.is_symlink():
            raise ExportPathError(
                t(
                    "{raw} goes through a shortcut (symbolic link) at {link}, so the file could land "
                    "somewhere else. Save to a plain folder, like {example}.",
                    raw=repr(raw),
                    link=repr(str(here.relative_to(root))),
                    example=example,
                )
            )
    if full.exists() and not full.is_file():
        raise ExportPathError(
            t(
                "{raw} is a folder or a special file, not a file. Pick another name, like {example}.",
                raw=repr(raw),
                example=example,
            )
        )
    return full


def atomic_write(
    path: str | os.PathLike[str], data: bytes, *, suffix: str, base: str | os.PathLike[str] | None = None
) -> Path:
    """Check `path` with `check_export_path`, then write `data` to it atomically.

    Missing folders are created. The old file, if any, stays whole until the new one is
    complete and synced, and keeps its permission bits. Returns the absolute path written.
    """
    full = check_export_path(path, suffix=suffix, base=base)
    root = Path(os.path.realpath(base if base is not None else os.getcwd()))
    relative = full.relative_to(root)
    shown = str(relative)
    dir_fd = os.open(root, _DIR_FLAGS)
    try:
        for part in relative.parts[:-1]:
            try:
                os.mkdir(part, 0o777, dir_fd=dir_fd)
            except FileExistsError:
                pass
            try:
                next_fd = os.open(part, _DIR_FLAGS, dir_fd=dir_fd)
            except OSError:
                raise ExportPathError(
                    t(
                        "Could not save {shown}: {part} is not a plain folder (it may be a shortcut). "
                        "Pick another folder.",
                        shown=repr(shown),
                        part=repr(part),
                    )
                ) from None
            os.close(dir_fd)
            dir_fd = next_fd
        replace_in(dir_fd, relative.name, data, shown)
    finally:
        os.close(dir_fd)
    return full


def replace_in(dir_fd: int, name: str, data: bytes, shown: str) -> None:
    """Replace file `name` in the folder `dir_fd` whole (a new file beside it, then a rename), keeping
    its mode; never through a symlink. `shown` names it in an ExportPathError."""
    mode = 0o666  # narrowed by the learner's umask, like any new file
    try:
        old = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        old = None
    if old is not None:
        if stat.S_ISLNK(old.st_mode):
            raise ExportPathError(f"{shown!r} is a shortcut (symbolic link). Pick another file name.")
        if not stat.S_ISREG(old.st_mode):
            raise ExportPathError(f"{shown!r} is not a plain file. Pick another file name.")
    temp = f".{name[:100]}.{os.urandom(6).hex()}.tmp"  # what secrets.token_hex does, without importing it
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        try:
            if old is not None:
                os.fchmod(fd, stat.S_IMODE(old.st_mode))
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
    os.fsync(dir_fd)


def export(path: str | os.PathLike[str], make: Callable[[], bytes], *, suffix: str) -> Path:
    """Write the bytes `make()` returns to `path` as `atomic_write` does; returns the path written.

    The name is checked first, so a bad one is refused before the work of making the file.
    """
    check_export_path(path, suffix=suffix)
    return atomic_write(path, make(), suffix=suffix)
