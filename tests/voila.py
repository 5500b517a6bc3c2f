"""A real Voila server on a copy of a workbook, for browser tests: `with voila_page_url(...) as url`.

The widget tests open a workbook as a family or a learner sees it rendered by Voila, so they
start the real `voila` of this venv on a free port, on a folder the test made (a copy: what the
widgets save lands there, where the test reads it), with Voila's runtime files and IPython's
under the test's own folder. Voila answers its first request only once its kernel has started
and run the notebook, which takes a while on a busy machine: the page is opened after that.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from realhub import free_port

START_WAIT = 60  # seconds Voila may take to answer at all; the page itself then gets its own timeout


@contextmanager
def voila_page_url(folder: Path, notebook: str, jupyter_dir: Path) -> Iterator[str]:
    """Serve `notebook` of `folder` with Voila (no tracebacks shown) until the block ends; its page's URL.

    `jupyter_dir` holds Voila's runtime files and the kernel's IPython folder (rule 10 of STYLE.md).
    """
    jupyter_dir.mkdir(parents=True, exist_ok=True)  # IPython falls back to a shared temp folder without it
    port = free_port()
    voila = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "voila"),
            notebook,
            f"--port={port}",
            "--no-browser",
            "--Voila.ip=127.0.0.1",
            "--show_tracebacks=False",
        ],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(jupyter_dir / "runtime"), IPYTHONDIR=str(jupyter_dir / "ipython")),
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_WAIT
        while time.monotonic() < deadline and voila.poll() is None:
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        if voila.poll() is not None:
            raise AssertionError(f"Voila stopped with code {voila.returncode} before serving {folder / notebook}")
        yield url
    finally:
        voila.terminate()
        voila.wait(30)
