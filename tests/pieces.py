"""Pieces as the showcase publishes them, for tests: a notebook run by a real kernel, then cleaned.

A learner's piece is a notebook run top to bottom (its widgets' state saved in it) with the
files its widgets saved beside it. `executed_piece` runs one with nbclient in a folder the test
made (a copy of a workbook, or a small notebook written there by `write_notebook`), reads the
files (`executed_files`: what a learner shares) and passes them through `clean_snapshot`, as
publishing does. The kernel's Jupyter and
IPython files go under the test's own folder, and the kernel runs as a learner's does: not on
a family's live page. `run_notebook` is the running part alone, for notebooks a test makes in
memory (a live copy). `phone_page` opens a rendered static page as a family's phone does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest
from playwright.sync_api import Page

from connected_learning.showcase.snapshot import clean_snapshot
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV

CELL_WAIT = 180  # seconds one cell may take on a busy machine
DISPLAY = "Ana G."
PHONE = {"width": 390, "height": 844}


def run_notebook(notebook: nbformat.NotebookNode, folder: Path, jupyter_dir: Path) -> None:
    """Run every cell of `notebook` (in place: outputs and widget state land in it) in `folder`."""
    jupyter_dir.mkdir(parents=True, exist_ok=True)  # IPython falls back to a shared temp folder without it
    with pytest.MonkeyPatch.context() as env:
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
            env.setenv(name, str(jupyter_dir / name.lower()))
        env.delenv(LIVE_SHOWCASE_ENV, raising=False)
        nbclient.NotebookClient(
            notebook, timeout=CELL_WAIT, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
        ).execute()


def write_notebook(path: Path, heading: str, code: str) -> None:
    """A learner's small piece at `path`: a heading, then one code cell, for the python3 kernel."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(heading), nbformat.v4.new_code_cell(code)]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)


def executed_files(folder: Path, notebook: str, saved_files: Iterable[str], jupyter_dir: Path) -> dict[str, bytes]:
    """`notebook` of `folder` run by a real kernel, with `saved_files` of `folder`: what a learner shares.

    The files stay in `folder` as the kernel left them.
    """
    executed = nbformat.read(folder / notebook, as_version=4)
    run_notebook(executed, folder, jupyter_dir)
    files = {notebook: nbformat.writes(executed).encode()}
    for name in saved_files:
        files[name] = (folder / name).read_bytes()
    return files


def executed_piece(
    folder: Path,
    notebook: str,
    saved_files: Iterable[str],
    jupyter_dir: Path,
    *,
    usernames: Iterable[str] = ("root",),
) -> dict[str, bytes]:
    """`executed_files`, as the showcase publishes them: made by "Ana G.", cleaned of `usernames`
    (the tests run as root) and of `folder`."""
    files = executed_files(folder, notebook, saved_files, jupyter_dir)
    return clean_snapshot(files, author_display=DISPLAY, usernames=list(usernames), home_paths=[str(folder)])


@contextmanager
def phone_page(browser: Any, page_file: Path) -> Iterator[Page]:
    """`page_file` open in Chromium on a phone-sized screen (390x844) with JavaScript off, until the block ends.

    Fails unless the page fetched nothing but itself: what it shows is inline.
    """
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        phone = context.new_page()
        requests: list[str] = []
        phone.on("request", lambda request: requests.append(request.url))
        phone.goto(page_file.as_uri())
        assert requests == [page_file.as_uri()], f"the page fetched more than itself: {requests}"
        yield phone
    finally:
        context.close()
