"""Kubernetes: a pod per learner, running as a uid of its own that the hub allocates.

There is no /etc/passwd to ask. Identity comes from two places nobody's code can change:

- the allocation tables in the hub's database (`hub/uids.py`): learner -> uid, system
  group name ("clhub-<group>", "clhubt-<group>", "clhub-showcase") -> gid. The hub and its
  services' pods read them;
- in a learner's pod, the pod's own annotations, which the hub wrote and the kubelet shows
  read-only through a downward-API volume (`IDENTITY_DIR`/name and /uid, see
  `hub/kube_pod.py`); the pod carries no database credentials.

So `whoami` believes a uid, never JUPYTERHUB_USER alone: a learner who sets it to a
classmate's name is still themself. Homes are at /home/<user> in every pod that has them
(the learner's own pod; the classroom service's). A learner's process never switches users
(`run_as` is None for every learner): it runs as the uid its pod was given. The one switch is
grading's fence in the classroom pod (root, with SETUID and SETGID among its few
capabilities), which drops a submission's kernel to `clhub-grader` (`SERVICE_IDS`).

Fences mount no /proc of their own here (`fresh_proc`): the container runtime masks parts of
the pod's /proc, and the kernel then refuses an unprivileged process a fresh proc mount.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ClhubError
from ..paths import DataLayout
from ..settings import SETTINGS, validate_username
from .base import Host, RunAs
from .system_users import system_group_name

IDENTITY_DIR = Path("/etc/clhub/learner")  # in a learner's pod: files "name" and "uid" (downward API)
HOMES = Path("/home")
# The services' own uids (uid = primary gid): below first_uid, owning nothing on the shared
# claim. kube_services gives the showcases' pods theirs; grading's fence drops to clhub-grader.
SERVICE_IDS = {"clhub-showcase": 990, "clhub-live": 991, "clhub-grader": 992}
_DEFAULTS = {s.key: s.default for s in SETTINGS if s.section == "kubernetes"}
_engines: dict[str, Engine] = {}

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


class KubernetesHostError(ClhubError):
    code = "kubernetes-host"


def read_pod_identity(folder: Path) -> tuple[str, int] | None:
    """(learner, uid) from the pod's annotations, None outside a learner's pod (or if damaged)."""
    try:
        name = (folder / "name").read_text()[:64].strip()
        uid = int((folder / "uid").read_text()[:16].strip())
        validate_username(name)
    except (OSError, ValueError, ClhubError):
        return None
    return name, uid


@dataclass(frozen=True)
class KubernetesHost(Host):
    name = "kubernetes"
    isolated = True
    spawner = "workbook-kubernetes"
    fresh_proc = False

    # The hub database's URL; "" = CLHUB_DB_URL, else SQLite in <data_dir>/hub (as `SiteSettings.database_url`).
    db_url: str = ""
    first_uid: int = _DEFAULTS["first_uid"]
    first_gid: int = _DEFAULTS["first_gid"]
    identity_dir: Path = IDENTITY_DIR
    homes: Path = field(default=HOMES)

    def database_url(self) -> str:
        return self.db_url or os.environ.get("CLHUB_DB_URL", "") or f"sqlite:///{DataLayout(Path(self.data_dir)).db}"

    def _engine(self, *, required: bool) -> Engine | None:
        """The hub database, None (or KubernetesHostError if `required`) where this pod has none."""
        from ..hub.database import driver_url, sqlite_file

        url = self.database_url()
        sqlite = sqlite_file(url)
        if sqlite is not None and not sqlite.is_file():
            if required:
                raise KubernetesHostError(
                    "The hub's database cannot be reached from here: ids are given by the hub and its services only."
                )
            return None
        if url not in _engines:
            from sqlalchemy import create_engine  # here: a learner's kernel asking `whoami` needs no SQLAlchemy

            _engines[url] = create_engine(driver_url(url), pool_pre_ping=True)
        return _engines[url]

    def home(self, user: str) -> str | None:
        try:
            path = self.homes / validate_username(user)
        except ClhubError:
            return None
        return str(path) if path.is_dir() else None

    def whoami(self, uid: int, hub_user: str) -> str:
        in_pod = read_pod_identity(self.identity_dir)
        if in_pod is not None:  # a learner's pod: the hub's word for its one learner
            return in_pod[0] if in_pod[1] == uid else ""
        return self._allocated_name(uid)

    def owner_name(self, uid: int) -> str:
        # A learner's pod lists the accounts of its groups (kube_prepare's passwd); the hub and
        # the services' pods have none of them and ask the allocation table.
        return super().owner_name(uid) or self._allocated_name(uid)

    def _allocated_name(self, uid: int) -> str:
        """Whose uid this is in the hub's allocation table; "" where nobody's, or no database here."""
        from ..hub import uids

        engine = self._engine(required=False)
        return (uids.name_of_uid(engine, uid) or "") if engine is not None else ""

    def group_gid(self, name: str) -> int | None:
        from ..hub import uids

        engine = self._engine(required=False)
        return uids.known(engine, uids.GROUP, [name]).get(name) if engine is not None else None

    async def ensure_group(self, name: str) -> int | None:
        from ..hub import uids

        engine = self._engine(required=True)
        assert engine is not None
        return uids.group_gids(engine, [name], self.first_gid)[name]

    async def ensure_learner(self, user: str, prefix: str, groups: list[str]) -> None:
        from ..hub import uids

        engine = self._engine(required=True)
        assert engine is not None
        uids.learner_uid(engine, validate_username(user), self.first_uid)
        uids.group_gids(engine, [system_group_name(prefix, g) for g in groups], self.first_gid)

    def service_user(self, name: str) -> str | None:
        return None  # each service is a pod of its own, with the uid its Deployment gives it

    def ensure_service_user(self, name: str) -> str | None:
        return None

    def missing_user_message(self, user: str) -> str:
        return (
            f"The user {user!r} that runs fenced code does not exist here: in a pod, fenced code runs as "
            "one of the services' own users (clhub-grader for grading), never as a learner or root."
        )

    def run_as(self, user: str) -> RunAs | None:
        """A service's own identity (`SERVICE_IDS`) where this process is root, else None.

        Raises:
            KeyError: `user` is not one of the services' users (never a learner: a learner's
                pod has no capability to change its uid, and the classroom drops to nobody else).
        """
        if os.geteuid() != 0:
            return None
        uid = SERVICE_IDS[user]
        return RunAs(user, uid, uid)
