"""The README's settings reference is generated from the schema's help texts, not written twice."""

from __future__ import annotations

from conftest import REPO
from connected_learning.settings import settings_reference


def test_readme_settings_reference_matches_the_code() -> None:
    text = (REPO / "README.md").read_text()
    start = text.index("<!-- settings-reference:start -->\n") + len("<!-- settings-reference:start -->\n")
    end = text.index("<!-- settings-reference:end -->")
    assert text[start:end] == settings_reference(), (
        "README settings reference is stale: paste the output of `clhub settings reference`"
    )
