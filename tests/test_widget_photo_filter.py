"""PhotoFilterLab, driven as a learner drives it: sliders moved, effects ticked, buttons pressed.

Every test runs in its own learner folder holding the cat photo the pet workbook ships
(`data/chelsea.jpg`, CC0) and small pictures drawn here whose pixels are known. What "Save
PNG" writes is opened with Pillow and measured: its size is the picture's, black and white
has R = G = B, brightness raises the mean, mirror moves a known pixel. Saved creations that
were damaged or edited, and pictures or names that try to leave the folder, must give a plain
message and never a crash or a file outside. The last test runs the pet workbook with
nbclient and opens its showcase page in Chromium with JavaScript off.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import pytest
from PIL import Image, ImageChops, ImageFilter, ImageStat

from connected_learning.showcase.render import render_page
from connected_learning.widgets import ExportPathError, PhotoFilterLab, StateError, set_language
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV, MAX_STATE_BYTES
from connected_learning.widgets.photo_filter import (
    EFFECTS,
    MAX_PIXELS,
    PREVIEW_SIDE,
    SLIDERS,
    PictureError,
    apply_filters,
    read_picture,
)
from pieces import executed_piece, phone_page
from widget_tree import descendants

REPO = Path(__file__).resolve().parent.parent
PET_LAB = REPO / "workbooks" / "animals" / "pet-photo-lab"
CAT = PET_LAB / "data" / "chelsea.jpg"
RED, BLUE = (220, 30, 30), (30, 30, 220)


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh learner folder with the cat photo in data/ and a half red, half blue picture."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    shutil.copy(CAT, home / "data" / "chelsea.jpg")
    halves = Image.new("RGB", (40, 20), RED)
    halves.paste(BLUE, (20, 0, 40, 20))
    halves.save(home / "halves.png")
    monkeypatch.chdir(home)
    monkeypatch.delenv(LIVE_SHOWCASE_ENV, raising=False)
    return home


def save_png(lab: PhotoFilterLab, name: str) -> Image.Image:
    """Press "Save PNG" with `name` in the file name box, then open what was written."""
    lab.file_name.value = name
    lab.export_button.click()
    with Image.open(name) as saved:
        assert saved.format == "PNG"
        return saved.convert("RGB")


def mean(picture: Image.Image) -> float:
    return float(ImageStat.Stat(picture.convert("L")).mean[0])


def red_blue_gap(picture: Image.Image) -> int:
    """The biggest difference between the red and the blue of a pixel: small for a grey picture."""
    return int(ImageChops.difference(picture.getchannel("R"), picture.getchannel("B")).getextrema()[1])


def png_of_size(width: int, height: int) -> bytes:
    """A valid black-and-white PNG of any size, made row by row, so a huge one stays a small file."""
    row = b"\x00" + b"\x00" * ((width + 7) // 8)  # filter byte, then 1-bit pixels
    squeeze = zlib.compressobj(9)
    body = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


# ------------------------------------------------------------------------ what the sliders do


def test_brightness_raises_the_mean_and_the_saved_png_is_full_size(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    plain = save_png(lab, "plain.png")
    assert plain.size == (451, 300)
    lab.sliders["brightness"].value = 50
    bright = save_png(lab, "bright.png")
    assert bright.size == (451, 300)
    assert mean(bright) > mean(plain) + 20
    lab.sliders["brightness"].value = -50
    assert mean(save_png(lab, "dark.png")) < mean(plain) - 20
    assert os.path.exists("bright.png") and not any(name.endswith(".tmp") for name in os.listdir(workdir))


def test_the_after_picture_follows_each_change_and_stays_small() -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    before, after = lab.before.value, lab.after.value
    shown = Image.open(io.BytesIO(after))
    assert shown.width == PREVIEW_SIDE and abs(shown.height - 300 * PREVIEW_SIDE / 451) <= 1
    assert len(after) < 100_000
    lab.effect_boxes["invert"].value = True
    assert lab.after.value != after and lab.before.value == before
    assert "Invert" in lab.summary.value
    lab.reset_button.click()
    assert lab.after.value == after and lab.summary.value == "Effects on: none"
    assert lab.settings == {name: spec[2] for name, spec in SLIDERS.items()} and lab.effects == []


def test_black_and_white_gives_equal_red_green_and_blue(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    assert ImageChops.difference(*save_png(lab, "colour.png").split()[:2]).getbbox() is not None  # control
    lab.sliders["warmth"].value = 60  # even after warming it up
    lab.effect_boxes["black and white"].value = True
    red, green, blue = save_png(lab, "grey.png").split()
    assert ImageChops.difference(red, green).getbbox() is None
    assert ImageChops.difference(green, blue).getbbox() is None


def test_the_colour_slider_all_the_way_left_is_grey_and_right_is_stronger(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    plain = save_png(lab, "plain.png").convert("HSV")
    lab.sliders["colour"].value = -100
    red, green, blue = save_png(lab, "grey.png").split()
    assert ImageChops.difference(red, green).getbbox() is None and ImageChops.difference(green, blue).getbbox() is None
    lab.sliders["colour"].value = 100
    strong = save_png(lab, "strong.png").convert("HSV")
    assert ImageStat.Stat(strong).mean[1] > ImageStat.Stat(plain).mean[1] + 10  # saturation


def test_warmth_moves_red_up_and_blue_down(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    r0, _, b0 = ImageStat.Stat(save_png(lab, "plain.png")).mean
    lab.sliders["warmth"].value = 100
    r1, _, b1 = ImageStat.Stat(save_png(lab, "warm.png")).mean
    assert r1 > r0 + 20 and b1 < b0 - 20
    lab.sliders["warmth"].value = -100
    r2, _, b2 = ImageStat.Stat(save_png(lab, "cool.png")).mean
    assert r2 < r0 - 20 and b2 > b0 + 20


def test_contrast_blur_and_sharpness(workdir: Path) -> None:
    def spread(picture: Image.Image) -> float:
        return ImageStat.Stat(picture.convert("L")).stddev[0]

    def edges(picture: Image.Image) -> float:
        return ImageStat.Stat(picture.convert("L").filter(ImageFilter.FIND_EDGES)).mean[0]

    lab = PhotoFilterLab("data/chelsea.jpg")
    plain = save_png(lab, "plain.png")
    lab.sliders["contrast"].value = 80
    assert spread(save_png(lab, "strong.png")) > spread(plain) * 1.3
    lab.reset_button.click()
    lab.sliders["blur"].value = 60
    assert edges(save_png(lab, "soft.png")) < edges(plain) / 2
    lab.reset_button.click()
    lab.sliders["sharpness"].value = 100
    assert edges(save_png(lab, "sharp.png")) > edges(plain) * 1.3


# ------------------------------------------------------------------------- what the effects do


def test_mirror_and_invert_move_and_turn_known_pixels(workdir: Path) -> None:
    lab = PhotoFilterLab("halves.png")
    plain = save_png(lab, "plain.png")
    assert plain.getpixel((0, 0)) == RED and plain.getpixel((39, 0)) == BLUE  # control
    lab.effect_boxes["mirror"].value = True
    mirrored = save_png(lab, "mirror.png")
    assert mirrored.size == (40, 20)
    assert mirrored.getpixel((0, 0)) == BLUE and mirrored.getpixel((39, 19)) == RED
    lab.effect_boxes["invert"].value = True
    inverted = save_png(lab, "both.png")
    assert inverted.getpixel((0, 0)) == tuple(255 - v for v in BLUE)


def test_pixelate_makes_blocks_and_posterize_few_colours(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    assert len(save_png(lab, "plain.png").getcolors(1 << 24) or []) > 5000  # control: a photo has many colours
    lab.sliders["blocks"].value = 8
    lab.effect_boxes["pixelate"].value = True
    blocky = save_png(lab, "pixels.png")
    assert blocky.size == (451, 300)
    assert len(blocky.getcolors(1 << 24) or []) <= 8 * round(300 * 8 / 451)
    lab.effect_boxes["pixelate"].value = False
    lab.sliders["steps"].value = 2
    lab.effect_boxes["posterize"].value = True
    poster = save_png(lab, "poster.png")
    assert {value for band in poster.split() for value in band.getdata()} <= {0, 255}
    assert len(poster.getcolors(1 << 24) or []) <= 8


def test_sepia_is_brown_and_outline_is_dark_lines_on_white(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    lab.effect_boxes["sepia"].value = True
    sepia = save_png(lab, "sepia.png")
    assert all(r >= g >= b for r, g, b in sepia.getdata())
    assert ImageStat.Stat(sepia).mean[0] > ImageStat.Stat(sepia).mean[2] + 30
    lab.effect_boxes["sepia"].value = False
    lab.effect_boxes["outline"].value = True
    outline = save_png(lab, "outline.png").convert("L")
    assert ImageStat.Stat(outline).mean[0] > 180  # mostly white paper...
    assert min(outline.getdata()) < 80  # ...with dark lines


def test_apply_filters_is_pure_and_matches_the_state() -> None:
    name, picture = read_picture("halves.png")
    assert name == "halves.png" and picture.mode == "RGB"
    settings = {"brightness": 10, "warmth": 40}
    once = apply_filters(picture, settings, ["mirror", "posterize"])
    again = apply_filters(picture, settings, ["mirror", "posterize"])
    assert once.tobytes() == again.tobytes() and picture.getpixel((0, 0)) == RED


# -------------------------------------------------------------------------- labels and keys


def test_every_control_has_words_and_buttons_fit_them() -> None:
    lab = PhotoFilterLab("data/chelsea.jpg")
    controls = [w for w in descendants(lab) if isinstance(w, widgets.IntSlider | widgets.Checkbox | widgets.Text)]
    assert len(controls) == len(SLIDERS) + len(EFFECTS) + 2  # sliders, effects, picture and file name boxes
    for control in controls:
        assert any(ch.isalpha() for ch in control.description), control
    assert [lab.sliders[name].description for name in ("brightness", "contrast", "colour", "sharpness")] == [
        "Brightness",
        "Contrast",
        "Colour",
        "Sharpness",
    ]
    assert lab.sliders["blur"].description == "Blur" and lab.sliders["warmth"].description == "Warmth"
    buttons = [w for w in descendants(lab) if isinstance(w, widgets.Button)]
    assert {b.description for b in buttons} == {"Open picture", "Reset", "Save PNG"}
    assert all(b.layout.width == "auto" and b.tooltip for b in buttons)
    assert all(s.continuous_update is False for s in lab.sliders.values())  # one redraw when let go


def test_spanish_labels_after_set_language() -> None:
    set_language("es")
    try:
        lab = PhotoFilterLab("data/chelsea.jpg")
        assert lab.sliders["brightness"].description == "Brillo"
        assert lab.sliders["warmth"].description == "Calidez"
        assert lab.effect_boxes["black and white"].description == "Blanco y negro"
        assert lab.open_button.description == "Abrir foto" and lab.reset_button.description == "Volver a empezar"
        assert lab.export_button.description == "Guardar PNG"
        assert lab.status.value == "Se abrió data/chelsea.jpg: 451 x 300 píxeles."
        lab.effect_boxes["sepia"].value = True
        assert lab.summary.value == "Efectos puestos: Sepia"
        lab.picture_box.value = "../fuera.png"
        lab.open_button.click()
        assert "no es una foto dentro de tu carpeta" in lab.status.value
    finally:
        set_language("en")
    assert PhotoFilterLab().open_button.description == "Open picture"


def test_a_family_live_page_hides_opening_and_saving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(LIVE_SHOWCASE_ENV, "1")
    lab = PhotoFilterLab("data/chelsea.jpg")
    rows = [w for w in descendants(lab) if isinstance(w, widgets.HBox) and lab.export_button in w.children]
    rows += [w for w in descendants(lab) if isinstance(w, widgets.HBox) and lab.open_button in w.children]
    assert len(rows) == 2 and all(row.layout.display == "none" for row in rows)


# ------------------------------------------------------------------------------ saved state


def test_state_round_trip_and_the_sidecar_brings_it_back(workdir: Path) -> None:
    lab = PhotoFilterLab("data/chelsea.jpg", sidecar="my_cat.json")
    assert (workdir / "my_cat.json").exists()  # saved at once: the exercise leaves a file
    lab.sliders["contrast"].value = 30
    lab.sliders["blocks"].value = 12
    lab.effect_boxes["pixelate"].value = True
    lab.effect_boxes["sepia"].value = True
    saved = json.loads((workdir / "my_cat.json").read_text(encoding="utf-8"))
    assert saved == lab.state
    assert saved["picture"] == "data/chelsea.jpg" and saved["effects"] == ["pixelate", "sepia"]
    copy = PhotoFilterLab.from_state(lab.state)
    assert copy.state == lab.state and copy.status.value == "Opened data/chelsea.jpg: 451 x 300 pixels."

    again = PhotoFilterLab(sidecar="my_cat.json")  # the cell run again next week
    assert again.state == lab.state
    assert again.status.value.startswith("Welcome back")
    assert again.to_png() == lab.to_png() and again.after.value == lab.after.value
    assert PhotoFilterLab.load_from("my_cat.json").state == lab.state


def test_starting_settings_and_effects(workdir: Path) -> None:
    lab = PhotoFilterLab("halves.png", settings={"warmth": 30}, effects=["mirror"], file_name="warm.png")
    assert lab.sliders["warmth"].value == 30 and lab.effects == ["mirror"]
    assert lab.file_name.value == "warm.png"
    assert save_png(lab, "warm.png").getpixel((0, 0))[2] < BLUE[2]
    for bad in ({"warmth": 1000}, {"loudness": 3}, {"blur": "a"}):
        with pytest.raises(StateError):
            PhotoFilterLab("halves.png", settings=bad)
    with pytest.raises(StateError, match="no effect called"):
        PhotoFilterLab("halves.png", effects=["sparkle"])


def good_state() -> dict[str, Any]:
    return PhotoFilterLab("halves.png").state


EDITS = {
    "not a dict": lambda s: ["photo"],
    "another widget": lambda s: {**s, "kind": "pixel_canvas"},
    "another version": lambda s: {**s, "version": 99},
    "no settings": lambda s: {k: v for k, v in s.items() if k != "settings"},
    "settings a list": lambda s: {**s, "settings": [1, 2]},
    "a huge value": lambda s: {**s, "settings": {**s["settings"], "blur": 10**12}},
    "a true value": lambda s: {**s, "settings": {**s["settings"], "blur": True}},
    "a text value": lambda s: {**s, "settings": {**s["settings"], "brightness": "max"}},
    "a slider missing": lambda s: {**s, "settings": {k: v for k, v in s["settings"].items() if k != "warmth"}},
    "an unknown slider": lambda s: {**s, "settings": {**s["settings"], "x" * 5000: 1}},
    "effects a text": lambda s: {**s, "effects": "sepia"},
    "an unknown effect": lambda s: {**s, "effects": ["sparkle"]},
    "many effects": lambda s: {**s, "effects": ["sepia"] * 10_000},
    "picture a number": lambda s: {**s, "picture": 7},
    "picture a long name": lambda s: {**s, "picture": "a" * 5000 + ".png"},
    "picture outside": lambda s: {**s, "picture": "../outside.png"},
    "picture /etc/passwd": lambda s: {**s, "picture": "/etc/passwd"},
    "picture gone": lambda s: {**s, "picture": "gone.png"},
    "picture not a picture": lambda s: {**s, "picture": "notes.png"},
}


@pytest.mark.parametrize("edit", EDITS.values(), ids=EDITS.keys())
def test_an_edited_sidecar_is_refused_and_kept(workdir: Path, edit: Any) -> None:
    (workdir / "notes.png").write_text("not a picture", encoding="utf-8")
    (workdir.parent / "outside.png").write_bytes((workdir / "halves.png").read_bytes())
    text = json.dumps(edit(good_state()))
    (workdir / "mine.json").write_text(text, encoding="utf-8")
    lab = PhotoFilterLab("halves.png", settings={"blur": 5})
    with pytest.raises(StateError):
        lab.load_state(json.loads(text))
    assert lab.picture_name == "halves.png" and lab.sliders["blur"].value == 5  # nothing changed
    with pytest.raises(StateError):
        PhotoFilterLab.load_from("mine.json")
    opened = PhotoFilterLab(sidecar="mine.json")
    assert opened.status.value.startswith("Could not open your saved work in mine.json")
    opened.sliders["brightness"].value = 20  # a change must not overwrite the learner's file
    assert (workdir / "mine.json").read_text(encoding="utf-8") == text


def test_a_damaged_or_huge_sidecar_is_refused_and_kept(workdir: Path) -> None:
    damaged = '{"kind": "photo_filter", "version": 1, "pic'
    (workdir / "damaged.json").write_text(damaged, encoding="utf-8")
    lab = PhotoFilterLab("halves.png", sidecar="damaged.json")
    assert lab.status.value.startswith("Could not open your saved work in damaged.json")
    assert (workdir / "damaged.json").read_text(encoding="utf-8") == damaged
    huge = {**good_state(), "padding": "x" * (MAX_STATE_BYTES + 10)}
    (workdir / "huge.json").write_text(json.dumps(huge), encoding="utf-8")
    with pytest.raises(StateError, match="bigger than"):
        PhotoFilterLab.load_from("huge.json")
    lab = PhotoFilterLab("halves.png", sidecar="huge.json")
    assert lab.status.value.startswith("Could not open your saved work in huge.json")
    assert (workdir / "huge.json").stat().st_size > MAX_STATE_BYTES


# ------------------------------------------------------------------------------ path tricks


def test_pictures_outside_the_folder_or_not_pictures_are_refused(workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.copy(CAT, outside / "secret.jpg")
    assert read_picture("data/chelsea.jpg")[1].size == (451, 300)  # control: a picture inside opens
    os.symlink(outside / "secret.jpg", workdir / "link.jpg")
    os.symlink(outside, workdir / "shortcut")
    (workdir / "text.png").write_text("hello, I am not a picture", encoding="utf-8")
    (workdir / "folder.png").mkdir()
    os.mkfifo(workdir / "pipe.png")
    (workdir / "small.png").write_bytes(png_of_size(50, 40))
    (workdir / "bomb.png").write_bytes(png_of_size(5000, 4000))  # 20 million pixels, a tiny file
    (workdir / "big-bomb.png").write_bytes(png_of_size(20_000, 20_000))  # past Pillow's own limit too
    assert (workdir / "bomb.png").stat().st_size < 50_000 and 5000 * 4000 > MAX_PIXELS
    assert read_picture("small.png")[1].size == (50, 40)  # control: the same kind of file, small, opens
    (workdir / "gif.png").write_bytes(b"GIF89a" + b"\x00" * 20)
    tricks = {
        "../outside/secret.jpg": "not a picture file inside your folder",
        str(outside / "secret.jpg"): "not a picture file inside your folder",
        "/etc/passwd": "not a picture file",
        "/etc/../etc/passwd.png": "not a picture file inside your folder",
        "link.jpg": "not a picture file inside your folder",
        "shortcut/secret.jpg": "not a picture file inside your folder",
        "text.png": "not a picture that can be opened",
        "gif.png": "not a picture that can be opened",
        "folder.png": "not a picture file inside your folder",
        "pipe.png": "not a picture file inside your folder",
        "bomb.png": "too many pixels",
        "big-bomb.png": "too many pixels",
        "missing.png": "no picture called missing.png",
        "notes.txt": "not a picture file",
        "": "Type the file name",
        ".hidden.png": "not a picture file inside your folder",
    }
    lab = PhotoFilterLab("data/chelsea.jpg")
    shown = lab.after.value
    for name, message in tricks.items():
        with pytest.raises(PictureError, match=message):
            read_picture(name)
        lab.picture_box.value = name
        lab.open_button.click()
        assert message in lab.status.value, name
        assert lab.picture_name == "data/chelsea.jpg" and lab.after.value == shown  # the old picture stays
    assert isinstance(PictureError("x"), ValueError)
    lab.picture_box.value = "halves.png"
    lab.open_button.click()
    assert lab.picture_name == "halves.png" and lab.status.value == "Opened halves.png: 40 x 20 pixels."


def test_a_picture_too_big_on_disk_is_refused(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from connected_learning.widgets import pictures

    monkeypatch.setattr(pictures, "MAX_PICTURE_BYTES", 1000)
    assert (workdir / "halves.png").stat().st_size < 1000  # control
    assert read_picture("halves.png")[0] == "halves.png"
    with pytest.raises(PictureError, match="too big to open"):
        read_picture("data/chelsea.jpg")


def test_save_png_refuses_names_that_leave_the_folder(workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.png").write_bytes(b"keep me")
    os.symlink(outside / "victim.png", workdir / "link.png")
    lab = PhotoFilterLab("halves.png")
    for name in ("../x.png", "/etc/x.png", str(outside / "x.png"), "link.png", "photo.exe", ""):
        lab.file_name.value = name
        lab.export_button.click()
        assert lab.status.value.startswith("Not saved"), name
        with pytest.raises(ExportPathError):
            lab.export_png(name)
    assert sorted(os.listdir(outside)) == ["victim.png"] and (outside / "victim.png").read_bytes() == b"keep me"
    assert sorted(os.listdir(workdir)) == ["data", "halves.png", "link.png"]
    save_png(lab, "inside/ok.png")  # control: a plain name works


def test_no_picture_yet_says_so() -> None:
    lab = PhotoFilterLab()
    assert lab.status.value == "Type the file name of a picture in your folder, then press Open picture."
    lab.effect_boxes["sepia"].value = True  # no picture: nothing to draw, no crash
    lab.file_name.value = "x.png"
    lab.export_button.click()
    assert lab.status.value == "Not saved: Open a picture first." and not os.path.exists("x.png")
    assert PhotoFilterLab.from_state(lab.state).state == lab.state


# ------------------------------------------------------------------- the showcase's static page


@pytest.fixture(scope="module")
def pet_lab_piece(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """pet-photo-lab run top to bottom by nbclient in a temporary copy: the files a learner would share."""
    folder = tmp_path_factory.mktemp("pet-photo-lab") / "pet-photo-lab"
    shutil.copytree(PET_LAB, folder)
    jupyter = tmp_path_factory.mktemp("jupyter")
    return executed_piece(folder, "pet-photo-lab.ipynb", ["my_missing_photo.json"], jupyter)


@pytest.mark.browser
@pytest.mark.integration
def test_the_static_page_shows_the_filtered_photo_with_no_javascript(
    browser: Any, artifacts: Path, tmp_path: Path, pet_lab_piece: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the "missing pet" lab's After picture must be: its saved settings on the cat, shrunk.
    state = json.loads(pet_lab_piece["my_missing_photo.json"])
    assert "black and white" in state["effects"]
    monkeypatch.chdir(PET_LAB)
    expected = PhotoFilterLab.from_state(state).after.value
    page = render_page(pet_lab_piece, title="My pet photo lab", author_display="Ana G.")
    assert page.count(base64.b64encode(expected).decode("ascii")) == 1
    page_file = tmp_path / "showcase.html"
    page_file.write_text(page, encoding="utf-8")
    with phone_page(browser, page_file) as phone:
        sources = phone.eval_on_selector_all("img", "imgs => imgs.map(i => i.getAttribute('src'))")
        pictures = {}  # every JPEG picture on the page (the labs' before and after, the posters), by its data
        for source in sources:
            assert source.startswith("data:image/")
            if source.startswith("data:image/jpeg;"):
                data = base64.b64decode(source.split(",", 1)[1])
                pictures[data] = Image.open(io.BytesIO(data)).convert("RGB")
        after = pictures[expected]  # the missing pet lab's After picture, decoded from the page
        assert after.width == PREVIEW_SIDE and after.height < PREVIEW_SIDE
        assert red_blue_gap(after) < 8  # grey
        assert ImageStat.Stat(after).stddev[0] > 30  # a photo, not a blank
        before = PhotoFilterLab("data/chelsea.jpg").before.value  # the cat as she is, in colour
        assert before in pictures
        assert (
            ImageChops.difference(pictures[before].getchannel("R"), pictures[before].getchannel("B")).getextrema()[1]
            > 40
        )
        shown = phone.locator(f'img[src="data:image/jpeg;base64,{base64.b64encode(expected).decode()}"]')
        box = shown.bounding_box()
        assert box is not None and 150 <= box["width"] <= 390 - 16  # on screen, and fits the phone
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert phone.get_by_text("Effects on: Black and white").count() >= 1
        shown.scroll_into_view_if_needed()
        phone.screenshot(path=str(artifacts / "showcase-photo.png"))
