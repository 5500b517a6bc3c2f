"""Spawn benchmark: the workbook spawner against JupyterHub's stock LocalProcessSpawner.

Both run in the same hub configuration, on the same machine, in the same run, for the
same real system users. Measured:

- one learner: the median of 5 starts, from the spawn request (POST
  /hub/api/users/NAME/server) until the hub reports the server ready;
- the 30-learner rush (a library lab at opening time): 30 spawn requests at once, the
  median and the slowest time to ready;
- the resident memory (RSS) of each idle server, median.

Targets: one learner at most 1.15x the stock spawner, the rush at most 1.0x, memory per
idle server no more than the stock one. Needs root (real system users).
"""

from __future__ import annotations

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from connected_learning import system_users  # noqa: E402
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


def measure(hub: RunningHub, names: list[str], interests: list[str] | None) -> dict[str, float]:
    spawn_and_wait(hub, names[0], interests)  # warm the page cache
    stop(hub, names[:1])
    singles = []
    for _ in range(SINGLE_RUNS):
        singles.append(spawn_and_wait(hub, names[1], interests))
        stop(hub, names[1:2])
    with ThreadPoolExecutor(len(names)) as pool:
        rush = list(pool.map(lambda n: spawn_and_wait(hub, n, interests), names))
    time.sleep(5)  # let the servers settle into idle
    pids = [int(hub.api.get(f"/users/{n}").json()["servers"][""]["state"]["pid"]) for n in names]
    memory = [rss_mb(pid) for pid in pids]
    stop(hub, names)
    return {"single": statistics.median(singles), "rush_median": statistics.median(rush),
            "rush_max": max(rush), "rss_mb": statistics.median(memory)}


def main() -> list[tuple[str, float, float, float]]:
    prefix = unique_prefix()
    users = {f"s{i:02d}": ("student", ["lab"]) for i in range(RUSH)}
    names = [f"{prefix}{short}" for short in users]
    hubs: list[RunningHub] = []
    try:
        workbook_hub = launch_hub(users, prefix=prefix)
        hubs.append(workbook_hub)
        ours = measure(workbook_hub, names, ["music", "nature"])
        teardown_hub(workbook_hub, remove_users=False)
        # The stock spawner needs the system users to exist already: they do, from the run above.
        for name in names:
            system_users.lookup_learner(name, "clhub-learners")
        stock_hub = launch_hub(users, prefix=prefix, config=STOCK_CONFIG)
        hubs.append(stock_hub)
        stock = measure(stock_hub, names, None)
    finally:
        for hub in hubs:
            teardown_hub(hub)
    rows = [
        ("spawn, one learner, median s", ours["single"], stock["single"], 1.15),
        (f"spawn, {RUSH}-learner rush, median s", ours["rush_median"], stock["rush_median"], 1.0),
        (f"spawn, {RUSH}-learner rush, slowest s", ours["rush_max"], stock["rush_max"], 1.0),
        ("idle server memory, median RSS MB", ours["rss_mb"], stock["rss_mb"], 1.0),
    ]
    return rows


if __name__ == "__main__":
    from run import report

    report("spawn (workbook spawner vs stock LocalProcessSpawner)", main())
