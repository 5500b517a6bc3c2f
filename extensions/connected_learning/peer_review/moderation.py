"""Moderation of a group's peer-review folder: reports, hiding and deleting.

These are the privileged actions of peer review. They run in the classroom service (as
root on a real site), only after the service has checked the hub's roles. Each one
renames or removes a directory entry and never opens a path a learner could have turned
into a symlink: a hidden piece or feedback file moves into the group's `moderation/`
folder (root only, mode 0700), where members cannot reach it; `unhide` moves it back;
delete removes it for good. Reports are JSON lines appended under a lock.

    <data>/groups/<g>/moderation/reports.jsonl
    <data>/groups/<g>/moderation/hidden/<piece-id>/
    <data>/groups/<g>/moderation/hidden-feedback/<piece-id>/<file>.json

`validate_*` are the edge checks of everything a request names.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClhubError
from ..settings import validate_username
from . import pieces
from .folders import MODERATION, group_root, peer_review_dir
from .sharing import clean_text, now

FEEDBACK_FILE = re.compile(r"^[a-z][a-z0-9_-]{0,30}(\.[0-9a-f]{8})?\.json\Z")
MAX_REASON = 500


class ModerationError(ClhubError):
    code = "moderation"
    status = 400


class NotFound(ModerationError):
    code = "not-found"
    status = 404


def validate_group(name: str) -> str:
    try:
        return validate_username(name)
    except ClhubError:
        raise NotFound(f"There is no group called {name[:40]!r}.") from None


def validate_piece_id(piece_id: str) -> str:
    if not isinstance(piece_id, str) or not pieces.PIECE_ID.match(piece_id):
        raise NotFound(f"There is no piece called {str(piece_id)[:100]!r}.")
    return piece_id


def validate_feedback_file(name: str) -> str:
    if not isinstance(name, str) or not FEEDBACK_FILE.match(name):
        raise NotFound(f"There is no feedback file called {str(name)[:60]!r}.")
    return name


@dataclass(frozen=True)
class Place:
    """Where a group's things are."""

    data_dir: Path
    group: str

    @property
    def shared(self) -> Path:
        return peer_review_dir(self.data_dir, self.group)

    @property
    def private(self) -> Path:
        return group_root(self.data_dir, self.group) / MODERATION

    @property
    def hidden(self) -> Path:
        return self.private / "hidden"

    @property
    def hidden_feedback(self) -> Path:
        return self.private / "hidden-feedback"

    @property
    def reports(self) -> Path:
        return self.private / "reports.jsonl"


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _is_dir(path):
        raise ModerationError(f"{path} is not a folder.")
    return path


# ------------------------------------------------------------------ pieces


def list_pieces(place: Place) -> list[tuple[pieces.PieceView, bool]]:
    """Every piece of the group, visible ones and hidden ones: [(view, hidden)]."""
    found: list[tuple[pieces.PieceView, bool]] = []
    for folder, hidden in ((place.shared, False), (place.hidden, True)):
        if _is_dir(folder):
            found.extend((view, hidden) for view in pieces.read_group(folder))
    return found


def hide_piece(place: Place, piece_id: str) -> None:
    """Move a piece out of the members' sight (it keeps its files and feedback)."""
    source = place.shared / validate_piece_id(piece_id)
    if not _is_dir(source):
        raise NotFound(f"There is no visible piece called {piece_id!r} in {place.group}.")
    target = _private_dir(place.hidden) / piece_id
    if os.path.lexists(target):
        target = place.hidden / f"{piece_id}-{secrets.token_hex(4)}"
    os.rename(source, target)


def unhide_piece(place: Place, piece_id: str) -> None:
    source = place.hidden / validate_piece_id(piece_id)
    if not _is_dir(source):
        raise NotFound(f"There is no hidden piece called {piece_id!r} in {place.group}.")
    if os.path.lexists(place.shared / piece_id):
        raise ModerationError(f"A piece called {piece_id!r} is visible already; delete one of them first.")
    os.rename(source, place.shared / piece_id)


def delete_piece(place: Place, piece_id: str) -> None:
    """Delete a piece for good, visible or hidden, with its feedback."""
    validate_piece_id(piece_id)
    for folder in (place.shared, place.hidden):
        source = folder / piece_id
        if _is_dir(source):
            gone = _private_dir(place.private) / f".deleting-{secrets.token_hex(6)}"
            os.rename(source, gone)  # out of sight at once, then removed
            shutil.rmtree(gone)
            shutil.rmtree(place.hidden_feedback / piece_id, ignore_errors=True)
            return
    raise NotFound(f"There is no piece called {piece_id!r} in {place.group}.")


# ------------------------------------------------------------------ feedback


def _piece_dir(place: Place, piece_id: str) -> Path:
    for folder in (place.shared, place.hidden):
        if _is_dir(folder / validate_piece_id(piece_id)):
            return folder / piece_id
    raise NotFound(f"There is no piece called {piece_id!r} in {place.group}.")


def hide_feedback(place: Place, piece_id: str, file: str) -> None:
    source = _piece_dir(place, piece_id) / pieces.FEEDBACK_DIR / validate_feedback_file(file)
    if not os.path.lexists(source):
        raise NotFound(f"There is no feedback {file!r} on {piece_id!r}.")
    target_dir = _private_dir(place.hidden_feedback / piece_id)
    target = target_dir / file
    if os.path.lexists(target):
        target = target_dir / f"{secrets.token_hex(4)}-{file}"
    os.rename(source, target)


def delete_feedback(place: Place, piece_id: str, file: str) -> None:
    validate_feedback_file(file)
    candidates = [place.hidden_feedback / validate_piece_id(piece_id) / file]
    try:
        candidates.insert(0, _piece_dir(place, piece_id) / pieces.FEEDBACK_DIR / file)
    except NotFound:
        pass
    for path in candidates:
        if os.path.lexists(path) and not _is_dir(path):
            os.unlink(path)
            return
    raise NotFound(f"There is no feedback {file!r} on {piece_id!r}.")


# ------------------------------------------------------------------ reports


def add_report(place: Place, reporter: str, piece_id: str, reason: str, feedback_file: str = "") -> dict[str, Any]:
    """Record a member's report about a piece or one feedback file; return the report."""
    validate_piece_id(piece_id)
    if feedback_file:
        validate_feedback_file(feedback_file)
    reason = clean_text(reason, MAX_REASON, "reason")
    if not reason:
        raise ModerationError("Say in a few words what is wrong, so your teacher can help.")
    _piece_dir(place, piece_id)
    report = {
        "id": secrets.token_hex(6),
        "reporter": reporter,
        "piece": piece_id,
        "feedback": feedback_file,
        "reason": reason,
        "created": now(),
        "status": "open",
    }
    _append(place, report)
    return report


def close_report(place: Place, report_id: str, how: str, by: str) -> None:
    if not re.fullmatch(r"[0-9a-f]{12}", report_id or ""):
        raise NotFound(f"There is no report {report_id[:20]!r}.")
    if not any(r["id"] == report_id for r in list_reports(place)):
        raise NotFound(f"There is no report {report_id!r}.")
    _append(place, {"close": report_id, "how": how, "by": by, "at": now()})


def _append(place: Place, record: dict[str, Any]) -> None:
    _private_dir(place.private)
    fd = os.open(place.reports, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, (json.dumps(record) + "\n").encode())
    finally:
        os.close(fd)


def list_reports(place: Place) -> list[dict[str, Any]]:
    """Every report of the group, oldest first, each with its status ("open" or how it closed)."""
    try:
        lines = place.reports.read_text().splitlines()
    except FileNotFoundError:
        return []
    reports: dict[str, dict[str, Any]] = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if "close" in record and record["close"] in reports:
            reports[record["close"]]["status"] = record.get("how", "closed")
        elif "id" in record:
            reports[record["id"]] = record
    return list(reports.values())
