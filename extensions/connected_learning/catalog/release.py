"""Publishing workbook releases: the student versions that provisioning copies into homes.

A workbook's source may be in nbgrader's source format, with solutions and hidden tests
for teachers. Learners must never receive those, so the hub publishes each workbook once
per version and content into `<data>/releases/<workbook-id>/<version>+<hash>/`: the
delivered files, with nbgrader's own `ClearSolutions` and `ClearHiddenTests` applied to
any notebook that carries nbgrader metadata. A cleared answer becomes `CODE_STUB`, which
raises nothing, so Run All reaches the end of a released workbook (its check cells say
"not solved yet" instead, see `widgets.puzzles`). The folder is built beside its final name
and renamed into place, so a release is either complete or absent. Releases are
world-readable; the catalog's sources need not be.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from ..learner.provision import RELEASE_COMPLETE as COMPLETE
from ..learner.provision import file_digest
from ..widgets.puzzles import CODE_STUB
from .load import Workbook


def release_name(workbook: Workbook) -> str:
    """`<version>+<hash>`: a new name whenever the version or any delivered file changes."""
    h = hashlib.sha256(CODE_STUB.encode())  # a new stub makes new student versions too
    for rel in sorted(workbook.delivered):
        h.update(f"{rel}\0{file_digest(workbook.folder / rel)}\0".encode())
    return f"{workbook.version}+{h.hexdigest()[:12]}"


def is_nbgrader_source(notebook: dict) -> bool:
    return any("nbgrader" in cell.get("metadata", {}) for cell in notebook.get("cells", []))


def student_version(path: Path) -> bytes | None:
    """The notebook at `path` with solutions and hidden tests cleared, or None if it has none."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    if not is_nbgrader_source(raw):
        return None
    import nbformat
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb = nbformat.reads(json.dumps(raw), as_version=4)
    resources: dict = {}
    for preprocessor in (ClearSolutions(code_stub={"python": CODE_STUB}), ClearHiddenTests()):
        nb, resources = preprocessor.preprocess(nb, resources)
    return nbformat.writes(nb).encode("utf-8")


def publish(workbook: Workbook, root: Path) -> Path:
    """Publish `workbook` under `root` (if not already there) and return its release folder."""
    target = root / workbook.id / release_name(workbook)
    if (target / COMPLETE).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o755)
    building = Path(tempfile.mkdtemp(dir=target.parent, prefix=".building-"))
    try:
        for rel in workbook.delivered:
            dest = building / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            cleared = student_version(workbook.folder / rel) if rel.endswith(".ipynb") else None
            if cleared is None:
                shutil.copyfile(workbook.folder / rel, dest)
            else:
                dest.write_bytes(cleared)
        (building / COMPLETE).write_text(workbook.version)
        for folder, _dirs, files in os.walk(building):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        try:
            os.rename(building, target)
        except OSError:
            if not (target / COMPLETE).exists():  # another publisher won the race
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target
