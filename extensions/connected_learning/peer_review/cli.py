"""`clhub share`, `withdraw`, `pieces`, `feedback`, `remix`, `report`: peer review from a terminal.

Run by a learner inside their own server (the hub puts `clhub` on its PATH). The group
is one of the folders linked in `~/peer-review/`; with a single group it may be left out.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import pieces
from . import sharing as peer_review
from .folders import read_policy
from .pieces import REACTIONS, overview_text


def _folder(identity: peer_review.Identity, group: str | None) -> tuple[str, Path]:
    groups = pieces.links_in_home(identity.home)
    if group:
        if group not in groups:
            raise peer_review.PeerReviewError(
                f"You have no group called {group!r}; yours: {', '.join(groups) or 'none yet'}."
            )
        return group, groups[group]
    if len(groups) == 1:
        return next(iter(groups.items()))
    if not groups:
        raise peer_review.PeerReviewError("You are not in a group with a peer-review folder yet.")
    raise peer_review.PeerReviewError(f"You are in several groups; add --group with one of: {', '.join(groups)}.")


def cmd_share(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    group, folder = _folder(identity, args.group)
    view = peer_review.share(
        folder, [os.path.abspath(p) for p in args.paths], args.title, identity=identity, workbook=args.workbook or ""
    )
    print(f"Shared {view.title!r} with {group} as {view.id} (version {view.version}).")
    return 0


def cmd_withdraw(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    group, folder = _folder(identity, args.group)
    if args.undo:
        view = peer_review.undo_withdraw(folder, args.piece, identity=identity)
        print(f"{view.title!r} is shared with {group} again, with its feedback.")
        return 0
    if not args.yes:
        question = (
            f"Take {args.piece} back from {group}? Your group will no longer see it or the feedback on it.\n"
            f"You can undo this for {pieces.UNDO_MINUTES} minutes. Type yes to take it back: "
        )
        if not sys.stdin.isatty():
            raise peer_review.PeerReviewError(
                f"Nothing was changed. To take {args.piece} back, run: clhub withdraw {args.piece} --yes"
            )
        if input(question).strip().lower() not in ("yes", "y"):
            print("Nothing was changed.")
            return 1
    peer_review.withdraw(folder, args.piece, identity=identity)
    print(
        f"{args.piece} is no longer shared with {group}. Changed your mind? Within {pieces.UNDO_MINUTES} "
        f"minutes, run: clhub withdraw {args.piece} --undo"
    )
    return 0


def cmd_pieces(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    group, folder = _folder(identity, args.group)
    views = pieces.read_group(folder, with_feedback=True)
    if not views:
        print(f"Nothing has been shared in {group} yet.")
    for view in views:
        if view.ok:
            print(
                f"{view.id}: {view.title!r} by {view.author_display}, version {view.version}, "
                f"{len(view.feedback)} feedback"
            )
        else:
            print(f"{view.id}: {view.problem}")
    at = time.time()
    for gone in peer_review.my_withdrawn(folder, identity, at):
        minutes = gone.minutes_left(at)
        print(
            f"You took {gone.piece_id} ({gone.title!r}) back; for {minutes} more minute{'s' if minutes != 1 else ''} "
            f"you can undo it: clhub withdraw {gone.piece_id} --undo"
        )
    return 0


def cmd_feedback(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    if args.mine:
        groups = pieces.links_in_home(identity.home)
        anonymous = {g: read_policy(f).anonymous_feedback for g, f in groups.items()}
        print(overview_text(pieces.my_feedback(identity.home, identity.username), identity.username, anonymous))
        return 0
    if not args.piece:
        raise peer_review.PeerReviewError("Name the piece to give feedback on (see `clhub pieces`), or use --mine.")
    group, folder = _folder(identity, args.group)
    peer_review.give_feedback(
        folder,
        args.piece,
        works=args.works,
        idea=args.idea,
        question=args.question,
        reaction=args.reaction,
        identity=identity,
    )
    print(f"Your feedback on {args.piece} is saved in {group}.")
    return 0


def cmd_remix(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    group, folder = _folder(identity, args.group)
    target = peer_review.remix(folder, args.piece, group=group, identity=identity)
    print(f"Copied to {target}.")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    identity = peer_review.Identity.current()
    group, _ = _folder(identity, args.group)
    report_id = peer_review.report(group, args.piece, args.reason, args.feedback or "")
    print(f"Reported to the teachers of {group} (report {report_id}).")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("share", help="share a snapshot of files with your group's peer-review folder")
    p.add_argument("paths", nargs="+", help="files in your home: a notebook and/or creations")
    p.add_argument("--title", required=True)
    p.add_argument("--group")
    p.add_argument("--workbook", help="the workbook it comes from")
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("withdraw", help="take one of your pieces out of the group folder (undo for a few minutes)")
    p.add_argument("piece")
    p.add_argument("--yes", action="store_true", help="do not ask first")
    p.add_argument("--undo", action="store_true", help="put a piece you took back in the group folder again")
    p.add_argument("--group")
    p.set_defaults(func=cmd_withdraw)

    p = sub.add_parser("pieces", help="list the pieces shared in your group")
    p.add_argument("--group")
    p.set_defaults(func=cmd_pieces)

    p = sub.add_parser("feedback", help="give feedback on a piece, or read yours with --mine")
    p.add_argument("piece", nargs="?")
    p.add_argument("--mine", action="store_true", help="all feedback on all of your pieces")
    p.add_argument("--works", default="", help="what works")
    p.add_argument("--idea", default="", help="an idea to try")
    p.add_argument("--question", default="", help="a question")
    p.add_argument("--reaction", default="", choices=list(REACTIONS))
    p.add_argument("--group")
    p.set_defaults(func=cmd_feedback)

    p = sub.add_parser("remix", help="copy a peer's piece into workbooks/remixes to build on it")
    p.add_argument("piece")
    p.add_argument("--group")
    p.set_defaults(func=cmd_remix)

    p = sub.add_parser("report", help="report a piece or a feedback file to your teacher")
    p.add_argument("piece")
    p.add_argument("--reason", required=True)
    p.add_argument("--feedback", help="the feedback file's name, to report one feedback entry")
    p.add_argument("--group")
    p.set_defaults(func=cmd_report)
