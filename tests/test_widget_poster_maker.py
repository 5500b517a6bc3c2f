"""PosterMaker, driven as a learner would: type the words and numbers, pick a picture, a layout and a theme,
press Save PNG, then open the PNG with Pillow and find the poster in it.

Also: the poster comes back from its sidecar, an edited or damaged sidecar is refused and
kept, numbers that are not numbers never reach the chart, a picture is read only from the
learner's folder and only when it is a real, reasonably sized PNG or JPEG, exports stay in
the folder, and the labels speak Spanish. The last test runs a notebook with nbclient and
opens the showcase's static page with JavaScript off to find the poster on it.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
import pytest
from PIL import Image

from connected_learning.widgets import PosterMaker, StateError, set_language
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV
from connected_learning.widgets.contrast import text_colour
from connected_learning.widgets.poster_art import LAYOUTS, POSTER_SIZE, THEMES, contrast_ratio, plan_boxes
from connected_learning.widgets.poster_maker import MAX_BARS, MAX_NUMBER, parse_table
from pieces import executed_piece, phone_page
from widget_tree import descendants

MAGENTA = (255, 0, 255)  # in no theme: where it shows, the learner's picture is
NUMBERS = [("Mon", 10), ("Tue", 20), ("Wed", 5), ("Thu", 15)]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test runs in a fresh learner folder, with a pixel-art picture in it."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.chdir(home)
    Image.new("RGB", (16, 16), MAGENTA).save(home / "my_pet.png")
    return home


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def named(colour: str) -> tuple[int, int, int]:
    return (0, 0, 0) if colour == "black" else (255, 255, 255)


def bar_heights(picture: Image.Image, chart: Any, count: int, bar: tuple[int, int, int]) -> list[int]:
    """How many pixels of the bar colour stand in the column through the middle of each bar."""
    inner_left, inner_width = chart.left + 12, chart.width - 24
    heights = []
    for index in range(count):
        x = round(inner_left + inner_width / count * (index + 0.5))
        heights.append(sum(picture.getpixel((x, y)) == bar for y in range(chart.top, chart.bottom)))
    return heights


def make_poster(workdir: Path) -> PosterMaker:
    """A poster filled in through its controls, as a learner fills it in."""
    poster = PosterMaker(sidecar="my_poster.json")
    poster.title.value = "Match Day!"
    poster.slogan.value = "Come and cheer for the Rockets"
    poster.footer.value = "Saturday 10:00, Riverside Library"
    poster.chart_title.value = "Points per game"
    poster.table.value = "\n".join(f"{label}: {value}" for label, value in NUMBERS)
    poster.theme.value = "forest"
    poster.layout_choice.value = "side-by-side"
    poster.picture_name.value = "my_pet.png"
    poster.picture_button.click()
    return poster


def test_a_learner_makes_a_poster_and_saves_it_as_a_png(workdir: Path) -> None:
    poster = make_poster(workdir)
    assert poster.status.value == "Your poster now shows my_pet.png."
    poster.file_name.value = "my_poster.png"
    poster.export_button.click()
    assert poster.status.value == "Saved my_poster.png in your folder."

    saved = Image.open(workdir / "my_poster.png")
    assert saved.format == "PNG" and saved.size == POSTER_SIZE == (600, 800)
    picture = saved.convert("RGB")
    theme = THEMES["forest"]
    assert picture.getpixel((4, 4)) == rgb(theme.background)
    assert picture.getpixel((4, 796)) == rgb(theme.accent)  # the footer band
    boxes = poster.boxes()
    assert set(boxes) == {"header", "footer", "picture", "chart"}
    # The title is written in the colour that reads on the background (white on dark green).
    header = boxes["header"]
    title_pixels = picture.crop((header.left, header.top, header.right, header.top + 60)).getdata()
    assert named(text_colour(theme.background)) in set(title_pixels)

    # The picture: magenta where the layout puts it (the left half), nowhere else.
    where = boxes["picture"]
    assert where.right < boxes["chart"].left
    assert picture.getpixel(((where.left + where.right) // 2, (where.top + where.bottom) // 2)) == MAGENTA
    mask = Image.new("L", picture.size)
    mask.putdata([255 if pixel == MAGENTA else 0 for pixel in picture.getdata()])
    left, top, right, bottom = mask.getbbox() or (0, 0, 0, 0)
    assert where.left <= left and right <= where.right and where.top <= top and bottom <= where.bottom
    assert right - left >= where.width - 8  # the square picture grew to fill its box's width

    # The bars: their heights follow the numbers (10, 20, 5, 15).
    heights = bar_heights(picture, boxes["chart"], len(NUMBERS), rgb(theme.bar))
    assert all(height > 0 for height in heights)
    tallest = max(heights)
    for (_, value), height in zip(NUMBERS, heights, strict=True):
        assert abs(height - tallest * value / 20) <= 2, (heights, NUMBERS)

    # What the notebook shows is that poster, and the sidecar holds the creation.
    assert poster.image.value == (workdir / "my_poster.png").read_bytes()
    assert 0 < len(poster.image.value) < 200_000
    assert json.loads((workdir / "my_poster.json").read_text()) == poster.state
    assert "Match Day!" in poster.about.value and "my_pet.png" in poster.about.value
    assert "Bar chart of 4 numbers, from 5 to 20." in poster.about.value
    assert poster.image.tooltip == poster.about.value


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_layout_puts_the_picture_where_it_says(workdir: Path, layout: str) -> None:
    poster = PosterMaker("Sports day", data=NUMBERS, picture="my_pet.png", layout=layout, theme="paper")
    picture = Image.open(io.BytesIO(poster.to_png())).convert("RGB")
    boxes = poster.boxes()
    where, chart = boxes["picture"], boxes["chart"]
    if layout == "picture-top":
        assert where.bottom < chart.top
    elif layout == "chart-top":
        assert chart.bottom < where.top
    else:
        assert where.right < chart.left and where.top == chart.top
    assert picture.getpixel(((where.left + where.right) // 2, (where.top + where.bottom) // 2)) == MAGENTA
    assert picture.getpixel(((chart.left + chart.right) // 2, chart.top + 4)) != MAGENTA
    heights = bar_heights(picture, chart, len(NUMBERS), rgb(THEMES["paper"].bar))
    assert heights.index(max(heights)) == 1 and heights.index(min(heights)) == 2


def test_without_a_picture_the_chart_takes_the_middle_and_an_empty_poster_says_what_to_add(workdir: Path) -> None:
    assert set(plan_boxes("side-by-side", False, True)) == {"header", "footer", "chart"}
    assert set(plan_boxes("picture-top", False, False)) == {"header", "footer", "empty"}
    poster = PosterMaker("Only words")
    assert "empty" in poster.boxes()
    assert (
        PosterMaker().about.value
        == "Poster with no title yet, Sunny (yellow with blue bars), picture on top, chart below."
    )
    line = PosterMaker("A line", data=[("Mon", -5), ("Tue", 8)], chart="line", theme="night")
    drawn = Image.open(io.BytesIO(line.to_png())).convert("RGB")
    assert rgb(THEMES["night"].bar) in set(drawn.getdata())  # the line and its dots
    assert "Line chart of 2 numbers, from -5 to 8." in line.about.value


def test_every_theme_keeps_words_readable_and_bars_visible() -> None:
    for name, theme in THEMES.items():
        for ground in (theme.background, theme.panel, theme.accent):
            ink = "#000000" if text_colour(ground) == "black" else "#ffffff"
            assert contrast_ratio(ink, ground) >= 4.5, (name, ground)
        assert contrast_ratio(theme.bar, theme.panel) >= 3, name  # a shape needs 3:1
    # Control: the measure finds a pair that is too faint.
    assert contrast_ratio("#ffffff", "#fdd835") < 3


def test_the_poster_comes_back_from_its_sidecar(workdir: Path) -> None:
    poster = make_poster(workdir)
    again = PosterMaker(sidecar="my_poster.json")
    assert again.state == poster.state
    assert again.status.value == "Welcome back! Your work from my_poster.json is loaded."
    assert again.to_png() == poster.to_png()
    assert PosterMaker.from_state(poster.state).state == poster.state
    poster.save_to("copy.json")
    assert PosterMaker.load_from("copy.json").state == poster.state
    # The picture is kept by name: when the file is gone, the poster shows without it and says so.
    (workdir / "my_pet.png").unlink()
    missing = PosterMaker.from_state(poster.state)
    assert missing.state == poster.state and "picture" not in missing.boxes()
    assert "There is no picture called my_pet.png" in missing.status.value


def edited(state: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**state, **changes}


BAD_EDITS = {
    "too many bars": {"data": [[f"b{i}", i] for i in range(MAX_BARS + 1)]},
    "a huge label": {"data": [["x" * 500, 1]]},
    "a number as text": {"data": [["Mon", "12"]]},
    "true as a number": {"data": [["Mon", True]]},
    "a huge number": {"data": [["Mon", 10**12]]},
    "a table that is not a list": {"data": {"Mon": 3}},
    "a long title": {"title": "x" * 5000},
    "a title of two lines": {"title": "one\ntwo"},
    "a title that is not text": {"title": 12},
    "an unknown theme": {"theme": "neon"},
    "an unknown layout": {"layout": "upside-down"},
    "an unknown chart": {"chart": "pie"},
    "a picture outside the folder": {"picture": "../secret.png"},
    "a picture by absolute path": {"picture": "/etc/secret.png"},
    "a picture that is not a picture": {"picture": "notes.txt"},
    "another widget's file": {"kind": "pixel_canvas"},
    "a newer version": {"version": 99},
}


@pytest.mark.parametrize("edit", sorted(BAD_EDITS))
def test_an_edited_sidecar_is_refused_and_kept(workdir: Path, edit: str) -> None:
    good = PosterMaker("Mine", data=NUMBERS).state
    bad = edited(good, **BAD_EDITS[edit])
    with pytest.raises(StateError):
        PosterMaker().load_state(bad)
    text = json.dumps(bad)
    (workdir / "poster.json").write_text(text)
    poster = PosterMaker(sidecar="poster.json")
    assert poster.status.value.startswith("Could not open your saved work in poster.json")
    assert (workdir / "poster.json").read_text() == text  # the learner's file is not overwritten
    poster.title.value = "A change"
    assert (workdir / "poster.json").read_text() == text
    assert PosterMaker().load_state(good) is None  # control: the unedited state loads


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_sidecar_with_a_number_that_is_not_finite_is_refused(workdir: Path, raw: str) -> None:
    text = json.dumps(PosterMaker("Mine", data=[("Mon", 7)]).state).replace("7]]", f"{raw}]]")
    assert raw in text
    (workdir / "poster.json").write_text(text)
    poster = PosterMaker(sidecar="poster.json")
    assert "Could not open your saved work" in poster.status.value
    assert "use a number between" in poster.status.value and poster.data == []


def test_damaged_and_huge_sidecars_are_refused(workdir: Path) -> None:
    (workdir / "broken.json").write_text('{"kind": "poster_maker", "version": 1, "title": ')
    assert "bad JSON" in PosterMaker(sidecar="broken.json").status.value
    huge = json.dumps(edited(PosterMaker().state, slogan="x" * (9 * 1024 * 1024)))
    (workdir / "huge.json").write_text(huge)
    poster = PosterMaker(sidecar="huge.json")
    assert "bigger than 8 MB" in poster.status.value
    assert (workdir / "huge.json").stat().st_size == len(huge)
    (workdir / "missing-keys.json").write_text(json.dumps({"kind": "poster_maker", "version": 1}))
    assert "damaged" in PosterMaker(sidecar="missing-keys.json").status.value


def test_numbers_that_are_not_numbers_never_reach_the_chart(workdir: Path) -> None:
    poster = PosterMaker(data=NUMBERS, sidecar="poster.json")
    before = poster.state
    for typed in (
        "Mon: nan",
        "Mon: inf",
        "Mon: -inf",
        "Mon: 1e400",
        f"Mon: {MAX_NUMBER * 10}",
        "Mon: twelve",
        "Mon 12",
    ):
        poster.table.value = typed
        assert poster.status.value.startswith("The chart did not change."), typed
        assert poster.state == before
    assert json.loads((workdir / "poster.json").read_text()) == before
    poster.table.value = "\n".join(f"b{i}: {i}" for i in range(MAX_BARS + 1))
    assert "up to 12 bars" in poster.status.value and poster.state == before
    for bad in (
        [("Mon", float("nan"))],
        [("Mon", float("inf"))],
        [("Mon", 10**10)],
        [("Mon", None)],
        "Mon: 3",
        [("", 1)],
    ):
        with pytest.raises(StateError):
            poster.set_data(bad)
        with pytest.raises(StateError):
            PosterMaker(data=bad)
    assert poster.state == before
    # Controls: what a learner or a notebook really passes is taken.
    assert parse_table("Monday: 12\n\nTuesday, 7.5\nWed = -3") == [("Monday", 12), ("Tuesday", 7.5), ("Wed", -3)]
    poster.set_data(zip(["a", "b"], np.array([3, MAX_NUMBER]), strict=True))
    assert poster.data == [("a", 3), ("b", MAX_NUMBER)]
    assert poster.table.value == f"a: 3\nb: {MAX_NUMBER}"
    poster.set_data({"x": 1.5})
    assert json.loads((workdir / "poster.json").read_text())["data"] == [["x", 1.5]]


def test_a_title_that_is_too_long_is_cut_and_the_learner_told(workdir: Path) -> None:
    poster = PosterMaker()
    poster.title.value = "Go " * 40
    assert len(poster.title.value) == 60
    assert poster.status.value == "The title can have up to 60 letters, so the end was cut."
    with pytest.raises(StateError):
        PosterMaker("x" * 61)


def bomb(path: Path, side: int = 6000) -> None:
    """A small file that would unpack to a huge picture: 6000 x 6000 pixels of one colour."""
    Image.new("1", (side, side)).save(path, optimize=True)


def test_a_picture_is_read_only_from_the_folder_and_only_when_it_is_a_real_small_enough_picture(
    workdir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.png"
    Image.new("RGB", (8, 8), "red").save(outside)
    (workdir / "link.png").symlink_to(outside)
    (workdir / "notes.png").write_text("my shopping list, not a picture")
    Image.new("RGB", (8, 8), "red").save(workdir / "moving.gif")
    (workdir / "moving.gif").rename(workdir / "moving.png")  # a GIF named .png
    bomb(workdir / "bomb.png")
    assert (workdir / "bomb.png").stat().st_size < 100_000  # small on disk: the danger is unpacking it
    os.mkfifo(workdir / "pipe.png")
    poster = PosterMaker(picture="my_pet.png", sidecar="poster.json")
    before = poster.state
    tricks = {
        "../outside.png": "uses '..' to leave your folder",
        str(outside): "is outside your folder",
        "link.png": "shortcut (symbolic link)",
        "notes.png": "notes.png is not a picture that can be opened.",
        "moving.png": "moving.png is not a picture that can be opened.",
        "bomb.png": "bomb.png has too many pixels (more than 16 million), so it was not opened.",
        "pipe.png": "is a folder or a special file",
        "nowhere.png": "There is no picture called nowhere.png in your folder.",
        "notes.txt": "is not a PNG or JPEG picture. Pick a file ending in .png or .jpg.",
        ".hidden.png": "hidden name",
    }
    for name, said in tricks.items():
        poster.picture_name.value = name
        poster.picture_button.click()
        assert poster.status.value.startswith("The picture did not change."), name
        assert said in poster.status.value, (name, poster.status.value)
        assert poster.state == before
    with pytest.raises(ValueError, match="leave your folder"):
        PosterMaker(picture="../outside.png")
    with pytest.raises(ValueError, match="not a PNG or JPEG picture"):
        PosterMaker(picture="notes.txt")
    # A picture the notebook names before the learner saved it: the poster waits for it, and says so.
    waiting = PosterMaker(picture="later.png", sidecar="waiting.json")
    assert "There is no picture called later.png" in waiting.status.value and "picture" not in waiting.boxes()
    Image.new("RGB", (8, 8), MAGENTA).save(workdir / "later.png")
    assert "picture" in PosterMaker(sidecar="waiting.json").boxes()
    # Controls: the same pictures inside the folder, as real PNG and JPEG files, are taken.
    Image.open(outside).save(workdir / "copy.png")
    Image.new("RGB", (40, 30), (0, 128, 255)).save(workdir / "photo.jpg", quality=95)
    for name in ("copy.png", "photo.jpg", str(workdir / "my_pet.png")):
        poster.picture_name.value = name
        poster.picture_button.click()
        assert poster.status.value == f"Your poster now shows {name}.", poster.status.value
    poster.no_picture_button.click()
    assert poster.state["picture"] is None and "picture" not in poster.boxes()


def test_exports_stay_in_the_learner_folder(workdir: Path, tmp_path: Path) -> None:
    poster = PosterMaker("Match day", data=NUMBERS)
    target = tmp_path / "victim.png"
    target.write_bytes(b"keep me")
    (workdir / "link.png").symlink_to(target)
    for name in ("../escape.png", "/etc/escape.png", str(tmp_path / "escape.png"), "link.png", "poster.txt", ".x.png"):
        poster.file_name.value = name
        poster.export_button.click()
        assert poster.status.value.startswith("Not saved:"), name
    assert target.read_bytes() == b"keep me"
    assert not (tmp_path / "escape.png").exists() and not Path("/etc/escape.png").exists()
    poster.file_name.value = "posters/match.png"  # control: a folder inside is fine
    poster.export_button.click()
    assert Image.open(workdir / "posters" / "match.png").size == POSTER_SIZE


def test_every_control_has_words_and_the_labels_speak_spanish(workdir: Path) -> None:
    poster = PosterMaker()
    for control in descendants(poster):
        if isinstance(control, widgets.Button | widgets.Text | widgets.Textarea | widgets.Dropdown):
            assert control.description.strip(), control
    try:
        set_language("es")
        spanish = PosterMaker()
        assert spanish.title.description == "Título:"
        assert spanish.export_button.description == "Guardar PNG"
        assert spanish.picture_button.description == "Usar imagen"
        assert ("Gráfico de barras", "bar") in spanish.chart.options
        assert ("Sol (amarillo con barras azules)", "sunny") in spanish.theme.options
        spanish.table.value = "Lunes: doce"
        assert spanish.status.value.startswith("El gráfico no cambió. Línea 1:")
        drawn = Image.open(io.BytesIO(spanish.to_png()))
        assert drawn.size == POSTER_SIZE
    finally:
        set_language("en")
    assert PosterMaker().title.description == "Title:"


def test_a_family_live_page_saves_nothing(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIVE_SHOWCASE_ENV, "1")
    poster = PosterMaker("Play", sidecar="live.json")
    assert not (workdir / "live.json").exists()
    row = next(w for w in descendants(poster) if isinstance(w, widgets.HBox) and poster.export_button in w.children)
    assert row.layout.display == "none"


def test_importing_the_widget_does_not_load_pillow() -> None:
    code = "import sys, connected_learning.widgets as w; w.PosterMaker; print('PIL' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


# --- the showcase's static page ---------------------------------------------------------------

WORKBOOK = Path(__file__).resolve().parent.parent / "workbooks" / "sports" / "match-day-poster"


@pytest.mark.browser
@pytest.mark.integration
def test_the_showcase_page_of_the_match_day_workbook_shows_its_posters_with_javascript_off(
    browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    from connected_learning.showcase.render import render_page

    folder = tmp_path / "match-day-poster"
    shutil.copytree(WORKBOOK, folder)
    snapshot = executed_piece(folder, "match-day-poster.ipynb", [], tmp_path / "jupyter")
    page = render_page(snapshot, title="My match-day posters", author_display="Ana G.")
    assert len(page.encode()) < 500_000
    page_file = tmp_path / "showcase.html"
    page_file.write_text(page, encoding="utf-8")

    with phone_page(browser, page_file) as phone:
        pictures = phone.locator("img")
        posters = []
        for index in range(pictures.count()):
            source = pictures.nth(index).get_attribute("src") or ""
            assert source.startswith("data:image/png;base64,")
            picture = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB")
            if picture.size == POSTER_SIZE:
                posters.append(picture)
                box = pictures.nth(index).bounding_box()
                assert box is not None and box["width"] <= 390 - 16
        # The three posters of the workbook: the match (sunny), the player (berry), the sports day (ocean).
        backgrounds = [poster.getpixel((4, 4)) for poster in posters]
        assert backgrounds == [rgb(THEMES[name].background) for name in ("sunny", "berry", "ocean")]
        where = plan_boxes("side-by-side", True, True)["picture"]
        shirt = posters[1].crop((where.left, where.top, where.right, where.bottom))
        assert (251, 140, 0) in set(shirt.getdata())  # the orange shirt drawn in the pixel canvas
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        pictures.first.scroll_into_view_if_needed()
        phone.screenshot(path=str(artifacts / "showcase-poster.png"))


def test_the_poster_writes_the_pound_sign_and_spanish_letters(workdir: Path) -> None:
    def drawn(title: str) -> bytes:
        return PosterMaker(title, theme="paper").to_png()

    nowhere = drawn("\U0010fffd")  # a character no font has: drawn as the "missing letter" box
    assert drawn("\U0010fffe") == nowhere  # control: two missing letters look the same
    for letter in "£€ñáéíóú¿¡“”…":
        assert drawn(letter) != nowhere, f"{letter!r} is drawn as a missing letter"
