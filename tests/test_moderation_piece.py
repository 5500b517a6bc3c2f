"""Fast tests of how the classroom opens a piece for a teacher (`classroom.moderation`).

The group folder is laid out as sharing leaves it, in a temporary data folder: names that are
not piece ids, a piece that is a link, a link inside a piece, a hidden piece, a damaged
notebook. The same with real learners and Chromium: tests/test_browser_teacher_pages.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from nbconvert import HTMLExporter

from connected_learning.classroom.moderation import SHOWN_TO_TEACHER, find_piece, piece_page, rendered_piece
from connected_learning.peer_review import moderation

SCRIPTED = '<p>md-marker</p><script>window.pwned=1</script><img src="x" onerror="window.pwned=2">'


def notebook(markdown: str) -> bytes:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [{"id": "c1", "cell_type": "markdown", "metadata": {}, "source": markdown}],
        }
    ).encode()


def make_piece(folder: Path, piece: str, files: dict[str, bytes], title: str = "My street") -> Path:
    (folder / piece / "v1").mkdir(parents=True)
    (folder / piece / "piece.json").write_text(json.dumps({"title": title, "version": 1, "files": sorted(files)}))
    for name, data in files.items():
        (folder / piece / "v1" / name).write_bytes(data)
    return folder / piece


@pytest.fixture
def place(tmp_path: Path) -> moderation.Place:
    place = moderation.Place(tmp_path, "g")
    place.shared.mkdir(parents=True)
    make_piece(place.shared, "ana-street", {"street.ipynb": notebook(SCRIPTED), "notes.txt": b"txt-marker"})
    return place


def test_a_piece_opens_with_its_files_rendered_and_no_script(place: moderation.Place) -> None:
    page = rendered_piece(place, "ana-street")
    assert "md-marker" in page and "txt-marker" in page and "My street" in page
    assert "<script>window.pwned" not in page and "onerror" not in page
    assert SHOWN_TO_TEACHER in page and "approval" not in page  # not the showcase's "published" footer
    # Control: rendered without the sanitizer, the same notebook carries the live payloads.
    raw, _ = HTMLExporter(template_name="basic").from_notebook_node(nbformat.reads(notebook(SCRIPTED), as_version=4))
    assert "<script>window.pwned=1</script>" in raw and 'onerror="window.pwned=2"' in raw


@pytest.mark.parametrize("name", ["..", "../g", "a/b", "%2e%2e", "", "ANA", "-x", "ana-street/v1"])
def test_names_that_are_not_pieces_are_refused(place: moderation.Place, name: str) -> None:
    with pytest.raises(moderation.NotFound):
        find_piece(place, name)
    with pytest.raises(moderation.NotFound):
        rendered_piece(place, name)


def test_a_piece_that_is_a_link_is_not_followed(place: moderation.Place, tmp_path: Path) -> None:
    elsewhere = make_piece(tmp_path / "elsewhere", "other-piece", {"secret.txt": b"secret-marker"})
    os.symlink(elsewhere, place.shared / "zz-link")
    assert (place.shared / "zz-link" / "v1" / "secret.txt").read_bytes() == b"secret-marker"  # control
    with pytest.raises(moderation.NotFound):
        find_piece(place, "zz-link")
    assert find_piece(place, "ana-street")[0].title == "My street"  # control: a real piece is found


def test_a_link_inside_a_piece_is_not_read(place: moderation.Place, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("secret-marker")
    os.symlink(secret, place.shared / "ana-street" / "v1" / "leak.txt")
    assert (place.shared / "ana-street" / "v1" / "leak.txt").read_text() == "secret-marker"  # control
    page = rendered_piece(place, "ana-street")
    assert "secret-marker" not in page and "md-marker" in page


def test_a_hidden_piece_opens_too_and_says_so(place: moderation.Place) -> None:
    moderation.hide_piece(place, "ana-street")
    view, hidden, folder = find_piece(place, "ana-street")
    assert hidden and folder == place.hidden and view.title == "My street"
    assert "md-marker" in rendered_piece(place, "ana-street")
    assert piece_page(place, "ana-street")["hidden"] is True


def test_a_damaged_notebook_is_named_not_a_crash(place: moderation.Place) -> None:
    make_piece(place.shared, "ben-broken", {"broken.ipynb": b"{not json"}, title="Broken <b>one</b>")
    page = rendered_piece(place, "ben-broken")
    assert "cannot be read" in page and "Broken &lt;b&gt;one&lt;/b&gt;" in page and "<b>one" not in page


def test_the_piece_page_lists_only_the_reports_about_it(place: moderation.Place) -> None:
    make_piece(place.shared, "ben-other", {"a.txt": b"x"})
    moderation.add_report(place, "ben", "ana-street", "mean words")
    moderation.add_report(place, "ana", "ben-other", "copied")
    found = piece_page(place, "ana-street")
    assert [r["reason"] for r in found["reports"]] == ["mean words"] and found["hidden"] is False


def test_the_piece_page_marks_reported_feedback(place: moderation.Place) -> None:
    from connected_learning.classroom.base import jinja_environment

    feedback = place.shared / "ana-street" / "feedback"
    feedback.mkdir()
    for name, works in (("ben.json", "<script>x</script> fb-marker"), ("cai.json", "kind words")):
        (feedback / name).write_text(json.dumps({"entries": [{"works": works, "version": 1}]}))
    moderation.add_report(place, "ana", "ana-street", "rude", "ben.json")
    found = piece_page(place, "ana-street")
    assert sorted(f.file for f in found["view"].feedback) == ["ben.json", "cai.json"]
    page = jinja_environment().get_template("moderation_piece.html").render(prefix="/", group="g", xsrf="t", **found)
    ben = page[page.index('id="feedback-ben.json"') :][:400]
    cai = page[page.index('id="feedback-cai.json"') :][:400]
    assert "reported" in ben and "reported" not in cai
    assert "&lt;script&gt;x&lt;/script&gt; fb-marker" in page and "<script>x" not in page
