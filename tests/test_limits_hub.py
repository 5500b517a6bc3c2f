"""Integration: each learner's whole server, kernels included, within their limits.

One hub with small limits (memory 400 MB, 1 CPU, 80 processes) and three learners. What
one learner's code does to memory, CPU or processes stops inside their own control group,
while the others' kernels keep answering; also after a hub restart, and a stop removes the
group with everything in it. Needs root and this machine's cgroups. In file order.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import RunningHub
from connected_learning.host import cgroups
from kernelclient import run_code

pytestmark = pytest.mark.integration

MEMORY_MB, CPU, PROCESSES = 400, 1.0, 80
MACHINE = cgroups.read_machine()


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    if MACHINE.kind not in ("v1", "v2"):
        pytest.skip(f"needs the cgroup file system; this machine has {MACHINE.describe()}")
    hub = make_hub(
        {"ana": ("student", []), "ben": ("student", []), "cai": ("student", [])},
        limits=f"memory_mb = {MEMORY_MB}\ncpu = {CPU}\nmax_processes = {PROCESSES}\n",
    )
    for short in ("ana", "ben", "cai"):
        assert hub.api.post(f"/users/{hub.name(short)}/server", json={"interests": ["music"]}).status_code in (201, 202)
    for short in ("ana", "ben", "cai"):
        hub.api.wait_for_server(hub.name(short), timeout=120)
    return hub


def _run(hub: RunningHub, short: str, code: str, timeout: float = 60) -> str:
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json={"note": "test", "expires_in": 600})
    assert r.status_code == 201, r.text
    return run_code(hub.url, hub.name(short), r.json()["token"], code, timeout=timeout)


def _group(hub: RunningHub, short: str) -> dict[str, str]:
    return cgroups.find_groups(MACHINE)[hub.name(short)]


def test_each_server_and_its_kernels_are_in_the_learners_group(hub: RunningHub) -> None:
    model = hub.api.get(f"/users/{hub.name('ana')}").json()
    pid = int(model["servers"][""]["state"]["pid"])
    folders = _group(hub, "ana")
    assert pid in cgroups._pids(folders["memory" if MACHINE.kind == "v1" else ""])
    out = _run(hub, "ana", "print(open('/proc/self/cgroup').read())")
    assert f"/clhub/{hub.name('ana')}" in out
    seen = cgroups.usage(hub.name("ana"), folders)
    assert seen.memory_limit_bytes == MEMORY_MB * 2**20 and seen.processes > 1


def test_a_kernel_over_the_memory_limit_is_stopped_and_the_learner_is_told_why(hub: RunningHub) -> None:
    before = cgroups.usage(hub.name("ana"), _group(hub, "ana")).oom_kills
    # The control is a file the cell writes before it allocates: a line it printed may still be
    # on its way out of the kernel when the kernel is stopped, and is then lost.
    marker = Path(pwd.getpwnam(hub.name("ana")).pw_dir) / "oom-test-allocating"
    marker.unlink(missing_ok=True)
    grab = f"open({marker.name!r}, 'w').close()\nblob = b'x' * ({3 * MEMORY_MB} * 2**20)\nprint('SURVIVED')\n"
    out = _run(hub, "ana", grab, timeout=90)
    assert marker.exists(), "the cell never ran"
    assert "SURVIVED" not in out and "[kernel restarting]" in out, out
    assert f"used more memory than this computer gives each learner ({MEMORY_MB} MB)" in out, out
    assert cgroups.usage(hub.name("ana"), _group(hub, "ana")).oom_kills > before
    # Only the kernel went: ana's server starts a new one, and ben's kernel answers.
    assert _run(hub, "ana", "print(6 * 7)").strip() == "42"
    assert _run(hub, "ben", "print(6 * 7)").strip() == "42"
    usage = subprocess.run(
        [str(Path(sys.executable).parent / "clhub"), "usage"], capture_output=True, text=True, check=True
    ).stdout
    row = next(line.split() for line in usage.splitlines() if line.startswith(hub.name("ana") + " "))
    assert row[2] == str(MEMORY_MB) and int(row[5]) >= 1, usage
    deadline = time.monotonic() + 15  # the hub looks every 5 s
    while "stopped by the memory limit" not in hub.log() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert f"{hub.name('ana')} (1 process(es) stopped by the memory limit)" in hub.log()


# A kernel measures the share of one core it gets while busy for 3 s of wall time.
SHARE = (
    "import time\nstart, cpu = time.monotonic(), time.process_time()\n"
    "while time.monotonic() - start < 3: pass\n"
    "print(round((time.process_time() - cpu) / (time.monotonic() - start), 3))\n"
)
BURN = (
    "import subprocess, sys\n"
    "burn = [sys.executable, '-c', 'while True: pass']\n"
    # Their own session: shutting the kernel down (after this cell) must not end them.
    "burners = [subprocess.Popen(burn, start_new_session=True) for _ in range(4)]\n"
    "open('burners.pids', 'w').write(' '.join(str(p.pid) for p in burners))\n"
    "print('burning', len(burners))\n"
)


def test_a_learner_burning_cpu_gets_their_quota_and_leaves_others_their_share(hub: RunningHub) -> None:
    """Measured as shares of a core at the same moment, so other load on the machine cancels out."""
    assert _run(hub, "ben", BURN).strip() == "burning 4"
    ben = _group(hub, "ben")
    try:
        time.sleep(1)
        cpu_before, wall_before = cgroups.usage(hub.name("ben"), ben).cpu_seconds, time.monotonic()
        ana_cores = float(_run(hub, "ana", SHARE))
        ben_cores = (cgroups.usage(hub.name("ben"), ben).cpu_seconds - cpu_before) / (time.monotonic() - wall_before)
    finally:
        pids = Path(f"/home/{hub.name('ben')}/burners.pids").read_text().split()
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)  # still running: a burner that died would fail here
    # Four busy processes of ben's use at most his one core (the quota) ...
    assert ben_cores <= CPU * 1.15, ben_cores
    # ... and ana's one process gets as much as all of his: shared per process, she would get
    # a quarter of what he gets.
    assert ana_cores / ben_cores > 0.7, (ana_cores, ben_cores)


def test_after_a_hub_restart_the_limits_hold_and_the_hub_still_notices(hub: RunningHub) -> None:
    pid = int(hub.api.get(f"/users/{hub.name('ana')}").json()["servers"][""]["state"]["pid"])
    hub.stop()
    hub.start()
    hub.api.wait_for_server(hub.name("ana"))
    assert pid in cgroups._pids(_group(hub, "ana")["memory" if MACHINE.kind == "v1" else ""])
    grab = f"print('allocating', flush=True)\nblob = b'x' * ({3 * MEMORY_MB} * 2**20)\n"
    assert "used more memory than this computer gives each learner" in _run(hub, "ana", grab, timeout=90)
    line = f"{hub.name('ana')} (1 process(es) stopped by the memory limit)"
    deadline = time.monotonic() + 15
    while hub.log().count(line) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert hub.log().count(line) == 2, "the restarted hub does not watch the running server"


def test_a_fork_flood_stops_at_the_limit_inside_the_learners_group(hub: RunningHub) -> None:
    flood = (
        "import os, time\nn = 0\n"
        "while n < 1000:\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        # Each child becomes a small `sleep` at once: the processes count, not their memory.
        "    if pid == 0:\n        os.execv('/bin/sleep', ['sleep', '120'])\n    n += 1\n"
        "open('flood.txt', 'w').write(str(n))\n"
        "print('forked', n)\n"
    )
    out = _run(hub, "cai", flood)
    home = Path(f"/home/{hub.name('cai')}")
    forked = int((home / "flood.txt").read_text())  # the control: the flood ran, as cai, at home
    assert out.strip() == f"forked {forked}" and 10 < forked < PROCESSES, out
    cai = _group(hub, "cai")
    assert cgroups.usage(hub.name("cai"), cai).processes <= PROCESSES
    events = Path(cai["pids" if MACHINE.kind == "v1" else ""], "pids.events").read_text()
    assert int(events.split("max")[1].split()[0]) > 0, events  # the pids limit refused the forks
    assert cgroups.usage(hub.name("cai"), cai).oom_kills == 0  # not the memory limit
    # Others are not short of processes: ana's server starts a kernel and runs code.
    assert _run(hub, "ana", "import subprocess; print(subprocess.run(['true']).returncode)").strip() == "0"
    # Stopping cai's server ends everything in the group, sleepers included, and removes it.
    assert hub.api.delete(f"/users/{hub.name('cai')}/server").status_code in (202, 204)
    hub.api.wait_for_server(hub.name("cai"), ready=False, timeout=60)
    assert hub.name("cai") not in cgroups.find_groups(MACHINE)
    assert not any(os.path.exists(f) for f in cai.values())
    # Ended means not running: a zombie (ended, not yet reaped by init, which reaps slowly here) holds nothing.
    listed = subprocess.run(["ps", "-u", hub.name("cai"), "-o", "pid=,stat="], capture_output=True, text=True).stdout
    left = [line for line in listed.splitlines() if not line.split()[1].startswith("Z")]
    assert left == [], listed
