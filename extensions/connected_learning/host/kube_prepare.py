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
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from ..errors import ClhubError
from ..peer_review import folders
from ..settings import validate_username

HOME_MODE = 0o700


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


def prepare(plan: dict[str, Any]) -> list[str]:
    """Apply the plan; return the problems of the group folders that could not be repaired."""
    uid = int(plan["uid"])
    if uid <= 0:
        raise ClhubError(f"uid {uid} is not a learner's: a learner's uid is never root's.")
    own_home(str(plan["home"]), uid)
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
