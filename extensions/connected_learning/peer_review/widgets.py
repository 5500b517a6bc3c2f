"""Widgets of peer review: share from a workbook, review a peer's piece, read my feedback.

    from connected_learning.peer_review.widgets import ShareBox, ReviewPanel, FeedbackInbox
    ShareBox(["beat-lab.ipynb", "my_drums.wav"], title="My first beat", workbook="beat-lab")
    ReviewPanel("~/peer-review/<group>")   # ~/peer-review/REVIEW-<group>.ipynb, the learner's own copy
    FeedbackInbox()      # ~/peer-review/MY-FEEDBACK.ipynb: all feedback on all my pieces

They call `peer_review` (as the learner: the operating system decides what they may
touch) and show every piece of text a peer wrote escaped, never as HTML. Each has a
status line that screen readers announce, and every control has a visible label.
"""

from __future__ import annotations

import base64
import html
import os
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..errors import ClhubError
from ..widgets.i18n import _, t
from . import pieces
from . import sharing as peer_review
from .folders import read_policy
from .pieces import REACTIONS, FeedbackEntry, PieceView

WIDE = {"description_width": "10em"}


def _auto() -> widgets.Layout:
    """As wide as its words (not the whole row): a button's or a tick box's label is never cut off."""
    return widgets.Layout(width="auto", align_self="flex-start")


IMAGE_TYPES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".gif": "gif"}


def _status() -> widgets.HTML:
    # role="status" makes screen readers read each new message aloud.
    return widgets.HTML("")


def _say(status: widgets.HTML, message: str, ok: bool = True) -> None:
    mark = _("Done:") if ok else _("Problem:")
    status.value = f'<div role="status" aria-live="polite"><b>{mark}</b> {html.escape(message)}</div>'


def feedback_html(entries: Sequence[FeedbackEntry], *, anonymous: bool, viewer: str) -> str:
    """Feedback entries as HTML in which every peer-written character is escaped."""
    if not entries:
        return _("<p><i>No feedback yet.</i></p>")
    rows = []
    for entry in entries:
        who = _("You") if entry.reviewer == viewer else (_("A peer") if anonymous else entry.reviewer_display)
        parts = [f"<b>{html.escape(who)}</b>"]
        if entry.reaction:
            parts.append(t("reacted: {reaction}", reaction=html.escape(_(REACTIONS[entry.reaction]))))
        for label, text in (
            (_("What works"), entry.works),
            (_("An idea to try"), entry.idea),
            (_("A question"), entry.question),
        ):
            if text:
                parts.append(f"<br><u>{label}</u>: <span style='white-space: pre-wrap'>{html.escape(text)}</span>")
        rows.append("<li>" + " ".join(parts) + "</li>")
    return "<ul>" + "".join(rows) + "</ul>"


def piece_heading(view: PieceView) -> str:
    text = t(
        "<b>{title}</b> by {author} (version {version})",
        title=html.escape(view.title),
        author=html.escape(view.author_display),
        version=view.version,
    )
    if view.remix_of:
        text += t("<br>Remixed from <i>{title}</i>", title=html.escape(view.remix_of.get("title", "")))
        if view.remix_of.get("author_display"):  # empty once the original is no longer here
            text += t(" by {author}", author=html.escape(view.remix_of["author_display"]))
    return text


def workbook_file(folder: Path, name: str) -> tuple[Path | None, str]:
    """Where `name` is in the workbook's `folder`, if it can be offered for sharing.

    Returns (path, "") for a regular file inside `folder` reached without a symlink;
    (None, "missing") when there is nothing of that name yet; otherwise (None, why not),
    in plain words. `folder` must be a real path (no symlink in it).
    """
    raw = os.path.expanduser(str(name))
    if not raw or os.path.isabs(raw) or ".." in Path(raw).parts:
        return None, t("{name} is not in this workbook's folder, so it cannot be shared.", name=name)
    path = folder / raw
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None, "missing"
    except OSError:
        return None, t("{name} cannot be opened, so it cannot be shared.", name=name)
    if stat.S_ISLNK(info.st_mode) or os.path.realpath(path) != str(path):
        return None, t("{name} is a shortcut to another place, so it cannot be shared.", name=name)
    if not stat.S_ISREG(info.st_mode):
        return None, t("{name} is not a file, so it cannot be shared.", name=name)
    return path, ""


class ShareBox(widgets.VBox):
    """Share files of this workbook with one of my groups: the ones that exist, ticked by the learner.

    Files the workbook lists but the learner has not saved yet are named in plain words
    and left out; "Look for my files again" finds them once saved. Only files inside the
    workbook's folder are offered (no `..`, no absolute names, no symlinks), and sharing
    checks each again (`sharing.validate_share_sources`).

    Args:
        files: paths (relative to the notebook's folder) of the notebook or creations.
        title: a suggested title.
        workbook: the workbook id, recorded with the piece.
        folder: the workbook's folder (default: the kernel's, i.e. the notebook's).
    """

    def __init__(
        self,
        files: Sequence[str],
        *,
        title: str = "",
        workbook: str = "",
        folder: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        self.folder = Path(os.path.realpath(folder or os.getcwd()))
        self.wanted = [str(f) for f in files]
        self.workbook = workbook
        self.status = _status()
        try:
            self.identity: peer_review.Identity | None = peer_review.Identity.current()
            groups = pieces.links_in_home(self.identity.home)
        except ClhubError as e:
            self.identity, groups = None, {}
            _say(self.status, str(e), ok=False)
        self.title = widgets.Text(value=title, description=_("Title"), style=WIDE, placeholder=_("Give it a name"))
        self.group = widgets.Dropdown(options=list(groups), description=_("Share with"), style=WIDE)
        self.ticks: dict[str, widgets.Checkbox] = {}
        self.choices = widgets.VBox()
        self.missing = widgets.HTML()
        self.look_again = widgets.Button(description=_("Look for my files again"), icon="refresh", layout=_auto())
        self.look_again.on_click(lambda _: self.scan())
        self.button = widgets.Button(
            description=_("Share with my group"),
            icon="share",
            button_style="primary",
            tooltip=_("Share a copy with your group's peer-review folder"),
            layout=_auto(),
        )
        self.button.on_click(lambda _: self.share())
        intro = widgets.HTML(
            _(
                "<b>Share it</b>: tick what your group will see (they get a copy). "
                "Save your notebook first (Ctrl+S). You can take it back later."
            )
        )
        self.scan()
        if not groups:
            self.button.disabled = True
            if self.identity is not None:
                _say(self.status, _("You are not in a group with a peer-review folder yet."), ok=False)
        super().__init__(
            [
                intro,
                self.choices,
                self.missing,
                self.look_again,
                self.title,
                self.group,
                self.button,
                self.status,
            ],
            **kwargs,
        )

    def scan(self) -> None:
        """Offer the listed files that are there now; say which are not, and why."""
        ticks: dict[str, widgets.Checkbox] = {}
        notes: list[str] = []
        for name in self.wanted:
            path, why = workbook_file(self.folder, name)
            if path is None:
                notes.append(
                    t("You have not saved {name} yet — it will not be shared.", name=name) if why == "missing" else why
                )
                continue
            old = self.ticks.get(name)
            ticks[name] = widgets.Checkbox(
                value=old.value if old is not None else True, description=name, indent=False, layout=_auto()
            )
        self.ticks = ticks
        self.choices.children = tuple(ticks.values())
        if not ticks:
            notes.append(_("There is nothing to share yet: make something and save it first."))
        self.missing.value = "".join(f"<p>{html.escape(n)}</p>" for n in notes)

    @property
    def chosen(self) -> list[str]:
        """The names the learner ticked."""
        return [name for name, tick in self.ticks.items() if tick.value]

    def share(self) -> PieceView | None:
        if self.identity is None:
            return None
        folder = pieces.links_in_home(self.identity.home).get(self.group.value or "")
        if folder is None:
            _say(self.status, _("Choose a group first."), ok=False)
            return None
        chosen = self.chosen
        self.scan()  # a file deleted since it was offered is left out now, and said so
        paths: list[Path] = []
        for name in chosen:
            path = workbook_file(self.folder, name)[0] if name in self.ticks else None
            if path is not None:
                paths.append(path)
        if not paths:
            _say(self.status, _("Tick at least one file to share."), ok=False)
            return None
        try:
            view = peer_review.share(folder, paths, self.title.value, identity=self.identity, workbook=self.workbook)
        except (ClhubError, OSError) as e:
            _say(self.status, str(e), ok=False)
            return None
        _say(
            self.status,
            t(
                "Shared {title} with {group} (version {version}).",
                title=repr(view.title),
                group=self.group.value,
                version=view.version,
            ),
        )
        return view


class ReviewPanel(widgets.VBox):
    """Read a peer's piece, give feedback, remix it or report it (REVIEW.ipynb)."""

    def __init__(self, folder: str | os.PathLike[str] | None = None, **kwargs: Any) -> None:
        self.folder = Path(os.path.expanduser(str(folder))) if folder else Path(os.getcwd())
        self.policy = read_policy(self.folder)
        self.identity = peer_review.Identity.current()
        self.choice = widgets.Dropdown(description=_("Piece"), style=WIDE, layout=widgets.Layout(width="95%"))
        self.heading = widgets.HTML()
        self.preview = widgets.VBox()
        self.existing = widgets.HTML()
        self.works = widgets.Textarea(
            description=_("What works"),
            style=WIDE,
            placeholder=_("What do you like? Be specific."),
            layout=widgets.Layout(width="95%"),
        )
        self.idea = widgets.Textarea(
            description=_("An idea to try"),
            style=WIDE,
            placeholder=_("One thing they could try next"),
            layout=widgets.Layout(width="95%"),
        )
        self.question = widgets.Textarea(
            description=_("A question"),
            style=WIDE,
            placeholder=_("Something you wonder about"),
            layout=widgets.Layout(width="95%"),
        )
        self.reaction = widgets.Dropdown(
            options=[(_(label) if label else _("(none)"), key) for key, label in REACTIONS.items()],
            description=_("Reaction"),
            style=WIDE,
        )
        self.send = widgets.Button(description=_("Send feedback"), icon="paper-plane")
        self.remix_button = widgets.Button(
            description=_("Remix it"), icon="copy", tooltip=_("Copy this piece into your workbooks/remixes folder")
        )
        self.reason = widgets.Text(description=_("What is wrong?"), style=WIDE, placeholder=_("Tell your teacher"))
        self.report_button = widgets.Button(
            description=_("Report to my teacher"), icon="flag", layout=widgets.Layout(width="auto")
        )
        self.status = _status()
        self.send.on_click(lambda _: self.give_feedback())
        self.remix_button.on_click(lambda _: self.remix())
        self.report_button.on_click(lambda _: self.report())
        self.choice.observe(lambda _: self.show(), "value")
        self.refresh = widgets.Button(description=_("Refresh"), icon="refresh")
        self.refresh.on_click(lambda _: self.load())
        super().__init__(
            [
                widgets.HTML(
                    f"<b>Peer review: {html.escape(self.policy.group)}</b>. Pick a piece, look at it, "
                    "and tell its maker what works, an idea to try, or a question. Be kind and specific."
                ),
                widgets.HBox([self.choice, self.refresh]),
                self.heading,
                self.preview,
                self.existing,
                self.works,
                self.idea,
                self.question,
                self.reaction,
                widgets.HBox([self.send, self.remix_button]),
                widgets.HBox([self.reason, self.report_button]),
                self.status,
            ],
            **kwargs,
        )
        self.load()

    def load(self) -> None:
        try:
            self.views = {v.id: v for v in pieces.read_group(self.folder)}
        except OSError:
            self.views = {}
            _say(self.status, _("This group's folder cannot be read: are you still a member?"), ok=False)
        options = [
            (
                t("{title} by {author}", title=v.title, author=v.author_display)
                if v.ok
                else t("{id} (cannot be read)", id=v.id),
                v.id,
            )
            for v in self.views.values()
        ]
        keep = self.choice.value
        self.choice.options = options
        ids = [value for _, value in options]
        # New options leave no piece chosen (ipywidgets 8): keep the one shown, else the first.
        self.choice.value = keep if keep in ids else (ids[0] if ids else None)
        self.show()

    @property
    def current(self) -> PieceView | None:
        return self.views.get(self.choice.value or "")

    def show(self) -> None:
        view = self.current
        self.preview.children = ()
        if view is None:
            self.heading.value = _("<p><i>Nothing has been shared in this group yet.</i></p>")
            self.existing.value = ""
            return
        if not view.ok:
            self.heading.value = f"<p>{html.escape(view.problem)}</p>"
            self.existing.value = ""
            return
        self.heading.value = piece_heading(view) + _("<br>Files: ") + html.escape(", ".join(view.files))
        self.preview.children = tuple(self._previews(view))
        anonymous = self.policy.anonymous_feedback and view.owner == self.identity.username
        self.existing.value = _("<b>Feedback so far</b>") + feedback_html(
            view.feedback, anonymous=anonymous, viewer=self.identity.username
        )

    def _previews(self, view: PieceView) -> list[widgets.Widget]:
        try:
            files = pieces.version_files(self.folder, view.id, view.version, self.policy.max_piece_bytes)
        except OSError:
            return [widgets.HTML(_("<i>The files of this piece cannot be shown.</i>"))]
        shown: list[widgets.Widget] = []
        for name, data in files.items():
            suffix = Path(name).suffix.lower()
            if suffix in IMAGE_TYPES:
                # An <img> with alt text (the Image widget has none); the data stays in the page, never a URL.
                alt = html.escape(t("Picture {name} in {title}", name=name, title=view.title), quote=True)
                source = f"data:image/{IMAGE_TYPES[suffix]};base64,{base64.b64encode(data).decode()}"
                shown.append(widgets.HTML(t("<i>Picture: {name}</i>", name=html.escape(name))))
                shown.append(
                    widgets.HTML(f'<img src="{source}" alt="{alt}" style="max-width: min(480px, 100%); height: auto">')
                )
            elif suffix == ".wav":
                shown.append(widgets.Audio(value=data, format="wav", autoplay=False, loop=False))
            elif suffix in (".md", ".txt", ".csv"):
                text = data[:4000].decode("utf-8", errors="replace")
                shown.append(widgets.HTML(f"<pre style='white-space: pre-wrap'>{html.escape(text)}</pre>"))
            elif suffix == ".json":
                from ..widgets.quiz import quiz_player  # only a piece with a JSON file loads the quiz game

                shown.extend(quiz_player(name, data))
        return shown

    def give_feedback(self) -> None:
        view = self.current
        if view is None:
            _say(self.status, _("Pick a piece first."), ok=False)
            return
        try:
            peer_review.give_feedback(
                self.folder,
                view.id,
                works=self.works.value,
                idea=self.idea.value,
                question=self.question.value,
                reaction=self.reaction.value,
                identity=self.identity,
            )
        except (ClhubError, OSError) as e:
            _say(self.status, str(e), ok=False)
            return
        self.works.value = self.idea.value = self.question.value = ""
        self.reaction.value = ""
        _say(self.status, t("Thank you! {author} will see your feedback.", author=view.author_display))
        self.load()

    def remix(self) -> None:
        view = self.current
        if view is None:
            return
        try:
            target = peer_review.remix(self.folder, view.id, group=self.policy.group, identity=self.identity)
        except (ClhubError, OSError) as e:
            _say(self.status, str(e), ok=False)
            return
        _say(
            self.status,
            t("Copied to {path}. Open it from the file browser.", path=target.relative_to(self.identity.home)),
        )

    def report(self) -> None:
        view = self.current
        if view is None:
            return
        try:
            peer_review.report(self.policy.group, view.id, self.reason.value)
        except ClhubError as e:
            _say(self.status, str(e), ok=False)
            return
        self.reason.value = ""
        _say(self.status, _("Your teacher will look at it. Thank you for telling us."))


class FeedbackInbox(widgets.VBox):
    """All feedback on all my pieces in every group; withdraw a piece (asked first, with an undo), report feedback."""

    def __init__(self, **kwargs: Any) -> None:
        self.identity = peer_review.Identity.current()
        self.list = widgets.VBox()
        self.waiting = widgets.VBox()
        self.status = _status()
        refresh = widgets.Button(description=_("Refresh"), icon="refresh")
        refresh.on_click(lambda _: self.load())
        super().__init__(
            [widgets.HTML(_("<b>Feedback on my pieces</b>")), refresh, self.waiting, self.list, self.status], **kwargs
        )
        self.load()

    def load(self) -> None:
        found = pieces.my_feedback(self.identity.home, self.identity.username)
        groups = pieces.links_in_home(self.identity.home)
        rows: list[widgets.Widget] = []
        for group, view in found:
            anonymous = read_policy(groups[group]).anonymous_feedback
            withdraw = widgets.Button(
                description=_("Withdraw"),
                icon="trash",
                tooltip=t("Take {title} out of {group}", title=view.title, group=group),
                layout=_auto(),
            )
            confirm = widgets.VBox()
            withdraw.on_click(lambda _, g=group, v=view, c=confirm: self.ask(g, v, c))
            parts: list[widgets.Widget] = [
                widgets.HTML(
                    f"{piece_heading(view)} in <i>{html.escape(group)}</i>"
                    + feedback_html(view.feedback, anonymous=anonymous, viewer=self.identity.username)
                ),
                withdraw,
                confirm,
            ]
            if view.feedback:
                parts.append(self._report_row(group, view, anonymous))
            rows.append(widgets.VBox(parts))
        self._load_waiting(groups)
        if not rows and not self.waiting.children:
            rows.append(widgets.HTML(_("<p><i>You have not shared anything yet.</i></p>")))
        self.list.children = tuple(rows)

    def _load_waiting(self, groups: dict[str, Path]) -> None:
        """The pieces I took back that I can still put back, each with its Undo button."""
        rows: list[widgets.Widget] = []
        at = time.time()
        for group, folder in groups.items():
            peer_review.forget_withdrawn(folder, self.identity, at)
            for gone in peer_review.my_withdrawn(folder, self.identity, at):
                minutes = gone.minutes_left(at)
                left = _("1 more minute") if minutes == 1 else t("{count} more minutes", count=minutes)
                undo = widgets.Button(
                    description=t("Undo: share {title} again", title=gone.title),
                    icon="undo",
                    tooltip=t("Put {title} back in {group}, with its feedback", title=gone.title, group=group),
                    layout=_auto(),
                )
                undo.on_click(lambda _, g=group, w=gone: self.undo(g, w))
                rows.append(
                    widgets.VBox(
                        [
                            widgets.HTML(
                                t(
                                    "You took <b>{title}</b> back from <i>{group}</i>. "
                                    "You can still undo this for {left}; after that it is gone for good.",
                                    title=html.escape(gone.title),
                                    group=html.escape(group),
                                    left=left,
                                )
                            ),
                            undo,
                        ]
                    )
                )
        self.waiting.children = tuple(rows)

    def ask(self, group: str, view: PieceView, confirm: widgets.VBox) -> None:
        """Ask before taking a piece back: it takes the piece and all its feedback away from the group."""
        yes = widgets.Button(description=_("Yes, take it back"), icon="trash", button_style="danger", layout=_auto())
        no = widgets.Button(description=_("No, keep it shared"), layout=_auto())
        yes.on_click(lambda _: self.withdraw(group, view))
        no.on_click(lambda _: setattr(confirm, "children", ()))
        confirm.children = (
            widgets.HTML(
                t(
                    "Take <b>{title}</b> back from <i>{group}</i>? "
                    "Your group will no longer see it or the feedback on it. "
                    "You can undo this for {minutes} minutes.",
                    title=html.escape(view.title),
                    group=html.escape(group),
                    minutes=pieces.UNDO_MINUTES,
                )
            ),
            widgets.HBox([yes, no]),
        )

    def _report_row(self, group: str, view: PieceView, anonymous: bool) -> widgets.Widget:
        """Report one feedback entry that is unkind or not OK to the group's teacher."""
        options = []
        for entry in view.feedback:
            who = _("A peer") if anonymous else entry.reviewer_display
            text = (entry.works or entry.idea or entry.question or _(REACTIONS[entry.reaction]))[:40]
            options.append((f"{who}: {text}", entry.file))
        which = widgets.Dropdown(options=options, description=_("Feedback"), style=WIDE)
        reason = widgets.Text(description=_("What is wrong?"), style=WIDE, placeholder=_("Tell your teacher"))
        button = widgets.Button(description=_("Report this feedback"), icon="flag", layout=_auto())

        def send(_button: Any) -> None:
            try:
                peer_review.report(group, view.id, reason.value, which.value or "")
            except ClhubError as e:
                _say(self.status, str(e), ok=False)
                return
            reason.value = ""
            _say(self.status, _("Your teacher will look at it. Thank you for telling us."))

        button.on_click(send)
        return widgets.HBox([which, reason, button])

    def withdraw(self, group: str, view: PieceView) -> None:
        folder = pieces.links_in_home(self.identity.home).get(group)
        try:
            if folder is None:
                raise peer_review.PeerReviewError(f"You are no longer in {group}.")
            peer_review.withdraw(folder, view.id, identity=self.identity)
        except (ClhubError, OSError) as e:
            _say(self.status, str(e), ok=False)
            return
        _say(
            self.status,
            f"{view.title!r} is no longer shared with {group}. "
            f"Changed your mind? Press Undo within {pieces.UNDO_MINUTES} minutes.",
        )
        self.load()

    def undo(self, group: str, gone: pieces.Withdrawn) -> None:
        folder = pieces.links_in_home(self.identity.home).get(group)
        try:
            if folder is None:
                raise peer_review.PeerReviewError(f"You are no longer in {group}.")
            view = peer_review.undo_withdraw(folder, gone.piece_id, identity=self.identity)
        except (ClhubError, OSError) as e:
            _say(self.status, str(e), ok=False)
            self.load()
            return
        _say(self.status, f"{view.title!r} is shared with {group} again, with its feedback.")
        self.load()
