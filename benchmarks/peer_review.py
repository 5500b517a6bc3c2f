"""Peer review: building the feedback overview of a group folder of 100, 1,000 and 10,000 pieces.

A group folder is filled the way `peer_review.share` and `give_feedback` leave it: each
piece a folder with piece.json, one version with a file, and a feedback folder with five
reviewers' files. The overview is `pieces.read_group` (every piece with all its feedback,
what the teacher's page and the review notebook read; the author's own view reads a
subset). Measured, page cache warm, median of 5 runs:

- the time at 1,000 pieces, against the issue's target of 0.5 s;
- growth: the time per piece at 10,000 against the time per piece at 1,000 (linear is 1.0);
- the cost of reading safely (O_NOFOLLOW relative to folder descriptors, size caps,
  owner checks): against the bare minimum any overview must do, in the same run, on the
  same folder: `json.load` of every piece.json and feedback file found by `os.scandir`.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "extensions"))

from connected_learning.peer_review import pieces  # noqa: E402

SIZES = (100, 1_000, 10_000)
FEEDBACK_PER_PIECE = 5
RUNS = 5
TARGET_SECONDS_AT_1000 = 0.5


def fill(folder: Path, count: int) -> None:
    """`count` pieces with five feedback files each, as the learner-side code writes them."""
    me = pwd.getpwuid(os.getuid()).pw_name
    folder.mkdir(parents=True)
    for i in range(count):
        piece = folder / f"{me}-piece-{i:05d}"
        (piece / "v1").mkdir(parents=True)
        (piece / "feedback").mkdir()
        (piece / "v1" / "art.png").write_bytes(b"\x89PNG" + bytes(200))
        (piece / "piece.json").write_text(
            json.dumps(
                {
                    "title": f"Piece {i}",
                    "author": me,
                    "author_display": "Ana B.",
                    "workbook": "pixel-pets",
                    "created": "2026-11-29T10:00:00.000+00:00",
                    "updated": "2026-11-29T10:00:00.000+00:00",
                    "version": 1,
                    "files": ["art.png"],
                    "source": "art.png",
                    "remix_of": None,
                }
            )
        )
        for k in range(FEEDBACK_PER_PIECE):
            name = f"{me}.json" if k == 0 else f"{me}.{k:08x}.json"
            (piece / "feedback" / name).write_text(
                json.dumps(
                    {
                        "reviewer": me,
                        "reviewer_display": f"Reviewer {k}",
                        "entries": [
                            {
                                "works": "The colours are bold and the cat's face is funny.",
                                "idea": "Try a second frame so it blinks.",
                                "question": "How did you pick the palette?",
                                "reaction": "love",
                                "created": "2026-11-29T10:05:00.000+00:00",
                                "version": 1,
                            }
                        ],
                    }
                )
            )


def bare_minimum(folder: Path) -> int:
    """What any overview must do at least: load every piece.json and feedback file."""
    loaded = 0
    with os.scandir(folder) as entries:
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            with open(os.path.join(entry.path, "piece.json")) as f:
                json.load(f)
            with os.scandir(os.path.join(entry.path, "feedback")) as feedback:
                for item in feedback:
                    with open(item.path) as f:
                        json.load(f)
                    loaded += 1
    return loaded


def timed(action: Callable[[], object]) -> float:
    samples = []
    action()  # warm the page cache and the imports
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> list[tuple[str, float, float, float]]:
    ours: dict[int, float] = {}
    bare: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="clhub-bench-pr-") as tmp:
        for size in SIZES:
            folder = Path(tmp) / f"g{size}"
            fill(folder, size)
            views = pieces.read_group(folder)
            assert len(views) == size and all(len(v.feedback) == FEEDBACK_PER_PIECE for v in views)
            ours[size] = timed(lambda folder=folder: pieces.read_group(folder))
            bare[size] = timed(lambda folder=folder: bare_minimum(folder))
            shutil.rmtree(folder)
    for size in SIZES:
        print(f"  {size:>6} pieces: overview {ours[size]:.3f} s, bare json.load {bare[size]:.3f} s", flush=True)
    return [
        ("overview at 1,000 pieces, s (vs 0.5 s target)", ours[1_000], TARGET_SECONDS_AT_1000, 1.0),
        ("s per 1,000 pieces at 10,000 (vs at 1,000)", ours[10_000] / 10, ours[1_000], 1.3),
        ("overview at 1,000 pieces, s (vs bare json.load)", ours[1_000], bare[1_000], 3.0),
    ]


if __name__ == "__main__":
    from run import report

    report("peer review (feedback overview of a group folder)", main())
