"""What a family meets (issue 14, points 2 and 3): the child's creation first, in the page's language.

A real workbook (Pixel Pets) is run by nbclient with the child's pet painted purple where the
workbook's starter cat is orange, and published without its sidecars, as a learner shares it.
The static page must open with the purple pet and the child's words, the workbook's steps
collapsed, nothing about running a notebook or sharing with a group; a Spanish page must hold no
text of the English catalog; another language comes from a translation file alone; the card has
the title, the display name, a picture and the link; and the live copy ("Play with it") must
open with the purple pet, with no learner-only control, when a real kernel runs it.
"""

from __future__ import annotations

import json
import re
import shutil
import string
import tempfile
from pathlib import Path

import nbformat
import pytest
from tornado import web
from tornado.testing import AsyncHTTPTestCase

from connected_learning.classroom.home import family_languages
from connected_learning.classroom.showcase import language
from connected_learning.showcase import messages
from connected_learning.showcase.card import CARD_FILE, card_facts, render_card
from connected_learning.showcase.live_copy import LIVE_NOTEBOOK, live_code_listing, live_copy
from connected_learning.showcase.render import render_page
from connected_learning.showcase.service import make_app
from connected_learning.showcase.snapshot import WIDGET_STATE, clean_snapshot
from connected_learning.widgets.base import LIVE_SHOWCASE_ENV
from pieces import executed_files, run_notebook

REPO = Path(__file__).resolve().parent.parent
DISPLAY = "Ana G."
TITLE = "Mi gata morada"
ABOUT = "Pinté mi gata de morado porque es mi color favorito."
PURPLE, ORANGE = "#8e24aa", "#fb8c00"
# The child paints every orange square of the starter cat purple (what Undo/Fill would record too).
PAINT = (
    'pet.load_state({**pet.state, "cells": [["purple" if c == "orange" else c for c in row] '
    'for row in pet.state["cells"]]})\n'
)


def purple_pixel_pets(folder: Path, jupyter: Path) -> dict[str, bytes]:
    """pixel-pets.ipynb run top to bottom in `folder` with the pet painted purple: the files a learner
    shares (the notebook and the poster it saved), no sidecar."""
    shutil.copytree(REPO / "workbooks" / "art" / "pixel-pets", folder, dirs_exist_ok=True)
    notebook = nbformat.read(folder / "pixel-pets.ipynb", as_version=4)
    cat = next(c for c in notebook.cells if c.cell_type == "code" and 'make_canvas("my_pet.json"' in c.source)
    assert cat.source.endswith('"my_pet.png")\npet')
    cat.source = cat.source[: -len("pet")] + PAINT + "pet"
    nbformat.write(notebook, folder / "pixel-pets.ipynb")
    return executed_files(folder, "pixel-pets.ipynb", ["my_pop_art.png"], jupyter)


@pytest.fixture(scope="module")
def purple_pet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The purple pet as published: cleaned by `clean_snapshot`."""
    folder = tmp_path_factory.mktemp("pixel-pets")
    files = purple_pixel_pets(folder, tmp_path_factory.mktemp("jupyter"))
    return clean_snapshot(files, author_display=DISPLAY, usernames=["root"], home_paths=[str(folder)])


def english_phrases() -> list[str]:
    """The fixed parts of every English text a family page may add (blanks cut out)."""
    phrases = []
    for key, text in messages.MESSAGES["en"].items():
        if key.startswith("_"):
            continue
        for literal, *_ in string.Formatter().parse(text):
            phrases += [p.strip(" :·.,") for p in re.split(r"[:;]", literal) if len(p.strip(" :·.,")) >= 5]
    return phrases


def visible_text(page: str) -> str:
    """The page's text and alt texts, without the collapsed workbook steps (the workbook's own words)."""
    page = re.sub(r"<details.*?</details>", "", page, flags=re.S)
    page = re.sub(r"<(style|script)[^>]*>.*?</\1>", "", page, flags=re.S)
    alts = " ".join(re.findall(r'(?:alt|aria-label|title)="([^"]*)"', page))
    return re.sub(r"<[^>]+>", " ", page) + " " + alts


def test_the_family_page_opens_with_the_childs_creation_and_words(purple_pet: dict[str, bytes]) -> None:
    page = render_page(
        purple_pet, title=TITLE, author_display=DISPLAY, lang="es", live_url="/p/x/live", description=ABOUT
    )
    head, _, rest = page.partition("<main>")
    assert f"<h1>{TITLE}</h1>" in head and ABOUT in head and "Creado por Ana G." in head and "Pruébalo" in head
    made, _, steps = rest.partition("<details")
    assert "Lo que hizo Ana G." in made
    # The child's purple pet (and its feelings copy) come first, drawn from the saved widgets.
    assert made.count('class="clh-grid"') == 2 and f"background-color:{PURPLE}" in made.replace(": ", ":")
    assert ORANGE not in made.replace("background-color: ", "background-color:").split("clh-grid")[1]
    assert made.count('aria-label="Una imagen del cuaderno"') == 2 and "Pixel art squares" not in made
    assert "Cómo se hizo" in steps and "Pixel Pets" in steps  # the workbook's steps, collapsed
    for learner_only in ("Shift", "Ctrl + S", "Log Out", "Share with", "ShareBox", "Painting with"):
        assert learner_only not in page, learner_only


def test_a_notebook_that_is_all_words_is_shown_open() -> None:
    story = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# The dragon\n\nOnce upon a time...")])
    page = render_page({"story.ipynb": nbformat.writes(story).encode()}, title="t", author_display=DISPLAY)
    assert "Once upon a time" in page and "<details" not in page


def test_a_spanish_page_holds_no_english_text_of_the_catalog(purple_pet: dict[str, bytes]) -> None:
    page = render_page(purple_pet, title=TITLE, author_display=DISPLAY, lang="es", live_url="/p/x/live")
    shown = visible_text(page)
    english = [p for p in english_phrases() if p in shown]
    assert english == [], english
    assert 'lang="es"' in page and "Creado por" in shown  # the control: the Spanish words are there
    card = render_card(card_facts(purple_pet, title=TITLE, display=DISPLAY, lang="es"), "https://lab.example.org/x")
    assert [p for p in english_phrases() if p in visible_text(card)] == []
    assert 'lang="es"' in card and "Escanea el código" in card


def test_every_shipped_translation_has_every_key_with_its_blanks() -> None:
    shipped = messages.load_catalogs([messages.SHIPPED])
    assert {"en", "es"} <= set(shipped)
    assert messages.catalog_problems(shipped) == []
    # The check finds a missing key and a changed blank.
    broken = {"en": shipped["en"], "xx": {**shipped["en"], "made_by": "By {nom}"}}
    del broken["xx"]["play"]
    problems = messages.catalog_problems(broken)
    assert any("'play'" in p for p in problems) and any("'made_by'" in p for p in problems)


def test_another_language_comes_from_a_translation_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, purple_pet: dict[str, bytes]
) -> None:
    made_up = {key: text if key.startswith("_") else f"Zz {text}" for key, text in messages.MESSAGES["en"].items()}
    made_up["_language"] = "Zedish"
    del made_up["footer"]  # shows in English, and the start-up log says so
    (tmp_path / "zz.json").write_text(json.dumps(made_up), encoding="utf-8")
    (tmp_path / "../x.json").resolve().write_text("{not json", encoding="utf-8")  # not in the folder: ignored
    (tmp_path / "Bad Name.json").write_text("{}", encoding="utf-8")  # not a language code: ignored
    monkeypatch.setenv(messages.FOLDERS_ENV, str(tmp_path))
    with caplog.at_level("WARNING", logger="clhub.showcase"):
        messages.reload()
    assert "zz.json has no 'footer'" in caplog.text and "Bad Name.json" in caplog.text
    try:
        assert messages.languages() == ["en", "es", "zz"] and messages.language_name("zz") == "Zedish"
        page = render_page(purple_pet, title=TITLE, author_display=DISPLAY, lang="zz", live_url="/p/x/live")
        assert '<html lang="zz">' in page and "Zz Made by Ana G." in page and "Zz Play with it" in page
        assert "Made with Connected Learning Hub." in page  # the missing text, in English
        card = render_card(card_facts(purple_pet, title=TITLE, display=DISPLAY, lang="zz"), "https://h/x")
        assert "Zz Scan the code" in card
        assert language({"lang": "zz"}) == "zz"  # the teacher may now choose it
        assert family_languages() == [("en", "English"), ("es", "Español"), ("zz", "Zedish")]  # and is offered it
    finally:
        monkeypatch.delenv(messages.FOLDERS_ENV)
        messages.reload()
    assert messages.languages() == ["en", "es"]


def test_the_teacher_chooses_a_translated_language_and_nothing_else() -> None:
    assert language({}) == "en" and language({"lang": "es"}) == "es"
    for bad in ("fr", "zz", "../en", "EN", 7, None):
        with pytest.raises(web.HTTPError) as refused:
            language({"lang": bad})
        assert refused.value.status_code == 400 and '"es" (Español)' in str(refused.value.log_message)


def test_the_card_has_title_name_picture_and_link(purple_pet: dict[str, bytes]) -> None:
    link = "https://lab.example.org/services/showcase/p/" + "a" * 32
    facts = card_facts(purple_pet, title="<b>Cat</b>", display=DISPLAY, lang="en")
    assert facts["picture"].startswith("data:image/png;base64,") and facts["grid"] == ""
    card = render_card(json.loads(json.dumps(facts)), link)
    assert "<h1>&lt;b&gt;Cat&lt;/b&gt;</h1>" in card and "Made by Ana G." in card
    assert 'alt="A picture of &lt;b&gt;Cat&lt;/b&gt;"' in card and link in card and "<svg" in card
    # No picture file: the first saved pixel grid, drawn, is the picture (the purple pet).
    no_png = {n: d for n, d in purple_pet.items() if not n.endswith(".png")}
    grid = card_facts(no_png, title="Cat", display=DISPLAY, lang="es")
    assert grid["picture"] == "" and PURPLE in grid["grid"]
    drawn = render_card(grid, link)
    assert 'role="img"' in drawn and 'aria-label="Una imagen de Cat"' in drawn
    # A card stored before cards had facts, or with a hostile picture, still has its link and nothing else.
    assert link in render_card({}, link)
    assert "javascript" not in render_card({"picture": 'javascript:alert(1)" onerror="x'}, link)


def test_the_live_copy_is_the_childs_creation_without_learner_controls(purple_pet: dict[str, bytes]) -> None:
    files = live_copy(purple_pet, title="<script>x</script> cat", display=DISPLAY, lang="es")
    assert files is not None
    pet = json.loads(files["my_pet.json"])  # rebuilt from the saved squares: the piece had no sidecar
    assert pet["kind"] == "pixel_canvas" and any("purple" in row for row in pet["cells"])
    assert not any("orange" in row for row in pet["cells"])
    assert "my_pet_feelings.json" in files
    notebook = nbformat.reads(files[LIVE_NOTEBOOK].decode(), as_version=4)
    assert notebook.metadata["title"] == "<script>x</script> cat"  # Voila escapes the <title>
    intro = notebook.cells[0].source
    assert "&lt;script&gt;x&lt;/script&gt; cat" in intro and "<script>x" not in intro and "Ana G." in intro
    assert "Prepar\\u00e1ndolo: paso {step} de {steps}" in intro  # Voila's loading line, in the page's words
    assert '"\\u003cscript>x\\u003c/script> cat"' in intro  # the title, as a script's string: inert
    sources = "\n".join(c.source for c in notebook.cells)
    assert "ShareBox" not in sources and "Shift" not in sources and "Log Out" not in sources
    assert all(c.cell_type == "code" for c in notebook.cells[1:])
    # A sidecar the piece holds wins over the rebuilt one.
    own = {**purple_pet, "my_pet.json": b'{"kind": "pixel_canvas"}'}
    assert live_copy(own)["my_pet.json"] == b'{"kind": "pixel_canvas"}'  # type: ignore[index]
    listing = live_code_listing(purple_pet)
    assert "_shutil.copyfile" not in listing and "make_canvas" in listing


def test_a_real_kernel_plays_the_live_copy_with_the_purple_pet(
    purple_pet: dict[str, bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = live_copy(purple_pet, title=TITLE, display=DISPLAY, lang="es")
    assert files is not None
    folder = tmp_path / "piece"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    folder.chmod(0o555)  # read-only, as in the fence: the setup cell works in a private copy
    notebook = nbformat.reads(files[LIVE_NOTEBOOK].decode(), as_version=4)
    try:
        run_notebook(notebook, folder, tmp_path / "jupyter")
    finally:
        folder.chmod(0o755)
    models = notebook.metadata["widgets"][WIDGET_STATE]["state"]
    grids = [m["state"] for m in models.values() if m["state"].get("_anywidget_id", "").endswith("CellGrid")]
    assert grids and any("purple" in row for row in grids[0]["values"])
    assert not any("orange" in row for row in grids[0]["values"])
    said = [str(m["state"].get("value")) for m in models.values() if m["model_name"] in ("LabelModel", "HTMLModel")]
    assert not [s for s in said if "Welcome back" in s or "in your folder" in s or "Could not" in s]
    # The Save PNG rows are there, hidden: a family's phone has no folder to save to.
    hidden = {i for i, m in models.items() if m["model_name"] == "LayoutModel" and m["state"].get("display") == "none"}
    saves = [
        m for m in models.values() if m["model_name"] == "ButtonModel" and m["state"].get("description") == "Save PNG"
    ]
    assert saves
    rows = [m for m in models.values() if m["model_name"] == "HBoxModel" and m["state"]["layout"][10:] in hidden]
    assert len(rows) >= len(saves)
    outputs = json.dumps([c.get("outputs", []) for c in notebook.cells])
    assert "Error" not in outputs and "Ready to draw" not in outputs  # quiet cells stay quiet
    assert LIVE_SHOWCASE_ENV not in outputs


class CardService(AsyncHTTPTestCase):
    """The showcase service's card route, in-process: the stored facts, read without following a link."""

    token = "A" * 32

    def get_app(self) -> web.Application:
        self.pages = Path(tempfile.mkdtemp(prefix="clh-pages-"))
        folder = self.pages / self.token
        folder.mkdir()
        (folder / "index.html").write_text("<p>page</p>")
        facts = {"title": "Mi gata", "display": DISPLAY, "lang": "es", "picture": "", "grid": ""}
        (folder / CARD_FILE).write_text(json.dumps(facts))
        return make_app(self.pages, "/services/showcase/", "https://lab.example.org")

    def tearDown(self) -> None:
        super().tearDown()
        shutil.rmtree(self.pages, ignore_errors=True)

    def test_the_card_speaks_the_pages_language_with_the_sites_address(self) -> None:
        r = self.fetch(f"/services/showcase/p/{self.token}/card")
        text = r.body.decode()
        assert r.code == 200 and '<html lang="es">' in text and "<h1>Mi gata</h1>" in text
        assert f"https://lab.example.org/services/showcase/p/{self.token}" in text and "Creado por Ana G." in text

    def test_facts_through_a_symlink_are_not_read(self) -> None:
        secret = self.pages / "elsewhere.json"
        secret.write_text(json.dumps({"title": "SECRET-TITLE", "lang": "es"}))
        card = self.pages / self.token / CARD_FILE
        card.unlink()
        card.symlink_to(secret)
        r = self.fetch(f"/services/showcase/p/{self.token}/card")
        assert r.code == 200 and "SECRET-TITLE" not in r.body.decode()
        assert f"/services/showcase/p/{self.token}" in r.body.decode()  # the card still has its link
        card.unlink()
        card.write_text(json.dumps({"title": "SECRET-TITLE"}))  # control: the same facts, as a file, are read
        assert "SECRET-TITLE" in self.fetch(f"/services/showcase/p/{self.token}/card").body.decode()

    def test_a_link_that_leads_nowhere_says_so_in_every_language(self) -> None:
        for path in ("/services/showcase/p/" + "B" * 32, "/services/showcase/p/../../etc/passwd", "/x"):
            r = self.fetch(path)
            text = r.body.decode()
            assert r.code == 404 and "This page is not here" in text and 'lang="es"' in text
            assert "Esta página no está aquí" in text
