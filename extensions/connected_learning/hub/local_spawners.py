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
import pwd
from typing import Any

from jupyterhub.spawner import LocalProcessSpawner, set_user_setuid
from jupyterhub.utils import random_port
from tornado import web
from traitlets import Bool, Integer, Unicode

from ..host import cgroups, disks, limits, system_users
from ..peer_review import folders
from . import template
from .spawner import WorkbookSpawnerMixin


class TemplateStartSpawner(LocalProcessSpawner):
    """LocalProcessSpawner whose start asks the start-up template (hub/template.py) to fork the server.

    The server is then no child of the hub: `self.proc` stays None and poll and stop go by
    `self.pid`, exactly as LocalProcessSpawner does for a server that outlived a hub restart.
    Where the template does not answer, the server starts as usual, with a log line.
    """

    start_template = Bool(
        False,
        config=True,
        help="Start learners' servers from the start-up template (a root process that has imported "
        "JupyterLab once, started on first use, outliving hub restarts); False: Popen as usual. "
        "The site setting site.start_template sets it. Default False.",
    )
    template_wait_seconds = Integer(
        60, config=True, help="How long the first start waits for a new template to be ready, in seconds. Default 60."
    )

    # Set by the subclass before start: the learner's control group, or None.
    _limits_plan: limits.Plan | None = None

    def template_socket(self) -> str:
        return template.socket_path(self.data_dir)

    def template_request(self, cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
        """What the template needs to become this learner's server (see host/start_template.Request)."""
        account = pwd.getpwnam(self.user.name)
        plan = self._limits_plan
        max_processes = int(getattr(self, "max_processes", 0))
        return {
            "argv": cmd,
            "env": env,
            "cwd": account.pw_dir,
            "uid": account.pw_uid,
            "gid": account.pw_gid,
            "groups": os.getgrouplist(self.user.name, account.pw_gid),
            "cgroup_procs": list(plan.procs) if plan is not None else [],
            "nproc": 0 if plan is not None else max_processes,
            "umask": current_umask(),
        }

    async def start_from_template(self) -> Any:
        """(ip, port) of a server forked by the template; raises template.TemplateUnavailable."""
        plan = self._limits_plan
        if plan is not None and plan.command:
            raise template.TemplateUnavailable("systemd makes this learner's scope (systemd-run), not the template")
        if self.shell_cmd or os.getuid() != 0:
            raise template.TemplateUnavailable("the template serves only the system host (root, no shell_cmd)")
        if self.port == 0:  # type: ignore[has-type]
            self.port = random_port()
        cmd = [*self.cmd, *self.get_args()]
        env = self.get_env()
        path = self.template_socket()
        loop = asyncio.get_running_loop()
        request = self.template_request(cmd, env)
        for last in (False, True):  # a template that died since this hub last asked is started again, once
            ready = await loop.run_in_executor(
                None, template.known_running, path, cmd[0], float(self.template_wait_seconds)
            )
            if not ready:
                raise template.TemplateUnavailable(f"the start-up template did not start (see {path}'s folder)")
            try:
                pid = await loop.run_in_executor(None, template.start_server, path, request)
                break
            except template.TemplateUnavailable:
                template.forget(path)
                if last:
                    raise
        self.log.info("Started %s's server from the start-up template: pid %d", self.user.name, pid)
        self.proc = None
        self.pid = pid
        return (self.ip or "127.0.0.1", self.port)

    async def start(self) -> Any:
        if self.start_template:
            try:
                return await self.start_from_template()
            except (template.TemplateUnavailable, KeyError, OSError) as e:
                self.log.warning("Starting %s's server without the start-up template: %s", self.user.name, e)
        return await super().start()

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is None and self.proc is None and self.pid and is_zombie(self.pid):
            self.clear_state()  # ended, and its parent (init) has not reaped it yet
            return 0
        return status


def current_umask() -> int:
    """This process's umask, read without changing it (os.umask would, for a moment)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    return 0o022


def is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


class LocalWorkbookSpawner(WorkbookSpawnerMixin, TemplateStartSpawner):
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
        256,
        config=True,
        help="Most processes (tasks) a learner's server may run, kernels included; 0: no limit. "
        "Enforced by the learner's control group (pids), or RLIMIT_NPROC where there are no cgroups. Default 256.",
    )
    cgroup_limits = Bool(
        True,
        config=True,
        help="Put each learner's whole server in a control group of its own that enforces mem_limit, "
        "cpu_limit and max_processes (systemd, cgroup v2 or v1, whichever the machine has; see "
        "host/limits.py). Default True.",
    )
    oom_check_seconds = Integer(
        5, config=True, help="How often the hub looks for processes the memory limit stopped, in seconds. Default 5."
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

    # ------------------------------------------------------------ limits (host/limits.py)

    _oom_watch: asyncio.Task[None] | None = None

    def learner_limits(self) -> limits.Limits:
        return limits.Limits(int((self.mem_limit or 0) // (1024 * 1024)), self.cpu_limit or 0.0, self.max_processes)

    def limits_plan(self) -> limits.Plan | None:
        """The learner's control group, None where limits are off or this machine has no cgroups."""
        layout = machine_layout()
        if not self.cgroup_limits or layout.kind == "none" or not self.learner_limits():
            return None
        return limits.plan(self.user.name, self.learner_limits(), layout)

    async def make_limits(self) -> limits.Plan | None:
        plan = self.limits_plan()
        if plan is None:
            if self.cgroup_limits and machine_layout().kind == "none":
                self.log.warning(
                    "No control groups on this machine: %s's memory and CPU are NOT limited "
                    "(processes: RLIMIT_NPROC only).",
                    self.user.name,
                )
            return None
        if plan.command:
            return plan  # systemd makes the scope as it starts the server (see start)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, cgroups.release, plan.folders)  # leftovers of a crashed server
            await loop.run_in_executor(None, cgroups.make, plan)
        except (limits.LimitsError, OSError) as e:
            self.log.error("Cannot limit %s's server (%s): %s", self.user.name, machine_layout().describe(), e)
            raise web.HTTPError(
                500, "Your server could not be given its share of this computer. Ask a librarian or teacher for help."
            ) from e
        self.log.info(
            "%s's server runs within %s (%s)", self.user.name, self.learner_limits(), machine_layout().describe()
        )
        return plan

    async def release_limits(self) -> None:
        plan = self.limits_plan()
        if plan is None:
            return
        if plan.command:
            await asyncio.get_running_loop().run_in_executor(None, cgroups.stop_scope, plan.unit)
            return
        if not await asyncio.get_running_loop().run_in_executor(None, cgroups.release, plan.folders):
            self.log.warning("The control group of %s is still busy: %s", self.user.name, ", ".join(plan.folders))

    async def watch_memory(self, folders: dict[str, str]) -> None:
        """Log, in plain words, each time the memory limit stops one of the learner's processes."""
        seen = cgroups.oom_kills(folders)
        while True:
            await asyncio.sleep(self.oom_check_seconds)
            now = cgroups.oom_kills(folders)
            if now > seen:
                self.log.warning(
                    "%s (%d process(es) stopped by the memory limit): %s",
                    self.user.name,
                    now - seen,
                    limits.memory_message(self.learner_limits().memory_mb),
                )
                seen = now

    async def start(self) -> Any:
        plan = await self.make_limits()
        self._limits_plan = plan
        cmd: list[str] = list(self.cmd)  # type: ignore[has-type]
        if plan is not None and plan.command:
            self.cmd = [*plan.command, *cmd]  # systemd-run starts the server in its scope, as the learner
        try:
            started = await super().start()
        except BaseException:
            await self.release_limits()
            raise
        finally:
            self.cmd = cmd
        self.watch_memory_once()
        return started

    def watch_memory_once(self) -> None:
        """Start `watch_memory` unless it runs already, or there is no memory limit to watch."""
        if self._oom_watch is None and self.learner_limits().memory_mb and self.limits_plan() is not None:
            self._oom_watch = asyncio.ensure_future(
                self.watch_memory(cgroups.folders_of(machine_layout(), self.user.name))
            )

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is None and self.pid:
            self.watch_memory_once()  # a server that outlived a hub restart is watched again
        return status

    async def stop(self, now: bool = False) -> None:
        if self._oom_watch is not None:
            self._oom_watch.cancel()
            self._oom_watch = None
        try:
            await super().stop(now=now)
        finally:
            await self.release_limits()  # what the learner left running goes with the server

    def make_preexec_fn(self, name: str) -> Any:
        setuid = set_user_setuid(name)
        plan = self._limits_plan
        nproc = 0 if plan is not None else self.max_processes
        if plan is not None and plan.command:
            home = self.learner_home()

            def in_scope() -> None:
                os.chdir(home)  # systemd-run --uid switches to the learner itself, after making the scope

            return in_scope

        def preexec() -> None:
            # Still root: join the learner's group before anything else runs, so every
            # kernel the server forks is inside it too.
            if plan is not None:
                cgroups.join(plan)
            if nproc:  # no cgroup counts the learner's processes: the per-user limit must
                import resource

                resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
            setuid()

        return preexec


_layout: limits.Layout | None = None


def machine_layout() -> limits.Layout:
    """This machine's control groups, read once per hub process."""
    global _layout
    if _layout is None:
        _layout = cgroups.read_machine()
    return _layout


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
            "learners are NOT isolated from each other, and their memory, CPU and processes are NOT limited "
            "(control groups need root). Use the local spawner (run as root) for a real site.",
            self.user.name,
        )
        return await super().start()
