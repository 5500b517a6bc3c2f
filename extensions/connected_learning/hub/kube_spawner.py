"""The workbook spawner on Kubernetes: `WorkbookSpawnerMixin` over KubeSpawner, one pod per learner.

What differs from one machine (`local_spawners.py`):

- identity: a uid of the learner's own and a gid per hub group from the hub's database
  (`uids.py`), not system accounts; the pod runs as that uid, with those supplemental groups;
- the start: the hub publishes the releases, then the pod does the rest before the server
  runs, in two init containers (`kube_pod.py`): as root with three capabilities, the home
  and group folders; as the learner, the workbook delivery, with the very command one
  machine runs as a child process (`WorkbookSpawnerMixin.provision_command`);
- limits: Kubernetes enforces `[limits]`, and sets aside `[kubernetes] memory_request_mb` and
  `cpu_request` for each pod; no control groups of ours.

The pod's parts are computed by `kube_pod.py` (pure) when KubeSpawner asks for the pod
(`get_pod_manifest`); `apply_settings` sets every trait from the site settings, for the
hub's configuration (`kube_config.py`) and for `clhub kubernetes pod` (`kube_cli.py`).
Registered as the `jupyterhub.spawners` entry point `workbook-kubernetes`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kubespawner import KubeSpawner  # type: ignore[import-untyped]
from traitlets import Integer, Unicode, default

from ..catalog import release
from ..errors import ClhubError
from ..host import system_users
from ..paths import DataLayout
from ..peer_review import folders
from ..settings import SiteSettings, validate_username
from . import kube_pod, uids
from .spawner import WorkbookSpawnerMixin

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # connected_learning, as the hub has it


class KubeWorkbookSpawner(WorkbookSpawnerMixin, KubeSpawner):
    """Each learner's server is a pod running as their own uid, with their groups' gids."""

    host_name = "kubernetes"

    homes_claim = Unicode(
        "clhub-homes",
        config=True,
        help="PersistentVolumeClaim of learners' homes, mounted at /home/<user> with subPath <user>. "
        "Default 'clhub-homes'; the site setting kubernetes.homes_claim sets it.",
    )
    shared_claim = Unicode(
        "clhub-shared",
        config=True,
        help="ReadWriteMany (NFS) PersistentVolumeClaim holding groups/, courses/, exchange/ and releases/ as "
        "in one machine's data folder, mounted at the same paths under data_dir. Default 'clhub-shared'.",
    )
    first_uid = Integer(
        100000, config=True, help="First uid given to a learner (uids.py); never reused. Default 100000."
    )
    first_gid = Integer(200000, config=True, help="First gid given to a group (uids.py). Default 200000.")
    system_group_prefix = Unicode(
        "clhub-",
        config=True,
        help="Prefix of a hub group's name in the gid table, as one machine names its system group "
        "(hub group 'demo-class' -> 'clhub-demo-class'). Default 'clhub-'.",
    )
    image_package_dir = Unicode(
        "",
        config=True,
        help="Where the connected_learning package lives in the learner image, when it differs from the "
        "hub's (the learner's server reads its config files from there). Example: "
        "'/opt/conda/lib/python3.12/site-packages/connected_learning'. Default '': the hub's own path.",
    )

    # Set by `clhub kubernetes pod`: its own view of the database, and no allocation.
    ids_engine: Engine | None = None
    allocate_ids = True
    # The releases published for this start (`start`); None: the names they would have.
    release_picks: list[str] | None = None

    @default("provision_python")
    def _default_provision_python(self) -> str:
        return "python3"  # the learner image's, found on its PATH

    @default("cmd")
    def _default_cmd(self) -> list[str]:
        return ["jupyterhub-singleuser"]

    @default("automount_service_account_token")
    def _default_automount(self) -> bool:
        return False  # a learner's code has no business with the Kubernetes API

    @default("working_dir")
    def _default_working_dir(self) -> str:
        return "/home/{unescaped_username}"

    def learner_home(self) -> str:
        return kube_pod.home(self.user.name)

    def in_image(self, path: str) -> str:
        """A path of this package as the learner image has it."""
        if self.image_package_dir and path.startswith(str(PACKAGE_DIR)):
            return self.image_package_dir + path[len(str(PACKAGE_DIR)) :]
        return path

    def learner_args(self) -> list[str]:
        return [f"--config={self.in_image(self.singleuser_config)}", f"--ServerApp.root_dir={self.learner_home()}"]

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        env.pop("PATH", None)  # the image's own: the hub's Python is not in the learner's pod
        if "JUPYTER_CONFIG_PATH" in env:
            env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
                self.in_image(p) for p in env["JUPYTER_CONFIG_PATH"].split(os.pathsep)
            )
        return env

    # ----------------------------------------------------------- who the pod runs as

    def engine(self) -> Engine:
        """The hub's database (JupyterHub's own engine), where the ids live."""
        return self.ids_engine if self.ids_engine is not None else self.db.get_bind()

    def hub_groups(self) -> list[str]:
        """The learner's hub groups that can have a folder; a bad name is logged and skipped."""
        good = []
        for group in sorted(g.name for g in self.user.groups):
            try:
                system_users.system_group_name(self.system_group_prefix, validate_username(group))
                good.append(group)
            except ClhubError as e:
                self.log.error("Group %r of %s gets no folder in the pod: %s", group, self.user.name, e)
        return good

    def learner_ids(self) -> kube_pod.LearnerIds:
        """The learner's uid and their groups' gids, given now to those that have none."""
        user = validate_username(self.user.name)
        members = {g: system_users.system_group_name(self.system_group_prefix, g) for g in self.hub_groups()}
        teachers = {}
        for group in self.taught_groups():
            try:
                teachers[group] = system_users.system_group_name(system_users.TEACH_PREFIX, validate_username(group))
            except ClhubError as e:
                self.log.warning("No course group for %s: %s", self.user.name, e)
        roster = self.classmates(list(members))
        people = sorted({user, *(m for names in roster.values() for m in names)})
        engine = self.engine()
        names = [*members.values(), *teachers.values()]
        if self.allocate_ids:
            people_uids = uids.allocate(engine, uids.USER, people, self.first_uid)
            gids = uids.group_gids(engine, names, self.first_gid)
        else:
            has, would = uids.preview(engine, uids.USER, [user], self.first_uid)
            people_uids = {**uids.known(engine, uids.USER, people), **has, **would}
            has, would = uids.preview(engine, uids.GROUP, names, self.first_gid)
            gids = {**has, **would}
        group_names = {members[g]: (gids[members[g]], tuple(roster[g])) for g in members}
        group_names |= {teachers[g]: (gids[teachers[g]], (user,)) for g in teachers}
        return kube_pod.LearnerIds(
            user,
            people_uids[user],
            {g: gids[n] for g, n in members.items()},
            {g: gids[n] for g, n in teachers.items()},
            people={p: people_uids[p] for p in people if p != user and p in people_uids},
            group_names=group_names,
        )

    def classmates(self, groups: list[str]) -> dict[str, list[str]]:
        """{group: its members' names} for the learner's groups (names a pod cannot have are left out)."""
        found: dict[str, list[str]] = {}
        for group in self.user.groups:
            if group.name in groups:
                names = (u.name for u in getattr(group, "users", []))
                found[group.name] = sorted(n for n in names if is_user_name(n))
        return {g: found.get(g, []) for g in groups}

    # ----------------------------------------------------------- the pod

    def kube_site(self) -> kube_pod.Site:
        return kube_pod.Site(self.data_dir, self.homes_claim, self.shared_claim, self.image, self.provision_python)

    def policies(self, groups: list[str]) -> dict[str, folders.GroupPolicy]:
        return {g: self.group_policy(g) if self.group_policy is not None else folders.GroupPolicy(g) for g in groups}

    def picks(self) -> list[str]:
        if self.release_picks is not None:
            return self.release_picks
        return [f"{w.id}={release.release_name(w)}" for w in self.workbooks_for_learner()]

    def resources(self) -> dict[str, Any]:
        return kube_pod.resources(
            int((self.mem_limit or 0) // (1024 * 1024)),
            float(self.cpu_limit or 0),
            int((self.mem_guarantee or 0) // (1024 * 1024)),
            float(self.cpu_guarantee or 0),
        )

    async def get_pod_manifest(self) -> Any:
        """KubeSpawner's pod, with the project's parts (`kube_pod.py`) for this learner.

        The identity, security contexts, volumes, mounts, init containers and annotations are
        the project's alone: whatever the configuration gave those traits is replaced, so that
        no other container (z2jh's privileged iptables step, say) or fsGroup slips into a
        learner's pod. Other pod settings go through KubeSpawner's own traits as usual.
        """
        ids = self.learner_ids()
        if len(ids.supplemental_gids) > kube_pod.NFS_GROUPS:
            self.log.warning(
                "%s is in %d groups: over NFS (AUTH_SYS) only %d count; the folders of the others may be refused.",
                self.user.name,
                len(ids.supplemental_gids),
                kube_pod.NFS_GROUPS,
            )
        site = self.kube_site()
        policies = self.policies(list(ids.groups))
        links = {g: str(folders.peer_review_dir(self.data_dir, g)) for g, p in policies.items() if p.peer_review}
        plan = kube_pod.prepare_plan(
            site,
            ids,
            {g: dataclasses.asdict(p) | {"allowed_types": list(p.allowed_types)} for g, p in policies.items()},
        )
        home = self.learner_home()
        deliver = kube_pod.deliver_container(
            site,
            ids,
            self.provision_command(home, links, self.picks()),
            {"HOME": home, "LANG": "C.UTF-8"},
            self.resources(),
        )
        self.uid = ids.uid
        self.gid = ids.uid  # a private group per learner, as on one machine
        self.supplemental_gids = ids.supplemental_gids
        self.fs_gid = None  # never: it would rewrite the group folders' setgid/sticky model
        self.allow_privilege_escalation = False
        self.container_security_context = kube_pod.learner_security(ids.uid)
        self.pod_security_context = kube_pod.pod_security()
        self.volumes = kube_pod.literal(kube_pod.volumes(site))
        self.volume_mounts = kube_pod.literal(kube_pod.volume_mounts(site, ids))
        self.init_containers = kube_pod.literal(
            [kube_pod.prepare_container(site, ids, plan, self.resources()), deliver]
        )
        self.extra_annotations = kube_pod.literal(kube_pod.pod_annotations(ids))
        return await super().get_pod_manifest()

    # ----------------------------------------------------------- start

    async def start(self) -> Any:
        """Publish the learner's releases, then start the pod; delivery runs in the pod.

        The mixin's `start` prepares a system account and runs the delivery as a local child
        process; here both happen in the pod's init containers, so only the publishing (the
        hub's part) runs in the hub.
        """
        self._progress_log = []
        self._progress_done = False
        try:
            self.report(10, "Getting your space ready")
            self.release_picks = await self.published_releases(self.workbooks_for_learner())
            self.report(40, "Copying your workbooks and starting JupyterLab")
            return await KubeSpawner.start(self)
        finally:
            self._progress_done = True


def is_user_name(name: str) -> bool:
    """Whether `name` is a user name a pod's /etc/passwd can hold."""
    try:
        validate_username(name)
    except ClhubError:
        return False
    return True


def apply_settings(c: Any, settings: SiteSettings) -> None:
    """Set every KubeWorkbookSpawner trait the site settings decide, on the config object `c`.

    Only sets, never appends: the hub's configuration (`kube_config.py`) and `clhub kubernetes
    pod` call it on their own config objects, so the pod `clhub kubernetes pod` prints is the
    hub's. What every workbook spawner gets comes from `config.configure_workbooks`, as on one
    machine; then what is Kubernetes' own.
    """
    from .config import configure_workbooks
    from .kube_services import service_url

    configure_workbooks(c, settings, DataLayout(settings.data_dir), service_url("classroom", settings.classroom_port))
    spawner = c.KubeWorkbookSpawner
    spawner.namespace = settings.namespace
    spawner.image = settings.learner_image
    spawner.homes_claim = settings.homes_claim
    spawner.shared_claim = settings.shared_claim
    spawner.first_uid = settings.first_uid
    spawner.first_gid = settings.first_gid
    spawner.cmd = ["jupyterhub-singleuser"]
    # Limits are the most a learner may use; requests what the scheduler sets aside (Burstable:
    # a learner at work holds far less than the limit, README "Capacity on paper"). Side by side.
    spawner.mem_limit = f"{settings.memory_mb}M" if settings.memory_mb else None
    spawner.mem_guarantee = f"{settings.memory_request_mb}M"
    spawner.cpu_limit = settings.cpu or None
    spawner.cpu_guarantee = settings.cpu_request
    spawner.automount_service_account_token = False
    spawner.fs_gid = None
