"""Browser: the creative-exercise widgets in a real workbook, in JupyterLab and in Voila.

In JupyterLab, a learner who logged in through the hub opens the workbook with the pixel
canvas and the one with the beat maker, runs them (Run > Run All Cells), draws (a click, a
drag across a row with the mouse, taken back and drawn again, Shift with the arrow keys, and
the Fill tool), makes a beat and saves both; the PNG is checked square by square in Pillow
and the WAV with the `wave` module. Then one workbook is rendered by a real Voila server and its widgets answer
clicks. Screenshots go to tests/artifacts/.

Run All only once the notebook's kernel is really there (tests/lab.py says why): a cell run
while the kernel session is still being created is cleared without a word. That is how the
first version of this test failed now and then.

It failed once more, now and then, before any browser opened: "The hub exited with code 1
while starting", its log ending in "Cannot connect to classroom service". JupyterHub gives a
managed service ten one-second tries to answer; on the shared two-core machine the classroom
service spent longer than that importing, half of it jsonschema's IRI checker building a Lark
grammar (rfc3987-syntax, which `make install` now removes; see tests/test_startup_imports.py).
"""

from __future__ import annotations

import array
import json
import pwd
import re
import shutil
import sys
import tempfile
import wave
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Locator, Page, expect

from axe import assert_accessible
from conftest import REPO, RunningHub, open_logged_in
from connected_learning.catalog.load import Workbook, load_catalog
from connected_learning.widgets.pixel_canvas import PALETTE
from lab import run_notebook
from voila import voila_page_url

pytestmark = [pytest.mark.integration, pytest.mark.browser]

# How long the kernel may take to answer a press or to run a workbook, on a busy machine (ms).
KERNEL_WAIT = 120_000


def _using(widget: str) -> tuple[Workbook, str, int]:
    """The first workbook (in catalog order) whose notebook creates `widget`, that notebook, and the cell."""
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


def _open_and_run_all(page: Page, lab_url: str, workbook: Workbook, notebook: str) -> Locator:
    """Open `notebook` of `workbook` in JupyterLab once its kernel is idle, run every cell; the panel."""
    return run_notebook(page, lab_url, f"workbooks/{workbook.id}/{notebook}")


def _output_with(page: Page, panel: Locator, grid_name: str) -> Locator:
    """The first notebook cell whose output holds the grid called `grid_name`, once the kernel made it."""
    cell = panel.locator(".jp-Cell").filter(has=page.get_by_role("grid", name=grid_name)).first
    cell.wait_for(timeout=KERNEL_WAIT)
    return cell


def _save(widget: Locator, button: str) -> str:
    """Press the widget's save `button` under the file name it shows; the name, once Python saved it."""
    file_name = widget.get_by_role("textbox", name="File name:").input_value()
    # Not an exact name: the glyph of the button's icon (CSS content) is part of it.
    widget.get_by_role("button", name=button).click()
    expect(widget.get_by_text(f"Saved {file_name}")).to_be_visible(timeout=KERNEL_WAIT)
    return file_name


def _screenshot(page: Page, cell: Locator, path: Path) -> None:
    """JupyterLab as the learner sees it, with the output of `cell` at the top of the notebook."""
    cell.locator(".jp-OutputArea").evaluate("area => area.scrollIntoView({block: 'start'})")
    page.mouse.move(0, 0)  # a square under the pointer would look darker than its colour
    page.screenshot(path=str(path))


def _joined(drawing: list[list[str]], row: int, column: int) -> set[tuple[int, int]]:
    """The squares (from 0) that a fill at `row`, `column` paints: joined to it by sides, in its colour."""
    colour, patch, todo = drawing[row][column], set(), [(row, column)]
    while todo:
        r, c = todo.pop()
        if (r, c) in patch or not (0 <= r < len(drawing) and 0 <= c < len(drawing[r])) or drawing[r][c] != colour:
            continue
        patch.add((r, c))
        todo += [(r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)]
    return patch


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def test_draw_and_make_a_beat_in_jupyterlab(hub: RunningHub, browser, artifacts) -> None:
    name = hub.name("ana")
    pixel_book, pixel_nb, _ = _using("PixelCanvas")
    beat_book, beat_nb, _ = _using("BeatMaker")
    interests = sorted({pixel_book.interests[0], beat_book.interests[0]} - {"getting-started"})
    s = hub.login("ana")
    assert s.spawn_with_form(interests).status_code == 302
    s.wait_ready(name)
    home = Path(pwd.getpwnam(name).pw_dir) / "workbooks"
    lab_url = f"{hub.server_url(name)}lab"

    page = open_logged_in(browser, hub, "ana", 1366, 900)
    page.wait_for_url(f"{hub.server_url(name)}lab**", timeout=120_000)

    # Pixel art: paint the square in row 2, column 3 with a colour that neither it nor its
    # mirror square (row 3, column 2) has, so the PNG shows whether rows and columns got swapped.
    panel = _open_and_run_all(page, lab_url, pixel_book, pixel_nb)
    canvas = _output_with(page, panel, "Pixel art squares")
    squares = canvas.get_by_role("grid", name="Pixel art squares")

    def shown(row: int, column: int) -> str:
        label = squares.get_by_role("button", name=re.compile(rf"^Row {row}, column {column}: ")).get_attribute(
            "aria-label"
        )
        return label.rsplit(": ", 1)[1]

    target_was, mirror = shown(2, 3), shown(3, 2)
    colour = next(c for c in ("purple", "green", "orange", "red") if c not in (target_was, mirror))
    canvas.get_by_role("button", name=re.compile(rf"^(✓ )?{colour}$")).click()
    expect(canvas.get_by_text(f"Painting with: {colour}")).to_be_visible(timeout=KERNEL_WAIT)
    squares.get_by_role("button", name=f"Row 2, column 3: {target_was}", exact=True).click()
    expect(squares.get_by_role("button", name=f"Row 2, column 3: {colour}", exact=True)).to_be_visible(
        timeout=KERNEL_WAIT
    )
    columns = squares.get_by_role("button", name=re.compile(r"^Row 1, column \d+: ")).count()
    rows = squares.get_by_role("button", name=re.compile(r"^Row \d+, column 1: ")).count()

    def drawing() -> list[list[str]]:
        """The colour of every square, row by row, as the squares' labels say."""
        labels = squares.locator("button.clh-cell").evaluate_all("cells => cells.map(c => c.ariaLabel)")
        colours = [label.rsplit(": ", 1)[1] for label in labels]
        return [colours[row * columns : (row + 1) * columns] for row in range(rows)]

    def choose(name: str) -> None:
        canvas.get_by_role("button", name=re.compile(rf"^(✓ )?{name}$")).click()
        expect(canvas.get_by_text(re.compile(rf"(Painting|Filling) with: {name}$"))).to_be_visible(timeout=KERNEL_WAIT)

    def expect_drawing(expected: list[list[str]]) -> None:
        """Wait until the squares show `expected` (Python answers each press with new colours)."""
        page.wait_for_function(
            "([grid, expected]) => JSON.stringify([...grid.querySelectorAll('button.clh-cell')]"
            ".map(c => c.ariaLabel.split(': ').pop())) === JSON.stringify(expected)",
            arg=[squares.element_handle(), [name for line in expected for name in line]],
            timeout=KERNEL_WAIT,
        )

    # Drag with the mouse along row `rows - 1`, from its first square to its last, in a colour the
    # drawing does not have yet: every square on the way is painted, and Undo takes the whole
    # drag back at once (one stroke is one step, however many messages carried it).
    expected = drawing()
    unused = [name for name, _ in PALETTE[1:] if name != colour and all(name not in line for line in expected)]
    drag_colour, fill_colour, keys_colour = unused[:3]
    before_drag = [list(line) for line in expected]
    drag_row = rows - 1
    choose(drag_colour)

    def drag_across(row: int) -> None:
        first = squares.get_by_role("button", name=re.compile(rf"^Row {row}, column 1: "))
        last = squares.get_by_role("button", name=re.compile(rf"^Row {row}, column {columns}: "))
        first.scroll_into_view_if_needed()
        start, end = first.bounding_box(), last.bounding_box()
        assert start and end
        y = start["y"] + start["height"] / 2
        page.mouse.move(start["x"] + start["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(end["x"] + end["width"] / 2, y, steps=max(4, columns // 3))  # a fast move skips squares
        page.mouse.up()

    drag_across(drag_row)
    expected[drag_row - 1] = [drag_colour] * columns
    expect_drawing(expected)
    canvas.get_by_role("button", name="Undo").click()
    expect_drawing(before_drag)
    drag_across(drag_row)
    expect_drawing(expected)

    # The keyboard: Shift with the right arrow paints from the focused square as it moves.
    choose(keys_colour)
    squares.get_by_role("button", name=re.compile(r"^Row 1, column 1: ")).focus()
    page.keyboard.press("Enter")
    page.keyboard.down("Shift")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.up("Shift")
    expected[0][0:3] = [keys_colour] * 3
    expect_drawing(expected)

    # Fill: pressing the last square of the dragged row paints every square joined to it by a
    # side in its colour: the whole row, since no other square has the drag's colour.
    fill_button = canvas.get_by_role("button", name=re.compile(r"^(✓ )?Fill$"))
    fill_button.click()
    expect(fill_button).to_have_attribute("aria-pressed", "true", timeout=KERNEL_WAIT)
    expect(canvas.get_by_role("button", name=re.compile(r"^(✓ )?Brush$"))).to_have_attribute("aria-pressed", "false")
    choose(fill_colour)
    patch = _joined(expected, drag_row - 1, columns - 1)
    assert patch == {(drag_row - 1, column) for column in range(columns)}
    squares.get_by_role("button", name=re.compile(rf"^Row {drag_row}, column {columns}: ")).click()
    for row, column in patch:
        expected[row][column] = fill_colour
    expect_drawing(expected)
    assert expected[2 - 1][3 - 1] == colour

    png_name = _save(canvas, "Save PNG")
    _screenshot(page, canvas, artifacts / "lab-pixel-canvas.png")

    palette = dict(PALETTE)
    with Image.open(home / pixel_book.id / png_name) as image:
        picture = image.convert("RGB")
    scale = picture.width // columns
    assert scale > 0 and picture.size == (columns * scale, rows * scale), (picture.size, rows, columns)

    def centre(row: int, column: int) -> tuple[int, int, int]:
        return picture.getpixel(((column - 1) * scale + scale // 2, (row - 1) * scale + scale // 2))

    assert centre(2, 3) == _rgb(palette[colour])
    assert centre(3, 2) == _rgb(palette[mirror])
    # Every square of the saved picture, the dragged row and the filled patch among them.
    assert [[centre(row, column) for column in range(1, columns + 1)] for row in range(1, rows + 1)] == [
        [_rgb(palette[name]) for name in line] for line in expected
    ]

    # A beat: one more kick and one more snare (whichever steps are off), make the sound, save the WAV.
    panel = _open_and_run_all(page, lab_url, beat_book, beat_nb)
    maker = _output_with(page, panel, "Beat steps")
    steps = maker.get_by_role("grid", name="Beat steps")
    for row in ("kick", "snare"):
        step = steps.get_by_role("button", name=re.compile(rf"^{row}, step \d+: off$")).first
        label = step.get_attribute("aria-label")
        step.click()
        turned_on = steps.get_by_role("button", name=label.replace(": off", ": on"), exact=True)
        expect(turned_on).to_have_attribute("aria-pressed", "true", timeout=KERNEL_WAIT)
    maker.get_by_role("button", name="Make the sound").click()
    # The browser's own player has decoded the sound Python made: it knows how long it lasts.
    maker.locator("audio").wait_for(state="attached")
    page.wait_for_function(
        "audio => audio.duration > 0 && Number.isFinite(audio.duration)",
        arg=maker.locator("audio").element_handle(),
        timeout=KERNEL_WAIT,
    )
    wav_name = _save(maker, "Save WAV")
    _screenshot(page, maker, artifacts / "lab-beat-maker.png")

    with wave.open(str(home / beat_book.id / wav_name)) as sound:
        assert sound.getnchannels() == 1 and sound.getsampwidth() == 2 and sound.getnframes() > 0
        samples = array.array("h", sound.readframes(sound.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    assert max(abs(sample) for sample in samples) > 1000, "the saved beat is silent"
    page.close()


def test_a_workbook_renders_in_voila_with_working_widgets(browser, artifacts) -> None:
    workbook, notebook, _ = _using("PixelCanvas")
    folder = Path(tempfile.mkdtemp(prefix="clhub-voila-"))
    shutil.copytree(workbook.folder, folder / workbook.id)
    try:
        with voila_page_url(folder / workbook.id, notebook, folder / "jupyter") as url:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url, timeout=120_000)
            # The first canvas on the page: its palette comes before its squares.
            page.get_by_role("button", name=re.compile(r"^(✓ )?blue$")).first.click(timeout=120_000)
            squares = page.get_by_role("grid", name="Pixel art squares").first
            squares.get_by_role("button", name=re.compile(r"^Row 2, column 3: ")).click()
            expect(squares.get_by_role("button", name="Row 2, column 3: blue", exact=True)).to_be_visible(
                timeout=60_000
            )
            assert page.locator("text=Traceback").count() == 0
            page.screenshot(path=str(artifacts / "widgets-3-pixel-canvas-voila.png"), full_page=True)
            page.close()
            _drag_with_a_finger(browser, url, artifacts)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _drag_with_a_finger(browser, url: str, artifacts: Path) -> None:
    """On a tablet (a touch screen), a finger drawn along a row paints it, and the page does not scroll."""
    tablet = browser.new_context(viewport={"width": 820, "height": 1180}, has_touch=True, is_mobile=True)
    page = tablet.new_page()
    page.goto(url, timeout=120_000)
    squares = page.get_by_role("grid", name="Pixel art squares").first
    row = squares.get_by_role("button", name=re.compile(r"^Row 4, column \d+: "))
    row.first.wait_for(timeout=120_000)
    labels = row.evaluate_all("cells => cells.map(c => c.ariaLabel)")
    colour = next(name for name in ("purple", "pink", "brown", "black") if not any(name in x for x in labels))
    page.get_by_role("button", name=re.compile(rf"^(✓ )?{colour}$")).first.tap()
    expect(page.get_by_text(f"Painting with: {colour}").first).to_be_visible(timeout=60_000)
    row.first.scroll_into_view_if_needed()
    start, end = row.nth(0).bounding_box(), row.nth(7).bounding_box()
    assert start and end
    y = start["y"] + start["height"] / 2
    scrolled = page.evaluate("() => [window.scrollX, window.scrollY, document.scrollingElement.scrollTop]")
    touch = tablet.new_cdp_session(page)
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start["x"] + 4, "y": y}]})
    for step in range(1, 9):
        x = start["x"] + 4 + (end["x"] + end["width"] / 2 - start["x"] - 4) * step / 8
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    for column in range(1, 9):
        expect(squares.get_by_role("button", name=f"Row 4, column {column}: {colour}", exact=True)).to_be_visible(
            timeout=60_000
        )
    assert page.evaluate("() => [window.scrollX, window.scrollY, document.scrollingElement.scrollTop]") == scrolled
    assert squares.get_by_role("button", name=f"Row 4, column 9: {colour}", exact=True).count() == 0
    page.screenshot(path=str(artifacts / "widgets-4-pixel-canvas-touch.png"))
    # The Fill and Brush buttons, the squares and the rest of the page as the family's live page shows them.
    assert_accessible(page, "widgets-voila-tablet")
    tablet.close()
