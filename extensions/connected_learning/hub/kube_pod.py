"""The parts of a learner's pod that are the project's own: who it runs as, what it mounts, what runs first.

Pure functions from plain values, tested as dictionaries (KubeSpawner's `objects.py` is the
model); `kube_spawner.py` hands them to KubeSpawner, whose `get_pod_manifest` builds the pod.

    pod        supplementalGroups: the gids of the learner's groups (and of the groups they
               teach); seccompProfile RuntimeDefault; no fsGroup (it would rewrite the
               setgid/sticky model of the group folders); no service-account token
    prepare    init container as root with only CHOWN, FOWNER and DAC_OVERRIDE: makes the
               home the learner's (mode 0700) and repairs the group folders
               (`host.kube_prepare`, the project's code, never the learner's)
    deliver    init container as the learner: the workbook delivery, the same command as one
               machine's (`WorkbookSpawnerMixin.provision_command`)
    notebook   the learner's server, as the learner: runAsNonRoot, no privilege escalation,
               every capability dropped

    /home/<user>                 homes claim, subPath <user>
    <data>/groups/<g>            shared claim, subPath groups/<g>, for each of the learner's groups
    <data>/courses/<g>           shared claim, subPath courses/<g>, for each group they teach
    <data>/exchange              shared claim, subPath exchange (nbgrader's own permissions)
    <data>/releases              shared claim, subPath releases, read-only
    /etc/clhub/learner           downward API: the pod's annotations clhub/user and clhub/uid
                                 (read-only: `host.kubernetes` believes them, not the environment)
    /etc/passwd, /etc/group      read-only, written by the root init step into a small emptyDir:
                                 the image's own accounts plus the learner, the members of their
                                 groups (so the owner of a classmate's piece has a name, as on one
                                 machine) and the groups themselves. Who joins a group later is
                                 named from the learner's next start.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..host.kubernetes import IDENTITY_DIR

HOME_VOLUME = "clhub-home"
SHARED_VOLUME = "clhub-shared"
IDENTITY_VOLUME = "clhub-identity"
ETC_VOLUME = "clhub-etc"
ETC_DIR = "/clhub-etc"  # in the root init container: where it writes passwd and group
MOST_NAMED = 2000  # accounts written into a pod's /etc/passwd: keeps the init step's argument small
NFS_GROUPS = 16  # NFS (AUTH_SYS) sends at most 16 supplementary groups: more are not seen by the server
USER_ANNOTATION = "clhub/user"
UID_ANNOTATION = "clhub/uid"
PREPARE_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER")
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}


@dataclass(frozen=True)
class LearnerIds:
    """Who the pod runs as. `groups`: {hub group: gid}; `teaching`: {taught group: its teachers' gid}."""

    user: str
    uid: int
    groups: dict[str, int] = field(default_factory=dict)
    teaching: dict[str, int] = field(default_factory=dict)
    # Named in the pod's /etc/passwd and /etc/group: {classmate: uid}, {system group name: (gid, members)}.
    people: dict[str, int] = field(default_factory=dict)
    group_names: dict[str, tuple[int, tuple[str, ...]]] = field(default_factory=dict)

    @property
    def supplemental_gids(self) -> list[int]:
        return sorted({*self.groups.values(), *self.teaching.values()})


@dataclass(frozen=True)
class Site:
    """Where the site's files are, in every pod: the same paths as on one machine's data folder."""

    data_dir: str
    homes_claim: str
    shared_claim: str
    image: str
    python: str = "python3"  # the learner image's Python (run by its PATH)

    def folder(self, *parts: str) -> str:
        return os.path.join(self.data_dir, *parts)


def home(user: str) -> str:
    return f"/home/{user}"


def volumes(site: Site) -> list[dict[str, Any]]:
    return [
        {"name": HOME_VOLUME, "persistentVolumeClaim": {"claimName": site.homes_claim}},
        {"name": ETC_VOLUME, "emptyDir": {"sizeLimit": "4Mi"}},
        {"name": SHARED_VOLUME, "persistentVolumeClaim": {"claimName": site.shared_claim}},
        {
            "name": IDENTITY_VOLUME,
            "downwardAPI": {
                "defaultMode": 0o444,
                "items": [
                    {"path": "name", "fieldRef": {"fieldPath": f"metadata.annotations['{USER_ANNOTATION}']"}},
                    {"path": "uid", "fieldRef": {"fieldPath": f"metadata.annotations['{UID_ANNOTATION}']"}},
                ],
            },
        },
    ]


def pod_annotations(ids: LearnerIds) -> dict[str, str]:
    return {USER_ANNOTATION: ids.user, UID_ANNOTATION: str(ids.uid)}


def _shared(site: Site, *parts: str, read_only: bool = False) -> dict[str, Any]:
    mount: dict[str, Any] = {"name": SHARED_VOLUME, "mountPath": site.folder(*parts), "subPath": "/".join(parts)}
    if read_only:
        mount["readOnly"] = True
    return mount


def home_mount(ids: LearnerIds) -> dict[str, Any]:
    return {"name": HOME_VOLUME, "mountPath": home(ids.user), "subPath": ids.user}


def group_mounts(site: Site, ids: LearnerIds) -> list[dict[str, Any]]:
    return [_shared(site, "groups", g) for g in sorted(ids.groups)]


def volume_mounts(site: Site, ids: LearnerIds) -> list[dict[str, Any]]:
    """What the learner's server and the delivery step see."""
    return [
        home_mount(ids),
        *group_mounts(site, ids),
        *(_shared(site, "courses", g) for g in sorted(ids.teaching)),
        _shared(site, "exchange"),
        _shared(site, "releases", read_only=True),
        {"name": IDENTITY_VOLUME, "mountPath": str(IDENTITY_DIR), "readOnly": True},
        {"name": ETC_VOLUME, "mountPath": "/etc/passwd", "subPath": "passwd", "readOnly": True},
        {"name": ETC_VOLUME, "mountPath": "/etc/group", "subPath": "group", "readOnly": True},
    ]


def learner_security(uid: int) -> dict[str, Any]:
    """A container's security context as the learner: their uid, their private group, nothing more."""
    return {
        "runAsUser": uid,
        "runAsGroup": uid,
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": RUNTIME_DEFAULT,
    }


def pod_security() -> dict[str, Any]:
    """The pod's own security context; the groups come from KubeSpawner's supplemental_gids."""
    return {"seccompProfile": RUNTIME_DEFAULT}


def prepare_plan(site: Site, ids: LearnerIds, policies: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What the root init container does (`host.kube_prepare`): {group: policy} from `folders.GroupPolicy`."""
    people = {ids.user: ids.uid, **dict(sorted(ids.people.items())[:MOST_NAMED])}
    return {
        "home": home(ids.user),
        "uid": ids.uid,
        "data_dir": site.data_dir,
        "groups": [{"gid": ids.groups[g], "policy": policies[g]} for g in sorted(ids.groups) if g in policies],
        "etc": ETC_DIR,
        "people": [[name, uid] for name, uid in people.items()],
        "group_names": [
            [name, gid, [m for m in members if m in people]] for name, (gid, members) in sorted(ids.group_names.items())
        ],
    }


def prepare_container(site: Site, ids: LearnerIds, plan: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "clhub-prepare",
        "image": site.image,
        "command": [site.python, "-I", "-m", "connected_learning.host.kube_prepare", json.dumps(plan, sort_keys=True)],
        "securityContext": {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"], "add": list(PREPARE_CAPABILITIES)},
            "seccompProfile": RUNTIME_DEFAULT,
        },
        "volumeMounts": [
            home_mount(ids),
            *group_mounts(site, ids),
            {"name": ETC_VOLUME, "mountPath": ETC_DIR},
        ],
        "resources": resources,
    }


def deliver_container(
    site: Site, ids: LearnerIds, command: list[str], env: dict[str, str], resources: dict[str, Any]
) -> dict[str, Any]:
    return {
        "name": "clhub-deliver",
        "image": site.image,
        "command": command,
        "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
        "workingDir": home(ids.user),
        "securityContext": learner_security(ids.uid),
        "volumeMounts": volume_mounts(site, ids),
        "resources": resources,
    }


def resources(memory_mb: int, cpu: float, memory_request_mb: int = 0, cpu_request: float = 0.0) -> dict[str, Any]:
    """The init containers' resources, as the learner's container has them: limits from `[limits]`
    (0: none), requests from `[kubernetes]` (0: equal to the limit), never above the limit."""

    def amounts(memory: int, cores: float) -> dict[str, str]:
        given: dict[str, str] = {}
        if memory:
            given["memory"] = f"{memory}Mi"  # what KubeSpawner makes of mem_limit "<memory_mb>M", in bytes
        if cores:
            given["cpu"] = f"{cores:g}"
        return given

    limits = amounts(memory_mb, cpu)
    requests = amounts(
        min(memory_request_mb, memory_mb) if memory_request_mb and memory_mb else memory_request_mb or memory_mb,
        min(cpu_request, cpu) if cpu_request and cpu else cpu_request or cpu,
    )
    resources = {k: v for k, v in (("limits", limits), ("requests", requests)) if v}
    return resources


def literal(value: Any) -> Any:
    """`value` with its braces doubled: KubeSpawner `.format()`s the strings of volumes and init
    containers ({username} and the like), and ours are already final (JSON has braces)."""
    if isinstance(value, str):
        return value.replace("{", "{{").replace("}", "}}")
    if isinstance(value, list):
        return [literal(v) for v in value]
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    return value
