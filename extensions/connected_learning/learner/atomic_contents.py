"""Saves that a crash cannot cut in half: the learners' contents manager.

jupyter_server's own "atomic" writing copies the old file aside and then writes into the
file itself: a server killed half-way through a save leaves a short or empty file in
view, and only the next read through the server puts the copy back. Here every save (a
notebook or any file, from JupyterLab or the contents API) goes to a temporary file in
the same folder, is flushed to disk (fsync), takes the old file's mode, and is renamed
over the target; then the folder is synced. Any reader, the file system included, sees
the old file or the new one, never a part. A crash leaves at most a hidden
`.~save-<name>-*.tmp` beside it, which the next save of that file removes.

singleuser_config.py makes this the learners' `ServerApp.contents_manager_class`.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

TEMP_PREFIX = ".~save-"


def _remove_stale(folder: str, name: str) -> None:
    """Temporary files a crashed save of `name` left behind."""
    prefix = f"{TEMP_PREFIX}{name}-"
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(prefix) and entry.name.endswith(".tmp") and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


@contextlib.contextmanager
def replace_atomically(path: str, text: bool = True, encoding: str = "utf-8", **kwargs: Any) -> Iterator[IO[Any]]:
    """Yield a file to write; on a clean exit it replaces `path` whole, else `path` is untouched."""
    path = os.path.realpath(path)  # a symlink keeps pointing where it did; its target is replaced
    folder, name = os.path.split(path)
    _remove_stale(folder, name)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{name}-", suffix=".tmp", dir=folder)
    try:
        if text:
            kwargs.setdefault("newline", "\n")
            f: IO[Any] = open(fd, "w", encoding=encoding, **kwargs)  # noqa: SIM115 (closed below)
        else:
            f = open(fd, "wb")  # noqa: SIM115
        with f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a power cut
    finally:
        os.close(dir_fd)


class AtomicContentsManager(AsyncLargeFileManager):
    """jupyter_server's default contents manager, with saves that replace a file whole."""

    @contextlib.contextmanager
    def atomic_writing(self, os_path: str, *args: Any, **kwargs: Any) -> Iterator[IO[Any]]:
        with self.perm_to_403(os_path), replace_atomically(os_path, *args, **kwargs) as f:
            yield f
