"""Browser: a learner who reads Spanish says so on the interest form, gets the Spanish editions,
and makes an animation with a new widget (the flipbook, in its Spanish edition) in JupyterLab.

The language is remembered: the learner's next visit goes straight to JupyterLab, and "My
interests" shows Español chosen. Screenshots in tests/artifacts/spanish-*.png.
"""

from __future__ import annotations

import json
import os
import pwd
import re
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import expect

from axe import assert_accessible
from conftest import RunningHub, open_logged_in
from connected_learning.catalog.load import load_catalog
from lab import run_notebook

pytestmark = [pytest.mark.integration, pytest.mark.browser]

KERNEL_WAIT = 120_000  # ms the kernel may take to answer a press or run a workbook on a busy machine


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub({"sofia": ("student", ["class"])})


def test_a_learner_who_picks_spanish_gets_spanish_editions_and_animates_in_spanish(
    hub: RunningHub, browser, artifacts: Path
) -> None:
    name = hub.name("sofia")
    page = open_logged_in(browser, hub, "sofia")
    page.wait_for_selector("fieldset.clhub-interests", timeout=60_000)
    spanish = page.get_by_role("radio", name="Español")
    expect(page.get_by_role("radio", name="English")).to_be_checked()  # until the learner says otherwise
    spanish.check()
    for interest in ("Art and design", "Film and animation"):
        page.get_by_role("checkbox", name=re.compile(rf"^{interest}\b")).check()
    page.screenshot(path=str(artifacts / "spanish-01-interests.png"), full_page=True)
    assert_accessible(page, "spanish-interests")
    page.click("button[type=submit]")
    page.wait_for_url(f"**/user/{name}/lab**", timeout=KERNEL_WAIT)
    lab = f"{hub.server_url(name)}lab"
    home = Path(pwd.getpwnam(name).pw_dir)  # the system user is made at the first start

    # The Spanish edition of each workbook that has one; the others in English, so none is missing.
    catalog = load_catalog(hub.catalog_dir)
    expected = sorted(w.id for w in catalog.for_interests(["art", "film-and-animation"], ["start-here"], "es"))
    assert {"pixel-pets-es", "start-here-es", "flipbook-studio-es", "storyboard"} <= set(expected)
    assert sorted(n for n in os.listdir(home / "workbooks") if not n.startswith(".")) == expected
    page.goto(f"{lab}/tree/workbooks")
    expect(page.locator(".jp-DirListing-item", has_text="pixel-pets-es")).to_be_visible(timeout=KERNEL_WAIT)
    page.screenshot(path=str(artifacts / "spanish-02-workbooks.png"))

    # A Spanish edition: its text and its widgets speak Spanish.
    edition = catalog.workbooks["pixel-pets-es"]
    panel = run_notebook(page, lab, f"workbooks/pixel-pets-es/{edition.notebooks[0]}")
    canvas = panel.locator(".jp-OutputArea-output").filter(has=page.get_by_role("button", name="Deshacer")).first
    canvas.wait_for(timeout=KERNEL_WAIT)
    expect(canvas.get_by_role("button", name=re.compile(r"^(✓ )?Pincel$"))).to_be_visible()
    expect(canvas.get_by_role("button", name=re.compile(r"^Fila 1, columna 1: "))).to_be_visible()
    page.screenshot(path=str(artifacts / "spanish-03-pixel-pets.png"))

    # A new making widget, in JupyterLab, in the Spanish edition of Flipbook Studio.
    panel = run_notebook(page, lab, "workbooks/flipbook-studio-es/flipbook-studio-es.ipynb")
    book = (
        panel.locator(".jp-OutputArea-output").filter(has=page.get_by_role("button", name="Duplicar fotograma")).first
    )
    book.wait_for(timeout=KERNEL_WAIT)
    sidecar = home / "workbooks" / "flipbook-studio-es" / "mi_pelota.json"
    frames_before = len(json.loads(sidecar.read_text())["frames"])  # saved when the cell ran
    squares = book.get_by_role("grid", name="Cuadros del fotograma que estás dibujando")
    blank = squares.get_by_role("button", name=re.compile(r"^Fila 1, columna \d+: blanco$")).first
    label = blank.get_attribute("aria-label") or ""
    blank.click()
    expect(squares.get_by_role("button", name=label.replace("blanco", "negro"), exact=True)).to_be_visible(
        timeout=KERNEL_WAIT
    )
    book.get_by_role("button", name="Duplicar fotograma").click()
    expect(book.get_by_text(f"Fotograma 2 de {frames_before + 1}")).to_be_visible(timeout=KERNEL_WAIT)
    # The copy, changed a little (Pillow writes two same frames in a row as one longer frame).
    second = squares.get_by_role("button", name=re.compile(r"^Fila 2, columna \d+: blanco$")).first
    label = second.get_attribute("aria-label") or ""
    second.click()
    expect(squares.get_by_role("button", name=label.replace("blanco", "negro"), exact=True)).to_be_visible(
        timeout=KERNEL_WAIT
    )
    book.get_by_role("button", name="Guardar GIF").click()
    expect(book.get_by_text(re.compile(r"Se guardó .*mi_pelota\.gif en tu carpeta\."))).to_be_visible(
        timeout=KERNEL_WAIT
    )
    page.screenshot(path=str(artifacts / "spanish-04-flipbook.png"))
    with Image.open(home / "workbooks" / "flipbook-studio-es" / "mi_pelota.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == frames_before + 1
    saved = json.loads(sidecar.read_text())
    assert len(saved["frames"]) == frames_before + 1 and "black" in saved["frames"][0][0]

    # Remembered: My interests shows Spanish chosen, and the next start asks nothing.
    page.goto(f"{hub.url}/hub/interests")
    expect(page.get_by_role("radio", name="Español")).to_be_checked()
    assert_accessible(page, "spanish-my-interests")
    stored = json.loads((hub.data_dir / "hub" / "interests" / f"{name}.json").read_text())
    assert stored == {"interests": ["art", "film-and-animation"], "language": "es"}
