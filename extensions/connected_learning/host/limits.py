"""Per-learner limits through cgroups: which kind this machine has, and what to write or run.

Pure functions only; `cgroups.py` applies what they decide. Each learner's whole server,
kernels and terminals included, lives in one control group per learner, so the limits
hold for everything it starts:

    memory      memory_mb for the group, no swap: the kernel's OOM killer stops a process
                of THAT group only when it asks for more
    cpu         at most `cpu` cores (a CFS quota), and an equal share of a busy machine
                for every learner however many processes each runs (equal weights)
    processes   at most max_processes tasks (pids controller): a fork flood stops there

Three ways, chosen by `detect` from what the machine has:

    systemd     systemd runs the machine (/run/systemd/system): a transient scope per
                server in clhub.slice, started with `systemd-run --scope` (what TLJH's
                SystemdSpawner does with services)
    v2          the unified hierarchy with its controllers:
                <mount>/<own cgroup>/clhub/<user>/ memory.max, memory.swap.max, cpu.max,
                cpu.weight, pids.max
    v1          one hierarchy per controller (memory, cpu, cpuacct, pids):
                <mount>/<own cgroup>/clhub/<user>/ memory.limit_in_bytes (and memsw),
                cpu.cfs_quota_us, cpu.shares, pids.max

Groups nest under the cgroup the hub itself was started in ("own cgroup"), so whatever
limits and accounting the machine puts on the hub also cover its learners.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from ..errors import ClhubError

PARENT = "clhub"  # the folder that holds one group per learner, under the hub's own cgroup
SLICE = "clhub.slice"  # systemd's equivalent
CFS_PERIOD_US = 100_000
V1_CONTROLLERS = ("memory", "cpu", "cpuacct", "pids")
V2_CONTROLLERS = ("memory", "cpu", "pids")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,30}\Z")


class LimitsError(ClhubError):
    code = "limits"


def parent_weight(file: str, learners: int) -> str | None:
    """The CPU weight of the `clhub` group that holds `learners` learners' groups.

    The group competes with each of the hub's own processes (the hub, the proxy, the services)
    as ONE task: at the default weight, thirty learners starting together would share what a
    single hub process gets. Weighing it as one task per learner gives every learner's server
    what one process got before there were groups, and no learner more (each has its own
    equal share and quota inside). `file`: "cpu.shares" (v1) or "cpu.weight" (v2).
    """
    n = max(1, learners)
    if file == "cpu.shares":
        return str(min(262144, 1024 * n))
    if file == "cpu.weight":
        return str(min(10000, 100 * n))
    return None


@dataclass(frozen=True)
class Limits:
    """What each learner may use; 0 means no limit on that resource."""

    memory_mb: int = 0
    cpu: float = 0.0
    max_processes: int = 0

    def __bool__(self) -> bool:
        return bool(self.memory_mb or self.cpu or self.max_processes)


@dataclass(frozen=True)
class Layout:
    """How this machine does control groups.

    `kind` is "systemd", "v2", "v1" or "none". `mounts` maps a controller to where its
    hierarchy is mounted (v2: the key "" for the unified mount); `own` maps it to the
    cgroup (inside that hierarchy) of the process that detected it. `memsw`: v1 can limit
    memory plus swap (swap accounting is on).
    """

    kind: str
    mounts: dict[str, str] = field(default_factory=dict)
    own: dict[str, str] = field(default_factory=dict)
    memsw: bool = False

    def describe(self) -> str:
        if self.kind == "systemd":
            return f"systemd scopes in {SLICE}"
        if self.kind == "none":
            return "no cgroups"
        return f"cgroup {self.kind} under " + ", ".join(sorted({self.mounts[c] for c in self.mounts}))


@dataclass(frozen=True)
class Plan:
    """What to do for one learner's group.

    `folders`: the group's folders, one per hierarchy (made in this order). `writes`:
    (file, value) in order. `procs`: the files a process writes its pid to, to join.
    `command`: for systemd, the prefix that starts the server in its scope instead.
    `unit`: systemd's name for the scope.
    """

    folders: tuple[str, ...] = ()
    writes: tuple[tuple[str, str], ...] = ()
    procs: tuple[str, ...] = ()
    command: tuple[str, ...] = ()
    unit: str = ""


# ------------------------------------------------------------------ detection


def parse_mountinfo(text: str) -> dict[str, tuple[str, str]]:
    """{controller: (mount point, mount root)} of the cgroup mounts in /proc/self/mountinfo.

    v1 mounts are keyed by each controller they carry ("cpu,cpuacct" gives both); the
    unified (v2) mount by "". Escaped characters in paths (\\040) are decoded.
    """
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = (_unescape(fields[3]), _unescape(fields[4]))
        fstype, options = tail[0], tail[2].split(",")
        if fstype == "cgroup2":
            found.setdefault("", (point, root))
        elif fstype == "cgroup":
            for option in options:
                if option in V1_CONTROLLERS:
                    found.setdefault(option, (point, root))
    return found


def _unescape(path: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), path)


def parse_own_cgroup(text: str) -> dict[str, str]:
    """{controller: path} from /proc/self/cgroup ("4:memory:/a/b"; v2's line "0::/a" as "")."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if parts[0] == "0" and parts[1] == "":
            own[""] = parts[2]
        for controller in parts[1].split(","):
            if controller in V1_CONTROLLERS:
                own[controller] = parts[2]
    return own


def detect(
    mountinfo: str,
    own_cgroup: str,
    *,
    systemd_booted: bool,
    v2_controllers: str = "",
    memsw: bool = False,
) -> Layout:
    """Choose the way from what the machine has (read by `cgroups.read_machine`).

    systemd wins where it runs the machine; then v2 where the unified mount offers memory,
    cpu and pids (a hybrid machine's empty unified mount does not count); then v1 where
    memory, cpu and pids each have a hierarchy; else "none".
    """
    mounts = parse_mountinfo(mountinfo)
    own = parse_own_cgroup(own_cgroup)
    if systemd_booted:
        return Layout("systemd")
    offered = set(v2_controllers.split())
    if "" in mounts and offered.issuperset(V2_CONTROLLERS):
        return Layout("v2", {"": mounts[""][0]}, {"": _inside(own.get("", "/"), mounts[""][1])})
    if all(c in mounts for c in ("memory", "cpu", "pids")):
        kept = [c for c in V1_CONTROLLERS if c in mounts]
        return Layout(
            "v1",
            {c: mounts[c][0] for c in kept},
            {c: _inside(own.get(c, "/"), mounts[c][1]) for c in kept},
            memsw=memsw,
        )
    return Layout("none")


def _inside(path: str, mount_root: str) -> str:
    """`path` (as /proc/self/cgroup names it) relative to what the mount shows."""
    if mount_root != "/" and (path == mount_root or path.startswith(mount_root + "/")):
        path = path[len(mount_root) :] or "/"
    return path


# ------------------------------------------------------------------ planning


def group_folder(layout: Layout, controller: str, user: str) -> str:
    """The folder of `user`'s group in one hierarchy (v2: controller "")."""
    own = layout.own.get(controller, "/").strip("/")
    return str(PurePosixPath(layout.mounts[controller], own, PARENT, user))


def plan(user: str, limits: Limits, layout: Layout) -> Plan:
    """What to make and write so that `user`'s server runs within `limits` on `layout`."""
    if not _NAME.match(user):
        raise LimitsError(f"{user!r} cannot name a control group; use a checked account name.")
    if limits.memory_mb < 0 or limits.cpu < 0 or limits.max_processes < 0:
        raise LimitsError(f"Limits cannot be negative: {limits}.")
    if layout.kind == "v1":
        return _plan_v1(user, limits, layout)
    if layout.kind == "v2":
        return _plan_v2(user, limits, layout)
    if layout.kind == "systemd":
        return _plan_systemd(user, limits)
    return Plan()


def _quota_us(cpu: float) -> int:
    return max(1000, math.ceil(cpu * CFS_PERIOD_US))  # the kernel refuses quotas under 1 ms


def _plan_v1(user: str, limits: Limits, layout: Layout) -> Plan:
    folder = {c: group_folder(layout, c, user) for c in layout.mounts}
    writes: list[tuple[str, str]] = []
    if limits.memory_mb:
        memory = str(limits.memory_mb * 1024 * 1024)
        # memsw must never be below the plain limit: set the plain one first.
        writes.append((f"{folder['memory']}/memory.limit_in_bytes", memory))
        if layout.memsw:
            writes.append((f"{folder['memory']}/memory.memsw.limit_in_bytes", memory))
        writes.append((f"{folder['memory']}/memory.swappiness", "0"))
    # Equal shares whatever the limit: a busy machine is divided per learner, not per process.
    writes.append((f"{folder['cpu']}/cpu.shares", "1024"))
    writes.append((f"{folder['cpu']}/cpu.cfs_period_us", str(CFS_PERIOD_US)))
    writes.append((f"{folder['cpu']}/cpu.cfs_quota_us", str(_quota_us(limits.cpu)) if limits.cpu else "-1"))
    writes.append((f"{folder['pids']}/pids.max", str(limits.max_processes) if limits.max_processes else "max"))
    # Co-mounted controllers ("cpu,cpuacct") share one folder.
    folders = tuple(dict.fromkeys(folder[c] for c in V1_CONTROLLERS if c in folder))
    return Plan(folders, tuple(writes), tuple(f"{f}/cgroup.procs" for f in folders))


def _plan_v2(user: str, limits: Limits, layout: Layout) -> Plan:
    group = group_folder(layout, "", user)
    parent = str(PurePosixPath(group).parent)
    enable = " ".join(f"+{c}" for c in V2_CONTROLLERS)
    # A v2 group may hand controllers to its children only if it has no processes of its
    # own: the parent "clhub" never has any; the hub's own cgroup must allow delegation.
    writes = [
        (f"{PurePosixPath(parent).parent}/cgroup.subtree_control", enable),
        (f"{parent}/cgroup.subtree_control", enable),
    ]
    if limits.memory_mb:
        writes.append((f"{group}/memory.max", str(limits.memory_mb * 1024 * 1024)))
        writes.append((f"{group}/memory.swap.max", "0"))
    writes.append((f"{group}/cpu.weight", "100"))
    writes.append((f"{group}/cpu.max", f"{_quota_us(limits.cpu) if limits.cpu else 'max'} {CFS_PERIOD_US}"))
    writes.append((f"{group}/pids.max", str(limits.max_processes) if limits.max_processes else "max"))
    return Plan((group,), tuple(writes), (f"{group}/cgroup.procs",))


def scope_unit(user: str) -> str:
    return f"clhub-{user}.scope"


def _plan_systemd(user: str, limits: Limits) -> Plan:
    unit = scope_unit(user)
    properties = ["CPUWeight=100"]
    if limits.memory_mb:
        properties += [f"MemoryMax={limits.memory_mb}M", "MemorySwapMax=0"]
    if limits.cpu:
        properties.append(f"CPUQuota={math.ceil(limits.cpu * 100)}%")
    properties.append(f"TasksMax={limits.max_processes or 'infinity'}")
    command = ["systemd-run", "--scope", "--quiet", "--collect", f"--slice={SLICE}", f"--unit={unit}"]
    command += [f"--uid={user}"]
    for prop in properties:
        command += ["-p", prop]
    return Plan(command=(*command, "--"), unit=unit)


def systemd_group(user: str, mount: str = "/sys/fs/cgroup") -> str:
    """Where systemd keeps the scope's cgroup (v2), for reading its usage."""
    return str(PurePosixPath(mount, SLICE, scope_unit(user)))


def memory_message(memory_mb: int) -> str:
    """What a learner reads when the memory limit stopped their code (hub log, notebook)."""
    return (
        f"Your notebook used more memory than this computer gives each learner ({memory_mb} MB), so it was "
        "stopped. Save your work, restart the kernel, and try with less data."
    )
