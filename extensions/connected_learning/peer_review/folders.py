"""Group folders: the peer-review folder of each hub group and its permission model.

    <data>/groups/                      root, 0755
    <data>/groups/<g>/                  root:clhub-<g> 0750 (0700 while peer review is off)
    <data>/groups/<g>/members.json      root:clhub-<g> 0640: the members' display names (`write_members`)
    <data>/groups/<g>/peer-review/      root:clhub-<g> 3770: setgid + sticky
    <data>/groups/<g>/peer-review/.group.json   root 0644: the group's peer-review policy
    <data>/groups/<g>/peer-review/REVIEW.ipynb  root 0444: the group's review notebook, read-only
    <data>/groups/<g>/peer-review/.withdrawn-<until>-<token>-<piece>/   author 0700: a withdrawn piece
                                        waiting for its undo time to pass (`pieces.Withdrawn`)
    <data>/groups/<g>/moderation/       root 0700: reports, hidden pieces (the service's)
    ~/peer-review/<g>                   the learner's link to <data>/groups/<g>/peer-review
    ~/peer-review/REVIEW-<g>.ipynb      the learner's: their own review notebook for <g>

The operating system enforces the rules: members add entries (group write), the setgid
bit gives every entry the group, the sticky bit lets only an entry's owner (or root)
rename or remove it; non-members cannot even list the group's folder. `plan_group` is
pure and says which folders and modes a group needs; `apply_group` makes it so (as root
on a real site, as the hub's own user in demo mode, where there is nothing to chown).
The learner's side, `~/peer-review/<g>` links, is `link_group_folders`, run as the learner.

Notebooks in a group's folder are the system's, never a learner's to save: `REVIEW.ipynb`
there is root's and read-only (members cannot write, replace, rename or chmod it: the
sticky bit and its owner see to that), so JupyterLab opens it read-only and never
autosaves one learner's outputs into everybody's copy. Each learner works in their own
`~/peer-review/REVIEW-<g>.ipynb`, made beside the links. In the same-user demo, where the
operating system cannot tell learners apart, the learners' contents manager refuses every
save into a group folder (`learner.atomic_contents`). Withdrawn pieces waiting for their
undo time to pass (`pieces.Withdrawn`) are removed by `apply_group` once it is over.

`members.json` is how people are named: the display names the class lists gave the group's
members, copied by the classroom service from the hub's root-only display names whenever
they or the memberships change. Members read it (their kernels name authors and reviewers
with it, `pieces.Authorship`); nobody but root writes in the group's folder.
"""

from __future__ import annotations

import grp
import json
import os
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClhubError
from ..settings import SiteSettings
from .pieces import MEMBERS_FILE, purge_withdrawn

PEER_REVIEW = "peer-review"
MODERATION = "moderation"
POLICY_FILE = ".group.json"
REVIEW_NOTEBOOK = "REVIEW.ipynb"
INBOX_NOTEBOOK = "MY-FEEDBACK.ipynb"  # in ~/peer-review: all feedback on my pieces
SHOWCASE_NOTEBOOK = "MY-SHOWCASE.ipynb"  # in ~/peer-review: propose my pieces for the family showcase
HOME_LINKS = "peer-review"  # ~/peer-review/<group> -> <data>/groups/<group>/peer-review
DEFAULT_TYPES = (".ipynb", ".png", ".jpg", ".jpeg", ".gif", ".wav", ".md", ".txt", ".csv", ".html", ".json")
HERE = Path(__file__).resolve().parent
SHOWCASE_DIR = HERE.parent / "showcase"


class FolderError(ClhubError):
    code = "group-folder"


@dataclass(frozen=True)
class GroupPolicy:
    """What a group's members may do in its peer-review folder; written into `.group.json`."""

    group: str
    peer_review: bool = True
    anonymous_feedback: bool = False
    max_piece_bytes: int = 10_000_000
    allowed_types: tuple[str, ...] = DEFAULT_TYPES

    def as_json(self) -> str:
        return (
            json.dumps(
                {
                    "group": self.group,
                    "peer_review": self.peer_review,
                    "anonymous_feedback": self.anonymous_feedback,
                    "max_piece_bytes": self.max_piece_bytes,
                    "allowed_types": list(self.allowed_types),
                },
                indent=1,
            )
            + "\n"
        )


def policy_for(site: SiteSettings, group: str) -> GroupPolicy:
    """The peer-review policy of `group` under the site settings."""
    return GroupPolicy(
        group=group,
        peer_review=site.peer_review and group not in site.off_for_groups,
        anonymous_feedback=site.anonymous_feedback or group in site.anonymous_for_groups,
        max_piece_bytes=int(site.max_piece_mb * 1_000_000),
        allowed_types=site.allowed_types or DEFAULT_TYPES,
    )


def read_policy(peer_review_dir: str | os.PathLike[str]) -> GroupPolicy:
    """The policy the hub wrote into a peer-review folder (defaults if it cannot be read)."""
    folder = Path(peer_review_dir)
    try:
        info = os.lstat(folder / POLICY_FILE)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != folder.stat().st_uid:
            raise OSError("not the hub's policy file")
        raw = json.loads((folder / POLICY_FILE).read_text())
        return GroupPolicy(
            group=str(raw["group"]),
            peer_review=bool(raw["peer_review"]),
            anonymous_feedback=bool(raw["anonymous_feedback"]),
            max_piece_bytes=int(raw["max_piece_bytes"]),
            allowed_types=tuple(str(t) for t in raw["allowed_types"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return GroupPolicy(group=folder.parent.name)


@dataclass(frozen=True)
class Entry:
    """One folder or file of the plan: path, mode, and whether it belongs to the group."""

    path: Path
    mode: int
    group_owned: bool
    kind: str = "dir"  # "dir", "policy" or "notebook"


def group_root(data_dir: str | os.PathLike[str], group: str) -> Path:
    return Path(data_dir) / "groups" / group


def peer_review_dir(data_dir: str | os.PathLike[str], group: str) -> Path:
    return group_root(data_dir, group) / PEER_REVIEW


def plan_group(data_dir: str | os.PathLike[str], policy: GroupPolicy) -> list[Entry]:
    """The folders and hub-owned files a group needs, parents first. Pure."""
    root = group_root(data_dir, policy.group)
    shared = root / PEER_REVIEW
    return [
        Entry(Path(data_dir) / "groups", 0o711, group_owned=False),
        # While peer review is off, members cannot enter: nothing is lost, nothing is seen.
        Entry(root, 0o750 if policy.peer_review else 0o700, group_owned=True),
        Entry(shared, 0o3770, group_owned=True),
        Entry(root / MODERATION, 0o700, group_owned=False),
        Entry(shared / POLICY_FILE, 0o644, group_owned=False, kind="policy"),
        Entry(shared / REVIEW_NOTEBOOK, 0o444, group_owned=False, kind="notebook"),
    ]


def review_notebook_text(group: str = "", own: bool = False) -> str:
    """The review notebook: the group's shared, read-only copy, or a learner's own copy (`own`).

    The shared copy says where the learner's own copy is; the learner's own copy opens the
    group's folder through its `~/peer-review/<group>` link.
    """
    notebook = json.loads((HERE / "review_notebook.ipynb").read_text())
    cells = notebook["cells"]
    if own:
        code = next(c for c in cells if c["cell_type"] == "code")
        code["source"] = [
            "from connected_learning.peer_widgets import ReviewPanel\n",
            "\n",
            f"ReviewPanel({f'~/{HOME_LINKS}/{group}'!r})",
        ]
    else:
        cells.insert(
            0,
            {
                "cell_type": "markdown",
                "id": "review-shared",
                "metadata": {},
                "source": [
                    "**This is your group's copy, so it is never saved.** ",
                    f"Your own copy is `REVIEW-{group}.ipynb` in your `peer-review` folder."
                    if group
                    else "Your own copy is in your `peer-review` folder.",
                ],
            },
        )
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"


def own_review_notebook(group: str) -> str:
    """The file name of a learner's own review notebook for `group`, in `~/peer-review/`."""
    return f"REVIEW-{group}.ipynb"


def _write_root_file(path: Path, text: str, mode: int, gid: int | None = None) -> None:
    """Write a hub-owned file inside a folder members can write to, replacing what is there.

    A member may have put a file or a symlink of that name there first: we never write
    through it, we replace it (root may remove entries from a sticky folder). `gid`: the
    file's group (None: the writer's own).
    """
    try:
        info = os.lstat(path)
        if (
            stat.S_ISREG(info.st_mode)
            and info.st_uid == os.geteuid()
            and (gid is None or info.st_gid == gid)
            and stat.S_IMODE(info.st_mode) == mode
            and path.read_bytes() == text.encode()
        ):
            return
    except OSError:
        pass
    tmp = path.with_name(f".{path.name}.hub-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        if gid is not None:
            os.chown(tmp, 0, gid)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def apply_group(
    data_dir: str | os.PathLike[str], policy: GroupPolicy, gid: int | None, *, at: float | None = None
) -> Path:
    """Create or repair a group's folders; return its peer-review folder.

    Withdrawn pieces whose time to undo is over are removed for good here (at every start of a
    member's server, and whenever the classroom service repairs the group).

    Args:
        gid: the group's system group id, or None in demo mode (nothing is chowned).
        at: the time now, in seconds since the epoch (tests pass their own).

    Raises:
        FolderError: a folder of the plan is a symlink or not a folder (never followed).
    """
    for entry in plan_group(data_dir, policy):
        if entry.kind == "policy":
            _write_root_file(entry.path, policy.as_json(), entry.mode)
            continue
        if entry.kind == "notebook":
            _write_root_file(entry.path, review_notebook_text(policy.group), entry.mode)
            continue
        try:
            os.mkdir(entry.path, entry.mode & 0o777)
        except FileExistsError:
            pass
        info = os.lstat(entry.path)
        if not stat.S_ISDIR(info.st_mode):
            raise FolderError(f"{entry.path} should be a folder but is not; move it away and start again.")
        if gid is not None:
            os.chown(entry.path, 0, gid if entry.group_owned else 0)
        os.chmod(entry.path, entry.mode)
    shared = peer_review_dir(data_dir, policy.group)
    purge_withdrawn(shared, time.time() if at is None else at)
    return shared


def write_members(data_dir: str | os.PathLike[str], group: str, names: Mapping[str, str], gid: int | None) -> Path:
    """Record the display names of `group`'s members ({user: name}) where its members can read them.

    The group's folder must exist (`apply_group`). Rewritten only when something changed.

    Args:
        gid: the group's system group id, or None in demo mode (nothing is chowned).
    """
    path = group_root(data_dir, group) / MEMBERS_FILE
    text = json.dumps({"group": group, "names": dict(sorted(names.items()))}, indent=1, ensure_ascii=False) + "\n"
    _write_root_file(path, text, 0o640, gid)
    return path


def system_gid(name: str) -> int:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise FolderError(f"The system group {name!r} does not exist yet.") from None


# ------------------------------------------------------------------ learner side


def link_folders(home: str | os.PathLike[str], base_name: str, targets: Mapping[str, str]) -> dict[str, str]:
    """Make `~/<base_name>/<name>` point at each target; drop links of names no longer there.

    Runs as the learner. Only symlinks are ever removed, never a file or folder the learner
    made there. Returns {name: what happened}.
    """
    base = Path(home) / base_name
    done: dict[str, str] = {}
    if not targets and not base.is_dir():
        return done
    if base.is_symlink():
        raise FolderError(f"{base} is a symbolic link; move it away so your folders can be linked.")
    base.mkdir(mode=0o700, exist_ok=True)
    for entry in list(os.scandir(base)):
        if entry.is_symlink() and entry.name not in targets:
            os.unlink(entry.path)
            done[entry.name] = "removed"
    for name, target in targets.items():
        link = base / name
        if link.is_symlink():
            if os.readlink(link) == target:
                done[name] = "kept"
                continue
            link.unlink()
        elif link.exists():
            done[name] = "skipped: a file of that name is in the way"
            continue
        os.symlink(target, link)
        done[name] = "linked"
    return done


def link_group_folders(home: str | os.PathLike[str], targets: Mapping[str, str]) -> dict[str, str]:
    """`~/peer-review/<group>` for each group folder, and the learner's own review, feedback and showcase notebooks.

    A notebook already there is the learner's and is never rewritten.
    """
    done = link_folders(home, HOME_LINKS, targets)
    base = Path(home) / HOME_LINKS
    for group in targets:
        own = base / own_review_notebook(group)
        if base.is_dir() and done.get(group) in ("linked", "kept") and not os.path.lexists(own):
            own.write_text(review_notebook_text(group, own=True))
    for name, source in (
        (INBOX_NOTEBOOK, HERE / "feedback_notebook.ipynb"),
        (SHOWCASE_NOTEBOOK, SHOWCASE_DIR / "showcase_notebook.ipynb"),
    ):
        notebook = Path(home) / HOME_LINKS / name
        if (Path(home) / HOME_LINKS).is_dir() and not os.path.lexists(notebook):
            notebook.write_text(source.read_text())
    return done


def parse_links(values: Iterable[str]) -> dict[str, str]:
    """`group=/path` arguments of the provisioning command, as a dict."""
    links: dict[str, str] = {}
    for value in values:
        group, sep, target = value.partition("=")
        if not sep or not group or "/" in group or group.startswith("."):
            raise FolderError(f"{value!r} is not group=/path/to/folder.")
        links[group] = target
    return links
