"""Reading a peer-review folder: pieces, their feedback, and the author's overview.

A peer-review folder is written by many people, any of whom may put anything there with
a terminal: broken JSON, a huge file, a symlink to somebody's home. Everything here reads
defensively: files are opened relative to a folder descriptor with O_NOFOLLOW (a symlink
is never followed, even by root in the classroom service), sizes are capped, and a piece
that cannot be read becomes a `PieceView` with a `problem`, never an exception that
breaks the listing.

Who wrote what is the file's owner (the operating system's word), and the name people
see is the one the class list gave that owner: the hub writes the group's names into
`members.json` beside the folder, which members read and only root writes. The author
and display name a learner's process wrote into `piece.json` or a feedback file are never
believed. The one exception is the same-user demo, where every account runs as the hub's
own system user (the group folder is not root's), so ownership cannot tell accounts apart:
there the account a file names is taken as its author, and any demo account can claim to
be another. Wherever the folder is root's (a real site, a demo run as root), it cannot.

    <data>/groups/<g>/members.json             {"names": {user: display name}} (the hub's; root 0640)
    <data>/groups/<g>/peer-review/<piece-id>/piece.json            title, workbook, version, remix_of
    <data>/groups/<g>/peer-review/<piece-id>/v<N>/<files>          the snapshot of each version
    <data>/groups/<g>/peer-review/<piece-id>/feedback/<who>.json   one file per reviewer, owned by them
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..widgets.i18n import N_

PIECE_FILE = "piece.json"
FEEDBACK_DIR = "feedback"
MEMBERS_FILE = "members.json"  # in the group's folder, beside peer-review/: written by the hub
MAX_JSON_BYTES = 256 * 1024
PIECE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,95}\Z")
VERSION_DIR = re.compile(r"^v([1-9][0-9]{0,5})\Z")
REACTIONS = {
    "": "",
    "wow": N_("Wow!"),
    "love": N_("Love it"),
    "laugh": N_("Made me laugh"),
    "try": N_("I want to try this"),
    "learned": N_("I learned something"),
}


# uid -> name, for one listing only: accounts come and go (and uids are reused), so a
# long-running reader such as the classroom service must not remember them longer.
_names: dict[int, str] = {}


def user_name(uid: int) -> str:
    name = _names.get(uid)
    if name is None:
        from ..host.current import current  # the host's word: a pod has no system account per learner

        name = current().owner_name(uid) or f"uid {uid}"
        _names[uid] = name
    return name


def member_names(folder_fd: int) -> dict[str, str]:
    """The display names the class list gave the group's members, {user: "Ana M."}.

    Read from the hub's `members.json` in the folder above the peer-review folder `folder_fd`,
    and only when that file belongs to the folder's owner (root on a real site): empty when
    it is missing, unreadable or anybody else's.
    """
    try:
        group_fd = os.open("..", os.O_RDONLY | os.O_DIRECTORY, dir_fd=folder_fd)
    except OSError:
        return {}
    try:
        raw, owner = read_json(group_fd, MEMBERS_FILE)
        if owner != os.fstat(group_fd).st_uid:
            return {}
    except (OSError, ValueError):
        return {}
    finally:
        os.close(group_fd)
    names = raw.get("names")
    if not isinstance(names, dict):
        return {}
    return {k: _text(v, 80) for k, v in names.items() if isinstance(k, str) and isinstance(v, str) and v.strip()}


@dataclass(frozen=True)
class Authorship:
    """How one reading of a group folder names people.

    `claims`: believe the account a file names as its author. Only where the folder is not
    root's, which is the same-user demo: every account writes as one system user there.
    `names`: the class list's display names of the group's members.
    """

    names: Mapping[str, str]
    claims: bool

    @classmethod
    def of(cls, folder_fd: int) -> Authorship:
        return cls(member_names(folder_fd), claims=os.fstat(folder_fd).st_uid != 0)

    def display(self, user: str) -> str:
        """The name peers, teachers and families see for `user`: the class list's, else the user name."""
        return self.names.get(user) or user


@dataclass(frozen=True, slots=True)  # slots: thousands of these in a large group's overview
class FeedbackEntry:
    reviewer: str  # the hub user name (the file's owner)
    reviewer_display: str
    works: str
    idea: str
    question: str
    reaction: str
    created: str
    version: int
    file: str  # the feedback file's name in feedback/, for moderation


@dataclass(slots=True)
class PieceView:
    id: str
    owner: str  # who owns the piece's folder
    title: str = ""
    author_display: str = ""
    workbook: str = ""
    created: str = ""
    updated: str = ""
    version: int = 0
    files: list[str] = field(default_factory=list)
    remix_of: dict[str, Any] | None = None
    feedback: list[FeedbackEntry] = field(default_factory=list)
    problem: str = ""  # why the piece could not be read, for the listing

    @property
    def ok(self) -> bool:
        return not self.problem


def open_dir(path: str | os.PathLike[str], *, dir_fd: int | None = None, follow: bool = False) -> int:
    """A descriptor of the folder `path`; OSError if it is not a folder, or a symlink.

    `follow=True` is for the peer-review folder itself, which learners reach through the
    `~/peer-review/<group>` link; nothing inside it is ever followed.
    """
    flags = os.O_RDONLY | os.O_DIRECTORY | (0 if follow else os.O_NOFOLLOW)
    return os.open(path, flags, dir_fd=dir_fd)


def read_bytes(dir_fd: int, name: str, limit: int) -> bytes:
    """The bytes of regular file `name` in the folder `dir_fd`, never through a symlink.

    Raises:
        OSError: missing, a symlink, not a regular file, or larger than `limit`.
    """
    return read_owned(dir_fd, name, limit)[0]


def read_below(dir_fd: int, parts: list[str], limit: int) -> bytes | None:
    """The file at `parts` below the folder `dir_fd`, no step through a symlink; None if it cannot be read so."""
    fds = []
    try:
        fd = dir_fd
        for part in parts[:-1]:
            fd = open_dir(part, dir_fd=fd)
            fds.append(fd)
        return read_bytes(fd, parts[-1], limit)
    except OSError:
        return None
    finally:
        for opened in fds:
            os.close(opened)


def read_owned(dir_fd: int, name: str, limit: int) -> tuple[bytes, int]:
    """Like `read_bytes`, with the uid of the file's owner."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{name} is not a regular file")
        if info.st_size > limit:
            raise OSError(f"{name} is larger than {limit} bytes")
        # The size fstat saw is the snapshot we take: one read in the usual case.
        chunks = [os.read(fd, info.st_size)]
        got = len(chunks[0])
        while got < info.st_size:
            chunk = os.read(fd, info.st_size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks), info.st_uid
    finally:
        os.close(fd)


def read_json(dir_fd: int, name: str, limit: int = MAX_JSON_BYTES) -> tuple[dict[str, Any], int]:
    """A JSON object file in `dir_fd` and its owner's uid; ValueError/OSError when unfit."""
    data, owner = read_owned(dir_fd, name, limit)
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError(f"{name} does not hold a JSON object")
    return value, owner


def _text(value: Any, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _feedback_of(piece_fd: int, who: Authorship) -> list[FeedbackEntry]:
    try:
        fb_fd = open_dir(FEEDBACK_DIR, dir_fd=piece_fd)
    except OSError:
        return []
    entries: list[FeedbackEntry] = []
    try:
        with os.scandir(fb_fd) as it:
            names = sorted(e.name for e in it if e.name.endswith(".json") and not e.name.startswith("."))
        for name in names:
            try:
                raw, owner_uid = read_json(fb_fd, name)
            except (OSError, ValueError):
                continue  # a broken feedback file hides itself, not the piece
            claimed = _text(raw.get("reviewer"), 64)
            reviewer = claimed if who.claims and claimed else user_name(owner_uid)
            if not who.claims and claimed and claimed != reviewer:
                continue  # somebody wrote feedback in another person's name
            display = who.display(reviewer)  # never the file's own "reviewer_display"
            for item in raw.get("entries", [])[:200] if isinstance(raw.get("entries"), list) else []:
                if not isinstance(item, dict):
                    continue
                reaction = item["reaction"] if item.get("reaction") in REACTIONS else ""
                entries.append(
                    FeedbackEntry(
                        reviewer=reviewer,
                        reviewer_display=display,
                        works=_text(item.get("works")),
                        idea=_text(item.get("idea")),
                        question=_text(item.get("question")),
                        reaction=reaction,
                        created=_text(item.get("created"), 40),
                        version=_int(item.get("version")),
                        file=name,
                    )
                )
    finally:
        os.close(fb_fd)
    entries.sort(key=lambda e: e.created)
    return entries


def _owner_of(folder_fd: int, piece_id: str, who: Authorship) -> str | None:
    """Who shared the piece `piece_id` of the folder (None if it is not there), by the rules of `who`."""
    if not PIECE_ID.match(piece_id):
        return None
    try:
        info = os.stat(piece_id, dir_fd=folder_fd, follow_symlinks=False)
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode):
        return None
    if who.claims:
        try:
            piece_fd = open_dir(piece_id, dir_fd=folder_fd)
            try:
                claimed = _text(read_json(piece_fd, PIECE_FILE)[0].get("author"), 64)
            finally:
                os.close(piece_fd)
        except (OSError, ValueError):
            claimed = ""
        if claimed:
            return claimed
    return user_name(info.st_uid)


def read_piece(
    folder_fd: int, piece_id: str, *, with_feedback: bool = True, authorship: Authorship | None = None
) -> PieceView:
    """One piece of the peer-review folder `folder_fd`; problems are reported, not raised.

    `authorship`: how to name people (read from the folder when not given).
    """
    who = authorship or Authorship.of(folder_fd)
    try:
        info = os.stat(piece_id, dir_fd=folder_fd, follow_symlinks=False)
    except OSError:
        return PieceView(id=piece_id, owner="", problem="This piece is gone.")
    owner = user_name(info.st_uid)
    view = PieceView(id=piece_id, owner=owner)
    if not stat.S_ISDIR(info.st_mode):
        view.problem = "This is not a shared piece."
        return view
    try:
        piece_fd = open_dir(piece_id, dir_fd=folder_fd)
    except OSError:
        view.problem = "This piece cannot be opened."
        return view
    try:
        try:
            raw, _ = read_json(piece_fd, PIECE_FILE)
        except (OSError, ValueError):
            view.problem = "This piece's description (piece.json) is missing or broken."
            return view
        claimed = _text(raw.get("author"), 64)
        if who.claims and claimed:
            view.owner = claimed
        # Elsewhere whatever piece.json says about its author (who, and by which name) is ignored.
        view.title = _text(raw.get("title"), 120) or piece_id
        view.author_display = who.display(view.owner)
        view.workbook = _text(raw.get("workbook"), 80)
        view.created = _text(raw.get("created"), 40)
        view.updated = _text(raw.get("updated"), 40)
        view.version = _int(raw.get("version"))
        files = raw.get("files")
        view.files = [f for f in files if isinstance(f, str)][:100] if isinstance(files, list) else []
        remix = raw.get("remix_of")
        if isinstance(remix, dict):
            view.remix_of = {k: _text(remix.get(k), 120) for k in ("piece", "group", "title")}
            # The remixer wrote this record: the original's author is named only while the original is
            # in this folder to ask (its owner's name), never by the name the record carries.
            original = _owner_of(folder_fd, view.remix_of["piece"], who)
            view.remix_of["author_display"] = who.display(original) if original else ""
        if with_feedback:
            view.feedback = _feedback_of(piece_fd, who)
    finally:
        os.close(piece_fd)
    return view


def read_one(folder: str | os.PathLike[str], piece_id: str, *, with_feedback: bool = True) -> PieceView:
    """The piece `piece_id` of the peer-review folder `folder` (OSError if the folder is unreadable)."""
    _names.clear()
    folder_fd = open_dir(folder, follow=True)
    try:
        return read_piece(folder_fd, piece_id, with_feedback=with_feedback, authorship=Authorship.of(folder_fd))
    finally:
        os.close(folder_fd)


def piece_ids(folder_fd: int) -> list[str]:
    with os.scandir(folder_fd) as it:
        return sorted(e.name for e in it if PIECE_ID.match(e.name) and e.is_dir(follow_symlinks=False))


def read_group(
    folder: str | os.PathLike[str], *, owner: str | None = None, with_feedback: bool = True
) -> list[PieceView]:
    """Every piece in the peer-review folder `folder` (only `owner`'s when given), by id.

    Raises:
        OSError: the folder itself cannot be opened (not a member, or gone).
    """
    _names.clear()
    folder_fd = open_dir(folder, follow=True)
    try:
        who = Authorship.of(folder_fd)
        views = []
        for piece_id in piece_ids(folder_fd):
            if owner is not None and not who.claims:
                info = os.stat(piece_id, dir_fd=folder_fd, follow_symlinks=False)
                if user_name(info.st_uid) != owner:
                    continue
            view = read_piece(folder_fd, piece_id, with_feedback=with_feedback, authorship=who)
            if owner is None or view.owner == owner:
                views.append(view)
        return views
    finally:
        os.close(folder_fd)


def version_files(folder: str | os.PathLike[str], piece_id: str, version: int, limit: int) -> dict[str, bytes]:
    """The files of one version of a piece, read without following symlinks.

    Raises:
        OSError: the piece or version cannot be read, or holds more than `limit` bytes.
    """
    folder_fd = open_dir(folder, follow=True)
    try:
        piece_fd = open_dir(piece_id, dir_fd=folder_fd)
        try:
            version_fd = open_dir(f"v{version}", dir_fd=piece_fd)
            try:
                files: dict[str, bytes] = {}
                total = 0
                with os.scandir(version_fd) as it:
                    names = sorted(e.name for e in it if e.is_file(follow_symlinks=False))
                for name in names:
                    files[name] = read_bytes(version_fd, name, limit - total)
                    total += len(files[name])
                return files
            finally:
                os.close(version_fd)
        finally:
            os.close(piece_fd)
    finally:
        os.close(folder_fd)


def links_in_home(home: str | os.PathLike[str]) -> dict[str, Path]:
    """The learner's group folders: {group: ~/peer-review/<group>} for every link there."""
    base = Path(home) / "peer-review"
    try:
        entries = list(os.scandir(base))
    except OSError:
        return {}
    return {e.name: Path(e.path) for e in sorted(entries, key=lambda e: e.name) if e.is_symlink() and e.is_dir()}


def my_feedback(home: str | os.PathLike[str], me: str) -> list[tuple[str, PieceView]]:
    """All of `me`'s pieces in every group folder linked in `home`, with their feedback."""
    found: list[tuple[str, PieceView]] = []
    for group, folder in links_in_home(home).items():
        try:
            found.extend((group, view) for view in read_group(folder, owner=me))
        except OSError:
            continue  # no longer a member: the link stays until the next start
    return found


def overview_text(found: Sequence[tuple[str, PieceView]], viewer: str, anonymous: dict[str, bool]) -> str:
    """The author's overview as plain text, for `clhub feedback --mine`."""
    if not found:
        return "You have not shared anything yet."
    lines = []
    for group, view in found:
        lines.append(f"{view.title} ({group}, {view.id}, version {view.version}): {len(view.feedback)} feedback")
        for entry in view.feedback:
            who = "A peer" if anonymous.get(group) else entry.reviewer_display
            bits = [f"  - {who}"]
            if entry.reaction:
                bits.append(REACTIONS[entry.reaction])
            bits += [
                f"{k}: {v}"
                for k, v in (("works", entry.works), ("idea", entry.idea), ("question", entry.question))
                if v
            ]
            lines.append(" | ".join(bits))
    return "\n".join(lines)


# ------------------------------------------------------------------ withdrawn, waiting to be removed

UNDO_MINUTES = 10
WITHDRAWN = re.compile(r"^\.withdrawn-([0-9]{1,12})-([0-9a-f]{8})-([a-z0-9][a-z0-9_-]{0,95})\Z")


@dataclass(frozen=True)
class Withdrawn:
    """A piece its author withdrew: still on disk, hidden from the group, restorable until `until`.

    Its folder is renamed `.withdrawn-<until>-<token>-<piece id>` in the same peer-review
    folder and closed to the group (mode 0700), so the name itself is the state: it
    survives a restart of the hub or of the learner's server, and whoever sees it after
    `until` (the author, or the hub when it repairs the group's folders) removes it.
    """

    name: str  # the entry in the peer-review folder
    piece_id: str
    until: int  # seconds since the epoch
    title: str = ""
    owner_uid: int = -1
    author: str = ""

    def minutes_left(self, now: float) -> int:
        return max(0, int((self.until - now + 59) // 60))


def withdrawn_name(piece_id: str, until: int, token: str) -> str:
    return f".withdrawn-{until}-{token}-{piece_id}"


def list_withdrawn(folder: str | os.PathLike[str]) -> list[Withdrawn]:
    """Every withdrawn piece in the peer-review folder `folder` that this process can see."""
    found: list[Withdrawn] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        match = WITHDRAWN.match(entry.name)
        if not match or not entry.is_dir(follow_symlinks=False):
            continue
        title, author = "", ""
        try:
            info = entry.stat(follow_symlinks=False)
            piece_fd = open_dir(entry.path)
            try:
                raw, _ = read_json(piece_fd, PIECE_FILE)
                title, author = _text(raw.get("title"), 200), _text(raw.get("author"), 100)
            finally:
                os.close(piece_fd)
        except (OSError, ValueError):
            info = None
        found.append(
            Withdrawn(
                name=entry.name,
                piece_id=match.group(3),
                until=int(match.group(1)),
                title=title or match.group(3),
                owner_uid=info.st_uid if info else -1,
                author=author,
            )
        )
    return sorted(found, key=lambda w: (w.until, w.name))


def purge_withdrawn(folder: str | os.PathLike[str], now: float) -> list[str]:
    """Remove the withdrawn pieces whose undo time is over; return the names removed.

    Anything this process may not remove (another learner's, on a real site) is left for
    its author or the hub. Never follows a symlink.
    """
    removed = []
    for gone in list_withdrawn(folder):
        if gone.until > now:
            continue
        path = Path(folder) / gone.name
        try:
            shutil.rmtree(path)
        except OSError:
            continue
        removed.append(gone.name)
    return removed
