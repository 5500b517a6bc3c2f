"""Real system users and groups for learners, on one machine.

The operating system, not our Python code, keeps learners apart: each hub user is a
system user with a private home (mode 0700), each hub group a system group named with a
prefix (so a hub group called "sudo" can never become the real `sudo`). Every account we
create belongs to a marker group; an existing system account outside it (root, postgres,
a staff login) is never used for a learner's server.

`plan_memberships` is the pure part; the functions below it run `useradd`, `groupadd`
and `usermod`, serialised by one lock because those tools lock /etc/passwd.
"""

from __future__ import annotations

import asyncio
import grp
import os
import pwd
from dataclasses import dataclass

from ..errors import ClhubError
from ..settings import validate_username

MIN_UID = 1000
_lock = asyncio.Lock()


class SystemUserError(ClhubError):
    code = "system-user"


@dataclass(frozen=True)
class Account:
    name: str
    uid: int
    gid: int
    home: str


def system_group_name(prefix: str, hub_group: str) -> str:
    """The system group for `hub_group`: prefixed, and valid for groupadd (<= 32 chars)."""
    name = f"{prefix}{hub_group}"
    validate_username(name.replace(".", "-")[:31])  # same safe alphabet as user names
    if len(name) > 32:
        raise SystemUserError(
            f"The group name {hub_group!r} is too long for a system group; use at most {32 - len(prefix)} characters."
        )
    return name


TEACH_PREFIX = "clhubt-"  # system group of a group's teachers: they share its nbgrader course


def plan_memberships(marker: str, prefix: str, hub_groups: list[str]) -> list[str]:
    """The supplementary system groups a learner should have: the marker plus one per hub group."""
    return sorted({marker, *(system_group_name(prefix, g) for g in hub_groups)})


async def _run(*cmd: str) -> None:
    proc = await asyncio.create_subprocess_exec(*cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise SystemUserError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}: {err.decode(errors='replace').strip()}"
        )


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


async def ensure_group(name: str) -> None:
    if not _group_exists(name):
        async with _lock:
            if not _group_exists(name):
                await _run("groupadd", name)


def lookup_learner(name: str, marker: str) -> Account | None:
    """The system account for learner `name`, None if there is none.

    Raises:
        SystemUserError: the account exists but is not one of ours (a system account,
            uid below 1000, or outside the marker group): refusing is the only safe move.
    """
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    members = grp.getgrnam(marker).gr_mem if _group_exists(marker) else []
    if entry.pw_uid < MIN_UID or name not in members:
        raise SystemUserError(
            f"A system account called {name!r} already exists and was not created by Connected "
            f"Learning Hub (uid {entry.pw_uid}); rename the hub user or add the account to the "
            f"{marker!r} group if it really is a learner's.",
            code="foreign-account",
        )
    return Account(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


async def ensure_learner(
    name: str,
    marker: str,
    prefix: str,
    hub_groups: list[str],
    home_root: str = "/home",
    shell: str = "/bin/bash",
    extra_groups: list[str] | None = None,
) -> Account:
    """Create (if needed) the learner's system account and set its group memberships.

    The home is created mode 0700. Memberships are replaced, not added to, so a learner
    removed from a hub group loses the system group from their next start.
    `extra_groups` are further system groups by full name (a teacher's course groups).
    """
    validate_username(name)
    await ensure_group(marker)
    wanted = sorted({*plan_memberships(marker, prefix, hub_groups), *(extra_groups or [])})
    for group in wanted:
        await ensure_group(group)
    async with _lock:
        account = lookup_learner(name, marker)
        if account is None:
            home = os.path.join(home_root, name)
            await _run(
                "useradd",
                "--create-home",
                "--home-dir",
                home,
                "--shell",
                shell,
                "--user-group",
                "--comment",
                "Connected Learning Hub learner",
                "--groups",
                ",".join(wanted),
                name,
            )
        elif set(current_groups(name)) - {name} != set(wanted):
            await _run("usermod", "--groups", ",".join(wanted), name)
        account = lookup_learner(name, marker)
    assert account is not None
    os.chmod(account.home, 0o700)
    return account


def current_groups(name: str) -> list[str]:
    entry = pwd.getpwnam(name)
    return sorted(grp.getgrgid(g).gr_name for g in os.getgrouplist(name, entry.pw_gid))
