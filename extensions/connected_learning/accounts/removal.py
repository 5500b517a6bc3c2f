"""Removing an account, with a window to undo it: off at once, gone for good only later.

A teacher's "Remove from the class" (the classroom's confirmation page) calls `schedule`:
the account can no longer log in at once (NativeAuthenticator's `is_authorized` is turned
off, so the hub refuses its password) and the classroom ends its sessions and its server.
Until `due` it is only pending: `undo` gives it back as it was. After `UNDO_SECONDS` the
classroom's sweep removes it from the hub (`DELETE /users/<name>`, which also drops its
password) and `forget` takes it off the list and drops its display name and roles.

The list lives on disk, so a restart of the hub or of the classroom neither forgets a
removal nor lets an account back in:

    <data>/hub/pending-removals.json   {user: {"group", "by", "since", "due"}}  (root, 0600)

Only learners (students and mentors) are removed this way; the learner's files and system
user stay, as after any hub account removal (an administrator deletes them on the machine).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

from ..errors import ClhubError
from ..hub.database import open_session
from ..learner.provision import atomic_write_text
from ..paths import DataLayout
from .store import drop_display_name, update_roles_file

UNDO_SECONDS = 600  # how long a teacher may undo a removal (10 minutes)
PENDING = "pending-removals.json"
_LOCK = threading.Lock()


class RemovalError(ClhubError):
    code = "bad-removal"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pending(layout: DataLayout) -> dict[str, dict[str, str]]:
    """Every removal waiting for its undo window to end, {user: {"group", "by", "since", "due"}}."""
    try:
        data = json.loads((layout.hub / PENDING).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {u: e for u, e in data.items() if isinstance(e, dict) and isinstance(e.get("due"), str)}


def _write(layout: DataLayout, data: dict[str, dict[str, str]]) -> None:
    atomic_write_text(layout.hub / PENDING, json.dumps(data, indent=1, sort_keys=True))


def set_authorized(db_url: str, name: str, authorized: bool) -> None:
    """Let `name` log in again, or not (NativeAuthenticator's table in the hub database, read at each log-in)."""
    from nativeauthenticator.orm import UserInfo

    db = open_session(db_url)
    try:
        info = UserInfo.find(db, name)
        if info is not None:
            info.is_authorized = authorized
            db.commit()
    finally:
        db.close()


def schedule(
    layout: DataLayout, db_url: str, name: str, group: str, by: str, now: dt.datetime | None = None
) -> dict[str, str]:
    """Turn `name`'s log-in off now and put them on the list, gone for good after `UNDO_SECONDS`."""
    start = now or _now()
    entry = {
        "group": group,
        "by": by,
        "since": start.isoformat(timespec="seconds"),
        "due": (start + dt.timedelta(seconds=UNDO_SECONDS)).isoformat(timespec="seconds"),
    }
    with _LOCK:
        data = pending(layout)
        if name in data:
            return data[name]
        set_authorized(db_url, name, False)
        data[name] = entry
        _write(layout, data)
    return entry


def undo(layout: DataLayout, db_url: str, name: str) -> None:
    """Give `name` back their account as it was; RemovalError when no removal of theirs is waiting."""
    with _LOCK:
        data = pending(layout)
        if name not in data:
            raise RemovalError(f"{name} is not being removed (the time to undo may have ended).")
        set_authorized(db_url, name, True)
        del data[name]
        _write(layout, data)


def due(layout: DataLayout, now: dt.datetime | None = None) -> list[str]:
    """The users whose undo window has ended: the sweep removes them now."""
    moment = now or _now()
    found = []
    for name, entry in pending(layout).items():
        try:
            ends = dt.datetime.fromisoformat(entry["due"])
        except ValueError:
            ends = moment  # an unreadable time: no undo is owed any more
        if ends <= moment:
            found.append(name)
    return sorted(found)


def forget(layout: DataLayout, name: str, groups: list[str]) -> None:
    """After the hub removed `name`: off the list, and no display name or role left behind."""
    with _LOCK:
        data = pending(layout)
        data.pop(name, None)
        _write(layout, data)
        drop_display_name(layout, name)
        update_roles_file(layout, [(name, "student", groups)])


def entry_for(layout: DataLayout, name: str) -> dict[str, Any] | None:
    return pending(layout).get(name)
