"""The site's own Kubernetes objects beside z2jh's: the services and their network policies.

z2jh's chart makes the hub, the proxy and the learners' pods (KubeSpawner, see
`kube_spawner.py`). This module builds, as plain dictionaries from `SiteSettings` (as
kubespawner's `objects.py` builds pods), everything else the site runs, so that
`clhub kubernetes manifests` can print it for `kubectl apply -f -` and tests can check it:

    clhub-classroom       Deployment + Service   the teachers' service; reached by the proxy, the hub and
                                                 learners' servers (reports, showcase proposals)
    clhub-showcase        Deployment + Service   family pages; reached by the proxy only; reaches nothing
    clhub-showcase-live   Deployment + Service   "Play with it"; reached by the proxy only; its kernels,
                                                 in the same pod and fenced, reach nothing

The commands and environment are the ones `hub/config.py` gives the same services on one
machine; the hub registers them by URL (`kube_config.py`). Each container drops every
capability, may not gain privileges, has a read-only root file system and /tmp of its own, and
sees the shared (NFS) claim only where it needs it. The showcases run as non-root users of
their own (`SERVICE_IDS`); the classroom is the one service that runs as uid 0, as on one
machine, with six capabilities only: CHOWN, FOWNER and DAC_OVERRIDE (it makes group folders
with their gids and collects submissions readable by their authors alone), SETUID and SETGID
(grading's fence drops each submission's kernel to clhub-grader), and KILL (grading stops
those kernels, which are no longer root's).

Grading runs in the classroom's pod, as on one machine: the teacher's Grade button starts the
same grading pool (`assignments/grading.py`), whose kernels run in the same bubblewrap fence
(`sandbox.FencedKernel`), with no Kubernetes API rights. (A grading Job per assignment, which
an earlier version printed, is gone: it could not build the fence and so graded nothing.) The
fence's pods, the classroom and the live showcase, run under the node profiles
`hub_config/kubernetes/node/clhub-fence.json` (seccomp) and `clhub-fence` (AppArmor): the
runtime's defaults, but with the namespace and mount calls bubblewrap needs; the showcase pod
keeps the runtime's defaults.

Kubernetes names and image references are checked once, here, by
`check_kubernetes_settings`, with messages that say which key and what to write instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..host.kubernetes import SERVICE_IDS
from ..settings import SettingsError, SiteSettings
from ..showcase.publish import LIVE_USER, SHOWCASE_USER
from .database import describe

APP = "clhub"
HUB_IMAGE = "clhub/hub:latest"  # built from hub_config/kubernetes/Dockerfile.hub
# z2jh's names: its hub Service answers at hub:8081; its Secret `hub` holds a token for each
# entry of values.yaml's hub.services under this key.
HUB_API_URL = "http://hub:8081/hub/api"
HUB_SECRET = "hub"
# The Secret the operator makes with the hub database's address and password (README).
DB_SECRET = "clhub-db"
SITE_CONFIGMAP = "clhub-site"
SITE_MOUNT = "/etc/clhub"  # where the ConfigMap's site.toml appears: CLHUB_SITE
CLASSROOM_PREFIX = "/services/classroom/"
POSTGRES_PORT = 5432
# The groups the classroom gives published pages and live copies to (showcase/publish.py asks the
# host, which reads the hub's gid table); the showcases' pods carry them as supplemental groups.
SHOWCASE_GROUP = SHOWCASE_USER
LIVE_GROUP = LIVE_USER
# The classroom runs as root on one machine; in its pod it keeps only what its work needs:
# folders' owners and modes, grading's drop to clhub-grader (setpriv) and the stop of those
# kernels (root may signal another uid's processes only with KILL).
CLASSROOM_CAPABILITIES = ("CHOWN", "FOWNER", "DAC_OVERRIDE", "SETUID", "SETGID", "KILL")
TMP_MB = 256
# The node profiles that let bubblewrap build its fence (README: "The fence on Kubernetes"):
# the seccomp profile's path under the kubelet's seccomp folder, the AppArmor profile's name.
FENCE_SECCOMP = {"type": "Localhost", "localhostProfile": "profiles/clhub-fence.json"}
FENCE_APPARMOR = {"type": "Localhost", "localhostProfile": "clhub-fence"}

# https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
_DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_IMAGE = re.compile(r"[a-z0-9][a-z0-9._\-/:@]*[a-zA-Z0-9_]")


def check_kubernetes_settings(settings: SiteSettings) -> SiteSettings:
    """Return `settings` if its [kubernetes] names can be Kubernetes names; else raise.

    Raises:
        SettingsError: naming the key, the bad value and what Kubernetes accepts.
    """
    where = settings.source
    if len(settings.namespace) > 63 or not _DNS_LABEL.fullmatch(settings.namespace):
        raise SettingsError(
            f"{where}: kubernetes.namespace = {settings.namespace!r} cannot be a Kubernetes namespace: use at most "
            '63 lowercase letters, digits and "-", starting and ending with a letter or digit, e.g. "clhub".'
        )
    for key in ("homes_claim", "shared_claim"):
        name = getattr(settings, key)
        if len(name) > 253 or not _DNS_SUBDOMAIN.fullmatch(name):
            raise SettingsError(
                f"{where}: kubernetes.{key} = {name!r} cannot be a PersistentVolumeClaim's name: use lowercase "
                'letters, digits, "-" and ".", starting and ending with a letter or digit, e.g. "clhub-homes".'
            )
    check_image(settings.learner_image, f"{where}: kubernetes.learner_image")
    if describe(settings.db_url) != settings.db_url:
        # The file becomes the ConfigMap clhub-site, which anyone who may read the namespace's
        # ConfigMaps can read.
        raise SettingsError(
            f"{where}: site.db_url = {describe(settings.db_url)!r} holds a password, and on Kubernetes this file "
            "is a ConfigMap anyone in the namespace may read: leave db_url empty and put the address and the "
            'password in the Secret clhub-db (README, "Running on Kubernetes").'
        )
    return settings


def check_image(image: str, what: str) -> str:
    """Return `image` if it looks like an image reference (registry/name:tag); else raise SettingsError."""
    if len(image) > 500 or not _IMAGE.fullmatch(image) or "//" in image:
        raise SettingsError(
            f"{what} = {image!r} is not an image reference: write registry/name:tag without spaces, "
            'e.g. "registry.example.org/clhub/learner:2026.12".'
        )
    return image


def labels(part: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": APP, "app.kubernetes.io/component": part}


def _meta(name: str, part: str, settings: SiteSettings) -> dict[str, Any]:
    return {"name": name, "namespace": settings.namespace, "labels": labels(part)}


def _confinement(fence: bool) -> dict[str, Any]:
    """The seccomp and AppArmor profiles: the fence's where bubblewrap runs, else the runtime's default."""
    if fence:
        return {"seccompProfile": dict(FENCE_SECCOMP), "appArmorProfile": dict(FENCE_APPARMOR)}
    return {"seccompProfile": {"type": "RuntimeDefault"}}


def _security(uid: int, add: tuple[str, ...] = (), *, fence: bool = False) -> dict[str, Any]:
    """A container's security context: no escalation, every capability dropped but `add`.

    `fence`: the container builds bubblewrap fences, under the node's clhub-fence profiles.
    """
    context: dict[str, Any] = {
        "runAsUser": uid,
        "runAsGroup": uid,
        "runAsNonRoot": uid != 0,
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"], **({"add": list(add)} if add else {})},
        **_confinement(fence),
    }
    return context


def _shared(settings: SiteSettings, sub: str, *, read_only: bool) -> dict[str, Any]:
    """A mount of the shared claim's `sub` folder where one machine has it under the data folder."""
    mount: dict[str, Any] = {"name": "shared", "mountPath": str(Path(settings.data_dir) / sub), "readOnly": read_only}
    if sub:
        mount["subPath"] = sub
    return mount


def _volumes(settings: SiteSettings, *, shared: bool = True, site: bool = False) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {"sizeLimit": f"{TMP_MB}Mi"}}]
    if shared:
        volumes.append({"name": "shared", "persistentVolumeClaim": {"claimName": settings.shared_claim}})
    if site:
        volumes.append({"name": "site", "configMap": {"name": SITE_CONFIGMAP}})
    return volumes


def _env(values: dict[str, str]) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items()]


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def service_url(name: str, port: int) -> str:
    """How the hub and the proxy reach a service's Kubernetes Service."""
    return f"http://clhub-{name}:{port}"


def _hub_service_env(name: str, port: int, settings: SiteSettings, *, token: bool) -> list[dict[str, Any]]:
    """What JupyterHub gives a service it starts itself (jupyterhub/services/service.py), for one it does not."""
    prefix = f"/services/{name}/"
    values = {
        "JUPYTERHUB_SERVICE_NAME": name,
        # Listen on every address of the pod: the proxy and the hub come from other pods.
        "JUPYTERHUB_SERVICE_URL": f"http://0.0.0.0:{port}",
        "JUPYTERHUB_SERVICE_PREFIX": prefix,
        "JUPYTERHUB_API_URL": HUB_API_URL,
        "JUPYTERHUB_BASE_URL": "/",
    }
    if token:
        values |= {
            "JUPYTERHUB_CLIENT_ID": f"service-{name}",
            "JUPYTERHUB_OAUTH_CALLBACK_URL": prefix + "oauth_callback",
            "JUPYTERHUB_HOST": settings.subdomain_host,
        }
    env = _env(values)
    if token:
        env.append(_secret_env("JUPYTERHUB_API_TOKEN", HUB_SECRET, f"hub.services.{name}.apiToken"))
    return env


def _deployment(
    name: str,
    part: str,
    settings: SiteSettings,
    container: dict[str, Any],
    volumes: list[dict[str, Any]],
    pod_labels: dict[str, str] | None = None,
    groups: tuple[int, ...] = (),
    *,
    fence: bool = False,
) -> dict[str, Any]:
    pod_security: dict[str, Any] = _confinement(fence)
    if groups:
        pod_security["supplementalGroups"] = list(groups)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(name, part, settings),
        "spec": {
            "replicas": 1,
            # One at a time: the services keep state in files and ports of their own.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels(part)},
            "template": {
                "metadata": {"labels": {**labels(part), **(pod_labels or {})}},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": pod_security,
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def _service(name: str, part: str, port: int, settings: SiteSettings) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, part, settings),
        "spec": {
            "type": "ClusterIP",
            "selector": labels(part),
            "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def _container(
    name: str, image: str, module: str, port: int, env: list[dict[str, Any]], memory_mb: int, cpu: float
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "command": ["python3", "-m", module],
        "workingDir": "/",
        "env": [*env, {"name": "HOME", "value": "/tmp"}, {"name": "TMPDIR", "value": "/tmp"}],
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 10},
        "resources": {
            "requests": {"memory": f"{memory_mb}Mi", "cpu": str(cpu)},
            "limits": {"memory": f"{memory_mb}Mi", "cpu": str(cpu)},
        },
    }


def classroom(settings: SiteSettings, image: str = HUB_IMAGE) -> list[dict[str, Any]]:
    """The classroom's Deployment and Service: `python -m connected_learning.classroom.app`, as on one machine.

    It writes the hub's records (display names, roles, passwords in the hub database), group
    folders and courses, so it mounts the whole shared claim and the homes (read-only: progress).
    It grades too, each submission's kernel fenced and dropped to clhub-grader, so it runs under
    the fence's node profiles.
    """
    port = settings.classroom_port
    env = [
        *_hub_service_env("classroom", port, settings, token=True),
        *_env(
            {
                "CLHUB_SITE": f"{SITE_MOUNT}/site.toml",
                "CLHUB_DATA_DIR": str(settings.data_dir),
                "CLHUB_PORT": str(settings.port),
                "CLHUB_GROUP_PREFIX": "clhub-",
                "CLHUB_HOST": "kubernetes",
            }
        ),
        _secret_env("CLHUB_DB_URL", DB_SECRET, "url"),
        _secret_env("PGPASSWORD", DB_SECRET, "password"),
    ]
    # Grading's workers (one per CPU of its limit) and their fenced kernels run here too.
    container = _container("classroom", image, "connected_learning.classroom.app", port, env, memory_mb=2048, cpu=1.0)
    container["securityContext"] = _security(0, CLASSROOM_CAPABILITIES, fence=True)
    container["volumeMounts"] = [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "site", "mountPath": SITE_MOUNT, "readOnly": True},
        _shared(settings, "", read_only=False),
        {"name": "homes", "mountPath": "/home", "readOnly": True},
    ]
    volumes = [
        *_volumes(settings, site=True),
        {"name": "homes", "persistentVolumeClaim": {"claimName": settings.homes_claim, "readOnly": True}},
    ]
    # z2jh's hub admits API calls only from pods carrying this label.
    deployment = _deployment(
        "clhub-classroom",
        "classroom",
        settings,
        container,
        volumes,
        {"hub.jupyter.org/network-access-hub": "true"},
        fence=True,
    )
    return [deployment, _service("clhub-classroom", "classroom", port, settings)]


def showcase(settings: SiteSettings, reader_gid: int, image: str = HUB_IMAGE) -> list[dict[str, Any]]:
    """The family pages: `python -m connected_learning.showcase.service`, pages read-only, as clhub-showcase.

    `reader_gid`: the gid of the group "clhub-showcase" in the hub's gid table, to which the
    classroom gives each published page (showcase/publish.py `reader_gid`).
    """
    port = settings.showcase_port
    pages = Path(settings.data_dir) / "showcase" / "pages"
    env = [
        *_hub_service_env("showcase", port, settings, token=False),
        *_env(
            {"CLHUB_SHOWCASE_PAGES": str(pages), "CLHUB_PUBLIC_URL": settings.public_url, "CLHUB_HOST": "kubernetes"}
        ),
    ]
    container = _container("showcase", image, "connected_learning.showcase.service", port, env, 256, 0.5)
    container["securityContext"] = _security(SERVICE_IDS["clhub-showcase"])
    container["volumeMounts"] = [
        {"name": "tmp", "mountPath": "/tmp"},
        _shared(settings, "showcase/pages", read_only=True),
    ]
    deployment = _deployment(
        "clhub-showcase", "showcase", settings, container, _volumes(settings), groups=(reader_gid,)
    )
    return [deployment, _service("clhub-showcase", "showcase", port, settings)]


def showcase_live(settings: SiteSettings, live_gid: int, image: str = HUB_IMAGE) -> list[dict[str, Any]]:
    """The "Play with it" service: `python -m connected_learning.showcase.live`, as clhub-live.

    The live copies are mounted read-only. `live_gid`: the gid of the group "clhub-live" in the
    hub's gid table (publish.py `live_gid`).

    Its memory is every live kernel's limit plus Voila's own (about 100 MB); the kernels run in
    this pod, each in a bubblewrap fence (as clhub-live itself: no uid to drop to), under the
    fence's node profiles; the pod's network policy, which allows no egress, is theirs too.
    """
    port = settings.showcase_live_port
    env = [
        *_hub_service_env("showcase-live", port, settings, token=False),
        *_env(
            {
                "CLHUB_SHOWCASE_LIVE": str(Path(settings.data_dir) / "showcase" / "live"),
                "CLHUB_LIVE_KERNELS": str(settings.live_kernels),
                "CLHUB_LIVE_MEMORY_MB": str(settings.live_kernel_memory_mb),
                "CLHUB_LIVE_IDLE_SECONDS": str(settings.live_idle_minutes * 60),
                "CLHUB_LIVE_PREHEAT": str(settings.live_preheat),
                "CLHUB_HOST": "kubernetes",
            }
        ),
    ]
    # Kernels' address-space limits are larger than what they touch: count 400 MB each (a bare
    # kernel reserves about 350), never more than their limit.
    memory = 256 + settings.live_kernels * min(400, settings.live_kernel_memory_mb)
    container = _container("showcase-live", image, "connected_learning.showcase.live", port, env, memory, 1.0)
    container["securityContext"] = _security(SERVICE_IDS["clhub-live"], fence=True)
    container["volumeMounts"] = [
        {"name": "tmp", "mountPath": "/tmp"},
        _shared(settings, "showcase/live", read_only=True),
    ]
    deployment = _deployment(
        "clhub-showcase-live", "showcase-live", settings, container, _volumes(settings), groups=(live_gid,), fence=True
    )
    return [deployment, _service("clhub-showcase-live", "showcase-live", port, settings)]


# ------------------------------------------------------------------ network policies

# z2jh's pods, by the labels its chart gives them (`app: jupyterhub` and the component).
PROXY_PODS = {"matchLabels": {"app": "jupyterhub", "component": "proxy"}}
HUB_PODS = {"matchLabels": {"app": "jupyterhub", "component": "hub"}}
LEARNER_PODS = {"matchLabels": {"app": "jupyterhub", "component": "singleuser-server"}}
DNS_PEERS = [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
DNS_PORTS = [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]


def _policy(name: str, part: str, settings: SiteSettings, ingress: list[Any], egress: list[Any]) -> dict[str, Any]:
    """A policy for `part`'s pods: only `ingress` comes in, only `egress` goes out (empty: nothing)."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, part, settings),
        "spec": {
            "podSelector": {"matchLabels": labels(part)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    }


def network_policies(settings: SiteSettings) -> list[dict[str, Any]]:
    """Who may reach whom (learners' pods: z2jh's singleuser.networkPolicy in values.yaml).

    - the family-facing showcases: in from the proxy only; out, nothing (the live kernels are
      in that pod: they reach nothing);
    - the classroom: in from the proxy, the hub and learners' servers (reports and showcase
      proposals call it with the server's token, `CLHUB_CLASSROOM_URL`); out to the hub's API,
      to DNS (it finds the hub by name) and to PostgreSQL (it writes passwords to the hub's
      database). Grading's kernels run in the classroom's pod, each in a fence with no network
      at all (a network namespace of its own), whatever the pod may reach.
    """

    def from_peers(peers: list[dict[str, Any]], port: int) -> list[dict[str, Any]]:
        return [{"from": peers, "ports": [{"protocol": "TCP", "port": port}]}]

    def family(part: str, port: int) -> dict[str, Any]:
        return _policy(f"clhub-{part}", part, settings, from_peers([{"podSelector": PROXY_PODS}], port), [])

    peers = [{"podSelector": PROXY_PODS}, {"podSelector": HUB_PODS}, {"podSelector": LEARNER_PODS}]
    classroom_out = [
        {"to": [{"podSelector": HUB_PODS}], "ports": [{"protocol": "TCP", "port": 8081}]},
        {"to": DNS_PEERS, "ports": DNS_PORTS},
        {"ports": [{"protocol": "TCP", "port": POSTGRES_PORT}]},
    ]
    return [
        family("showcase", settings.showcase_port),
        family("showcase-live", settings.showcase_live_port),
        _policy("clhub-classroom", "classroom", settings, from_peers(peers, settings.classroom_port), classroom_out),
    ]


def site_configmap(settings: SiteSettings) -> dict[str, Any]:
    """The ConfigMap of the site settings file, mounted at SITE_MOUNT in the hub and the classroom."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": _meta(SITE_CONFIGMAP, "site", settings),
        "data": {"site.toml": Path(settings.source).read_text(encoding="utf-8")},
    }


def manifests(
    settings: SiteSettings,
    service_gids: dict[str, int],
    image: str = HUB_IMAGE,
) -> list[dict[str, Any]]:
    """Every object of the site beside z2jh's, in the order `kubectl apply` wants them.

    Args:
        settings: the site settings (checked with `check_kubernetes_settings`).
        service_gids: the gids of "clhub-showcase" and "clhub-live" in the hub's gid table.
        image: the hub image, which the services run.
    Raises:
        SettingsError: a name Kubernetes would refuse.
    """
    check_kubernetes_settings(settings)
    check_image(image, "the hub image")
    objects = [
        site_configmap(settings),
        *classroom(settings, image),
        *showcase(settings, service_gids[SHOWCASE_GROUP], image),
    ]
    if settings.showcase_live:
        objects += showcase_live(settings, service_gids[LIVE_GROUP], image)
    objects += network_policies(settings)
    return objects
