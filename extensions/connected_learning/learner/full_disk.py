"""A save that finds the learner's disk full says so in words, not as "[Errno 28]".

Each learner's home is a file system of its own (`host/disks.py`), so a learner who fills it
gets "No space left on device" in their own space. jupyter_server reports that as "Unexpected
error while saving file: x.ipynb [Errno 28] No space left on device"; JupyterLab shows the
message in its "File Save Error" dialog. `FullDiskMessages` turns it into HTTP 507 with a
message that says what happened, that the last saved version is kept, and what to do.
It goes over whichever contents manager the server runs (`learner_contents_manager`), so
keeping the old version whole stays that manager's job.
"""

from __future__ import annotations

import errno
from typing import Any

from tornado import web
from traitlets.utils.importstring import import_item

DEFAULT_MANAGER = "jupyter_server.services.contents.largefilemanager.AsyncLargeFileManager"
FULL = (errno.ENOSPC, errno.EDQUOT)


def full_disk_message(path: str) -> str:
    """What a learner reads when saving `path` found their space full."""
    name = path.rsplit("/", 1)[-1] or path
    return (
        f"Your space is full, so {name} was not saved. The version you saved before is kept. "
        "Delete files you no longer need (big downloads or data files first) and save again, "
        "or ask your teacher or librarian for more space."
    )


def is_full_disk(error: BaseException) -> bool:
    """`error` (or what caused it) is the file system saying there is no room."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class FullDiskMessages:
    """Contents-manager mixin: a save that ran out of room answers 507 with a plain message."""

    async def save(self, model: dict[str, Any], path: str = "") -> Any:
        try:
            return await super().save(model, path)  # type: ignore[misc]
        except Exception as e:
            if is_full_disk(e):
                raise web.HTTPError(507, full_disk_message(path.strip("/"))) from e
            raise


def learner_contents_manager(base: str | type = DEFAULT_MANAGER) -> type:
    """The contents manager `base` (a class or its dotted name), with `FullDiskMessages` over it."""
    cls = import_item(base) if isinstance(base, str) else base
    return type("LearnerContentsManager", (FullDiskMessages, cls), {"__module__": __name__})
