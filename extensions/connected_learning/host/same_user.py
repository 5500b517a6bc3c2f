"""One machine, run as an ordinary user: the demo, where every account is that one user.

Nothing keeps accounts apart (the pages say so): homes are folders under
`<data>/homes/`, groups are not system groups, and a learner's process says which account
it acts for through JUPYTERHUB_USER, which the hub sets. Readers of a peer-review folder
believe the account a file names only where the folder is not root's (`pieces.Authorship`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..paths import DataLayout
from .base import Host, RunAs


@dataclass(frozen=True)
class SameUserHost(Host):
    name = "same-user"
    isolated = False
    spawner = "workbook-demo"

    def home(self, user: str) -> str | None:
        path = DataLayout(self.data_dir).homes / user
        return str(path) if path.is_dir() else None

    def whoami(self, uid: int, hub_user: str) -> str:
        return hub_user

    def group_gid(self, name: str) -> int | None:
        return None

    async def ensure_group(self, name: str) -> int | None:
        return None

    async def ensure_learner(self, user: str, prefix: str, groups: list[str]) -> None:
        return None

    def service_user(self, name: str) -> str | None:
        return None

    def ensure_service_user(self, name: str) -> str | None:
        return None

    def run_as(self, user: str) -> RunAs | None:
        return None
