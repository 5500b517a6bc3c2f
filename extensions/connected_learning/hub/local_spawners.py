"""The workbook spawners of one machine, over JupyterHub's LocalProcessSpawner.

- `LocalWorkbookSpawner` (the system host): a real system user per learner (created on
  demand), private homes, one system group per hub group. The default when the hub runs as root.
- `DemoWorkbookSpawner` (the same-user host): every server runs as the user who started the
  hub, homes under the data folder. For a laptop; accounts are NOT isolated from each other.

Registered as the `jupyterhub.spawners` entry points `workbook-local` and `workbook-demo`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from tornado import web
from traitlets import Integer, Unicode

from ..host import disks, system_users
from ..peer_review import folders
from .spawner import WorkbookSpawnerMixin


class LocalWorkbookSpawner(WorkbookSpawnerMixin, LocalProcessSpawner):
    """Each learner's server runs as their own system user, created on first start."""

    home_root = Unicode("/home", config=True, help="Folder that holds learners' homes. Default '/home'.")
    learner_marker_group = Unicode(
        "clhub-learners",
        config=True,
        help="System group every account created by the hub belongs to; an existing system "
        "account outside it is never used for a server. Default 'clhub-learners'.",
    )
    system_group_prefix = Unicode(
        "clhub-",
        config=True,
        help="Prefix of the system group made for each hub group, so that hub group 'demo-class' "
        "becomes system group 'clhub-demo-class'. Default 'clhub-'.",
    )
    max_processes = Integer(
        256, config=True, help="Most processes a learner may run (RLIMIT_NPROC); 0: no limit. Default 256."
    )

    disk_mb = Integer(
        0,
        config=True,
        help="Size in MB of each learner's own file system, mounted on their home (a sparse ext4 image "
        "in disks_dir), so that nobody can fill the disk others need; 0: none. Growing it takes effect "
        "at each learner's next start; a disk is never shrunk. Default 0; the site setting limits.disk_mb "
        "sets it. Example: 1024.",
    )
    disks_dir = Unicode(
        "",
        config=True,
        help="Folder of the learners' disk images (<user>.img), root's alone. Example: '/var/lib/clhub/disks'. "
        "Empty: no per-learner disks.",
    )

    def learner_home(self) -> str:
        return os.path.join(self.home_root, self.user.name)

    async def prepare_learner(self) -> None:
        groups = sorted(g.name for g in self.user.groups)
        try:
            teaching = []
            for group in self.taught_groups():
                try:
                    teaching.append(system_users.system_group_name(system_users.TEACH_PREFIX, group))
                except system_users.SystemUserError:
                    self.log.warning("No course group for %s: the group name %r is too long", self.user.name, group)
            account = await system_users.ensure_learner(
                self.user.name,
                self.learner_marker_group,
                self.system_group_prefix,
                groups,
                home_root=self.home_root,
                extra_groups=teaching,
            )
        except system_users.SystemUserError as e:
            self.log.error("Cannot prepare the system account of %s: %s", self.user.name, e)
            raise web.HTTPError(
                500, "Your account could not be set up on this computer. Ask a librarian or teacher for help."
            ) from e

        await self.prepare_disk(account)

    async def prepare_disk(self, account: system_users.Account) -> None:
        """Mount the learner's own file system on their home (made, moved in or grown as needed)."""
        if not self.disks_dir:
            return
        learner = disks.Learner(account.name, account.uid, account.gid, account.home)
        loop = asyncio.get_running_loop()
        try:
            steps = await loop.run_in_executor(None, disks.ensure_disk, self.disks_dir, learner, self.disk_mb)
        except (disks.DiskError, OSError) as e:
            self.log.error("Cannot prepare the disk of %s: %s", self.user.name, e)
            raise web.HTTPError(
                500, "Your space on this computer could not be prepared. Ask a librarian or teacher for help."
            ) from e
        if disks.GROW_POSTPONED in steps:
            self.log.warning(
                "The disk of %s keeps its size until a later start: a process of theirs still uses it.",
                self.user.name,
            )
        elif steps and steps != (disks.OWN,):
            self.log.info("Disk of %s: %s", self.user.name, ", ".join(steps))

    def provision_preexec(self) -> Any:
        return set_user_setuid(self.user.name)

    def group_gid(self, group: str) -> int | None:
        return folders.system_gid(system_users.system_group_name(self.system_group_prefix, group))

    def make_preexec_fn(self, name: str) -> Any:
        setuid = set_user_setuid(name)
        limit = self.max_processes

        def preexec() -> None:
            if limit:
                import resource

                resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
            setuid()

        return preexec


class DemoWorkbookSpawner(WorkbookSpawnerMixin, LocalProcessSpawner):
    """Every learner's server runs as the user who started the hub: a laptop demo.

    Accounts are NOT isolated from each other: any learner's code can read every home.
    """

    homes_dir = Unicode("", config=True, help="Folder holding the demo homes, one per account. Required.")
    host_name = "same-user"

    def learner_home(self) -> str:
        return os.path.join(self.homes_dir, self.user.name)

    async def prepare_learner(self) -> None:
        os.makedirs(self.learner_home(), mode=0o700, exist_ok=True)

    def make_preexec_fn(self, name: str) -> Any:
        home = self.learner_home()

        def preexec() -> None:
            os.chdir(home)  # as the system spawner does: a kernel started without a path begins at home

        return preexec

    def user_env(self, env: dict[str, str]) -> dict[str, str]:
        env["USER"] = self.user.name
        env["HOME"] = self.learner_home()
        return env

    def get_args(self) -> list[str]:
        args = super().get_args()
        if os.getuid() == 0:
            args.append("--allow-root")
        return args

    async def start(self) -> Any:
        self.log.warning(
            "Demo spawner: %s's server runs as the same system user as every other account; "
            "learners are NOT isolated from each other. Use the local spawner (run as root) for a real site.",
            self.user.name,
        )
        return await super().start()
