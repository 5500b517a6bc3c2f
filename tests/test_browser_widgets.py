"""Browser: the creative-exercise widgets in a real workbook, in JupyterLab and in Voila.

In JupyterLab, a learner opens the workbooks that use the pixel canvas and the beat maker,
runs them, draws, makes a beat, and saves both; the PNG and the WAV are checked on disk.
Then one workbook is rendered by a real Voila server and its widgets answer clicks.
Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import pytest
import requests
from PIL import Image

from conftest import REPO, RunningHub, free_port, open_logged_in
from connected_learning.catalog import Workbook, load_catalog

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _using(widget: str) -> tuple[Workbook, str, int]:
    """The first workbook (by id) whose notebook creates `widget`, that notebook, and the cell."""
    catalog = load_catalog(REPO / "workbooks")
    for workbook in catalog.workbooks.values():
        for notebook in workbook.notebooks:
            cells = json.loads((workbook.folder / notebook).read_text())["cells"]
            for index, cell in enumerate(cells):
                if cell["cell_type"] == "code" and f"{widget}(" in "".join(cell["source"]):
                    return workbook, notebook, index
    raise AssertionError(f"no workbook uses {widget}")


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub({"ana": ("student", ["class"])})


def _open_and_run_until(page, workbook: Workbook, notebook: str, selector: str, cells: int) -> None:
    """Open `notebook` and run its cells one by one (Shift+Enter) until `selector` shows."""
    page.goto(page.url.split("/lab")[0] + f"/lab/tree/workbooks/{workbook.id}/{notebook}")
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.locator(".jp-Cell").first.wait_for()
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=120_000)
    # Focus the notebook itself (command mode, first cell active) rather than clicking a
    # cell: the windowed notebook may have scrolled the first cell under its toolbar.
    panel.locator(".jp-Notebook").first.focus()
    page.keyboard.press("Escape")
    target = page.locator(selector).first
    for _ in range(cells):
        page.keyboard.press("Shift+Enter")
        try:
            target.wait_for(timeout=3_000)
            return
        except Exception:
            continue
    target.wait_for(timeout=60_000)


def _new_file(folder: Path, pattern: str, before: set[Path], timeout: float = 60) -> Path:
    """The file matching `pattern` that appears in `folder` (not one of `before`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [p for p in folder.glob(pattern) if p not in before and p.stat().st_size > 0]
        if fresh:
            time.sleep(0.3)  # let the atomic rename settle
            return fresh[0]
        time.sleep(0.2)
    raise AssertionError(f"no new {pattern} in {folder}")


def test_draw_and_make_a_beat_in_jupyterlab(hub: RunningHub, browser, artifacts) -> None:
    name = hub.name("ana")
    pixel_book, pixel_nb, pixel_cell = _using("PixelCanvas")
    beat_book, beat_nb, beat_cell = _using("BeatMaker")
    interests = sorted({pixel_book.interests[0], beat_book.interests[0]} - {"getting-started"})
    s = hub.login("ana")
    assert s.spawn_with_form(interests).status_code == 302
    s.wait_ready(name)
    home = Path(pwd.getpwnam(name).pw_dir) / "workbooks"

    page = open_logged_in(browser, hub, "ana", 1366, 900)
    page.wait_for_url(f"**/user/{name}/lab/**", timeout=120_000)

    # Pixel art: choose red, paint the top-left square, save the PNG.
    _open_and_run_until(page, pixel_book, pixel_nb, "button.widget-button[title='Paint with red']", pixel_cell + 5)
    folder = home / pixel_book.id
    before = set(folder.glob("*.png"))
    page.locator("button.widget-button[title='Paint with red']").first.click()
    page.locator("button.widget-button[title^='Row 1, column 1:']").first.click()
    page.locator("button.widget-button[title='Row 1, column 1: red']").first.wait_for()
    page.locator("button.widget-button", has_text="Save PNG").first.click()
    png = _new_file(folder, "*.png", before)
    page.screenshot(path=str(artifacts / "widgets-1-pixel-canvas-jupyterlab.png"))
    with Image.open(png) as image:
        assert image.convert("RGB").getpixel((1, 1)) == (0xE5, 0x39, 0x35)

    # A beat: two more kicks and a snare, make the sound, save the WAV.
    _open_and_run_until(page, beat_book, beat_nb, "button[title^='kick, step 1:']", beat_cell + 5)
    folder = home / beat_book.id
    before = set(folder.glob("*.wav"))
    # The workbook may start from a starter beat: turn on steps that are off, whichever they are.
    for row in ("kick", "kick", "snare"):
        step = page.locator(f"button[title^='{row}, step '][title$=': off']").first
        title = step.get_attribute("title")
        step.click()
        page.locator(f"button[title='{title.replace(': off', ': on')}']").first.wait_for()
    page.locator("button.widget-button", has_text="Make the sound").first.click()
    page.locator("audio").first.wait_for(state="attached")
    page.locator("button.widget-button", has_text="Save WAV").first.click()
    wav = _new_file(folder, "*.wav", before)
    page.screenshot(path=str(artifacts / "widgets-2-beat-maker-jupyterlab.png"))
    with wave.open(str(wav)) as w:
        assert w.getnchannels() == 1 and w.getnframes() > 0
        frames = w.readframes(w.getnframes())
    assert any(frames), "the saved beat is silent"
    page.close()


def test_a_workbook_renders_in_voila_with_working_widgets(browser, artifacts) -> None:
    workbook, notebook, _ = _using("PixelCanvas")
    folder = Path(tempfile.mkdtemp(prefix="clhub-voila-"))
    shutil.copytree(workbook.folder, folder / workbook.id)
    port = free_port()
    voila = subprocess.Popen(
        [str(Path(sys.executable).parent / "voila"), notebook, f"--port={port}", "--no-browser",
         "--Voila.ip=127.0.0.1", "--show_tracebacks=False"],
        cwd=folder / workbook.id, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(folder / "runtime")))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code < 500:
                    break
            except OSError:
                time.sleep(0.3)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
        page.locator("button.widget-button[title='Paint with blue']").first.wait_for(timeout=120_000)
        page.locator("button.widget-button[title='Paint with blue']").first.click()
        page.locator("button.widget-button[title^='Row 2, column 3:']").first.click()
        page.locator("button.widget-button[title='Row 2, column 3: blue']").first.wait_for()
        assert page.locator("text=Traceback").count() == 0
        page.screenshot(path=str(artifacts / "widgets-3-pixel-canvas-voila.png"), full_page=True)
        page.close()
    finally:
        voila.terminate()
        voila.wait(30)
        shutil.rmtree(folder, ignore_errors=True)
