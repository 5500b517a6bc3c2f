"""Applying `limits.plan` to the machine: make a learner's group, join it, read it, remove it.

Thin on purpose; what to write is decided in `limits.py`. Run as root by the hub:

    make(plan)        create the group's folders and write its limits (before the server starts)
    join(plan)        move this process into the group; the server's child calls it before it
                      execs, so every kernel and terminal it forks is inside from the start
    usage(...)        memory, CPU time, processes and OOM kills of a group
    release(folders)  kill what is left in the group and remove its folders (server stopped)
    find_groups(...)  the learners' groups on this machine, for `clhub usage`

`read_machine` reads what `limits.detect` needs; `root` lets tests give a fake machine.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import limits
from .limits import Layout, LimitsError, Plan


def read_machine(root: str = "/") -> Layout:
    """This machine's way of doing control groups (`root`: a fake machine's folder for tests)."""
    base = Path(root)

    def read(path: str) -> str:
        try:
            return (base / path.lstrip("/")).read_text()
        except OSError:
            return ""

    mountinfo = read("/proc/self/mountinfo")
    mounts = limits.parse_mountinfo(mountinfo)
    unified = mounts.get("", ("", ""))[0]
    memory = mounts.get("memory", ("", ""))[0]
    return limits.detect(
        mountinfo,
        read("/proc/self/cgroup"),
        systemd_booted=(base / "run/systemd/system").is_dir(),
        v2_controllers=read(f"{unified}/cgroup.controllers") if unified else "",
        memsw=bool(memory) and (base / memory.lstrip("/") / "memory.memsw.limit_in_bytes").exists(),
    )


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        if e.errno == errno.EBUSY and path.endswith("/cgroup.subtree_control"):
            # cgroup v2 hands controllers only to children of a group without processes.
            raise LimitsError(
                f"Cannot write {value!r} to {path}: the control group {os.path.dirname(path)} holds processes "
                "(the hub's own, or others), and cgroup v2 lets such a group give no controllers to learners' "
                "groups. Start the hub in a control group of its own (a container whose other processes sit in "
                "a leaf group, or a systemd service), then start the learner's server again."
            ) from e
        raise LimitsError(f"Cannot write {value!r} to {path}: {e.strerror}.") from e


def make(plan: Plan) -> None:
    """Create the group's folders and write its limits; raises LimitsError naming the file."""
    for folder in plan.folders:
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as e:
            raise LimitsError(f"Cannot create the control group {folder}: {e.strerror}.") from e
    for path, value in plan.writes:
        _write(path, value)
    weigh_parents(plan.folders)


def weigh_parents(folders: tuple[str, ...] | list[str]) -> None:
    """Give the `clhub` groups above `folders` the CPU weight of the learners they hold now."""
    for parent in {os.path.dirname(f) for f in folders}:
        for file in ("cpu.shares", "cpu.weight"):
            path = os.path.join(parent, file)
            if os.path.exists(path):
                try:
                    learners = sum(1 for e in os.scandir(parent) if e.is_dir(follow_symlinks=False))
                except OSError:
                    continue
                value = limits.parent_weight(file, learners)
                if value is not None:
                    _write(path, value)


def join(plan: Plan, pid: int = 0) -> None:
    """Move process `pid` (0: this one) into the group. Safe in a preexec_fn: no locks, no logging."""
    value = str(pid or os.getpid())
    for path in plan.procs:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)


def _pids(folder: str) -> list[int]:
    try:
        with open(os.path.join(folder, "cgroup.procs")) as f:
            return [int(line) for line in f if line.strip()]
    except OSError:
        return []


def release(folders: tuple[str, ...] | list[str], timeout: float = 10) -> bool:
    """Kill every process left in the group, then remove its folders; True if all are gone.

    A learner's background process outlives their server otherwise. Killing repeats until
    the group is empty, so processes forked meanwhile go too (the pids limit bounds them).
    """
    deadline = time.monotonic() + timeout
    left = [f for f in folders if os.path.isdir(f)]
    while left and time.monotonic() < deadline:
        for folder in left:
            for pid in _pids(folder):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for folder in list(left):
            try:
                os.rmdir(folder)
                left.remove(folder)
            except FileNotFoundError:
                left.remove(folder)
            except OSError as e:
                if e.errno != errno.EBUSY:
                    raise LimitsError(f"Cannot remove the control group {folder}: {e.strerror}.") from e
        if left:
            time.sleep(0.05)
    with contextlib.suppress(LimitsError):
        weigh_parents(folders)  # one learner fewer
    return not left


def stop_scope(unit: str) -> None:
    """systemd's way of `release`: stop the learner's scope (everything in it)."""
    subprocess.run(["systemctl", "stop", unit], capture_output=True, timeout=30)


@dataclass(frozen=True)
class Usage:
    user: str
    memory_bytes: int
    memory_limit_bytes: int  # 0: none
    cpu_seconds: float
    processes: int
    oom_kills: int


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _number(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0


def _keyed(text: str, key: str) -> int:
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return _number(value)
    return 0


def folders_of(layout: Layout, user: str) -> dict[str, str]:
    """{controller: folder} of `user`'s group as this process would make it (v2, systemd: key "")."""
    if layout.kind == "systemd":
        return {"": limits.systemd_group(user)}
    if layout.kind == "none":
        return {}
    return {c: limits.group_folder(layout, c, user) for c in layout.mounts}


def oom_kills(folders: dict[str, str]) -> int:
    """How many processes the OOM killer stopped in a group so far (0: no group)."""
    if "memory" in folders:
        return _keyed(_read(f"{folders['memory']}/memory.oom_control"), "oom_kill")
    if "" in folders:
        return _keyed(_read(f"{folders['']}/memory.events"), "oom_kill")
    return 0


def usage(user: str, folders: dict[str, str]) -> Usage:
    """What the group in `folders` (from `folders_of` or `find_groups`) uses now; zeros where
    a number cannot be read."""
    if "memory" in folders:  # v1
        memory = folders["memory"]
        limit = _number(_read(f"{memory}/memory.limit_in_bytes"))
        cpuacct = folders.get("cpuacct", folders.get("cpu", ""))
        return Usage(
            user,
            _number(_read(f"{memory}/memory.usage_in_bytes")),
            limit if limit < 2**62 else 0,  # "no limit" reads as a huge number
            _number(_read(f"{cpuacct}/cpuacct.usage")) / 1e9,
            _number(_read(f"{folders.get('pids', '')}/pids.current")),
            oom_kills(folders),
        )
    folder = folders.get("", "")
    return Usage(
        user,
        _number(_read(f"{folder}/memory.current")),
        _number(_read(f"{folder}/memory.max")),
        _keyed(_read(f"{folder}/cpu.stat"), "usage_usec") / 1e6,
        _number(_read(f"{folder}/pids.current")),
        oom_kills(folders),
    )


def find_groups(layout: Layout, depth: int = 8) -> dict[str, dict[str, str]]:
    """{learner: {controller: folder}} of every learner's group on this machine.

    `clhub usage` runs in another cgroup than the hub, so it looks for the parent folders
    (named `limits.PARENT`, or systemd's slice) instead of computing them.
    """
    found: dict[str, dict[str, str]] = {}
    if layout.kind == "systemd":
        for scope in sorted(Path("/sys/fs/cgroup", limits.SLICE).glob("clhub-*.scope")):
            found[scope.name[len("clhub-") : -len(".scope")]] = {"": str(scope)}
        return found
    for controller, mount in layout.mounts.items():
        for folder, subfolders, _ in os.walk(mount):
            if os.path.basename(folder) == limits.PARENT:
                for user in subfolders:
                    found.setdefault(user, {})[controller] = os.path.join(folder, user)
                subfolders[:] = []
            elif folder.count(os.sep) - mount.count(os.sep) >= depth:
                subfolders[:] = []
    return found
