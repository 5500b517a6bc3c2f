"""The progress tables: exercises, started workbooks, peer review and scores, from what is on disk."""

from __future__ import annotations

import hashlib
import json
import os
import pwd
from pathlib import Path

import pandas as pd

from connected_learning.catalog.load import load_catalog
from connected_learning.classroom import progress_table as progress
from realhub import REPO

CATALOG = load_catalog(REPO / "workbooks")


def notebook(*cells: tuple[str, str, bool]) -> dict:
    out = []
    for kind, source, ran in cells:
        cell = {"cell_type": kind, "source": source, "metadata": {}}
        if kind == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "hi"}] if ran else []
        out.append(cell)
    return {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_an_exercise_is_done_when_one_of_its_cells_ran() -> None:
    nb = notebook(
        ("markdown", "# Title", False),
        ("code", "setup()", True),
        ("markdown", "## Step 2\n\nThis is **Exercise 1**", False),
        ("code", "a()", False),
        ("code", "b()", True),
        ("markdown", "## Step 3: Exercise 2", False),
        ("code", "c()", False),
        ("markdown", "## Look back", False),
        ("code", "d()", True),
    )
    assert progress.exercise_counts(nb) == (2, 1)
    assert progress.exercise_counts({"cells": "nonsense"}) == (0, 0)


def make_home(tmp_path: Path, edited: bool) -> Path:
    home = tmp_path / "home"
    folder = home / "workbooks" / "pixel-pets"
    folder.mkdir(parents=True)
    source = (REPO / "workbooks" / "art" / "pixel-pets" / "pixel-pets.ipynb").read_bytes()
    manifest = {"files": {"pixel-pets/pixel-pets.ipynb": hashlib.sha256(source).hexdigest()}}
    (home / "workbooks" / ".clhub-manifest.json").write_text(json.dumps(manifest))
    if edited:
        nb = json.loads(source)
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "ran"}]
        source = json.dumps(nb).encode()
    (folder / "pixel-pets.ipynb").write_bytes(source)
    return home


def test_a_delivered_workbook_is_started_only_once_changed(tmp_path: Path) -> None:
    fresh = progress.home_progress(make_home(tmp_path / "a", edited=False), CATALOG)
    assert [(n.workbook, n.started, n.exercises_done) for n in fresh] == [("pixel-pets", False, 0)]
    assert fresh[0].exercises >= 3
    worked = progress.home_progress(make_home(tmp_path / "b", edited=True), CATALOG)
    assert worked[0].started and worked[0].exercises_done == worked[0].exercises


def test_a_planted_symlink_is_not_followed(tmp_path: Path) -> None:
    home = make_home(tmp_path, edited=False)
    nb = home / "workbooks" / "pixel-pets" / "pixel-pets.ipynb"
    nb.unlink()
    os.symlink("/etc/shadow", nb)
    assert progress.home_progress(home, CATALOG) == []
    (home / "workbooks" / "pixel-pets").rename(home / "elsewhere")
    os.symlink(home / "elsewhere", home / "workbooks" / "pixel-pets")
    assert progress.home_progress(home, CATALOG) == []
    assert progress.home_progress(tmp_path / "missing", CATALOG) == []


def test_the_group_table_counts_peer_review_and_scores(tmp_path: Path) -> None:
    me = pwd.getpwuid(os.getuid()).pw_name
    folder = tmp_path / "peer-review"
    piece = folder / f"{me}-art"
    (piece / "feedback").mkdir(parents=True)
    (piece / "piece.json").write_text(json.dumps({"author": me, "title": "Art", "version": 1}))
    (piece / "feedback" / f"{me}.json").write_text(
        json.dumps({"reviewer": me, "entries": [{"works": "yes"}, {"idea": "more"}]})
    )
    table = progress.group_table(
        [me, "nobody"],
        homes={me: str(make_home(tmp_path, edited=True))},
        names={me: "Ana M."},
        catalog=CATALOG,
        peer_folder=folder,
        scores={"recipe-scaler": {me: 2.0}},
        submitted={"recipe-scaler": {me}},
    )
    assert list(table.columns) == progress.COLUMNS
    row = table.set_index("student").loc[me]
    assert (
        row["name"],
        row["workbooks_started"],
        row["pieces_shared"],
        row["feedback_given"],
        row["feedback_received"],
        row["assignments_submitted"],
        row["score"],
    ) == ("Ana M.", 1, 1, 2, 2, 1, 2.0)
    empty = table.set_index("student").loc["nobody"]
    assert empty["exercises_done"] == 0 and empty["score"] == 0


def test_sorting_and_csv_are_safe() -> None:
    table = pd.DataFrame(
        [{"student": "b", "name": '=HYPERLINK("x")', "score": 1.0}, {"student": "a", "name": "Ana", "score": 3.0}]
    )
    assert list(progress.sort_table(table, "score", True)["student"]) == ["a", "b"]
    assert list(progress.sort_table(table, "__class__", True)["student"]) == ["b", "a"]
    csv_text = progress.to_csv(table)
    assert "'=HYPERLINK" in csv_text and "\n=" not in csv_text and ",=" not in csv_text
    assert progress.bar_chart_png(table.assign(name=["B", "A"]), "score", "Points")[:4] == b"\x89PNG"
