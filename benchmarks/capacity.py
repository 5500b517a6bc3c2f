"""Capacity on paper: learners per Kubernetes node and the hub's limits, from `make bench`'s figures.

Nothing here measures; it computes, from four figures the benchmarks measure on one machine:

- `idle_mb`: a learner's idle server, median RSS (spawn.py, "idle server memory");
- `kernel_mb`: a kernel after a workbook's first widget cell, median RSS (widgets.py);
- `spawn_s`: one learner's start, median seconds (spawn.py, "spawn, one learner");
- `rush_s`: the median learner's wait when `rush` learners start at once on `bench_cores`
  cores (spawn.py, "30-learner rush"). Starts are CPU-bound (Python imports), so the whole
  rush takes about twice the median, and one start costs `2 * rush_s * bench_cores / rush`
  core-seconds.

The model, stated so that it can be argued with:

- A learner's pod requests `[kubernetes] memory_request_mb` and `cpu_request` (256 MB and
  0.1 CPU by default) and is limited to `[limits] memory_mb` and `cpu` (1024 MB, 1 CPU), so
  the scheduler fits a node's allocatable memory and CPU divided by the requests; the measured
  use (idle server + one kernel) shows whether the memory request covers a learner at work.
  For comparison: a site that sets requests equal to the limits (every learner's memory kept
  for them), and memory use alone.
- A node keeps back memory and CPU for the system and the kubelet as GKE documents it
  (memory: 25% of the first 4 GB, 20% of the next 4, 10% of the next 8, 6% of the rest up to
  128 GB, plus 100 MB for eviction; CPU: 6% of the first core, 1% of the next, 0.5% of the
  next 2, 0.25% above 4); other clouds keep back about as much. Nodes have 4 GB per core
  (general-purpose machines).
- A class arriving at once starts on every node's cores together: all `n` learners are in
  after `spawn_s + n * core-seconds per start / cores`. The hub's `concurrent_spawn_limit`
  is the number of starts those cores finish within `start_timeout`.

    python benchmarks/capacity.py IDLE_MB KERNEL_MB SPAWN_S RUSH_S   (prints the tables)
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

NODE_GB = (8, 16, 32, 64)
GB_PER_CORE = 4
LEARNERS = (100, 1_000, 10_000)
MEMORY_MB = 1024  # [limits] memory_mb's default
CPU = 1.0  # [limits] cpu's default
REQUEST_MB = 256  # [kubernetes] memory_request_mb's default
REQUEST_CPU = 0.1  # [kubernetes] cpu_request's default
START_TIMEOUT_S = 300  # hub_config/kubernetes/site.toml's start_timeout_seconds
RUSH = 30
BENCH_CORES = 2
PLANNING_NODE_GB = 64  # the node size of the hub's table


@dataclass(frozen=True)
class Figures:
    idle_mb: float
    kernel_mb: float
    spawn_s: float
    rush_s: float
    rush: int = RUSH
    bench_cores: int = BENCH_CORES

    @property
    def working_set_mb(self) -> float:
        """What one learner at work holds: the idle server and one kernel after its first widget cell."""
        return self.idle_mb + self.kernel_mb

    @property
    def start_core_seconds(self) -> float:
        """CPU one start costs: the rush's whole length (twice its median) times the cores, per learner."""
        return 2 * self.rush_s * self.bench_cores / self.rush


def reserved_memory_gb(node_gb: float) -> float:
    """Memory a node keeps for the system and the kubelet (GKE's published formula)."""
    steps = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06))
    left, kept = node_gb, 0.1
    for size, share in steps:
        part = min(left, size)
        kept += part * share
        left -= part
    return kept


def reserved_cores(cores: float) -> float:
    """CPU a node keeps for the system and the kubelet (GKE's published formula)."""
    steps = ((1, 0.06), (1, 0.01), (2, 0.005), (math.inf, 0.0025))
    left, kept = cores, 0.0
    for size, share in steps:
        part = min(left, size)
        kept += part * share
        left -= part
    return kept


@dataclass(frozen=True)
class NodeRow:
    node_gb: int
    cores: int
    allocatable_gb: float
    at_defaults: int  # requests 256 MB and 0.1 CPU (the defaults)
    at_limits: int  # requests = limits = 1024 MB and 1.0 CPU
    by_use: int  # by the memory a learner at work holds, alone


def node_row(figures: Figures, node_gb: int) -> NodeRow:
    cores = node_gb // GB_PER_CORE
    memory_mb = (node_gb - reserved_memory_gb(node_gb)) * 1024
    free_cores = cores - reserved_cores(cores)
    return NodeRow(
        node_gb=node_gb,
        cores=cores,
        allocatable_gb=memory_mb / 1024,
        at_defaults=min(int(memory_mb // REQUEST_MB), int(free_cores / REQUEST_CPU + 1e-9)),
        at_limits=min(int(memory_mb // MEMORY_MB), int(free_cores // CPU)),
        by_use=int(memory_mb // figures.working_set_mb),
    )


@dataclass(frozen=True)
class HubRow:
    learners: int
    nodes: int  # PLANNING_NODE_GB nodes at the default requests
    requested_gb: float
    used_gb: float
    all_in_s: float
    concurrent_spawn_limit: int


def hub_row(figures: Figures, learners: int) -> HubRow:
    node = node_row(figures, PLANNING_NODE_GB)
    nodes = math.ceil(learners / node.at_defaults)
    cores = nodes * node.cores
    return HubRow(
        learners=learners,
        nodes=nodes,
        requested_gb=learners * REQUEST_MB / 1024,
        used_gb=learners * figures.working_set_mb / 1024,
        all_in_s=figures.spawn_s + learners * figures.start_core_seconds / cores,
        concurrent_spawn_limit=min(learners, int(cores * START_TIMEOUT_S / figures.start_core_seconds)),
    )


def table(figures: Figures) -> str:
    """The README's capacity tables (Markdown) for `figures`."""
    lines = [
        f"From: idle server {figures.idle_mb:.2f} MB, kernel after its first widget cell {figures.kernel_mb:.2f} MB "
        f"(a learner at work: {figures.working_set_mb:.0f} MB), one start {figures.spawn_s:.2f} s, "
        f"{figures.rush}-learner rush median {figures.rush_s:.2f} s on {figures.bench_cores} cores "
        f"(one start: {figures.start_core_seconds:.1f} core-seconds).",
        "",
        f"| node | allocatable | learners at the default requests ({REQUEST_MB} MB, {REQUEST_CPU:g} CPU) "
        f"| if requests were the limits ({MEMORY_MB} MB, {CPU:g} CPU) | by memory use alone |",
        "| --- | --- | --- | --- | --- |",
    ]
    for gb in NODE_GB:
        row = node_row(figures, gb)
        lines.append(
            f"| {gb} GB, {row.cores} cores | {row.allocatable_gb:.1f} GB | {row.at_defaults} | {row.at_limits} "
            f"| {row.by_use} |"
        )
    lines += [
        "",
        f"| learners at once | {PLANNING_NODE_GB} GB nodes | memory requested | memory used "
        f"| all started after (nodes' CPU) | concurrent_spawn_limit ({START_TIMEOUT_S} s start_timeout) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for learners in LEARNERS:
        hub = hub_row(figures, learners)
        lines.append(
            f"| {learners:,} | {hub.nodes} | {hub.requested_gb:,.0f} GB | {hub.used_gb:,.0f} GB "
            f"| {hub.all_in_s:.0f} s | {hub.concurrent_spawn_limit:,} |"
        )
    return "\n".join(lines) + "\n"


def from_bench(rows: dict[str, list[tuple[str, float, float, float]]]) -> Figures | None:
    """The figures of one `benchmarks/run.py` run (rows by benchmark), None if spawn or widgets did not run."""
    if "spawn" not in rows or "widgets" not in rows:
        return None
    spawn = {what: ours for what, ours, _base, _target in rows["spawn"]}
    widgets = {what: ours for what, ours, _base, _target in rows["widgets"]}
    rush = next(what for what in spawn if "rush" in what)
    return Figures(
        idle_mb=spawn["idle server memory, median RSS MB"],
        kernel_mb=widgets["kernel RSS after first widget cell, median MB"],
        spawn_s=spawn["spawn, one learner, median s"],
        rush_s=spawn[rush],
        rush=int(rush.split("-learner")[0].rsplit(" ", 1)[-1]),
    )


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip().splitlines()[-1].strip(), file=sys.stderr)
        return 2
    idle, kernel, spawn, rush = (float(a) for a in argv)
    sys.stdout.write(table(Figures(idle, kernel, spawn, rush)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
