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


def test_every_environment_variable_the_package_reads_or_sets_is_in_the_readme() -> None:
    import re

    package = REPO / "extensions" / "connected_learning"
    used = {m for path in package.rglob("*.py") for m in re.findall(r"CLHUB_[A-Z_]+[A-Z]", path.read_text())}
    section = (REPO / "README.md").read_text().split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    assert used and not used - set(re.findall(r"CLHUB_[A-Z_]+[A-Z]", section)), sorted(used - set(section.split()))
