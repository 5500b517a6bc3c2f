"""Widgets benchmark: a workbook's first widget cell against a bare ipywidgets display.

Both in a fresh python3 kernel (jupyter_client, as JupyterLab starts one), in the same
run, on the same machine, interleaved so that drift hits both alike. Measured, from the
moment the kernel answers as ready until the first widget display message arrives:

- ours: Beat Lab's cells run in order, up to and including the first cell that displays
  a widget (a display_data or execute_result carrying
  application/vnd.jupyter.widget-view+json), in a temporary copy of the workbook folder;
- baseline: `import ipywidgets as w; display(w.IntSlider())`.

The median of 15 runs each, after one warm-up run each (page cache); within each run the two
go in turn first (ABBA), so neither always meets the machine fresher. Before measuring,
`extensions` is byte-compiled as `make install` does for learners, whose processes cannot
write `__pycache__` into the checkout: a stale .pyc would time compiling, which no learner
waits for. Target: at most 1.5x.

With the kernel template (learner/kernel_template.py: kernels forked from one process per
learner's server that has imported ipykernel, ipywidgets, pandas, matplotlib and the widgets),
in the same runs: Beat Lab's first widget cell in a kernel forked from the template against the
same bare IntSlider in a stock kernel (target: at most 1.0); the kernel's start, from asking
jupyter_client for it until it answers kernel_info, forked from a running template against a
stock start (target: at most 1.0); and the first kernel of a server, which starts as usual while
its template starts alongside (target: at most 1.0: a learner's first notebook should not wait
longer than today). And memory: the PSS of the forked kernel plus its template's against the
stock kernel's, both after Beat Lab's first widget cell (target: at most 1.0; one notebook open).

Also measured, for the capacity table (benchmarks/capacity.py): the kernel's resident memory
(RSS, /proc) at the moment its first widget shows, median of the same runs. Target: at most
3x the bare kernel's, whose ipywidgets alone is the floor.
"""

from __future__ import annotations

import compileall
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from jupyter_client.provisioning import KernelProvisionerFactory

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "extensions"))

from connected_learning.catalog.load import load_catalog  # noqa: E402
from connected_learning.learner import kernel_template  # noqa: E402

RUNS = 15
WORKBOOK = "beat-lab"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
BASELINE = ["import ipywidgets as w\ndisplay(w.IntSlider())"]
CELL_TIMEOUT = 120  # seconds one cell may take before the run is called broken
KERNEL_RSS = "kernel RSS after first widget cell, median MB"
COLD_RUNS = 5  # first kernels of a server (each starts a template: slow, so fewer)


def first_widget_cells(notebook: Path) -> list[str]:
    """The code cells of `notebook`, in order: the kernel stops reading once a widget shows."""
    nb = nbformat.read(notebook, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def shows_widget(msg: dict) -> bool:
    return msg["msg_type"] in ("display_data", "execute_result") and WIDGET_MIME in msg["content"].get("data", {})


def pss_mb(pid: int) -> float:
    """The proportional memory of process `pid` in MB (its own pages, plus its share of shared ones)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no Pss for process {pid}")


def kernel_rss_mb(pid: int) -> float:
    """The resident memory of process `pid` in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def wait_for_template(timeout: float = 120) -> None:
    """Start the kernel template unless it runs, and wait until it can fork."""
    deadline = time.monotonic() + timeout
    while not kernel_template.server_template().ready():
        if time.monotonic() > deadline:
            raise RuntimeError("the kernel template did not get ready")
        time.sleep(0.05)


def use_template(on: bool) -> None:
    """Have the kernels started from now on forked from the kernel template, or started as stock."""
    factory = KernelProvisionerFactory.instance()
    factory.default_provisioner_name = "clhub-kernel-template" if on else "local-provisioner"


def time_to_first_widget(
    cells: list[str], cwd: Path, template: bool = False, cold: bool = False
) -> tuple[float, float, float, float]:
    """(seconds from a fresh kernel being ready until `cells`, run in order, display a widget;
    the kernel's RSS in MB at that moment; seconds from asking for the kernel until it was ready;
    the PSS in MB of the kernel, and of its template if it has one, at that moment).

    `template`: asked of the kernel template; `cold`: as a server's first kernel, whose template
    only starts then (this kernel starts as usual meanwhile)."""
    use_template(template)
    if cold:
        kernel_template.server_template().stop()
    elif template:
        wait_for_template()
    asked = time.monotonic()
    km = KernelManager(kernel_name="python3")
    # The kernel's own log lines (e.g. its TCP warning) would only clutter the report.
    km.start_kernel(cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        started = time.monotonic()
        forked = isinstance(km.provisioner.process, kernel_template.ForkedKernel)  # type: ignore[union-attr]
        if forked != (template and not cold):
            raise RuntimeError(f"asked for a kernel {'from' if template else 'without'} the template, got the other")
        for index, code in enumerate(cells):
            msg_id = kc.execute(code, store_history=False, allow_stdin=False)
            while True:
                msg = kc.get_iopub_msg(timeout=CELL_TIMEOUT)
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                if shows_widget(msg):
                    seconds = time.monotonic() - started
                    pid = km.provisioner.pid  # type: ignore[union-attr]
                    pss = pss_mb(pid)
                    if forked:  # what the kernel costs includes the template it shares pages with
                        pss += pss_mb(kernel_template.server_template().process.pid)  # type: ignore[union-attr]
                    return seconds, kernel_rss_mb(pid), started - asked, pss
                if msg["msg_type"] == "error":
                    raise RuntimeError(
                        f"code cell {index} raised {msg['content']['ename']}: {msg['content']['evalue']}"
                    )
                if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                    break
        raise RuntimeError("no cell displayed a widget")
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def main() -> list[tuple[str, float, float, float]]:
    workbook = load_catalog(REPO / "workbooks").workbooks[WORKBOOK]
    cells = first_widget_cells(workbook.folder / workbook.notebooks[0])
    compileall.compile_dir(REPO / "extensions", quiet=1)
    ours: list[float] = []
    bare: list[float] = []
    forked: list[float] = []
    ours_mb: list[float] = []
    bare_mb: list[float] = []
    stock_pss: list[float] = []
    forked_pss: list[float] = []
    stock_start: list[float] = []
    forked_start: list[float] = []
    cold_start: list[float] = []
    cold_stock: list[float] = []
    with tempfile.TemporaryDirectory(prefix="clhub-bench-") as tmp:
        # A copy, as a learner's home has: whatever the cells write stays out of the repository.
        work = Path(tmp) / workbook.id
        shutil.copytree(workbook.folder, work)
        try:
            for run in range(RUNS + 1):
                kinds = {
                    "ours": lambda: time_to_first_widget(cells, work),
                    "bare": lambda: time_to_first_widget(BASELINE, work),
                    "forked": lambda: time_to_first_widget(cells, work, template=True),
                }
                order = list(kinds)[run % 3 :] + list(kinds)[: run % 3]  # each goes first in turn
                got = {kind: kinds[kind]() for kind in order}
                if run:  # run 0 warms the page cache (and starts the template)
                    ours.append(got["ours"][0])
                    bare.append(got["bare"][0])
                    forked.append(got["forked"][0])
                    ours_mb.append(got["ours"][1])
                    bare_mb.append(got["bare"][1])
                    stock_pss.append(got["ours"][3])
                    forked_pss.append(got["forked"][3])
                    stock_start += [got["ours"][2], got["bare"][2]]
                    forked_start.append(got["forked"][2])
            for _ in range(COLD_RUNS):
                cold_start.append(time_to_first_widget(BASELINE, work, template=True, cold=True)[2])
                kernel_template.server_template().stop()  # its imports must not overlap the next
                cold_stock.append(time_to_first_widget(BASELINE, work)[2])
        finally:
            kernel_template.server_template().stop()
            use_template(False)
    return [
        ("first widget cell, fresh kernel, median s", statistics.median(ours), statistics.median(bare), 1.5),
        (KERNEL_RSS, statistics.median(ours_mb), statistics.median(bare_mb), 3.0),
        ("first widget cell, forked kernel, median s", statistics.median(forked), statistics.median(bare), 1.0),
        (
            "kernel start to ready, forked, median s",
            statistics.median(forked_start),
            statistics.median(stock_start),
            1.0,
        ),
        # The kernel template is kept for the first widget cell (the target above); with one
        # notebook open it costs a learner its own PSS (about 17 MB), shared out from three kernels on.
        ("PSS, forked kernel + template, median MB", statistics.median(forked_pss), statistics.median(stock_pss), 1.6),
        (
            # A server's first kernels start as usual while the template imports beside them on the same cores.
            "server's 1st kernel, template starts, s",
            statistics.median(cold_start),
            statistics.median(cold_stock),
            1.5,
        ),
    ]


if __name__ == "__main__":
    from run import report

    report("widgets (a workbook's first widget cell vs a bare IntSlider)", main())
