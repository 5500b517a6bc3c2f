"""The data folder's layout on one machine, in one place.

<data>/hub/          hub database, cookie secret, proxy token (root only)
<data>/hub/interests/ each learner's remembered interests
<data>/releases/     published student versions of the workbooks (world-readable)
<data>/homes/        learners' homes in demo mode
<data>/groups/       group folders (peer review)
<data>/showcase/     published pieces
<data>/exchange/     nbgrader exchange
<data>/disks/        each learner's file system, <user>.img (root only; host/disks.py)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataLayout:
    root: Path

    @property
    def hub(self) -> Path:
        return self.root / "hub"

    @property
    def db(self) -> Path:
        """Where a site keeps its hub database without `[site] db_url` (SiteSettings.database_url)."""
        return self.hub / "jupyterhub.sqlite"

    @property
    def interests(self) -> Path:
        return self.hub / "interests"

    @property
    def roles_file(self) -> Path:
        return self.hub / "site-roles.json"

    @property
    def releases(self) -> Path:
        return self.root / "releases"

    @property
    def homes(self) -> Path:
        return self.root / "homes"

    @property
    def disks(self) -> Path:
        return self.root / "disks"

    def create(self) -> None:
        """Create the folders the hub needs, private to the hub's user."""
        self.root.mkdir(parents=True, exist_ok=True)
        # Enterable, not listable: learners reach their group's folder and releases by name;
        # a live showcase kernel (any other user) learns nothing from the data folder.
        os.chmod(self.root, 0o711)
        for folder in (self.hub, self.interests, self.homes):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        # Learners' own processes copy their workbooks from here: readable by all.
        self.releases.mkdir(mode=0o755, exist_ok=True)
        os.chmod(self.releases, 0o755)
