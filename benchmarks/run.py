"""Run every benchmark and print each figure as a ratio against its baseline.

Each benchmark module's main() returns rows of (what, ours, baseline, target ratio);
the baseline is measured in the same run, on the same machine.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["spawn", "widgets", "peer_review", "grading", "showcase"]


def report(title: str, rows: list[tuple[str, float, float, float]]) -> bool:
    print(f"\n== {title}")
    print(f"{'figure':42} {'ours':>9} {'baseline':>9} {'ratio':>7} {'target':>8}")
    ok = True
    for what, ours, base, target in rows:
        ratio = ours / base if base else float("inf")
        met = ratio <= target
        ok &= met
        print(
            f"{what:42} {ours:9.2f} {base:9.2f} {ratio:7.2f} {'<= ' + format(target, '.2f'):>8}"
            f"  {'met' if met else 'MISSED'}"
        )
    return ok


def main() -> int:
    sys.path.insert(0, str(HERE))
    wanted = sys.argv[1:] or BENCHMARKS
    rows = {}
    for name in wanted:
        module = importlib.import_module(name)
        rows[name] = module.main()
        report(module.__doc__.splitlines()[0].rstrip("."), rows[name])
    import capacity  # the capacity table from this run's own figures, when spawn and widgets ran

    figures = capacity.from_bench(rows)
    if figures:
        print("\n== Capacity on Kubernetes, from this run's figures (benchmarks/capacity.py)")
        print(capacity.table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
