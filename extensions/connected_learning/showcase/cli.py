"""`clhub showcase propose|list|withdraw`: ask for a shared piece to be published, follow the answer.

Run by a learner inside their own server. Nothing here decides who may do what: every step
is a call to the classroom service's showcase API (see `classroom/showcase.py`) with this
server's hub token, `JUPYTERHUB_API_TOKEN`, the way `clhub report` reaches it, and a
refusal comes back in the service's words. `Classroom` is that small client; the
`ProposeBox` widget (`showcase/widgets.py`) uses it too.

    clhub showcase propose PIECE --title "My beat" --description "Made with the beat lab"
    clhub showcase list                  my proposals: status, the teacher's note, the family link
    clhub showcase withdraw ID|TOKEN     withdraw a proposal, waiting or published (its link answers 404)
"""

from __future__ import annotations

import argparse
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import ClhubError
from ..peer_review import pieces
from ..peer_review import sharing as peer_review

TIMEOUT_SECONDS = 60.0  # approving renders a page; proposing and listing answer in well under a second
STATUS_WORDS = {
    "proposed": "waiting for your teacher",
    "published": "published",
    "declined": "declined",
    "withdrawn": "taken down",
}


class ClassroomError(ClhubError):
    """The classroom service refused (`status` is its HTTP status) or did not answer (`status` 0)."""

    code = "classroom"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message, code=f"http-{status}" if status else "no-answer")
        self.status = status


SITE_URL_ENV = "CLHUB_SITE_URL"


def site_link(path: str) -> str:
    """`path` (such as a family link, /services/showcase/p/<token>) as a whole address a family can open.

    The hub gives every server the site's address (`site.public_url`, else the hub's own host:
    `SiteSettings.url`) as CLHUB_SITE_URL; a server started before that was configured has the hub's
    public URL from JupyterHub (with subdomains or a public_url) or, last, only the path.
    """
    for name in (SITE_URL_ENV, "JUPYTERHUB_PUBLIC_HUB_URL"):
        site = urlsplit(os.environ.get(name, ""))
        if site.scheme in ("http", "https") and site.netloc:
            return f"{site.scheme}://{site.netloc}{path}"
    return path


def card_link(family_link: str) -> str:
    """The printable card (title, picture, link and QR code) of a piece's family link."""
    return site_link(family_link.rstrip("/") + "/card")


@dataclass(frozen=True)
class Classroom:
    """The classroom service's showcase API, called with this server's hub token."""

    base: str
    token: str
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_env(cls) -> Classroom:
        base = os.environ.get("CLHUB_CLASSROOM_URL", "")
        token = os.environ.get("JUPYTERHUB_API_TOKEN", "")
        if not base or not token:
            raise ClassroomError(
                "The showcase needs the classroom service, which this server cannot reach. "
                "Run this inside your server on the hub."
            )
        return cls(base.rstrip("/"), token)

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One API call; the decoded answer (None when empty).

        Raises:
            ClassroomError: with the service's own message and status, or status 0 when it did not answer.
        """
        request = urllib.request.Request(
            f"{self.base}/api{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as e:
            try:
                message = json.loads(e.read()).get("message", "")
            except (ValueError, AttributeError):
                message = ""
            raise ClassroomError(message or f"The classroom service answered {e.code} {e.reason}.", e.code) from None
        except OSError as e:
            raise ClassroomError(f"The classroom service did not answer ({e}). Try again in a minute.") from None
        try:
            return json.loads(data) if data else None
        except ValueError:
            raise ClassroomError("The classroom service sent an answer that is not JSON.") from None

    def propose(self, group: str, piece: str, title: str, description: str) -> dict[str, Any]:
        return self.call(
            "POST",
            f"/groups/{quote(group, safe='')}/showcase/proposals",
            {"piece": piece, "title": title, "description": description},
        )

    def mine(self, group: str) -> list[dict[str, Any]]:
        """My proposals in `group`, newest first."""
        answer = self.call("GET", f"/groups/{quote(group, safe='')}/showcase/mine")
        return list(answer.get("proposals", [])) if isinstance(answer, dict) else []

    def withdraw(self, token: str) -> None:
        self.call("DELETE", f"/showcase/{quote(token, safe='')}")

    def withdraw_proposal(self, group: str, proposal_id: str) -> None:
        """Withdraw a proposal, waiting or published."""
        self.call("DELETE", f"/groups/{quote(group, safe='')}/showcase/proposals/{quote(proposal_id, safe='')}")


# ------------------------------------------------------------------ which group


def group_of(identity: peer_review.Identity, piece: str, group: str | None) -> str:
    """The group to propose `piece` in: `group` if given, else the one whose folder holds the piece."""
    groups = pieces.links_in_home(identity.home)
    if group:
        if group not in groups:
            raise ClassroomError(f"You have no group called {group!r}; yours: {', '.join(groups) or 'none yet'}.")
        return group
    if len(groups) == 1:
        return next(iter(groups))
    holding = [g for g, folder in groups.items() if pieces.PIECE_ID.match(piece) and os.path.isdir(folder / piece)]
    if len(holding) == 1:
        return holding[0]
    if not groups:
        raise ClassroomError("You are not in a group with a peer-review folder yet.")
    raise ClassroomError(f"Add --group with one of: {', '.join(groups)}.")


def my_groups(identity: peer_review.Identity, group: str | None) -> list[str]:
    groups = list(pieces.links_in_home(identity.home))
    if group:
        if group not in groups:
            raise ClassroomError(f"You have no group called {group!r}; yours: {', '.join(groups) or 'none yet'}.")
        return [group]
    return groups


def proposal_lines(group: str, proposal: dict[str, Any]) -> list[str]:
    """One proposal as the learner reads it in a terminal."""
    status = str(proposal.get("status", ""))
    words = STATUS_WORDS.get(status, status)
    if status == "proposed" and proposal.get("consent") is False:
        words += " (your family's OK is not recorded yet: your teacher asks them)"
    lines = [f"{proposal.get('title', '')!r} ({group}, piece {proposal.get('piece', '')}): {words}"]
    if proposal.get("note"):
        lines.append(f"  Note from your teacher: {proposal['note']}")
    if proposal.get("link"):
        lines.append(f"  Family link: {site_link(str(proposal['link']))}")
        lines.append(f"  Card to print: {card_link(str(proposal['link']))}")
    if status in ("proposed", "published"):
        lines.append(f"  To withdraw it: clhub showcase withdraw {proposal.get('id', '')}")
    return lines


# ------------------------------------------------------------------ commands


def cmd_propose(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    group = group_of(identity, args.piece, args.group)
    proposal = Classroom.from_env().propose(group, args.piece, args.title, args.description or "")
    print(
        f"Proposed {proposal.get('title', '')!r} for the showcase in {group}. Your teacher decides; "
        "see `clhub showcase list`."
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    client = Classroom.from_env()
    lines: list[str] = []
    for group in my_groups(identity, args.group):
        try:
            found = client.mine(group)
        except ClassroomError as e:
            if e.status == 403:
                continue  # no longer a member: the link goes at the next start
            raise
        for proposal in found:
            lines.extend(proposal_lines(group, proposal))
    print("\n".join(lines) if lines else "You have not proposed anything for the showcase yet.")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    client = Classroom.from_env()
    if len(args.which) == 32:  # the last part of a family link
        client.withdraw(args.which)
    else:
        identity = peer_review.Identity.current()
        groups = [g for g in my_groups(identity, args.group) if any(p.get("id") == args.which for p in client.mine(g))]
        if not groups:
            raise ClassroomError(f"You have no proposal {args.which!r}; `clhub showcase list` shows yours.", 404)
        client.withdraw_proposal(groups[0], args.which)
    print('Withdrawn: it will not be published, and a family link it had answers "not here" from now on.')
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    showcase = sub.add_parser("showcase", help="propose a shared piece for the family showcase, follow it")
    what = showcase.add_subparsers(dest="what", required=True)

    p = what.add_parser("propose", help="ask your teacher to publish one of your shared pieces")
    p.add_argument("piece", help="the piece's id (see `clhub pieces`)")
    p.add_argument("--title", required=True, help="the title families see (1 to 80 characters)")
    p.add_argument("--description", default="", help="a few words about it (up to 500 characters)")
    p.add_argument("--group")
    p.set_defaults(func=cmd_propose)

    p = what.add_parser("list", help="your proposals: status, your teacher's note, the family link")
    p.add_argument("--group")
    p.set_defaults(func=cmd_list)

    p = what.add_parser("withdraw", help="withdraw one of your proposals, waiting or published")
    p.add_argument("which", help="the proposal's id (see `clhub showcase list`) or the last part of its family link")
    p.add_argument("--group")
    p.set_defaults(func=cmd_withdraw)
