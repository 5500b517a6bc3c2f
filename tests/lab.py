"""JupyterLab in the browser tests: open a notebook once its kernel is really there, and Run All.

JupyterLab's toolbar indicator reads data-status="idle" from the moment a notebook opens,
before a kernel session exists, and a cell run while the session is still being created is
cleared without a word (no output, no error). The kernel item of the status bar shows the
session's own status: "Idle" only once the session has a kernel, its websocket is connected
and the kernel has answered (kernel_info). So a notebook is run only after that.
"""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

KERNEL_WAIT = 120_000  # ms a kernel may take to answer on a busy machine


def open_notebook(page: Page, lab_url: str, path: str) -> Locator:
    """Open `path` (relative to the home) alone in JupyterLab at `lab_url` (".../lab"); its panel, kernel idle.

    `?reset` starts from an empty workspace, so that only this notebook is open (and current)
    even if another was open before.
    """
    page.goto(f"{lab_url.rstrip('/')}/tree/{path}?reset")
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-Cell").first.wait_for(timeout=KERNEL_WAIT)
    name = path.rsplit("/", 1)[-1]
    expect(page.get_by_title(f"Change kernel for {name}", exact=True)).to_have_text(
        re.compile(r"\| Idle$"), timeout=KERNEL_WAIT
    )
    return panel


def run_all(page: Page) -> None:
    """Run > Run All Cells in the current notebook."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    item = page.get_by_role("menuitem", name="Run All Cells", exact=True)
    expect(item).to_be_enabled()
    item.click()


def run_notebook(page: Page, lab_url: str, path: str) -> Locator:
    """Open `path` as `open_notebook` does and run every cell; the notebook's panel."""
    panel = open_notebook(page, lab_url, path)
    run_all(page)
    return panel
