"""Per-learner limits: which cgroups a machine has, what each way writes or runs, and the
applier against this machine's real control groups (root only)."""

from __future__ import annotations

import errno
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from connected_learning.host import cgroups, limits
from connected_learning.host.limits import Layout, Limits, LimitsError, detect, plan

# This machine: cgroup v1 controllers, an empty unified mount, the hub in a nested memory group.
V1_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V1_OWN = "9:name=systemd:/\n8:pids:/\n4:memory:/jobs/42\n2:cpuacct:/\n1:cpu:/\n0::/\n"
# A Debian 12 server: only the unified hierarchy.
V2_MOUNTS = "30 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
# An older distribution: cpu and cpuacct mounted together.
COMOUNT = """\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids
"""


def test_this_kind_of_machine_is_v1_and_groups_nest_under_the_hubs_own() -> None:
    layout = detect(V1_MOUNTS, V1_OWN, systemd_booted=False, v2_controllers="", memsw=True)
    assert layout.kind == "v1"
    assert layout.mounts["memory"] == "/sys/fs/cgroup/memory" and "" not in layout.mounts
    assert limits.group_folder(layout, "memory", "ana") == "/sys/fs/cgroup/memory/jobs/42/clhub/ana"
    assert limits.group_folder(layout, "cpu", "ana") == "/sys/fs/cgroup/cpu/clhub/ana"


def test_the_way_follows_what_the_machine_has() -> None:
    assert detect(V2_MOUNTS, "0::/system.slice/clhub.service\n", systemd_booted=True).kind == "systemd"
    v2 = detect(V2_MOUNTS, "0::/hub\n", systemd_booted=False, v2_controllers="cpuset cpu io memory pids")
    assert v2.kind == "v2" and v2.mounts == {"": "/sys/fs/cgroup"} and v2.own == {"": "/hub"}
    # A unified mount without its controllers (a hybrid machine) does not count ...
    assert detect(V2_MOUNTS, "0::/\n", systemd_booted=False, v2_controllers="cpu io").kind == "none"
    # ... and neither does v1 without one of memory, cpu, pids.
    no_pids = "\n".join(line for line in V1_MOUNTS.splitlines() if "pids" not in line)
    assert detect(no_pids, V1_OWN, systemd_booted=False).kind == "none"
    assert detect("", "", systemd_booted=False).kind == "none"
    comount = detect(COMOUNT, "3:cpu,cpuacct:/a\n2:memory:/a\n1:pids:/a\n", systemd_booted=False)
    assert comount.mounts["cpu"] == comount.mounts["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct"
    assert comount.own["cpuacct"] == "/a"


def test_a_container_sees_its_own_cgroup_as_the_mount_root() -> None:
    mounts = "35 31 0:32 /docker/abc /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    mounts += "32 31 0:29 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
    mounts += "39 31 0:36 /docker/abc /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    own = "4:memory:/docker/abc\n1:cpu:/docker/abc/hub\n8:pids:/docker/abc\n"
    layout = detect(mounts, own, systemd_booted=False)
    assert layout.own == {"memory": "/", "cpu": "/hub", "pids": "/"}
    assert limits.group_folder(layout, "cpu", "ana") == "/sys/fs/cgroup/cpu/hub/clhub/ana"


def test_read_machine_reads_a_fake_machine(tmp_path: Path) -> None:
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/mountinfo").write_text(V2_MOUNTS)
    (tmp_path / "proc/self/cgroup").write_text("0::/hub\n")
    (tmp_path / "sys/fs/cgroup").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/cgroup.controllers").write_text("cpu memory pids\n")
    assert cgroups.read_machine(str(tmp_path)).kind == "v2"
    (tmp_path / "run/systemd/system").mkdir(parents=True)
    assert cgroups.read_machine(str(tmp_path)).kind == "systemd"
    (tmp_path / "proc/self/mountinfo").write_text(V1_MOUNTS)
    (tmp_path / "run/systemd/system").rmdir()
    assert cgroups.read_machine(str(tmp_path)) == Layout(
        "v1",
        {c: f"/sys/fs/cgroup/{c}" for c in ("memory", "cpu", "cpuacct", "pids")},
        {c: "/" for c in ("memory", "cpu", "cpuacct", "pids")},
        memsw=False,
    )
    (tmp_path / "sys/fs/cgroup/memory").mkdir()
    (tmp_path / "sys/fs/cgroup/memory/memory.memsw.limit_in_bytes").write_text("0")
    assert cgroups.read_machine(str(tmp_path)).memsw


def test_v1_plan_limits_memory_without_swap_cpu_quota_fair_shares_and_tasks() -> None:
    layout = detect(V1_MOUNTS, V1_OWN, systemd_booted=False, memsw=True)
    p = plan("ana", Limits(memory_mb=256, cpu=0.5, max_processes=64), layout)
    mem, cpu = "/sys/fs/cgroup/memory/jobs/42/clhub/ana", "/sys/fs/cgroup/cpu/clhub/ana"
    assert p.folders == (mem, cpu, "/sys/fs/cgroup/cpuacct/clhub/ana", "/sys/fs/cgroup/pids/clhub/ana")
    assert p.writes == (
        (f"{mem}/memory.limit_in_bytes", str(256 * 2**20)),
        (f"{mem}/memory.memsw.limit_in_bytes", str(256 * 2**20)),
        (f"{mem}/memory.swappiness", "0"),
        (f"{cpu}/cpu.shares", "1024"),
        (f"{cpu}/cpu.cfs_period_us", "100000"),
        (f"{cpu}/cpu.cfs_quota_us", "50000"),
        ("/sys/fs/cgroup/pids/clhub/ana/pids.max", "64"),
    )
    assert p.procs == tuple(f"{f}/cgroup.procs" for f in p.folders) and not p.command
    # No limit is written as no limit; fair shares stay.
    free = dict(plan("ana", Limits(memory_mb=0, cpu=0, max_processes=0), layout).writes)
    assert free[f"{cpu}/cpu.cfs_quota_us"] == "-1" and free["/sys/fs/cgroup/pids/clhub/ana/pids.max"] == "max"
    assert f"{mem}/memory.limit_in_bytes" not in free and free[f"{cpu}/cpu.shares"] == "1024"
    # Without swap accounting there is no memsw file to write.
    assert not any("memsw" in f for f, _ in plan("ana", Limits(256), Layout("v1", layout.mounts, layout.own)).writes)


def test_co_mounted_controllers_share_one_folder() -> None:
    layout = detect(COMOUNT, "3:cpu,cpuacct:/\n2:memory:/\n1:pids:/\n", systemd_booted=False)
    p = plan("ana", Limits(1024, 1.0, 256), layout)
    assert p.folders.count("/sys/fs/cgroup/cpu,cpuacct/clhub/ana") == 1 and len(p.procs) == 3


def test_v2_plan_delegates_controllers_and_writes_the_unified_files() -> None:
    layout = detect(V2_MOUNTS, "0::/hub\n", systemd_booted=False, v2_controllers="cpu memory pids")
    p = plan("ana", Limits(memory_mb=1024, cpu=1.5, max_processes=256), layout)
    group = "/sys/fs/cgroup/hub/clhub/ana"
    assert p.folders == (group,) and p.procs == (f"{group}/cgroup.procs",)
    assert p.writes == (
        ("/sys/fs/cgroup/hub/cgroup.subtree_control", "+memory +cpu +pids"),
        ("/sys/fs/cgroup/hub/clhub/cgroup.subtree_control", "+memory +cpu +pids"),
        (f"{group}/memory.max", str(1024 * 2**20)),
        (f"{group}/memory.swap.max", "0"),
        (f"{group}/cpu.weight", "100"),
        (f"{group}/cpu.max", "150000 100000"),
        (f"{group}/pids.max", "256"),
    )
    assert dict(plan("ana", Limits(0, 0, 0), layout).writes)[f"{group}/cpu.max"] == "max 100000"


def test_systemd_plan_is_a_scope_in_the_clhub_slice_run_as_the_learner() -> None:
    p = plan("ana", Limits(memory_mb=512, cpu=0.25, max_processes=100), Layout("systemd"))
    assert p.unit == "clhub-ana.scope" and not p.folders and not p.procs
    assert p.command == (
        "systemd-run", "--scope", "--quiet", "--collect", "--slice=clhub.slice", "--unit=clhub-ana.scope",
        "--uid=ana", "-p", "CPUWeight=100", "-p", "MemoryMax=512M", "-p", "MemorySwapMax=0",
        "-p", "CPUQuota=25%", "-p", "TasksMax=100", "--",
    )  # fmt: skip
    assert "TasksMax=infinity" in plan("ana", Limits(512), Layout("systemd")).command
    assert limits.systemd_group("ana") == "/sys/fs/cgroup/clhub.slice/clhub-ana.scope"


def test_plans_refuse_names_and_values_that_cannot_be_written() -> None:
    layout = detect(V1_MOUNTS, V1_OWN, systemd_booted=False)
    with pytest.raises(LimitsError, match="'../ana'"):
        plan("../ana", Limits(1), layout)
    with pytest.raises(LimitsError, match="negative"):
        plan("ana", Limits(-1), layout)
    assert plan("ana", Limits(1), Layout("none")) == limits.Plan()
    tiny = dict(plan("ana", Limits(cpu=0.001), layout).writes)
    assert tiny["/sys/fs/cgroup/cpu/clhub/ana/cpu.cfs_quota_us"] == "1000"  # the kernel's minimum quota


def test_usage_reads_v1_and_v2_counters(tmp_path: Path) -> None:
    v1 = {c: str(tmp_path / c) for c in ("memory", "cpuacct", "pids")}
    for folder in v1.values():
        os.mkdir(folder)
    Path(v1["memory"], "memory.usage_in_bytes").write_text("1048576\n")
    Path(v1["memory"], "memory.limit_in_bytes").write_text("9223372036854771712\n")
    Path(v1["memory"], "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    Path(v1["cpuacct"], "cpuacct.usage").write_text("2500000000\n")
    Path(v1["pids"], "pids.current").write_text("7\n")
    assert cgroups.usage("ana", v1) == cgroups.Usage("ana", 2**20, 0, 2.5, 7, 2)
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.current").write_text("4096\n")
    (v2 / "memory.max").write_text("max\n")
    (v2 / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n")
    (v2 / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1000000\n")
    (v2 / "pids.current").write_text("3\n")
    assert cgroups.usage("ana", {"": str(v2)}) == cgroups.Usage("ana", 4096, 0, 1.5, 3, 1)


MACHINE = cgroups.read_machine()


@pytest.mark.skipif(os.geteuid() != 0 or MACHINE.kind not in ("v1", "v2"), reason="needs root and cgroup files")
def test_the_applier_limits_a_real_group_and_removes_it_with_everything_inside() -> None:
    user = "tl" + secrets.token_hex(3)
    p = plan(user, Limits(memory_mb=64, cpu=0.5, max_processes=8), MACHINE)
    cgroups.make(p)
    folders = cgroups.folders_of(MACHINE, user)
    try:
        assert cgroups.find_groups(MACHINE)[user] == folders
        # A child joins before it execs, then tries to start 20 processes: 8 tasks in all.
        code = (
            "import os, time\nn = 0\n"
            "for _ in range(20):\n"
            "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
            "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    n += 1\n"
            "print(n, flush=True)\ntime.sleep(60)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, preexec_fn=lambda: cgroups.join(p)
        )
        assert proc.stdout is not None
        assert 0 < int(proc.stdout.readline()) < 8
        seen = cgroups.usage(user, folders)
        assert seen.processes == 8 and seen.memory_bytes > 0
        assert seen.memory_limit_bytes == 64 * 2**20 and seen.oom_kills == 0
        assert cgroups.release(p.folders)
        assert proc.wait(10) == -9  # released: nothing of the learner's is left running
    finally:
        cgroups.release(p.folders)
    assert not any(os.path.exists(f) for f in p.folders) and user not in cgroups.find_groups(MACHINE)


@pytest.mark.skipif(os.geteuid() != 0 or MACHINE.kind != "v1", reason="needs root and cgroup v1")
def test_a_refused_write_names_the_file_and_what_to_do() -> None:
    """cgroup v2's rule, seen through v1's equivalent refusal: a value the kernel will not take."""
    user = "tl" + secrets.token_hex(3)
    p = plan(user, Limits(memory_mb=64), MACHINE)
    bad = limits.Plan(p.folders, ((f"{p.folders[0]}/memory.limit_in_bytes", "sixty-four"),), p.procs)
    try:
        with pytest.raises(
            LimitsError, match=r"Cannot write 'sixty-four' to /sys/fs/cgroup/memory/.*memory.limit_in_bytes"
        ):
            cgroups.make(bad)
    finally:
        assert cgroups.release(p.folders)


def test_a_busy_v2_parent_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel answers EBUSY when a v2 group with processes is asked to hand out controllers."""
    target = str(tmp_path / "hub" / "cgroup.subtree_control")
    real_open = open

    def refusing_open(path, *args, **kwargs):  # noqa: ANN001, ANN202 (stands in for the kernel's cgroup file)
        if str(path) == target:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(cgroups, "open", refusing_open, raising=False)  # only the applier's opens
    with pytest.raises(LimitsError, match="holds processes .* Start the hub in a control group of its own"):
        cgroups.make(limits.Plan((), ((target, "+memory +cpu +pids"),), ()))


def test_the_notice_tells_each_memory_stop_once_and_only_in_a_learners_group(tmp_path: Path) -> None:
    from connected_learning.learner import memory_notice

    control = tmp_path / "memory.oom_control"
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    counter = memory_notice.OomCounter({"memory": str(tmp_path)})
    assert counter.new_kills() == 0  # a stop from before this server's kernels is not theirs
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    assert counter.new_kills() == 2 and counter.new_kills() == 0
    # This test runs in no learner's group (as the demo's servers do): nothing to watch.
    assert memory_notice.own_memory_folders() == {}
    assert "(512 MB), so it was stopped. Save your work" in limits.memory_message(512)


def test_the_learners_group_weighs_one_hub_process_per_learner() -> None:
    """At the default weight, thirty learners starting together shared one hub process's CPU
    (the spawn benchmark's rush took 1.6x the stock spawner's time)."""
    assert limits.parent_weight("cpu.shares", 0) == "1024"
    assert limits.parent_weight("cpu.shares", 30) == str(30 * 1024)
    assert limits.parent_weight("cpu.shares", 10_000) == "262144"  # v1's largest
    assert limits.parent_weight("cpu.weight", 30) == "3000"
    assert limits.parent_weight("cpu.weight", 500) == "10000"  # v2's largest
    assert limits.parent_weight("memory.limit_in_bytes", 3) is None


def test_making_and_releasing_groups_reweighs_their_parent(tmp_path: Path) -> None:
    parent = tmp_path / "cpu" / "clhub"
    parent.mkdir(parents=True)
    (parent / "cpu.shares").write_text("1024")
    for user in ("ana", "ben", "cai"):
        (parent / user).mkdir()
    cgroups.weigh_parents([str(parent / "ana")])
    assert (parent / "cpu.shares").read_text() == str(3 * 1024)
    (parent / "cai").rmdir()
    cgroups.weigh_parents([str(parent / "ana")])
    assert (parent / "cpu.shares").read_text() == str(2 * 1024)
