"""`clhub kubernetes manifests`: the site's objects beside z2jh's, as YAML for `kubectl apply -f -`.

    clhub kubernetes manifests [--site FILE] [--hub-image IMAGE]

Prints the ConfigMap of the site settings, the classroom, showcase and live showcase
Deployments and Services, and their network policies (`kube_services.py` builds them all).
Grading needs no object of its own: it runs in the classroom's pod, as on one machine.

Ids: the showcases' pods read what the classroom publishes through the groups "clhub-showcase"
and "clhub-live" of the hub's gid table (`uids.py`), so this command gives those two groups
their gids in the hub's database when they have none (site-wide groups, not people: unlike
`clhub kubernetes pod`, which only reads). The database is the site's
(`[site] db_url` or CLHUB_DB_URL, with PGPASSWORD): run this where it is reachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML: jupyter_events (jupyter_server) needs it

from ..settings import DEFAULT_SITE, SiteSettings, env_overrides, load_settings
from . import kube_services, uids
from .database import engine_for


def gids(settings: SiteSettings) -> dict[str, int]:
    """The showcases' group gids, given now where missing.

    Raises:
        DatabaseError: the hub database cannot be opened (password hidden).
    """
    engine = engine_for(settings.database_url)
    try:
        return uids.group_gids(engine, [kube_services.SHOWCASE_GROUP, kube_services.LIVE_GROUP], settings.first_gid)
    finally:
        engine.dispose()


def render(objects: list[dict[str, Any]]) -> str:
    """The objects as one YAML stream, in order."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def cmd_manifests(args: argparse.Namespace) -> int:
    settings = load_settings(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE, env_overrides())
    kube_services.check_kubernetes_settings(settings)
    kube_services.check_image(args.hub_image, "--hub-image")
    objects = kube_services.manifests(settings, gids(settings), args.hub_image)
    sys.stdout.write(render(objects))
    return 0


def add_command(kubernetes: Any) -> None:
    """`manifests` in the `kubernetes` command group (`kube_cli.add_commands`)."""
    p = kubernetes.add_parser(
        "manifests", help="print the services and their network policies as YAML (kubectl apply -f -)"
    )
    p.add_argument("--site", help="settings file (default: CLHUB_SITE or hub_config/site.toml in this folder)")
    p.add_argument(
        "--hub-image",
        default=kube_services.HUB_IMAGE,
        help=f"the hub image the services run (default {kube_services.HUB_IMAGE})",
    )
    p.set_defaults(func=cmd_manifests)
