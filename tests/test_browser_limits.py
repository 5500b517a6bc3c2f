"""Browser: a learner whose notebook asks for too much memory reads why it stopped, in JupyterLab.

JupyterLab talks to the kernel over the binary v1 websocket protocol; the notice must reach
the cell that was running before the "restarting" status. Screenshot in tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest

from conftest import RunningHub, open_logged_in
from connected_learning.host import cgroups
from lab import open_notebook, run_all

pytestmark = [pytest.mark.integration, pytest.mark.browser]

MEMORY_MB = 400
NOTICE = f"Your notebook used more memory than this computer gives each learner ({MEMORY_MB} MB)"


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    if cgroups.read_machine().kind not in ("v1", "v2"):
        pytest.skip("needs the cgroup file system")
    hub = make_hub({"ana": ("student", [])}, limits=f"memory_mb = {MEMORY_MB}\n")
    assert hub.api.post(f"/users/{hub.name('ana')}/server", json={"interests": ["music"]}).status_code in (201, 202)
    hub.api.wait_for_server(hub.name("ana"), timeout=120)
    return hub


def test_the_cell_that_ran_out_of_memory_says_so_in_plain_words(hub: RunningHub, browser, artifacts) -> None:
    name = hub.name("ana")
    account = pwd.getpwnam(name)
    notebook = Path(account.pw_dir, "too-big.ipynb")
    # The control is a file the cell writes before it allocates: a line it printed may still be
    # on its way out of the kernel when the kernel is stopped, and is then lost.
    marker = Path(account.pw_dir, "oom-browser-allocating")
    marker.unlink(missing_ok=True)
    code = f"open({marker.name!r}, 'w').close()\nblob = b'x' * ({3 * MEMORY_MB} * 2**20)\nprint('SURVIVED')"
    notebook.write_text(
        json.dumps(
            {
                "cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                           "source": code}],
                "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                "nbformat": 4,
                "nbformat_minor": 5,
            }
        )
    )  # fmt: skip
    os.chown(notebook, account.pw_uid, account.pw_gid)

    page = open_logged_in(browser, hub, "ana")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=120_000)
    panel = open_notebook(page, f"{hub.server_url(name)}lab", "too-big.ipynb")
    run_all(page)
    output = panel.locator(".jp-CodeCell").first.locator(".jp-OutputArea")
    output.get_by_text(NOTICE).wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts / "limits-memory-notice.png"))
    assert marker.exists(), "the cell never ran"
    text = output.inner_text()
    assert "Save your work, restart the kernel" in text
    assert "SURVIVED" not in text
