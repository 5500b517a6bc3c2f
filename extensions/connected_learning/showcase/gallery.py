"""A group's gallery: one family page that lists the group's published pieces. Off by default.

A teacher of the group turns it on or off (the classroom service's
`POST /api/groups/<g>/showcase/gallery`). While it is on, the page lists each published
piece's title and display name with a link to its family page, never a user name, and is
stored exactly like a piece's page, under its own unguessable token, so the showcase service
serves it at `/services/showcase/p/<token>` without knowing it is a gallery:

    <data>/groups/<g>/moderation/showcase/gallery.json   {enabled, token, lang, by, at} (root only)
    <data>/showcase/pages/<token>/index.html              the page (as `publish.approve` writes one)

`refresh` rewrites the page after every approve, decline and withdraw. Turning the gallery
off renames the page away at once (its link answers 404); turning it on again makes a new
token, so an old link that went further than it should stays dead. `render_gallery` is pure.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import html
import json
import os
import secrets
import shutil
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..learner.provision import atomic_write_bytes
from ..peer_review.moderation import Place
from ..peer_review.sharing import now
from . import publish
from .messages import message as page_message
from .messages import page_language
from .snapshot import Scrubber

STATE_FILE = "gallery.json"
LOCK_FILE = ".gallery.lock"

# Nothing but inline styles: the page loads nothing and runs nothing (the service adds `sandbox`).
_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CSS = """
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:18px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:#1d1d1f;
background:#fff;overflow-wrap:break-word}
header{background:#f3efff;border-bottom:3px solid #6a4fc9;padding:20px 16px 16px}
header h1{font-size:1.6rem;line-height:1.25;margin:0 0 6px}
header p{margin:0;color:#3b3b45}
main{max-width:46rem;margin:0 auto;padding:8px 16px 24px}
ul{list-style:none;margin:0;padding:0}
li{margin:12px 0}
li a{display:block;min-height:48px;padding:12px 16px;border:1px solid #c9c2ee;border-radius:10px;
color:#1d1d1f;text-decoration:none}
li a b{display:block;color:#3a23a0;font-size:1.1rem}
footer{max-width:46rem;margin:0 auto;padding:16px;font-size:.85rem;color:#4a4a55}
"""


def message(key: str, lang: str, **values: Any) -> str:
    """The gallery text `key` in `lang` (English when there is no such catalog), values filled in."""
    return page_message(f"gallery_{key}", lang, **values)


@dataclass(frozen=True)
class Entry:
    """One published piece as families see it in the gallery."""

    title: str
    author_display: str
    link: str


def render_gallery(entries: Sequence[Entry], *, lang: str = "en") -> str:
    """The gallery page: one self-contained HTML document, no scripts, readable on a phone."""
    language = page_language(lang)

    def esc(value: str) -> str:
        return html.escape(value, quote=True)

    items = "\n".join(
        f'<li><a href="{esc(e.link)}"><b>{esc(e.title)}</b> '
        f"{esc(page_message('made_by', language, name=e.author_display))}</a></li>"
        for e in entries
    )
    body = f"<ul>\n{items}\n</ul>" if entries else f"<p>{esc(message('empty', language))}</p>"
    title = esc(message("title", language))
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        f'<meta name="referrer" content="no-referrer">\n<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{title}</h1><p>{esc(message('intro', language))}</p></header>\n"
        f"<main>\n{body}\n</main>\n<footer>{esc(message('footer', language))}</footer>\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------ what the page lists


def entries_for(place: Place, usernames: Collection[str], lang: str = "en") -> list[Entry]:
    """The group's published pieces, newest first, with no user name in a title or a name.

    The title is the one approval scrubbed (kept with the published copy); it is scrubbed again
    against today's members, and a display name that holds a user name is replaced by a neutral one.
    """
    found = []
    for proposal in publish.published(place):
        try:
            meta = publish.published_meta(place.data_dir, proposal.get("token", ""))
        except publish.NotFound:
            continue  # taken down by hand, or half-withdrawn: not on the page
        names = {*usernames, str(meta.get("owner", "")), str(proposal.get("owner", ""))}
        display = str(proposal.get("author_display", "")).strip()
        if not display or Scrubber.build("", names, ()).text(display) != display:
            display = message("someone", lang)
        title = Scrubber.build(display, names, ()).text(str(meta.get("title") or proposal.get("title", "")))
        found.append((str(meta.get("published", "")), Entry(title, display, publish.family_link(meta["token"]))))
    found.sort(key=lambda pair: pair[0], reverse=True)
    return [entry for _, entry in found]


# ------------------------------------------------------------------ state and the page on disk


def _state_path(place: Place) -> Path:
    return publish.proposals_dir(place) / STATE_FILE


def read_state(place: Place) -> dict[str, Any]:
    """{"enabled": bool, "token", "link", "lang", "by", "at"}; off when nothing valid is recorded."""
    try:
        fd = os.open(_state_path(place), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            state = json.loads(f.read())
    except (OSError, ValueError):
        return {"enabled": False}
    if not isinstance(state, dict) or state.get("enabled") is not True:
        return {"enabled": False}
    token = state.get("token")
    if not isinstance(token, str) or not publish.TOKEN.match(token):
        return {"enabled": False}
    return {
        "enabled": True,
        "token": token,
        "link": publish.family_link(token),
        "lang": page_language(str(state.get("lang", "en"))),
        "by": state.get("by", ""),
        "at": state.get("at", ""),
    }


@contextlib.contextmanager
def _locked(place: Place) -> Iterator[None]:
    folder = publish.proposals_dir(place)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_page(where: publish.Showcase, token: str, page: bytes, gid: int | None) -> None:
    """Put `page` at pages/<token>/index.html with the modes `approve` gives a piece's page.

    The first time the finished folder is renamed into place; after that the finished file is
    renamed over the old one. Either way a visitor sees the old page or the new one, never half.
    """
    staged = where.pages / f".new-{secrets.token_hex(8)}"
    staged.mkdir(mode=0o700)
    try:
        atomic_write_bytes(staged / publish.PAGE, page, mode=0o640 if gid is not None else 0o600)
        if gid is not None:
            os.chown(staged / publish.PAGE, 0, gid)
            os.chown(staged, 0, gid)
            os.chmod(staged, 0o750)
        try:
            os.rename(staged, where.pages / token)
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            os.replace(staged / publish.PAGE, where.pages / token / publish.PAGE)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _remove_page(where: publish.Showcase, token: str) -> None:
    # Renamed out of sight first (into the root-only snapshots folder): the link answers 404 at once.
    publish._remove_dir(where.pages / publish.validate_token(token), where.snapshots)


def _save_state(place: Place, state: dict[str, Any]) -> None:
    atomic_write_bytes(_state_path(place), json.dumps(state, indent=1).encode(), mode=0o600)


def set_enabled(
    place: Place, enabled: Any, by: str, *, usernames: Collection[str] = (), gid: int | None = None, lang: Any = "en"
) -> dict[str, Any]:
    """Turn the group's gallery on (writing its page) or off (removing it); returns `read_state`.

    Args:
        enabled: True or False; anything else is refused with a message that says so.
        by: the teacher, recorded.
        usernames: names that must not appear (the group's members; proposal owners are added).
        gid: the showcase user's group, which may read the page (None in demo mode).
        lang: the language of the page ("en" or "es"; others fall back to English).

    Raises:
        ShowcaseError: `enabled` is not a boolean.
    """
    if not isinstance(enabled, bool):
        raise publish.ShowcaseError(
            'Say "enabled": true to turn the gallery on, "enabled": false to turn it off.', code="bad-gallery"
        )
    with _locked(place):
        state = read_state(place)
        where = publish.prepare_folders(place.data_dir, gid)
        if not enabled:
            if state["enabled"]:
                _remove_page(where, state["token"])
            _save_state(place, {"enabled": False, "by": by, "at": now()})
            return read_state(place)
        token = state["token"] if state["enabled"] else secrets.token_urlsafe(24)
        language = page_language(lang if isinstance(lang, str) else "en")
        _write_page(where, token, _page_for(place, usernames, language), gid)
        _save_state(place, {"enabled": True, "token": token, "lang": language, "by": by, "at": now()})
    return read_state(place)


def refresh(place: Place, *, usernames: Collection[str] = (), gid: int | None = None) -> bool:
    """Rewrite the group's gallery page from what is published now; False when the gallery is off."""
    with _locked(place):
        state = read_state(place)
        if not state["enabled"]:
            return False
        where = publish.prepare_folders(place.data_dir, gid)
        _write_page(where, state["token"], _page_for(place, usernames, state["lang"]), gid)
    return True


def _page_for(place: Place, usernames: Collection[str], lang: str) -> bytes:
    owners = {str(p.get("owner", "")) for p in publish.list_proposals(place)}
    return render_gallery(entries_for(place, {*usernames, *owners}, lang), lang=lang).encode()
