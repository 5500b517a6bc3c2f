"""One machine, run as root: every learner and every group is a real system account.

The operating system keeps learners apart: a private home per system user (mode 0700), a
system group per hub group (prefixed, see `system_users`), services and fences as system
users of their own.
"""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
from dataclasses import dataclass

from . import system_users
from .base import Host, RunAs

LEARNERS_GROUP = "clhub-learners"  # marker: a system account outside it is never a learner's


def ensure_system_user(name: str) -> None:
    """Create a service's system user (no home, no shell, own group) if it is missing."""
    try:
        pwd.getpwnam(name)
        return
    except KeyError:
        pass
    done = subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent"]
        + ["--shell", "/usr/sbin/nologin", name],
        capture_output=True,
        text=True,
    )
    try:
        pwd.getpwnam(name)  # another hub on this machine may have made it meanwhile
    except KeyError:
        raise SystemExit(
            f"Cannot create the system user {name}: {done.stderr.strip()}. Create it with "
            f"`useradd --system --user-group {name}` and start the hub again."
        ) from None


@dataclass(frozen=True)
class SystemHost(Host):
    name = "system"
    isolated = True
    spawner = "workbook-local"

    def home(self, user: str) -> str | None:
        try:
            return pwd.getpwnam(user).pw_dir
        except KeyError:
            return None

    def whoami(self, uid: int, hub_user: str) -> str:
        try:
            return pwd.getpwuid(uid).pw_name  # the operating system's word, not the environment's
        except KeyError:
            return ""

    def group_gid(self, name: str) -> int | None:
        try:
            return grp.getgrnam(name).gr_gid
        except KeyError:
            return None

    async def ensure_group(self, name: str) -> int | None:
        await system_users.ensure_group(name)
        return self.group_gid(name)

    async def ensure_learner(self, user: str, prefix: str, groups: list[str]) -> None:
        await system_users.ensure_learner(user, LEARNERS_GROUP, prefix, groups)

    def service_user(self, name: str) -> str | None:
        return name

    def ensure_service_user(self, name: str) -> str | None:
        if os.geteuid() == 0:
            ensure_system_user(name)
        else:
            try:  # a tool run by hand, not as root: it can only use what is there
                pwd.getpwnam(name)
            except KeyError:
                raise SystemExit(
                    f"The system user {name} is missing and only root can create it: run this as root, or "
                    f"create it with `useradd --system --user-group {name}`."
                ) from None
        return name

    def run_as(self, user: str) -> RunAs | None:
        if os.geteuid() != 0:
            return None
        account = pwd.getpwnam(user)
        return RunAs(user, account.pw_uid, account.pw_gid, tuple(os.getgrouplist(user, account.pw_gid)))
