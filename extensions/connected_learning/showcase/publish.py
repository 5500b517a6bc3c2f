"""Publishing to the showcase: proposals, family consent, approval, withdrawal.

The root side of publishing. The classroom service calls these functions after
it has checked the hub's roles; they never trust a path a learner could have changed: the
piece is read with `pieces.version_files` (no symlink is followed), cleaned with
`snapshot.clean_snapshot` and rendered once with `render.render_page`.

    <data>/groups/<g>/moderation/showcase/<id>.json   one proposal and its fate (root only)
    <data>/showcase/consent.json                       family consent per student (root, 0600)
    <data>/showcase/snapshots/<token>/                 the cleaned copy and meta.json (root only)
    <data>/showcase/pages/<token>/index.html           the page the showcase service serves
    <data>/showcase/live/<token>/piece.ipynb           the live copy ("Play with it"), with the
                                                       piece's other files, for `showcase_live`

`pages/` is readable by the showcase service's system user only (group `clhub-showcase`,
mode 0710: it can open a page whose token it is given, never list them); `live/` likewise by
the live service's user `clhub-live`, whose kernels run the published notebooks. A page appears
by renaming a finished folder into place, so a visitor never sees half of one; withdrawing
renames it away first, so the link answers 404 at once, then removes every copy.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import re
import secrets
import shutil
import stat
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClhubError
from ..host.base import Host
from ..learner.provision import atomic_write_bytes
from ..peer_review import pieces
from ..peer_review.moderation import Place, validate_group, validate_piece_id
from ..peer_review.sharing import PeerReviewError, clean_line, clean_text, now
from ..settings import validate_username
from .card import CARD_FILE, card_facts
from .live_copy import live_copy, live_link

SHOWCASE_USER = "clhub-showcase"
LIVE_USER = "clhub-live"
PAGE = "index.html"
META = "meta.json"
FAMILY_PATH = "/services/showcase/p/{token}"
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}\Z")  # secrets.token_urlsafe(24)
PROPOSAL_ID = re.compile(r"^[0-9a-f]{12}\Z")
MAX_TITLE = 80
MAX_DESCRIPTION = 500
MAX_NOTE = 500
OPEN_STATES = ("proposed", "published")


class ShowcaseError(ClhubError):
    code = "showcase"
    status = 400


class NotFound(ShowcaseError):
    code = "not-found"
    status = 404


class Refused(ShowcaseError):
    code = "refused"
    status = 403


class Conflict(ShowcaseError):
    code = "conflict"
    status = 409


# ------------------------------------------------------------------ edge checks


def validate_token(token: str) -> str:
    if not isinstance(token, str) or not TOKEN.match(token):
        raise NotFound("There is no published piece at this link.")
    return token


def validate_proposal_id(proposal_id: str) -> str:
    if not isinstance(proposal_id, str) or not PROPOSAL_ID.match(proposal_id):
        raise NotFound(f"There is no proposal {str(proposal_id)[:20]!r}.")
    return proposal_id


def validate_title(title: Any) -> str:
    text = clean_line(title if isinstance(title, str) else "", MAX_TITLE + 1)
    if not 1 <= len(text) <= MAX_TITLE:
        raise ShowcaseError(
            f"Give your piece a title of 1 to {MAX_TITLE} characters (this one has {len(text)}).", code="bad-title"
        )
    return text


def validate_description(description: Any) -> str:
    try:
        return clean_text(description if isinstance(description, str) else "", MAX_DESCRIPTION, "description")
    except PeerReviewError as e:
        raise ShowcaseError(e.message, code="bad-description") from None


def family_link(token: str) -> str:
    return FAMILY_PATH.format(token=token)


# ------------------------------------------------------------------ where things are


@dataclass(frozen=True)
class Showcase:
    """The site-wide showcase folder."""

    data_dir: Path

    @property
    def root(self) -> Path:
        return Path(self.data_dir) / "showcase"

    @property
    def pages(self) -> Path:
        return self.root / "pages"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def live(self) -> Path:
        return self.root / "live"

    @property
    def consent(self) -> Path:
        return self.root / "consent.json"


def proposals_dir(place: Place) -> Path:
    return place.private / "showcase"


def reader_gid(host: Host) -> int | None:
    """The group id of the showcase service's system user, None where there is none (demo mode)."""
    return host.group_gid(SHOWCASE_USER)


def live_gid(host: Host) -> int | None:
    """The group id of the live service's system user, None where there is none (demo mode)."""
    return host.group_gid(LIVE_USER)


def prepare_live_folder(data_dir: str | os.PathLike[str], gid: int | None) -> Path:
    """Create or repair `<data>/showcase/live`: enterable by the live service's group, never listable."""
    where = Showcase(Path(data_dir))
    where.root.mkdir(mode=0o711, parents=True, exist_ok=True)
    where.live.mkdir(mode=0o700, exist_ok=True)
    if not stat.S_ISDIR(os.lstat(where.live).st_mode):
        raise ShowcaseError(f"{where.live} is not a folder; move it away and start the hub again.")
    os.chmod(where.live, 0o710 if gid is not None else 0o700)
    if gid is not None:
        os.chown(where.live, 0, gid)
    return where.live


def prepare_folders(data_dir: str | os.PathLike[str], gid: int | None) -> Showcase:
    """Create or repair the showcase folders: pages for the showcase user only, the rest root only."""
    where = Showcase(Path(data_dir))
    for folder, mode in ((where.root, 0o711), (where.snapshots, 0o700), (where.pages, 0o710 if gid else 0o700)):
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
        if not stat.S_ISDIR(os.lstat(folder).st_mode):
            raise ShowcaseError(f"{folder} is not a folder; move it away and start the hub again.")
        os.chmod(folder, mode)
        if gid is not None and folder == where.pages:
            os.chown(folder, 0, gid)
    return where


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    missing = [p for p in (*reversed(folder.parents), folder) if not p.exists()]
    for path in missing:  # root-only folders, whatever the umask
        path.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


# Everything here is root's alone unless a mode says otherwise.
_write = functools.partial(atomic_write_bytes, mode=0o600)


def _read_json(path: Path) -> dict[str, Any]:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as f:
        value = json.loads(f.read())
    if not isinstance(value, dict):
        raise ValueError(f"{path} does not hold a JSON object")
    return value


def _remove_dir(path: Path, trash_in: Path) -> bool:
    """Rename `path` out of sight at once, then remove it; False if it was not there."""
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return True
    except FileNotFoundError:
        return False
    gone = trash_in / f".gone-{secrets.token_hex(6)}"
    os.rename(path, gone)
    shutil.rmtree(gone)
    return True


# ------------------------------------------------------------------ consent


def read_consent(data_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """{student: {"given": bool, "by": teacher, "at": time}}; empty when none is recorded."""
    try:
        value = _read_json(Showcase(Path(data_dir)).consent)
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in value.items() if isinstance(v, dict) and isinstance(v.get("given"), bool)}


def has_consent(data_dir: str | os.PathLike[str], student: str) -> bool:
    return read_consent(data_dir).get(student, {}).get("given") is True


def record_consent(data_dir: str | os.PathLike[str], student: str, given: bool, by: str) -> dict[str, Any]:
    """Record that `student`'s family gave (or took back) consent to publish; returns the record."""
    validate_username(student)
    if not isinstance(given, bool):
        raise ShowcaseError('Say "given": true or "given": false.', code="bad-consent")
    where = Showcase(Path(data_dir))
    where.root.mkdir(mode=0o711, parents=True, exist_ok=True)
    with _locked(where.snapshots):
        records = read_consent(data_dir)
        records[student] = {"given": given, "by": by, "at": now()}
        _write(where.consent, json.dumps(records, indent=1, sort_keys=True).encode())
    return records[student]


# ------------------------------------------------------------------ proposals


def _proposal_path(place: Place, proposal_id: str) -> Path:
    return proposals_dir(place) / f"{validate_proposal_id(proposal_id)}.json"


def _save(place: Place, proposal: dict[str, Any]) -> None:
    _write(_proposal_path(place, proposal["id"]), json.dumps(proposal, indent=1).encode())


def get_proposal(place: Place, proposal_id: str) -> dict[str, Any]:
    try:
        return _read_json(_proposal_path(place, proposal_id))
    except (OSError, ValueError):
        raise NotFound(f"There is no proposal {proposal_id!r} in {place.group}.") from None


def list_proposals(place: Place) -> list[dict[str, Any]]:
    """Every proposal of the group, newest first, each with `consent` (recorded for its author?)."""
    folder = proposals_dir(place)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and PROPOSAL_ID.match(n[:-5]))
    except FileNotFoundError:
        return []
    consent = read_consent(place.data_dir)
    found = []
    for name in names:
        try:
            proposal = _read_json(folder / name)
        except (OSError, ValueError):
            continue
        proposal["consent"] = consent.get(proposal.get("owner", ""), {}).get("given") is True
        found.append(proposal)
    found.sort(key=lambda p: p.get("created", ""), reverse=True)
    return found


def published(place: Place) -> list[dict[str, Any]]:
    """The group's published pieces, newest first."""
    return [p for p in list_proposals(place) if p.get("status") == "published"]


def propose(place: Place, owner: str, piece_id: str, title: Any, description: Any) -> dict[str, Any]:
    """`owner` proposes their piece `piece_id` of the group for the showcase; returns the proposal.

    Raises:
        NotFound: no such visible piece. Refused: the piece is somebody else's.
        Conflict: it is proposed or published already. ShowcaseError: a bad title or description.
    """
    validate_group(place.group)
    validate_piece_id(piece_id)
    title = validate_title(title)
    description = validate_description(description)
    try:
        view = pieces.read_one(place.shared, piece_id, with_feedback=False)
    except OSError:
        raise NotFound(f"The group {place.group} has no peer-review folder yet.") from None
    if view.problem == "This piece is gone.":
        raise NotFound(f"There is no piece called {piece_id!r} in {place.group}.")
    if view.owner != owner:
        raise Refused("You can only propose your own pieces for the showcase.")
    if not view.ok or view.version < 1:
        raise ShowcaseError(f"This piece cannot be published as it is: {view.problem or 'it has no version'}")
    with _locked(proposals_dir(place)):
        for other in list_proposals(place):
            if other.get("piece") == piece_id and other.get("status") in OPEN_STATES:
                raise Conflict(f"{piece_id!r} is {other['status']} already (proposal {other['id']}).")
        proposal = {
            "id": secrets.token_hex(6),
            "group": place.group,
            "piece": piece_id,
            "version": view.version,
            "owner": owner,
            "author_display": view.author_display,
            "title": title,
            "description": description,
            "status": "proposed",
            "created": now(),
            "decided_by": "",
            "decided": "",
            "note": "",
            "token": "",
        }
        _save(place, proposal)
    return proposal


def _display_for(place: Place, proposal: dict[str, Any], names: Collection[str]) -> str:
    from ..accounts.store import read_display_names
    from ..paths import DataLayout

    # Only the class list's name: never one the piece or the proposal carries (the learner's to write).
    display = read_display_names(DataLayout(place.data_dir)).get(proposal["owner"], "")
    lowered = {n.lower() for n in names}
    if not display.strip() or display.strip().lower() in lowered:
        raise ShowcaseError(
            f"{proposal['owner']} has no display name families may see (a first name and an initial, or a "
            "pseudonym). Import the class list with a display name for them, then approve again.",
            code="no-display-name",
        )
    return display.strip()


@dataclass(frozen=True)
class Rendering:
    """What approving a proposal would publish: the cleaned files, the scrubbed title, the page."""

    snapshot: dict[str, bytes]
    title: str
    page: str
    display: str


def render_proposal(
    place: Place,
    proposal: dict[str, Any],
    by: str,
    *,
    usernames: Collection[str],
    home_paths: Collection[str] = (),
    lang: str = "en",
    live_url: str | None = None,
) -> Rendering:
    """Snapshot, clean and render a proposal's piece as `approve` publishes it; writes nothing.

    `approve` calls it, and so does the teacher's preview, so both show the same page.
    Arguments as for `approve`; `by` is the approver, whose name is hidden too; `live_url`,
    where the page's "Play with it" leads (no button when None or when there is no notebook).

    Raises:
        NotFound (the piece is no longer shared by its author), ShowcaseError (no display
        name, or the version cannot be read), SnapshotError (it cannot be published as it is).
    """
    from .render import render_page
    from .snapshot import Scrubber, clean_snapshot

    owner = proposal["owner"]
    view = pieces.read_one(place.shared, proposal["piece"], with_feedback=False)
    if view.owner != owner or not view.ok:
        raise NotFound(f"The piece {proposal['piece']!r} is no longer shared by {owner}; it cannot be published.")
    names = {*usernames, owner, by}
    display = _display_for(place, proposal, names)
    try:
        files = pieces.version_files(place.shared, proposal["piece"], proposal["version"], limit=20_000_000)
    except OSError as e:
        raise ShowcaseError(
            f"Version {proposal['version']} of {proposal['piece']!r} cannot be read ({e}). "
            "Ask the author to share it again and propose the new version."
        ) from None
    snapshot = clean_snapshot(files, author_display=display, usernames=names, home_paths=home_paths)
    scrub = Scrubber.build(display, names, home_paths)
    title = scrub.text(proposal["title"])
    if not any(n.lower().endswith(".ipynb") for n in snapshot):
        live_url = None
    about = scrub.text(proposal.get("description", ""))
    page = render_page(snapshot, title=title, author_display=display, lang=lang, live_url=live_url, description=about)
    return Rendering(snapshot, title, page, display)


def approve(
    place: Place,
    proposal_id: str,
    by: str,
    *,
    usernames: Collection[str],
    home_paths: Collection[str] = (),
    gid: int | None = None,
    lang: str = "en",
    live: bool = False,
    live_gid: int | None = None,
) -> dict[str, Any]:
    """Publish a proposal: snapshot, page, unguessable token. Only with family consent recorded.

    Args:
        usernames: every account name that must not appear (the group's members); the author's
            and the approver's are added.
        home_paths: home folders to hide, as `clean_snapshot` takes them.
        gid: the showcase user's group, which may read the page (None in demo mode).
        live: also publish the live version ("Play with it") of a piece with a notebook.
        live_gid: the live service user's group, which may read the live copy (None in demo mode).

    Raises:
        NotFound, Conflict (not waiting for a decision), Refused (no consent recorded),
        SnapshotError (the piece cannot be published as it is: the message says why).
    """
    with _locked(proposals_dir(place)):
        proposal = get_proposal(place, proposal_id)
        if proposal.get("status") != "proposed":
            raise Conflict(f"Proposal {proposal_id} is {proposal.get('status')}, not waiting for a decision.")
        owner = proposal["owner"]
        if not has_consent(place.data_dir, owner):
            raise Refused(f"No family consent is recorded for {owner}: record it first, then approve.")
        token = secrets.token_urlsafe(24)
        made = render_proposal(
            place,
            proposal,
            by,
            usernames=usernames,
            home_paths=home_paths,
            lang=lang,
            live_url=live_link(token) if live else None,
        )
        snapshot, title, page, display = made.snapshot, made.title, made.page, made.display

        where = prepare_folders(place.data_dir, gid)
        staged = where.snapshots / f".new-{token}"
        staged.mkdir(mode=0o700)
        (staged / "files").mkdir(mode=0o700)
        for name, data in snapshot.items():
            _write(staged / "files" / name, data)
        meta = {
            "token": token,
            "group": place.group,
            "proposal": proposal_id,
            "owner": owner,
            "title": title,
            "published": now(),
            "by": by,
        }
        _write(staged / META, json.dumps(meta).encode())
        os.rename(staged, where.snapshots / token)

        files = live_copy(snapshot, title=title, display=display, lang=lang) if live else None
        if files is not None:
            _publish_live(place.data_dir, token, files, live_gid)

        page_dir = where.pages / f".new-{token}"
        page_dir.mkdir(mode=0o700)
        card = card_facts(snapshot, title=title, display=display, lang=lang)
        for name, data in ((PAGE, page.encode()), (CARD_FILE, json.dumps(card).encode())):
            _write(page_dir / name, data, mode=0o640 if gid is not None else 0o600)
            if gid is not None:
                os.chown(page_dir / name, 0, gid)
        if gid is not None:
            os.chown(page_dir, 0, gid)
            os.chmod(page_dir, 0o750)
        os.rename(page_dir, where.pages / token)

        proposal.update(status="published", token=token, decided_by=by, decided=now(), author_display=display)
        _save(place, proposal)
    return proposal


def _publish_live(data_dir: str | os.PathLike[str], token: str, files: dict[str, bytes], gid: int | None) -> None:
    """Write the live copy and rename it into place: root's files, readable by the live user's group."""
    live = prepare_live_folder(data_dir, gid)
    staged = live / f".new-{token}"
    staged.mkdir(mode=0o700)
    for name, data in files.items():
        _write(staged / name, data, mode=0o640 if gid is not None else 0o600)
        if gid is not None:
            os.chown(staged / name, 0, gid)
    if gid is not None:
        os.chown(staged, 0, gid)
        os.chmod(staged, 0o750)
    os.rename(staged, live / token)


def decline(place: Place, proposal_id: str, by: str, note: Any) -> dict[str, Any]:
    """Decline a proposal with a note for the author; a published one is taken down first."""
    try:
        note = clean_text(note if isinstance(note, str) else "", MAX_NOTE, "note")
    except PeerReviewError as e:
        raise ShowcaseError(e.message, code="bad-note") from None
    return _close(place, proposal_id, by, "declined", note=note)


def _close(place: Place, proposal_id: str, by: str, status: str, **more: str) -> dict[str, Any]:
    """End an open proposal with `status`; a published one is taken down first."""
    with _locked(proposals_dir(place)):
        proposal = get_proposal(place, proposal_id)
        if proposal.get("status") not in OPEN_STATES:
            raise Conflict(f"Proposal {proposal_id} is {proposal.get('status')} already.")
        if proposal.get("token"):
            _take_down(place.data_dir, proposal["token"])
        proposal.update(status=status, decided_by=by, decided=now(), **more)
        _save(place, proposal)
    return proposal


def published_meta(data_dir: str | os.PathLike[str], token: str) -> dict[str, Any]:
    """Who and what a published token is (group, proposal, owner); NotFound if it is not published."""
    try:
        return _read_json(Showcase(Path(data_dir)).snapshots / validate_token(token) / META)
    except (OSError, ValueError):
        raise NotFound("There is no published piece at this link.") from None


def _take_down(data_dir: str | os.PathLike[str], token: str) -> None:
    where = Showcase(Path(data_dir))
    validate_token(token)
    # The page first: from this moment the link answers 404; then the live copy, whose
    # kernels the live service stops within seconds (`live.sweep`).
    _remove_dir(where.pages / token, where.snapshots)
    _remove_dir(where.live / token, where.snapshots)
    _remove_dir(where.snapshots / token, where.snapshots)


def withdraw(data_dir: str | os.PathLike[str], token: str, by: str) -> dict[str, Any]:
    """Remove every copy of a published piece; its link answers 404. Returns the proposal."""
    meta = published_meta(data_dir, token)
    place = Place(Path(data_dir), validate_group(meta["group"]))
    with _locked(proposals_dir(place)):
        _take_down(data_dir, token)
        try:
            proposal = get_proposal(place, meta["proposal"])
        except NotFound:
            return {"token": token, "status": "withdrawn"}
        proposal.update(status="withdrawn", decided_by=by, decided=now())
        _save(place, proposal)
    return proposal


def withdraw_proposal(place: Place, proposal_id: str, by: str, note: Any = "") -> dict[str, Any]:
    """Withdraw a proposal whatever its state: a waiting one is never published, a published
    one is taken down everywhere (as `withdraw`). `note`: a teacher's word to the author, who
    sees it with the status. Returns the proposal."""
    if not note:
        return _close(place, proposal_id, by, "withdrawn")
    try:
        note = clean_text(note if isinstance(note, str) else "", MAX_NOTE, "note")
    except PeerReviewError as e:
        raise ShowcaseError(e.message, code="bad-note") from None
    return _close(place, proposal_id, by, "withdrawn", note=note)
