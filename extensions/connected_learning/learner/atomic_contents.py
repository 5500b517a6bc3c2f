"""Saves that a crash cannot cut in half: the learners' contents manager.

jupyter_server's own "atomic" writing copies the old file aside and then writes into the
file itself: a server killed half-way through a save leaves a short or empty file in
view, and only the next read through the server puts the copy back. Here every save (a
notebook or any file, from JupyterLab or the contents API) goes to a temporary file in
the same folder, is flushed to disk (fsync), takes the old file's mode, and is renamed
over the target; then the folder is synced. Any reader, the file system included, sees
the old file or the new one, never a part. A crash leaves at most a hidden
`.~save-<name>-*.tmp` beside it, which the next save of that file removes.

Notebooks and files in a group's folder (reached through the `~/peer-review/<group>`
links) are the system's, never a learner's to change: this manager reports them
read-only (so JupyterLab never autosaves them) and refuses to save, rename, delete or
checkpoint anything there. On a real site the operating system refuses too; in the
same-user demo, where every learner is one system user, this is what keeps one
learner's outputs out of everybody's copy.

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
from tornado import web

TEMP_PREFIX = ".~save-"
GROUP_LINKS = "peer-review"  # ~/peer-review/<group> -> the group's shared folder
READ_ONLY = "This is shared with your group, so it cannot be changed here. Make your own copy in your own folder."


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

    def _shared(self, os_path: str) -> bool:
        """Whether `os_path` is, or is inside, a group folder linked in `~/peer-review/`."""
        real = os.path.realpath(os_path)
        try:
            links = list(os.scandir(os.path.join(self.root_dir, GROUP_LINKS)))
        except OSError:
            return False
        for link in links:
            if link.is_symlink():
                target = os.path.realpath(link.path)
                if real == target or real.startswith(target + os.sep):
                    return True
        return False

    def _refuse_shared(self, *paths: str) -> None:
        for path in paths:
            if self._shared(self._get_os_path(path.strip("/"))):
                raise web.HTTPError(403, READ_ONLY)

    def _base_model(self, path: str) -> dict[str, Any]:
        model: dict[str, Any] = super()._base_model(path)
        if model.get("writable") and self._shared(self._get_os_path(path)):
            model["writable"] = False
        return model

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        self._refuse_shared(path)
        return await super().save(model, path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        self._refuse_shared(old_path, new_path)
        await super().rename_file(old_path, new_path)

    async def delete_file(self, path: str) -> None:
        self._refuse_shared(path)
        await super().delete_file(path)

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        self._refuse_shared(path)
        return await super().create_checkpoint(path)

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse_shared(path)
        await super().restore_checkpoint(checkpoint_id, path)
