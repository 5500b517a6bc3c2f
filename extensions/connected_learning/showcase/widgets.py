"""The learner's showcase widget: propose a shared piece for the family showcase, follow it.

    from connected_learning.showcase.widgets import ProposeBox
    ProposeBox()        # ~/peer-review/MY-SHOWCASE.ipynb

The learner picks one of their pieces shared in a group folder (read with `pieces`, as the
learner), gives it a title and a few words, and proposes it; below, their proposals with
what the teacher decided, the teacher's note and the family link, and a Withdraw button
for a waiting or published one. Every step is a call to the classroom service through
`cli.Classroom` (the service decides who may do what); refusals are put in words
a 12-year-old understands, and everything anybody typed is shown escaped.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from ..accounts.slips import qr_svg
from ..errors import ClhubError
from ..peer_review import pieces
from ..peer_review import sharing as peer_review
from .cli import Classroom, ClassroomError, card_link, site_link

WIDE = {"description_width": "8em"}
FULL = widgets.Layout(width="95%")

# What each refusal means, said plainly. The service's own message is kept for a bad title or
# description (it already says what to change) and for anything not listed here.
KID_WORDS: dict[str, dict[int, str]] = {
    "propose": {
        403: "Only the person who made a piece can ask to show it, and only in their own group.",
        404: "We could not find that piece in your group. Share it first (or press Refresh), then try again.",
        409: "You already asked to show this piece. Look for it in your list below.",
        422: "This piece cannot go on the showcase as it is. Ask your teacher what to change.",
    },
    "withdraw": {
        403: "Only you or your teacher can take this piece down.",
        404: "This piece is not on the showcase any more.",
        409: "This piece is not on the showcase any more.",
    },
    "list": {
        403: "You are not in this group any more.",
    },
}
NO_ANSWER = "The classroom is not answering right now. Wait a minute, then try again."
STATUS = {
    "proposed": "Waiting for your teacher to look at it.",
    "published": "On the showcase! Your family can see it with this link:",
    "declined": "Not this time.",
    "withdrawn": "Taken down. Its link does not work any more.",
}
NO_CONSENT = " Your teacher also needs your family's OK first."
CARD_WORDS = "Open the card to print for home (with the picture and a QR code)"


def kid_words(action: str, error: ClhubError) -> str:
    """What went wrong, for a young learner."""
    if isinstance(error, ClassroomError):
        if error.status == 0:
            return NO_ANSWER
        return KID_WORDS.get(action, {}).get(error.status, error.message)
    return error.message


def _say(status: widgets.HTML, message: str, ok: bool = True) -> None:
    mark = "Done!" if ok else "Oops:"
    status.value = f'<div role="status" aria-live="polite"><b>{mark}</b> {html.escape(message)}</div>'


def proposal_html(proposal: dict[str, Any]) -> str:
    """One of my proposals, every word escaped."""
    state = str(proposal.get("status", ""))
    text = STATUS.get(state, html.escape(state))
    if state == "proposed" and proposal.get("consent") is False:
        text += NO_CONSENT
    parts = [f"<b>{html.escape(str(proposal.get('title', '')))}</b>: {html.escape(text)}"]
    link = proposal.get("link")
    if state == "published" and isinstance(link, str) and link.startswith("/services/showcase/p/"):
        whole = site_link(link)
        url, card = html.escape(whole), html.escape(card_link(link))
        parts.append(
            f'<br><a href="{url}" target="_blank" rel="noopener" style="word-break:break-all">{url}</a>'
            f'<br><a href="{card}" target="_blank" rel="noopener">{CARD_WORDS}</a>'
        )
        if whole.startswith(("http://", "https://")):  # a phone can scan it from this screen
            parts.append(
                f'<div role="img" aria-label="QR code of the family link" style="width:120px">{qr_svg(whole)}</div>'
            )
    if proposal.get("note"):
        parts.append(f"<br>Your teacher says: <i>{html.escape(str(proposal['note']))}</i>")
    return "".join(parts)


class ProposeBox(widgets.VBox):
    """Propose one of my shared pieces for the showcase; see and withdraw my proposals.

    Args:
        client: the classroom service (default: this server's, from its environment).
    """

    def __init__(self, client: Classroom | None = None, **kwargs: Any) -> None:
        self.status = widgets.HTML("")
        self._suggested = ""
        self.client: Classroom | None = client
        self.identity: peer_review.Identity | None = None
        try:
            self.identity = peer_review.Identity.current()
            self.client = client or Classroom.from_env()
        except ClhubError as e:
            _say(self.status, kid_words("list", e), ok=False)
        self.piece = widgets.Dropdown(description="My piece", style=WIDE, layout=FULL)
        self.title = widgets.Text(
            description="Title", style=WIDE, layout=FULL, placeholder="The name your family will see"
        )
        self.description = widgets.Textarea(
            description="About it", style=WIDE, layout=FULL, placeholder="A few words: what is it, how did you make it?"
        )
        self.button = widgets.Button(
            description="Propose",
            icon="star",
            button_style="primary",
            tooltip="Ask your teacher to put this piece on the showcase",
        )
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.list = widgets.VBox()
        self.button.on_click(lambda _: self.propose())
        self.refresh_button.on_click(lambda _: self.load())
        self.piece.observe(lambda _: self._suggest_title(), "value")
        intro = widgets.HTML(
            "<b>Show your work to your family</b>. Pick a piece you shared with your group, give it a title "
            "and a few words, and press Propose. Your teacher looks at it first. When it is on the showcase, "
            "you get a link your family can open on a phone."
        )
        super().__init__(
            [
                intro,
                self.piece,
                self.title,
                self.description,
                widgets.HBox([self.button, self.refresh_button]),
                self.status,
                widgets.HTML("<b>What I proposed</b>"),
                self.list,
            ],
            **kwargs,
        )
        self.views: dict[str, tuple[str, pieces.PieceView]] = {}
        self.proposals: list[tuple[str, dict[str, Any]]] = []
        self.load()

    # ---------------------------------------------------------------- reading

    def load(self) -> None:
        """Read my shared pieces and ask the classroom for my proposals."""
        if self.identity is None:
            self.button.disabled = True
            return
        self.views = {}
        for group, folder in pieces.links_in_home(self.identity.home).items():
            try:
                found = pieces.read_group(folder, owner=self.identity.username, with_feedback=False)
            except OSError:
                continue  # no longer a member: the link goes at the next start
            self.views.update({f"{group}/{v.id}": (group, v) for v in found if v.ok})
        keep = self.piece.value
        self.piece.options = [(f"{v.title} ({group})", key) for key, (group, v) in self.views.items()]
        self.piece.value = keep if keep in self.views else next(iter(self.views), None)
        self.button.disabled = not self.views or self.client is None
        if not self.views:
            _say(
                self.status,
                "Share a piece with your group first (the Share it step of a workbook), then press Refresh.",
                ok=False,
            )
        self.load_proposals()

    def load_proposals(self) -> None:
        if self.identity is None or self.client is None:
            return
        self.proposals = []
        for group in pieces.links_in_home(self.identity.home):
            try:
                self.proposals.extend((group, p) for p in self.client.mine(group))
            except ClassroomError as e:
                if e.status != 403:
                    _say(self.status, kid_words("list", e), ok=False)
                    break
        rows: list[widgets.Widget] = []
        for group, proposal in self.proposals:
            row: list[widgets.Widget] = [widgets.HTML(proposal_html(proposal))]
            if proposal.get("status") in ("proposed", "published") and proposal.get("id"):
                withdraw = widgets.Button(
                    description="Withdraw", icon="trash", tooltip=f"Take {proposal.get('title', '')} off the showcase"
                )
                withdraw.on_click(lambda _, g=group, p=proposal: self.withdraw(p, g))
                row.append(withdraw)
            rows.append(widgets.VBox(row))
        if not rows:
            rows.append(widgets.HTML("<p><i>Nothing yet.</i></p>"))
        self.list.children = tuple(rows)

    def _suggest_title(self) -> None:
        # The piece's own title, unless the learner typed one of their own.
        chosen = self.views.get(self.piece.value or "")
        if chosen and self.title.value in ("", self._suggested):
            self.title.value = self._suggested = chosen[1].title

    # ---------------------------------------------------------------- doing

    def propose(self) -> dict[str, Any] | None:
        chosen = self.views.get(self.piece.value or "")
        if self.client is None:
            return None
        if chosen is None:
            _say(self.status, "Pick one of your pieces first.", ok=False)
            return None
        group, view = chosen
        try:
            proposal = self.client.propose(group, view.id, self.title.value, self.description.value)
        except ClhubError as e:
            _say(self.status, kid_words("propose", e), ok=False)
            return None
        _say(self.status, f"You asked to show {proposal.get('title', '')!r}. Your teacher will look at it soon.")
        self.title.value = self.description.value = ""
        self.load_proposals()
        return proposal

    def withdraw(self, proposal: dict[str, Any], group: str) -> bool:
        """Withdraw a proposal, waiting or published."""
        if self.client is None:
            return False
        try:
            self.client.withdraw_proposal(group, str(proposal.get("id", "")))
        except ClhubError as e:
            _say(self.status, kid_words("withdraw", e), ok=False)
            return False
        _say(
            self.status,
            f"{proposal.get('title', '')!r} is withdrawn: it is not on the showcase, and a link it "
            "had does not work any more.",
        )
        self.load_proposals()
        return True
