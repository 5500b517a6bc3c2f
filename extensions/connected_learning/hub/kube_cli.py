"""`clhub kubernetes pod`: a learner's pod as JSON, offline, for an operator to review.

    clhub kubernetes pod --user ana --group class-a [--group G2 ...] [--teacher-of G] [--site FILE]

The pod is KubeSpawner's own (`get_pod_manifest`) from the project's spawner with the site's
settings (`kube_spawner.apply_settings`), so what is printed is what the hub would ask the
cluster for. No cluster and no hub run: KubeSpawner loads a kubeconfig when it is made, so it
gets a dummy one (a temporary file named by KUBECONFIG; nothing is ever contacted), and it is
made inside a running event loop, as the hub makes it (`dummy_kubeconfig`). The user is a stand-in with the name,
groups and roles the options give: a real JupyterHub user object needs a running hub and its
database session, and the pod depends on nothing else of it.

Ids: the command only reads. It shows the uid and gids the site's hub database already gave
(`[site] db_url`, else SQLite in the data folder); for a learner or a group the hub has not met
yet, the ids the next allocation would give, and says so on stderr. Allocating them into a
real site's database from a review command would take ids for people who may never exist.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ClhubError
from ..host import system_users
from ..settings import DEFAULT_SITE, SiteSettings, env_overrides, load_settings, validate_username

DUMMY_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "offline", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "offline", "user": {"token": "offline"}}],
    "contexts": [{"name": "offline", "context": {"cluster": "offline", "user": "offline"}}],
    "current-context": "offline",
}


class PodError(ClhubError):
    code = "kubernetes-pod"


@dataclass(frozen=True)
class _Named:
    name: str


@dataclass
class StandInUser:
    """What KubeSpawner and the mixin read of a JupyterHub user, for a pod made without a hub."""

    name: str
    groups: list[_Named] = field(default_factory=list)
    roles: list[_Named] = field(default_factory=list)
    id: int = 0
    url: str = ""
    escaped_name: str = ""
    spawners: dict[str, Any] = field(default_factory=dict)


@dataclass
class StandInHub:
    public_host: str = ""
    url: str = "http://hub:8081/hub/"
    base_url: str = "/hub/"
    api_url: str = "http://hub:8081/hub/api"


def check_names(user: str, groups: list[str], teaches: list[str]) -> None:
    """Refuse a name no hub account or group can have, naming it (the edge of this command)."""
    try:
        validate_username(user)
    except ClhubError:
        raise PodError(
            f"{user[:40]!r} is not a valid user name: use 1-31 lowercase letters, digits, '-' or '_', "
            "starting with a letter (no spaces, dots or slashes)."
        ) from None
    for group in [*groups, *teaches]:
        try:
            validate_username(group)
        except ClhubError:
            raise PodError(
                f"{group[:40]!r} is not a valid group name: use 1-31 lowercase letters, digits, '-' or '_', "
                "starting with a letter (no slashes or dots)."
            ) from None
        for prefix in (system_users.TEACH_PREFIX,) if group in teaches else ("clhub-",):
            system_users.system_group_name(prefix, group)  # its gid's name must fit too (SystemUserError)


async def _manifest(settings: SiteSettings, user: StandInUser) -> tuple[dict[str, Any], list[str]]:
    from kubernetes_asyncio.client import ApiClient
    from sqlalchemy import create_engine
    from tornado.web import HTTPError
    from traitlets.config import Config

    from ..catalog.load import CatalogError
    from . import database, uids
    from .kube_spawner import KubeWorkbookSpawner, apply_settings

    c = Config()
    apply_settings(c, settings)
    url = settings.database_url
    sqlite = database.sqlite_file(url)
    if sqlite is not None and not sqlite.is_file():
        engine = create_engine("sqlite://")  # no hub database yet: nobody has an id, an empty one says so
    else:
        engine = database.engine_for(url)
    try:
        spawner = KubeWorkbookSpawner(config=c, user=user, hub=StandInHub())
        spawner.ids_engine = engine
        spawner.allocate_ids = False
        notes = []
        try:
            spawner.release_picks = spawner.picks()
        except (OSError, CatalogError, HTTPError) as e:  # e.g. a catalog_dir that is a path in the hub image
            spawner.release_picks = []
            notes.append(
                f"The workbook catalog cannot be read here ({e}): the delivery step is shown without its workbooks."
            )
        pod = await spawner.get_pod_manifest()
        await spawner.api.api_client.close()
        ids = spawner.learner_ids()
        if not uids.known(engine, uids.USER, [ids.user]):
            notes.append(f"{ids.user} has no uid yet: {ids.uid} is the one the hub would give now.")
        groups = [spawner.system_group_prefix + g for g in ids.groups]
        groups += [system_users.system_group_name(system_users.TEACH_PREFIX, g) for g in ids.teaching]
        missing = sorted(set(groups) - set(uids.known(engine, uids.GROUP, groups)))
        if missing:
            notes.append(f"No gid yet for {', '.join(missing)}: shown are those the hub would give now.")
    finally:
        engine.dispose()
    async with ApiClient() as api:
        return api.sanitize_for_serialization(pod), notes


def learner_pod(
    settings: SiteSettings, user: str, groups: list[str], teaches: list[str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The learner's pod as the hub would make it, and notes on ids not given yet."""
    teaches = teaches or []
    check_names(user, groups, teaches)
    stand_in = StandInUser(
        user,
        groups=[_Named(g) for g in sorted(set(groups))],
        roles=[_Named(f"teacher-{g}") for g in teaches],
    )
    before = os.environ.get("KUBECONFIG")
    os.environ["KUBECONFIG"] = dummy_kubeconfig()
    try:
        return asyncio.run(_manifest(settings, stand_in))
    finally:
        if before is None:
            os.environ.pop("KUBECONFIG", None)
        else:
            os.environ["KUBECONFIG"] = before


def dummy_kubeconfig() -> str:
    """A kubeconfig naming no reachable cluster, for this process's lifetime.

    It must outlive one call: KubeSpawner loads the configuration once per process. And
    kubernetes_asyncio reads KUBECONFIG when it is first imported: in a process that imported
    it before (the hub's spawner module, another command), its default is pointed here too.
    """
    global _kubeconfig
    if _kubeconfig is None or not _kubeconfig.is_file():
        folder = Path(tempfile.mkdtemp(prefix="clhub-kubeconfig-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _kubeconfig = folder / "config"
        _kubeconfig.write_text(json.dumps(DUMMY_KUBECONFIG))
    loaded = sys.modules.get("kubernetes_asyncio.config.kube_config")
    if loaded is not None:
        loaded.KUBE_CONFIG_DEFAULT_LOCATION = str(_kubeconfig)  # type: ignore[attr-defined]
    return str(_kubeconfig)


_kubeconfig: Path | None = None


def cmd_pod(args: argparse.Namespace) -> int:
    site = Path(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE)
    settings = load_settings(site, env_overrides())
    pod, notes = learner_pod(settings, args.user, args.group or [], args.teacher_of or [])
    for note in notes:
        print(note, file=sys.stderr)
    print(json.dumps(pod, indent=1, sort_keys=True))
    return 0


def add_commands(sub: Any) -> None:
    """The `kubernetes` command group of `clhub`."""
    kubernetes = sub.add_parser("kubernetes", help="a site on Kubernetes").add_subparsers(dest="what", required=True)
    p = kubernetes.add_parser("pod", help="print a learner's pod as JSON (offline: no cluster needed)")
    p.add_argument("--user", required=True, help="the learner's hub user name")
    p.add_argument("--group", action="append", help="a hub group of the learner (repeat for several)")
    p.add_argument("--teacher-of", action="append", help="a group the user teaches (repeat for several)")
    p.add_argument("--site", help="settings file (default: CLHUB_SITE or hub_config/site.toml in this folder)")
    p.set_defaults(func=cmd_pod)
    from .kube_manifests import add_command as add_manifests_command  # helper C's `manifests`

    add_manifests_command(kubernetes)
