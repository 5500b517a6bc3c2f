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
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from connected_learning.host import system_users  # noqa: E402
from realhub import RunningHub, launch_hub, teardown_hub, unique_prefix  # noqa: E402

RUSH = 30
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


def rush(hub: RunningHub, names: list[str], interests: list[str] | None) -> tuple[list[float], list[float]]:
    """Start every learner at once; return their times to ready and their idle servers' RSS."""
    with ThreadPoolExecutor(len(names)) as pool:
        times = list(pool.map(lambda n: spawn_and_wait(hub, n, interests), names))
    time.sleep(5)  # let the servers settle into idle
    pids = [int(hub.api.get(f"/users/{n}").json()["servers"][""]["state"]["pid"]) for n in names]
    memory = [rss_mb(pid) for pid in pids]
    stop(hub, names)
    return times, memory


def main() -> list[tuple[str, float, float, float]]:
    """Both hubs run side by side (same users, other ports); runs alternate A B B A, so that
    a change in the machine's load during the run weighs on both spawners alike."""
    prefix = unique_prefix()
    users = {f"s{i:02d}": ("student", ["lab"]) for i in range(RUSH)}
    names = [f"{prefix}{short}" for short in users]
    hubs: list[RunningHub] = []
    try:
        ours = launch_hub(users, prefix=prefix)
        hubs.append(ours)
        # The stock spawner needs the system users to exist: the workbook spawner makes them.
        spawn_and_wait(ours, names[0], ["music"])
        stop(ours, names[:1])
        for name in names[1:]:
            asyncio.run(system_users.ensure_learner(name, "clhub-learners", "clhub-", [f"{prefix}lab"]))
        stock = launch_hub(users, prefix=prefix, config=STOCK_CONFIG)
        hubs.append(stock)
        runs = {"ours": (ours, ["music", "nature"]), "stock": (stock, None)}
        singles: dict[str, list[float]] = {"ours": [], "stock": []}
        for i in range(SINGLE_RUNS):
            for kind in ("ours", "stock") if i % 2 == 0 else ("stock", "ours"):
                hub, interests = runs[kind]
                singles[kind].append(spawn_and_wait(hub, names[1], interests))
                stop(hub, names[1:2])
        rushes: dict[str, list[float]] = {"ours": [], "stock": []}
        memory: dict[str, list[float]] = {"ours": [], "stock": []}
        for kind in ("ours", "stock", "stock", "ours"):
            hub, interests = runs[kind]
            times, rss = rush(hub, names, interests)
            rushes[kind].append(statistics.median(times))
            memory[kind].extend(rss)
    finally:
        for hub in reversed(hubs):
            teardown_hub(hub)
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
    ]


if __name__ == "__main__":
    from run import report

    report("spawn (workbook spawner vs stock LocalProcessSpawner)", main())
