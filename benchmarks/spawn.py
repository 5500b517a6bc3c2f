"""Spawn benchmark: the workbook spawner against JupyterHub's stock LocalProcessSpawner.

Both run in the same hub configuration, on the same machine, in the same run, for the
same real system users. Measured:

- one learner: the median of 5 starts each, from the spawn request (POST
  /hub/api/users/NAME/server) until the hub reports the server ready;
- the 30-learner rush (a library lab at opening time): 30 spawn requests at once, the
  median time to ready, twice for each spawner (order A B B A);
- the resident memory (RSS) of each idle server after a rush, median.

Targets: one learner at most 1.15x the stock spawner, the rush at most 1.0x, memory per
idle server no more than the stock one. Needs root (real system users).

Then the start-up template (`site.start_template`, hub/template.py) against the same stock
spawner, in the same run: one learner (target 0.3), the 30-learner rush (0.35), 60 learners
arriving over a minute, one a second (median time to ready), the proportional memory (PSS, from
/proc/<pid>/smaps_rollup) of an idle server after a rush (0.35), and how many idle servers fit
in 8 GB (the template's own PSS counted once; a ratio of stock to template, so lower is better).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from connected_learning.host import system_users  # noqa: E402
from realhub import RunningHub, launch_hub, teardown_hub, unique_prefix  # noqa: E402

RUSH = 30
ARRIVALS = 60  # learners arriving over ARRIVAL_SECONDS, one every ARRIVAL_SECONDS / ARRIVALS s
ARRIVAL_SECONDS = 60.0
SINGLE_RUNS = 5
STOCK_CONFIG = HERE / "stock_jupyterhub_config.py"


def spawn_and_wait(hub: RunningHub, name: str, interests: list[str] | None) -> float:
    started = time.monotonic()
    body = {"interests": interests} if interests else None
    r = hub.api.post(f"/users/{name}/server", json=body, timeout=300)
    if r.status_code not in (201, 202):
        raise RuntimeError(f"spawn of {name} failed: {r.status_code} {r.text[:200]}")
    while True:
        server = hub.api.get(f"/users/{name}").json().get("servers", {}).get("")
        if server and server.get("ready"):
            return time.monotonic() - started
        if time.monotonic() - started > 300:
            raise TimeoutError(name)
        time.sleep(0.05)


def stop(hub: RunningHub, names: list[str]) -> None:
    for name in names:
        hub.api.delete(f"/users/{name}/server")
    for name in names:
        hub.api.wait_for_server(name, ready=False, timeout=120)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pss_mb(pid: int) -> float:
    """Proportional set size: pages shared with N processes count 1/N each."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return 0.0


def rush(
    hub: RunningHub, names: list[str], interests: list[str] | None, pss: list[float] | None = None
) -> tuple[list[float], list[float]]:
    """Start every learner at once; return their times to ready and their idle servers' RSS
    (and add their PSS to `pss`)."""
    with ThreadPoolExecutor(len(names)) as pool:
        times = list(pool.map(lambda n: spawn_and_wait(hub, n, interests), names))
    time.sleep(5)  # let the servers settle into idle
    pids = [int(hub.api.get(f"/users/{n}").json()["servers"][""]["state"]["pid"]) for n in names]
    memory = [rss_mb(pid) for pid in pids]
    if pss is not None:
        alive = [pid for pid in pids if os.path.exists(f"/proc/{pid}/smaps_rollup") and rss_mb(pid)]
        if len(alive) < len(pids):
            print(f"{len(pids) - len(alive)} of {len(pids)} servers ended before they were measured", flush=True)
        for pid in alive:
            try:
                pss.append(pss_mb(pid))
            except OSError:  # ended meanwhile
                pass
    stop(hub, names)
    return times, memory


def arrivals(hub: RunningHub, names: list[str], interests: list[str] | None) -> list[float]:
    """Learners arriving one after another over ARRIVAL_SECONDS; their times to ready."""
    gap = ARRIVAL_SECONDS / len(names)

    def arrive(i: int) -> float:
        time.sleep(i * gap)
        return spawn_and_wait(hub, names[i], interests)

    with ThreadPoolExecutor(len(names)) as pool:
        times = list(pool.map(arrive, range(len(names))))
    stop(hub, names)
    return times


def template_pss_mb(hub: RunningHub) -> float:
    from connected_learning.hub import template

    pid = template.template_pid(template.socket_path(hub.data_dir))
    return pss_mb(pid) if pid else 0.0


def launch_template_hub(users: dict[str, tuple[str, list[str]]], prefix: str) -> RunningHub:
    """The workbook hub with site.start_template on (tests/realhub.py reads the variable).

    Its learners are its own, without disks of their own (disk_mb = 0), as the stock spawner's:
    a home holds one hub's disk at a time.
    """
    return launch_hub_with(True, users, prefix=prefix, limits="disk_mb = 0")


def launch_hub_with(templates: bool, *args: Any, **kwargs: Any) -> RunningHub:
    """launch_hub with the start-up and kernel templates on or off (CLHUB_TEST_TEMPLATES, tests/realhub.py)."""
    old = os.environ.get("CLHUB_TEST_TEMPLATES")
    os.environ["CLHUB_TEST_TEMPLATES"] = "true" if templates else "false"
    try:
        return launch_hub(*args, **kwargs)
    finally:
        if old is None:
            del os.environ["CLHUB_TEST_TEMPLATES"]
        else:
            os.environ["CLHUB_TEST_TEMPLATES"] = old


def main() -> list[tuple[str, float, float, float]]:
    """Both hubs run side by side (same users, other ports); runs alternate A B B A, so that
    a change in the machine's load during the run weighs on both spawners alike."""
    prefix = unique_prefix()
    users = {f"s{i:02d}": ("student", ["lab"]) for i in range(max(RUSH, ARRIVALS) + 1)}
    everyone = [f"{prefix}{short}" for short in users]
    names = everyone[:RUSH]
    hubs: list[RunningHub] = []
    try:
        ours = launch_hub_with(False, users, prefix=prefix)  # the workbook spawner as it starts without the template
        hubs.append(ours)
        # The stock spawner needs the system users to exist: the workbook spawner makes them.
        spawn_and_wait(ours, names[0], ["music"])
        stop(ours, names[:1])
        for name in everyone[1:]:
            asyncio.run(system_users.ensure_learner(name, "clhub-learners", "clhub-", [f"{prefix}lab"]))
        stock = launch_hub_with(False, users, prefix=prefix, config=STOCK_CONFIG)
        hubs.append(stock)
        other = unique_prefix()
        forked = launch_template_hub(users, other)
        hubs.append(forked)
        theirs = [f"{other}{short}" for short in users]
        for name in theirs:
            asyncio.run(system_users.ensure_learner(name, "clhub-learners", "clhub-", [f"{other}lab"]))
        spawn_and_wait(forked, theirs[-1], ["music"])  # the first start starts the template
        stop(forked, theirs[-1:])
        learners = {"ours": everyone, "stock": everyone, "template": theirs}
        runs = {"ours": (ours, ["music", "nature"]), "stock": (stock, None), "template": (forked, ["music", "nature"])}
        singles: dict[str, list[float]] = {"ours": [], "stock": [], "template": []}
        for i in range(SINGLE_RUNS):
            for kind in ("ours", "stock", "template") if i % 2 == 0 else ("template", "stock", "ours"):
                hub, interests = runs[kind]
                singles[kind].append(spawn_and_wait(hub, learners[kind][1], interests))
                stop(hub, learners[kind][1:2])
        rushes: dict[str, list[float]] = {"ours": [], "stock": [], "template": []}
        memory: dict[str, list[float]] = {"ours": [], "stock": [], "template": []}
        pss: dict[str, list[float]] = {"ours": [], "stock": [], "template": []}
        for kind in ("ours", "stock", "template", "template", "stock", "ours"):
            hub, interests = runs[kind]
            times, rss = rush(hub, learners[kind][:RUSH], interests, pss[kind])
            rushes[kind].append(statistics.median(times))
            memory[kind].extend(rss)
        own_pss = template_pss_mb(forked)
        arriving: dict[str, list[float]] = {}
        for kind in ("template", "stock"):
            hub, interests = runs[kind]
            arriving[kind] = arrivals(hub, learners[kind][:ARRIVALS], interests)
    finally:
        for hub in reversed(hubs):
            teardown_hub(hub)
    per_8gb = {
        "template": (8192 - own_pss) / statistics.median(pss["template"]),
        "stock": 8192 / statistics.median(pss["stock"]),
    }
    print(
        f"Idle servers in 8 GB (by PSS): {per_8gb['template']:.0f} from the template "
        f"(its own {own_pss:.0f} MB counted once), {per_8gb['stock']:.0f} stock"
    )
    return [
        ("spawn, one learner, median s", statistics.median(singles["ours"]), statistics.median(singles["stock"]), 1.15),
        (
            f"spawn, {RUSH}-learner rush, median s (mean of 2)",
            statistics.mean(rushes["ours"]),
            statistics.mean(rushes["stock"]),
            1.0,
        ),
        (
            "idle server memory, median RSS MB",
            statistics.median(memory["ours"]),
            statistics.median(memory["stock"]),
            1.0,
        ),
        (
            "template: spawn, one learner, median s",
            statistics.median(singles["template"]),
            statistics.median(singles["stock"]),
            0.3,
        ),
        (
            f"template: {RUSH} at once, median s (mean of 2)",
            statistics.mean(rushes["template"]),
            statistics.mean(rushes["stock"]),
            0.35,
        ),
        (
            f"template: {ARRIVALS} over {ARRIVAL_SECONDS:.0f} s, median s",
            statistics.median(arriving["template"]),
            statistics.median(arriving["stock"]),
            0.35,
        ),
        (
            "template: idle server, median PSS MB",
            statistics.median(pss["template"]),
            statistics.median(pss["stock"]),
            0.35,
        ),
        # Inverted (stock over template), so that the ratio reads like the others: lower is better.
        ("template: servers per 8 GB, stock as ours", per_8gb["stock"], per_8gb["template"], 1 / 2.85),
    ]


if __name__ == "__main__":
    from run import report

    report("spawn (workbook spawner vs stock LocalProcessSpawner)", main())
