"""What the root init container of a learner's pod runs: the home made theirs, the group folders repaired.

    python -I -m connected_learning.host.kube_prepare '{"home": "/home/ana", "uid": 100001,
        "data_dir": "/var/lib/clhub", "groups": [{"gid": 200000, "policy": {...}}]}'

The plan comes from the hub (`hub/kube_pod.py`), in the pod's spec; nothing here reads the
learner's files beyond the one folder it owns them by. The container runs as root with only
CHOWN, FOWNER and DAC_OVERRIDE, and the pod's supplemental groups (the learner's), so the
setgid bit `apply_group` sets on a group's folder is kept without CAP_FSETID. The home is
opened without following links and changed through its descriptor: never recursively, so the
start does not grow with the learner's files (the slow recursive chown of `fsGroup`).
A group folder that cannot be repaired is reported and skipped, as on one machine.

It also writes the pod's /etc/passwd and /etc/group (into the emptyDir the other containers
mount read-only over them): the image's own accounts, plus the learner, the classmates the
plan names and their groups, so that a file's owner has a name in the pod as on one machine
(`pwd.getpwuid`, `ls -l`). An image account that has one of those names or ids is left out.
"""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from ..errors import ClhubError
from ..peer_review import folders
from ..settings import validate_username

HOME_MODE = 0o700
GROUP_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")


def own_home(home: str, uid: int) -> None:
    """Make `home` (the mounted folder) the learner's, uid:uid, mode 0700; never follows a link."""
    fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, uid)
        os.fchmod(fd, HOME_MODE)
    finally:
        os.close(fd)


def policy_from(raw: dict[str, Any]) -> folders.GroupPolicy:
    return folders.GroupPolicy(
        group=validate_username(str(raw["group"])),
        peer_review=bool(raw["peer_review"]),
        anonymous_feedback=bool(raw["anonymous_feedback"]),
        max_piece_bytes=int(raw["max_piece_bytes"]),
        allowed_types=tuple(str(t) for t in raw["allowed_types"]),
    )


def _id(value: Any) -> int:
    number = int(value)
    if not 0 < number < 2**31:
        raise ValueError(f"{number} is not an id a learner or a group can have")
    return number


def account_files(
    passwd: str, group: str, people: list[list[Any]], groups: list[list[Any]], shell: str = "/bin/sh"
) -> tuple[str, str]:
    """(/etc/passwd, /etc/group) of the pod: the image's lines, then ours. Pure.

    Args:
        people: [[name, uid]]: each gets an account with a private group of the same id.
        groups: [[system group name, gid, [member names]]].
    """
    accounts = {validate_username(str(name)): _id(uid) for name, uid in people}
    named = {str(name): _id(gid) for name, gid, _ in groups}
    for name in named:
        if not GROUP_NAME.match(name):
            raise ValueError(f"{name[:40]!r} is not a group name")
    taken_names = set(accounts) | set(named)
    taken_ids = set(accounts.values()) | set(named.values())

    def kept(text: str) -> list[str]:
        lines = []
        for line in text.splitlines():
            fields = line.split(":")
            if len(fields) < 3 or fields[0] in taken_names or (fields[2].isdigit() and int(fields[2]) in taken_ids):
                continue
            lines.append(line)
        return lines

    passwd_lines = kept(passwd) + [f"{n}:x:{u}:{u}::/home/{n}:{shell}" for n, u in accounts.items()]
    group_lines = kept(group) + [f"{n}:x:{u}:" for n, u in accounts.items()]
    for name, _gid, members in groups:
        group_lines.append(f"{name}:x:{named[str(name)]}:{','.join(m for m in members if m in accounts)}")
    return "\n".join(passwd_lines) + "\n", "\n".join(group_lines) + "\n"


def write_account_files(folder: str, people: list[list[Any]], groups: list[list[Any]]) -> None:
    """Write the pod's passwd and group into `folder` (root's, 0644), from this image's own."""
    with open("/etc/passwd") as f, open("/etc/group") as g:
        mine = (f.read(), g.read())
    shell = "/bin/bash" if os.path.exists("/bin/bash") else "/bin/sh"
    for name, text in zip(("passwd", "group"), account_files(*mine, people, groups, shell), strict=True):
        partial = os.path.join(folder, f".{name}.partial")
        with open(partial, "w") as out:
            out.write(text)
        os.chmod(partial, 0o644)
        os.replace(partial, os.path.join(folder, name))


def prepare(plan: dict[str, Any]) -> list[str]:
    """Apply the plan; return the problems of the group folders that could not be repaired."""
    uid = int(plan["uid"])
    if uid <= 0:
        raise ClhubError(f"uid {uid} is not a learner's: a learner's uid is never root's.")
    own_home(str(plan["home"]), uid)
    if plan.get("etc"):
        write_account_files(str(plan["etc"]), plan.get("people") or [], plan.get("group_names") or [])
    problems = []
    for entry in plan.get("groups", []):
        try:
            policy = policy_from(entry["policy"])
            folders.apply_group(str(plan["data_dir"]), policy, int(entry["gid"]))
        except (ClhubError, OSError, KeyError, ValueError, TypeError) as e:
            problems.append(f"The folder of group {str(entry.get('policy', {}).get('group'))[:40]!r}: {e}")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        problems = prepare(json.loads(args[0]))
    except (IndexError, ValueError, KeyError, TypeError, ClhubError, OSError) as e:
        print(f"The learner's space cannot be prepared: {e}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
