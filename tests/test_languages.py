"""Which edition of each workbook a learner gets, by the language they chose; where the hub keeps it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connected_learning.catalog.load import scan_catalog
from connected_learning.hub import interests as interests_store
from connected_learning.settings_schema import SettingsError

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def _workbook(root: Path, interest: str, wid: str, **extra: str) -> None:
    folder = root / interest / wid
    folder.mkdir(parents=True)
    (folder / f"{wid}.ipynb").write_text(NOTEBOOK)
    lines = [
        f'id = "{wid}"',
        'title = "T"',
        'version = "1.0"',
        f'interests = ["{interest}"]',
        'subjects = ["art"]',
        'level = "beginner"',
        "minutes = 30",
        'summary = "S"',
        f'notebooks = ["{wid}.ipynb"]',
        'licence = "CC-BY-4.0"',
        *(f'{key} = "{value}"' for key, value in extra.items()),
    ]
    (folder / "workbook.toml").write_text("\n".join(lines) + "\n")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "interests.toml").write_text(
        '[interests.art]\ntitle = "Art"\ndescription = "d"\n[interests.start]\ntitle = "S"\ndescription = "d"\n'
        '[interests.art.es]\ntitle = "Arte"\ndescription = "Dibuja."\n'
    )
    _workbook(tmp_path, "art", "pets")
    _workbook(tmp_path, "art", "pets-es", language="es", edition_of="pets")
    _workbook(tmp_path, "art", "patterns")
    _workbook(tmp_path, "start", "start-here")
    _workbook(tmp_path, "start", "start-here-es", language="es", edition_of="start-here")
    return tmp_path


def test_each_workbook_comes_in_the_chosen_language_where_it_has_that_edition(root: Path) -> None:
    catalog, problems = scan_catalog(root)
    assert problems == []
    ids = lambda language: [w.id for w in catalog.for_interests(["art"], ["start-here"], language)]  # noqa: E731
    assert ids("en") == ["patterns", "pets", "start-here"]  # no edition reaches an English reader
    assert ids("es") == ["patterns", "pets-es", "start-here-es"]  # English where there is no Spanish edition
    assert catalog.languages() == ["en", "es"]
    assert catalog.workbooks["pets-es"].language == "es" and catalog.workbooks["pets-es"].edition_of == "pets"


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"language": "fr", "edition_of": "pets"}, "language = 'fr'"),
        ({"language": "es"}, "edition_of is missing"),
        ({"edition_of": "pets"}, "an English workbook is no edition"),
        ({"language": "es", "edition_of": "nothing-here"}, "is not an English workbook"),
        ({"language": "es", "edition_of": "pets"}, "already has a Spanish edition"),
    ],
)
def test_a_bad_edition_is_named_and_left_out(root: Path, extra: dict[str, str], named: str) -> None:
    _workbook(root, "art", "pets-zz", **extra)
    catalog, problems = scan_catalog(root)
    assert any(named in p and "pets-zz" in p for p in problems), problems
    assert "pets-zz" not in catalog.workbooks
    assert [w.id for w in catalog.for_interests(["art"], language="es")] == ["patterns", "pets-es"]


def test_an_edition_with_other_interests_is_refused(root: Path) -> None:
    _workbook(root, "start", "patterns-es", language="es", edition_of="patterns")
    catalog, problems = scan_catalog(root)
    assert any("interests must be those of 'patterns'" in p for p in problems), problems
    assert "patterns-es" not in catalog.workbooks


def test_the_hub_remembers_the_language_beside_the_interests(tmp_path: Path) -> None:
    folder = str(tmp_path / "interests")
    assert interests_store.read_language(folder, "ana") == "en"  # nobody chose yet
    interests_store.write(folder, "ana", ["art"], "es")
    assert interests_store.read(folder, "ana") == ["art"]
    assert interests_store.read_language(folder, "ana") == "es"
    # A file from before languages existed reads as English.
    Path(folder, "ben.json").write_text(json.dumps({"interests": ["art"]}))
    assert interests_store.read_language(folder, "ben") == "en"
    with pytest.raises(SettingsError, match="user name"):
        interests_store.write(folder, "../ana", ["art"], "es")  # names become file names: checked again


def test_an_interest_is_said_in_spanish_where_interests_toml_says_it(root: Path) -> None:
    catalog, problems = scan_catalog(root)
    assert problems == []
    assert catalog.interests["art"].said_in("es") == ("Arte", "Dibuja.")
    assert catalog.interests["start"].said_in("es") == ("S", "d")  # English where there is no Spanish
    with (root / "interests.toml").open("a") as toml:
        toml.write('[interests.start.fr]\ntitle = "Commencer"\ndescription = "d"\n[interests.start.es]\ntitle = 3\n')
    _, problems = scan_catalog(root)
    assert any("[interests.start.fr]" in p and "no language" in p for p in problems), problems
    assert any("[interests.start.es] needs text keys" in p for p in problems), problems


def test_the_real_catalog_says_every_interest_in_spanish() -> None:
    from conftest import REPO

    catalog, problems = scan_catalog(REPO / "workbooks")
    assert problems == []
    untranslated = [key for key, interest in catalog.interests.items() if interest.said_in("es")[0] == interest.title]
    assert untranslated == [], "these interests have no Spanish title in interests.toml"
