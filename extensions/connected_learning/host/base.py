"""The host seam: one object answers every "where, and as whom" question of a site.

A site runs on one machine as root with a system user per learner (`system.SystemHost`),
on one machine as an ordinary user with every account sharing that user (the demo,
`same_user.SameUserHost`), or (later) on Kubernetes. Everything that differs between them
is a method here, so the hub, its services and each learner's server ask one object instead
of checking `geteuid()` or an environment variable at every turn. `current.py` chooses the
host once, when the hub starts, and hands its name to every process it starts.
"""

from __future__ import annotations

import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

HOST_VARIABLE = "CLHUB_HOST"  # the host's name, in the environment of the hub's services and servers


@dataclass(frozen=True)
class RunAs:
    """A system identity to run a process as: what `setpriv` needs."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


@dataclass(frozen=True)
class Host:
    """Where and as whom things run. `data_dir` is the site's data folder."""

    data_dir: Path

    name: ClassVar[str]
    # Accounts are apart: each learner is their own system identity, so the owner of a file
    # is its author and the operating system keeps learners out of each other's files.
    isolated: ClassVar[bool]
    # The JupyterHub spawner for this host (an entry point name from pyproject.toml).
    spawner: ClassVar[str]
    # A fence (sandbox.py) may mount a /proc of its own. Not where a container runtime masks
    # parts of /proc: the kernel refuses an unprivileged process a fresh proc mount there.
    fresh_proc: ClassVar[bool] = True

    @property
    def demo(self) -> bool:
        """Accounts are NOT isolated from each other: the pages say so."""
        return not self.isolated

    def environment(self) -> dict[str, str]:
        """What every process the hub starts needs to find this same host again."""
        return {HOST_VARIABLE: self.name}

    def home(self, user: str) -> str | None:
        """The learner's home folder, None if they have none yet."""
        raise NotImplementedError

    def whoami(self, uid: int, hub_user: str) -> str:
        """The hub account a learner's process acts for (`hub_user`: JUPYTERHUB_USER)."""
        raise NotImplementedError

    def group_gid(self, name: str) -> int | None:
        """The gid of the system group `name`, None where groups are not system groups."""
        raise NotImplementedError

    async def ensure_group(self, name: str) -> int | None:
        """Make the system group `name` if it is missing; its gid, None where there are none."""
        raise NotImplementedError

    async def ensure_learner(self, user: str, prefix: str, groups: list[str]) -> None:
        """Make or update the learner's system account and its groups (nothing where there are none)."""
        raise NotImplementedError

    def service_user(self, name: str) -> str | None:
        """The system user a service or a fence runs as; None: as the hub itself. Makes nothing."""
        raise NotImplementedError

    def ensure_service_user(self, name: str) -> str | None:
        """`service_user(name)`, made if it is missing (a preparation step, as root)."""
        raise NotImplementedError

    def owner_name(self, uid: int) -> str:
        """The account whose files carry `uid` (who wrote a piece, who submitted), "" if none."""
        try:
            return pwd.getpwuid(uid).pw_name
        except KeyError:
            return ""

    def missing_user_message(self, user: str) -> str:
        """What a fence says when `run_as(user)` finds no such user: what to do, for this host."""
        return (
            f"The system user {user!r} that runs fenced code does not exist: create it with "
            f"`useradd --system --user-group --no-create-home --shell /usr/sbin/nologin {user}`, then try again."
        )

    def run_as(self, user: str) -> RunAs | None:
        """The identity to drop to before running `user`'s code; None: stay as this process."""
        raise NotImplementedError
