"""The edge checks and the consent record of showcase publishing, without a hub."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest

from connected_learning.showcase import publish
from connected_learning.showcase.live_copy import live_code_listing


def test_a_fresh_token_passes_and_anything_else_is_not_found() -> None:
    assert publish.validate_token(secrets.token_urlsafe(24))
    for bad in (
        "",
        "..",
        "../../etc",
        "a" * 31,
        "a" * 33,
        "a" * 28 + ".py",
        "a" * 26 + ".ipynb",
        "a/" * 16,
        "%2e%2e" + "a" * 26,
        "a" * 31 + "\n",
    ):
        with pytest.raises(publish.NotFound):
            publish.validate_token(bad)


@pytest.mark.parametrize(
    ("title", "ok"),
    [
        ("", False),
        ("   ", False),
        ("x" * 80, True),
        ("x" * 81, False),
        ("My\nstory\x00", True),
        (None, False),
        (5, False),
    ],
)
def test_titles_are_one_line_of_1_to_80_characters(title: object, ok: bool) -> None:
    if ok:
        assert "\n" not in publish.validate_title(title) and "\x00" not in publish.validate_title(title)
    else:
        with pytest.raises(publish.ShowcaseError, match="title of 1 to 80"):
            publish.validate_title(title)


def test_descriptions_are_plain_text_up_to_500_characters() -> None:
    assert publish.validate_description("Line one\nline two\x07") == "Line one\nline two"
    assert publish.validate_description(None) == ""
    with pytest.raises(publish.ShowcaseError, match="under 500"):
        publish.validate_description("x" * 501)


def test_consent_is_recorded_privately_and_can_be_taken_back(tmp_path: Path) -> None:
    assert not publish.has_consent(tmp_path, "ana")
    publish.record_consent(tmp_path, "ana", True, "tess")
    assert publish.has_consent(tmp_path, "ana")
    assert stat.S_IMODE(os.stat(tmp_path / "showcase" / "consent.json").st_mode) == 0o600
    publish.record_consent(tmp_path, "ana", False, "tess")
    assert not publish.has_consent(tmp_path, "ana")
    assert publish.read_consent(tmp_path)["ana"]["by"] == "tess"
    with pytest.raises(publish.ShowcaseError):
        publish.record_consent(tmp_path, "ana", "yes", "tess")  # type: ignore[arg-type]
    with pytest.raises(Exception, match="../x"):
        publish.record_consent(tmp_path, "../x", True, "tess")


def test_unknown_tokens_and_proposals_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(publish.NotFound):
        publish.published_meta(tmp_path, secrets.token_urlsafe(24))
    with pytest.raises(publish.NotFound):
        publish.withdraw(tmp_path, "../../hub", "tess")
    place = publish.Place(tmp_path, "g")
    with pytest.raises(publish.NotFound):
        publish.get_proposal(place, "../../x")
    assert publish.list_proposals(place) == []


def test_the_preview_lists_every_code_cell_the_live_page_runs_escaped() -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    nb = new_notebook(
        cells=[
            new_markdown_cell("# Hello <b>there</b>"),
            new_code_cell("import socket\nsocket.create_connection(('127.0.0.1', 8000))"),
            new_code_cell("print('</pre><script>alert(1)</script>')"),
        ]
    )
    listing = live_code_listing({"dance.ipynb": nbformat.writes(nb).encode(), "data.csv": b"a,b"})
    assert "Cell 1" in listing and "Cell 2" in listing and "Cell 3" not in listing
    assert "socket.create_connection((&#x27;127.0.0.1&#x27;, 8000))" in listing
    assert "<script>" not in listing and "&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in listing
    assert "Hello" not in listing  # Markdown is the page itself, not code
    assert live_code_listing({"story.md": b"# A story"}) == ""
