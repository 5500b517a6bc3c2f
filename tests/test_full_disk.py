"""What a learner reads when a save finds their disk full (learner/full_disk.py).

Tested over a stand-in for jupyter_server's contents manager that fails the way it does;
tests/test_disk_limits.py sees the same message through a real server on a full disk.
"""

from __future__ import annotations

import asyncio
import errno

import pytest
from tornado import web

from connected_learning.learner.full_disk import (
    FullDiskMessages,
    full_disk_message,
    is_full_disk,
    learner_contents_manager,
)


class _Refusing:
    """Stands in for jupyter_server's manager: `save` wraps an OSError in HTTP 500, as it does."""

    def __init__(self, error: OSError) -> None:
        self.error = error

    async def save(self, model: dict[str, object], path: str = "") -> dict[str, object]:
        try:
            raise self.error
        except OSError as e:
            raise web.HTTPError(500, f"Unexpected error while saving file: {path} {e}") from e


def test_a_save_into_a_full_disk_answers_507_in_plain_words() -> None:
    manager = learner_contents_manager(_Refusing)(OSError(errno.ENOSPC, "No space left on device"))
    with pytest.raises(web.HTTPError) as raised:
        asyncio.run(manager.save({"type": "notebook"}, "/workbooks/my beat.ipynb"))
    assert raised.value.status_code == 507
    assert raised.value.log_message == full_disk_message("workbooks/my beat.ipynb")
    assert "my beat.ipynb was not saved" in raised.value.log_message
    assert "The version you saved before is kept" in raised.value.log_message
    assert "Errno" not in raised.value.log_message


def test_other_save_errors_pass_unchanged() -> None:
    manager = learner_contents_manager(_Refusing)(OSError(errno.EIO, "I/O error"))
    with pytest.raises(web.HTTPError) as raised:
        asyncio.run(manager.save({"type": "file"}, "a.txt"))
    assert raised.value.status_code == 500 and "I/O error" in raised.value.log_message
    assert is_full_disk(OSError(errno.EDQUOT, "quota")) and not is_full_disk(ValueError("no"))


def test_the_learner_manager_goes_over_the_configured_one() -> None:
    cls = learner_contents_manager()
    from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

    assert issubclass(cls, AsyncLargeFileManager) and issubclass(cls, FullDiskMessages)
    assert cls.__mro__[1] is FullDiskMessages
