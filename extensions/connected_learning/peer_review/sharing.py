"""Peer review, the learner's side: share, withdraw, give feedback, remix.

Everything here runs as the learner (in their kernel, or `clhub share` in their
terminal), so the operating system decides what they may touch: a piece is a folder the
author owns in the group's setgid + sticky peer-review folder (see `folders.py`), readable
by the group and writable by its author alone; each reviewer's feedback is a file that
reviewer owns in the piece's `feedback/` folder. The checks below are for people: each
refusal says what was wrong and what to do. `validate_share_sources` is the one place a
path offered for sharing is checked.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import secrets
import shutil
import stat
import time
import unicodedata
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClhubError
from ..host.current import current as current_host
from ..learner.provision import atomic_write_bytes
from . import pieces
from .folders import read_policy
from .pieces import FEEDBACK_DIR, PIECE_FILE, REACTIONS

MAX_TITLE = 80
MAX_FEEDBACK = 1000
REMIXES_DIR = Path("workbooks") / "remixes"
REMIX_FILE = "remix.json"
STATE_DIR = Path(".local") / "state" / "clhub"


class PeerReviewError(ClhubError):
    code = "peer-review"


@dataclass(frozen=True)
class Identity:
    """Who is acting: the system user (the OS's word) and the name peers see."""

    username: str
    display_name: str
    uid: int
    home: Path

    @classmethod
    def current(cls) -> Identity:
        """The learner this process runs as (JUPYTERHUB_USER only in demo mode)."""
        uid = os.getuid()
        name = current_host().whoami(uid, os.environ.get("JUPYTERHUB_USER", ""))
        if not name:
            raise PeerReviewError("Cannot tell who you are: JUPYTERHUB_USER is not set.")
        display = clean_line(os.environ.get("CLHUB_DISPLAY_NAME", ""), 60) or name
        return cls(name, display, uid, Path(os.environ.get("HOME") or Path.home()))


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def clean_line(value: str, limit: int) -> str:
    """One line of text: control characters removed, spaces collapsed, at most `limit` long."""
    text = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in str(value))
    return " ".join(text.split())[:limit]


def clean_text(value: str, limit: int, what: str) -> str:
    """Free text (newlines kept); PeerReviewError if it is longer than `limit`."""
    text = "".join(
        ch for ch in str(value).replace("\r\n", "\n") if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    ).strip()
    if len(text) > limit:
        raise PeerReviewError(f"Your {what} is {len(text)} characters long; please keep it under {limit}.")
    return text


def slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:limit].strip("-") or "piece"


@contextmanager
def _my_lock(home: Path, name: str) -> Iterator[None]:
    """Serialise one learner's own writes (two tabs sharing at once) with a lock in their home."""
    folder = home / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# ------------------------------------------------------------------ share


@dataclass(frozen=True)
class Source:
    name: str  # file name in the piece
    relpath: str  # where it is in the home
    data: bytes


def validate_share_sources(
    identity: Identity, paths: Sequence[str | os.PathLike[str]], max_bytes: int, allowed_types: Sequence[str]
) -> list[Source]:
    """Read the files offered for sharing, refusing anything but the learner's own files.

    Only regular files under the home are accepted, reached without any symlink, owned by
    the learner, of an allowed type, and together within `max_bytes`.

    Raises:
        PeerReviewError: naming the file and what to do.
    """
    if not paths:
        raise PeerReviewError("Choose at least one file to share.")
    home = os.path.realpath(identity.home)
    sources: list[Source] = []
    total = 0
    for raw in paths:
        shown = str(raw)
        # Relative paths count from the home; `..` is resolved before the check, symlinks are not.
        path = os.path.abspath(os.path.join(home, os.path.expanduser(str(raw))))
        if not path.startswith(home + os.sep):
            raise PeerReviewError(f"{shown!r} is not in your home folder; you can only share your own files.")
        if os.path.realpath(path) != path:
            raise PeerReviewError(
                f"{shown!r} is a shortcut (symlink) or is reached through one; share the file itself."
            )
        shown = os.path.relpath(path, home)  # what the learner knows it as, not a full path
        suffix = Path(path).suffix.lower()
        if suffix not in allowed_types:
            raise PeerReviewError(
                f"{shown!r}: files of type {suffix or '(none)'!r} cannot be shared; "
                f"allowed: {', '.join(allowed_types)}."
            )
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            raise PeerReviewError(f"{shown!r} does not exist.") from None
        except OSError as e:
            raise PeerReviewError(f"{shown!r} cannot be read ({e.strerror}).") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise PeerReviewError(f"{shown!r} is not a regular file; share a notebook or a creation.")
            if info.st_uid != identity.uid:
                raise PeerReviewError(f"{shown!r} is not your own file.")
            total += info.st_size
            if total > max_bytes:
                raise PeerReviewError(
                    f"{shown!r} makes the piece larger than the limit of "
                    f"{max_bytes / 1_000_000:.1f} MB; share something smaller."
                )
            with os.fdopen(os.dup(fd), "rb") as f:
                data = f.read(max_bytes + 1)
        finally:
            os.close(fd)
        if suffix == ".ipynb":
            try:
                notebook = json.loads(data)
                if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
                    raise ValueError
            except ValueError:
                raise PeerReviewError(
                    f"{shown!r} is not a readable notebook; open it in JupyterLab, save it, and share again."
                ) from None
        name = Path(path).name
        if name.startswith(".") or name in (PIECE_FILE, FEEDBACK_DIR):
            raise PeerReviewError(f"{shown!r}: rename the file before sharing it.")
        if any(s.name == name for s in sources):
            raise PeerReviewError(f"Two files are called {name!r}; rename one of them.")
        sources.append(Source(name, os.path.relpath(path, home), data))
    return sources


def _find_remix_of(identity: Identity, sources: list[Source]) -> dict[str, Any] | None:
    """The provenance `remix()` left beside the first file, if it is a remix."""
    marker = identity.home / Path(sources[0].relpath).parent / REMIX_FILE
    try:
        raw = json.loads(marker.read_text())
        return {k: str(raw.get(k, ""))[:120] for k in ("piece", "group", "title", "author_display")}
    except (OSError, ValueError, AttributeError):
        return None


def _my_piece_for(folder: Path, identity: Identity, source_key: str) -> tuple[str, dict[str, Any]] | None:
    """The piece `identity` shared before from the same file, if any."""
    prefix = f"{identity.username}-"
    for view in pieces.read_group(folder, owner=identity.username, with_feedback=False):
        if view.ok and view.id.startswith(prefix):
            try:
                raw = json.loads((folder / view.id / PIECE_FILE).read_text())
            except (OSError, ValueError):
                continue
            if raw.get("source") == source_key:
                return view.id, raw
    return None


def share(
    folder: str | os.PathLike[str],
    paths: Sequence[str | os.PathLike[str]],
    title: str,
    *,
    identity: Identity | None = None,
    workbook: str = "",
) -> pieces.PieceView:
    """Share a snapshot of `paths` into the peer-review folder `folder`; return the piece.

    Sharing the same file again makes a new version of the same piece.

    Raises:
        PeerReviewError: peer review is off, the title is empty, or a file is refused.
    """
    identity = identity or Identity.current()
    folder = Path(folder)
    policy = read_policy(folder)
    if not policy.peer_review:
        raise PeerReviewError("Peer review is switched off for this group.")
    title = clean_line(title, MAX_TITLE)
    if not title:
        raise PeerReviewError("Give your piece a title.")
    sources = validate_share_sources(identity, paths, policy.max_piece_bytes, policy.allowed_types)
    source_key = sources[0].relpath
    forget_withdrawn(folder, identity)
    with _my_lock(identity.home, "share"):
        found = _my_piece_for(folder, identity, source_key)
        if found:
            piece_id, meta = found
            version = int(meta.get("version", 0)) + 1
        else:
            piece_id, meta, version = _new_piece(folder, identity, title), {}, 1
        piece_dir = folder / piece_id
        staging = piece_dir / f".v{version}.{secrets.token_hex(4)}"
        os.mkdir(staging, 0o750)
        try:
            for source in sources:
                atomic_write_bytes(staging / source.name, source.data)
            os.chmod(staging, 0o2750)
            os.rename(staging, piece_dir / f"v{version}")
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        stamp = now()
        meta.update(
            {
                "title": title,
                "author": identity.username,
                "author_display": identity.display_name,
                "workbook": clean_line(workbook, 80) or meta.get("workbook", ""),
                "created": meta.get("created", stamp),
                "updated": stamp,
                "version": version,
                "files": [s.name for s in sources],
                "source": source_key,
                "remix_of": meta.get("remix_of") or _find_remix_of(identity, sources),
            }
        )
        atomic_write_bytes(piece_dir / PIECE_FILE, json.dumps(meta, indent=1).encode())
    return pieces.read_one(folder, piece_id, with_feedback=False)


def _new_piece(folder: Path, identity: Identity, title: str) -> str:
    """Create the folder of a new piece (group-readable, feedback folder group-writable)."""
    base = f"{identity.username}-{slug(title)}"
    for attempt in range(1, 1000):
        piece_id = base if attempt == 1 else f"{base}-{attempt}"
        try:
            os.mkdir(folder / piece_id, 0o750)
        except FileExistsError:
            continue  # taken, by this learner or by somebody squatting the name
        os.chmod(folder / piece_id, 0o2750)
        os.mkdir(folder / piece_id / FEEDBACK_DIR, 0o770)
        # Group members add their feedback; the sticky bit keeps each file its writer's.
        os.chmod(folder / piece_id / FEEDBACK_DIR, 0o3770)
        return piece_id
    raise PeerReviewError("You have shared too many pieces with this title; choose another title.")


def _own_piece_dir(folder: Path, piece_id: str, identity: Identity) -> Path:
    if not pieces.PIECE_ID.match(piece_id):
        raise PeerReviewError(f"{piece_id!r} is not the name of a piece.")
    path = folder / piece_id
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise PeerReviewError(f"There is no piece called {piece_id!r} in this group.") from None
    if not stat.S_ISDIR(info.st_mode):
        raise PeerReviewError(f"{piece_id!r} is not a piece.")
    if not current_host().isolated:
        view = pieces.read_group(folder, owner=identity.username, with_feedback=False)
        mine = any(v.id == piece_id for v in view)
    else:
        mine = info.st_uid == identity.uid
    if not mine:
        raise PeerReviewError(f"Only the author can withdraw {piece_id!r}.")
    return path


def withdraw(
    folder: str | os.PathLike[str], piece_id: str, *, identity: Identity | None = None, at: float | None = None
) -> pieces.Withdrawn:
    """Take a piece (every version, and the feedback on it) out of the group folder, with time to undo it.

    The piece is closed to the group at once and set aside (`pieces.Withdrawn`); `undo_withdraw`
    puts it back for `pieces.UNDO_MINUTES` minutes, after which it is removed for good.

    Args:
        at: the time now, in seconds since the epoch (tests pass their own).

    Raises:
        PeerReviewError: no such piece, or it is somebody else's.
    """
    identity = identity or Identity.current()
    folder = Path(folder)
    at = time.time() if at is None else at
    path = _own_piece_dir(folder, piece_id, identity)
    until = int(at) + pieces.UNDO_MINUTES * 60
    gone = folder / pieces.withdrawn_name(piece_id, until, secrets.token_hex(4))
    # Closed first, so the group can no longer read it even under its new name; then set aside.
    os.chmod(path, 0o700)
    try:
        os.rename(path, gone)
    except BaseException:
        os.chmod(path, 0o2750)
        raise
    forget_withdrawn(folder, identity, at)
    return next(w for w in pieces.list_withdrawn(folder) if w.name == gone.name)


def my_withdrawn(folder: str | os.PathLike[str], identity: Identity, at: float | None = None) -> list[pieces.Withdrawn]:
    """`identity`'s withdrawn pieces in `folder` that can still be put back."""
    at = time.time() if at is None else at
    isolated = current_host().isolated
    return [
        w
        for w in pieces.list_withdrawn(folder)
        if w.until > at
        and (w.owner_uid == identity.uid if isolated else w.author == identity.username)
        and w.piece_id.startswith(f"{identity.username}-")
    ]


def forget_withdrawn(folder: str | os.PathLike[str], identity: Identity, at: float | None = None) -> None:
    """Remove for good `identity`'s withdrawn pieces whose time to undo is over (others' are left)."""
    at = time.time() if at is None else at
    isolated = current_host().isolated
    for gone in pieces.list_withdrawn(folder):
        mine = gone.owner_uid == identity.uid if isolated else gone.author == identity.username
        if gone.until <= at and mine:
            shutil.rmtree(Path(folder) / gone.name, ignore_errors=True)


def undo_withdraw(
    folder: str | os.PathLike[str], piece_id: str, *, identity: Identity | None = None, at: float | None = None
) -> pieces.PieceView:
    """Put a withdrawn piece back, with its feedback, while there is still time.

    Raises:
        PeerReviewError: nothing of that name to put back (never withdrawn, somebody else's,
            or the time to undo is over), or a new piece has taken its name.
    """
    identity = identity or Identity.current()
    folder = Path(folder)
    waiting = [w for w in my_withdrawn(folder, identity, at) if w.piece_id == piece_id]
    if not waiting:
        raise PeerReviewError(
            f"There is nothing to undo for {piece_id!r}: it was not taken back, or the "
            f"{pieces.UNDO_MINUTES} minutes to undo it are over."
        )
    target = folder / piece_id
    if os.path.lexists(target):
        raise PeerReviewError(
            f"You have shared a new piece called {piece_id!r} since; take that one back first, then undo."
        )
    os.rename(folder / waiting[-1].name, target)
    os.chmod(target, 0o2750)
    return pieces.read_one(folder, piece_id, with_feedback=False)


# ------------------------------------------------------------------ feedback


def give_feedback(
    folder: str | os.PathLike[str],
    piece_id: str,
    *,
    works: str = "",
    idea: str = "",
    question: str = "",
    reaction: str = "",
    identity: Identity | None = None,
) -> pieces.FeedbackEntry:
    """Add one feedback entry, as the reviewer, to a piece in `folder`.

    Raises:
        PeerReviewError: empty feedback, text too long, an unknown reaction, no such
            piece, or the reviewer's own piece.
    """
    identity = identity or Identity.current()
    folder = Path(folder)
    fields = {
        "works": clean_text(works, MAX_FEEDBACK, "'what works'"),
        "idea": clean_text(idea, MAX_FEEDBACK, "idea to try"),
        "question": clean_text(question, MAX_FEEDBACK, "question"),
    }
    if reaction not in REACTIONS:
        raise PeerReviewError(
            f"{reaction!r} is not a reaction; choose one of: " + ", ".join(r for r in REACTIONS if r) + "."
        )
    if not any(fields.values()) and not reaction:
        raise PeerReviewError("Write what works, an idea to try or a question before you send.")
    if not read_policy(folder).peer_review:
        raise PeerReviewError("Peer review is switched off for this group.")
    if not pieces.PIECE_ID.match(piece_id):
        raise PeerReviewError(f"{piece_id!r} is not the name of a piece.")
    view = pieces.read_one(folder, piece_id, with_feedback=False)
    if not view.ok:
        raise PeerReviewError(f"{piece_id!r}: {view.problem}")
    if view.owner == identity.username:
        raise PeerReviewError("This is your own piece: ask a peer for feedback instead.")
    feedback_dir = folder / piece_id / FEEDBACK_DIR
    entry: dict[str, Any] = {**fields, "reaction": reaction, "created": now(), "version": view.version}
    with _my_lock(identity.home, "feedback"):
        target = _my_feedback_file(feedback_dir, identity)
        data: dict[str, Any] = {"reviewer": identity.username, "entries": []}
        if target.exists():
            try:
                data = json.loads(target.read_text())
            except (OSError, ValueError):
                data = {"reviewer": identity.username, "entries": []}
        data["reviewer"] = identity.username
        data["reviewer_display"] = identity.display_name
        data.setdefault("entries", []).append(entry)
        atomic_write_bytes(target, json.dumps(data, indent=1).encode())
    return pieces.FeedbackEntry(
        reviewer=identity.username,
        reviewer_display=identity.display_name,
        file=target.name,
        **{k: v for k, v in entry.items()},
    )


def _my_feedback_file(feedback_dir: Path, identity: Identity) -> Path:
    """`<me>.json`, or, if somebody squatted that name, a file of mine beside it."""
    plain = feedback_dir / f"{identity.username}.json"
    candidates = [plain, *sorted(feedback_dir.glob(f"{identity.username}.*.json"))]
    for path in candidates:
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            if path == plain:
                return plain
            continue
        if stat.S_ISREG(info.st_mode) and info.st_uid == identity.uid and (current_host().isolated or path == plain):
            return path
    return feedback_dir / f"{identity.username}.{secrets.token_hex(4)}.json"


# ------------------------------------------------------------------ remix


def escape_markdown(text: str) -> str:
    """Text shown literally inline in a Markdown cell: HTML and inline Markdown characters escaped."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+!|~$])", r"\\\1", text)


def remix(folder: str | os.PathLike[str], piece_id: str, *, group: str = "", identity: Identity | None = None) -> Path:
    """Copy a peer's piece into `~/workbooks/remixes/<piece>/` with its provenance.

    Notebooks get a first cell "Remixed from <title> by <display name>"; `remix.json`
    beside them records the origin, and sharing the remix carries it as `remix_of`.

    Raises:
        PeerReviewError: no such piece, or it cannot be read.
    """
    identity = identity or Identity.current()
    folder = Path(folder)
    if not pieces.PIECE_ID.match(piece_id):
        raise PeerReviewError(f"{piece_id!r} is not the name of a piece.")
    policy = read_policy(folder)
    view = pieces.read_one(folder, piece_id, with_feedback=False)
    if not view.ok:
        raise PeerReviewError(f"{piece_id!r}: {view.problem}")
    try:
        files = pieces.version_files(folder, piece_id, view.version, policy.max_piece_bytes)
    except OSError as e:
        raise PeerReviewError(f"{piece_id!r} cannot be copied: {e}.") from None
    origin = {
        "piece": piece_id,
        "group": group or policy.group,
        "title": view.title,
        "author_display": view.author_display,
        "version": view.version,
    }
    base = identity.home / REMIXES_DIR
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    target = base / piece_id
    n = 1
    while True:
        try:
            os.mkdir(target, 0o700)
            break
        except FileExistsError:
            n += 1
            target = base / f"{piece_id}-{n}"
    banner = (
        f"**Remixed from** *{escape_markdown(view.title)}* by {escape_markdown(view.author_display)}. "
        "Make it your own, then share your remix with your group."
    )
    for name, data in files.items():
        if name.endswith(".ipynb"):
            data = _with_banner(data, banner, origin)
        atomic_write_bytes(target / name, data, 0o600)
    atomic_write_bytes(target / REMIX_FILE, json.dumps(origin, indent=1).encode(), 0o600)
    return target


def _with_banner(data: bytes, banner: str, origin: dict[str, Any]) -> bytes:
    try:
        notebook = json.loads(data)
        cells = notebook["cells"]
    except (ValueError, KeyError, TypeError):
        return data  # copied as it is; JupyterLab will say what is wrong with it
    cells.insert(0, {"cell_type": "markdown", "id": "clhub-remixed-from", "metadata": {}, "source": banner})
    notebook.setdefault("metadata", {})["clhub"] = {"remix_of": origin}
    return json.dumps(notebook, indent=1).encode()


# ------------------------------------------------------------------ report


def report(group: str, piece_id: str, reason: str, feedback_file: str = "", *, timeout: float = 10) -> str:
    """Report a piece (or one feedback file) to the group's teachers; return the report id.

    Goes through the classroom service with this server's hub token; the service checks
    that the reporter is a member of the group.

    Raises:
        PeerReviewError: no reason given, or the service refused or could not be reached.
    """
    import urllib.error
    import urllib.request

    reason = clean_text(reason, 500, "reason")
    if not reason:
        raise PeerReviewError("Say in a few words what is wrong, so your teacher can help.")
    base = os.environ.get("CLHUB_CLASSROOM_URL", "")
    token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
    if not base or not token:
        raise PeerReviewError("Reports need the classroom service, which this server cannot reach.")
    body = json.dumps({"piece": piece_id, "reason": reason, "feedback": feedback_file}).encode()
    request = urllib.request.Request(
        f"{base.rstrip('/')}/api/groups/{group}/reports",
        data=body,
        method="POST",
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return str(json.loads(response.read())["id"])
    except urllib.error.HTTPError as e:
        try:
            message = json.loads(e.read()).get("message", "")
        except ValueError:
            message = ""
        raise PeerReviewError(f"The report was not sent: {message or e.reason}") from None
    except (OSError, ValueError, KeyError) as e:
        raise PeerReviewError(f"The report was not sent: the classroom service did not answer ({e}).") from None
