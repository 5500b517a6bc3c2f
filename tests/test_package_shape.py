"""The package's shape stays the one a newcomer can read: small modules, few at the top,
one folder per part of the design, and nothing run when a subpackage is imported."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "extensions" / "connected_learning"
FEATURES = {"accounts", "assignments", "catalog", "classroom", "host", "hub", "learner", "peer_review", "showcase"}


def _modules() -> list[Path]:
    return [p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts and "labextensions" not in p.parts]


def test_no_module_is_over_600_lines() -> None:
    long = {str(p.relative_to(PACKAGE)): n for p in _modules() if (n := len(p.read_text().splitlines())) > 600}
    assert long == {}


def test_about_a_dozen_modules_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 12, top


def test_every_part_of_the_design_is_a_folder_whose_init_is_empty() -> None:
    """Empty __init__ files: importing connected_learning.widgets must not import the hub."""
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert FEATURES | {"widgets"} <= folders
    for name in FEATURES:
        assert (PACKAGE / name / "__init__.py").read_text() == "", name
    assert (PACKAGE / "__init__.py").read_text() == ""
