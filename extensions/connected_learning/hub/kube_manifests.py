"""`clhub kubernetes manifests`: the site's objects beside z2jh's, as YAML for `kubectl apply -f -`.

    clhub kubernetes manifests [--site FILE] [--hub-image IMAGE] [--grading GROUP ASSIGNMENT]

Prints the ConfigMap of the site settings, the classroom, showcase and live showcase
Deployments and Services, their network policies and, with --grading, the Job that grades one
assignment of one course (`kube_services.py` builds them all).

Ids: the showcases' pods read what the classroom publishes through the groups "clhub-showcase"
and "clhub-live" of the hub's gid table (`uids.py`), so this command gives those two groups
their gids in the hub's database when they have none (site-wide groups, not people: unlike
`clhub kubernetes pod`, which only reads). A grading Job needs the gid the course's teachers
already have; a group the hub has not met is refused. The database is the site's
(`[site] db_url` or CLHUB_DB_URL, with PGPASSWORD): run this where it is reachable.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

import yaml  # type: ignore[import-untyped]  # PyYAML: jupyter_events (jupyter_server) needs it

from ..host import system_users
from ..settings import DEFAULT_SITE, SettingsError, SiteSettings, env_overrides, load_settings
from . import kube_services, uids
from .database import engine_for


def gids(settings: SiteSettings, teachers_of: str | None = None) -> tuple[dict[str, int], int | None]:
    """(the showcases' group gids, given now where missing; the gid of `teachers_of`'s teachers or None).

    Raises:
        DatabaseError: the hub database cannot be opened (password hidden).
        SettingsError: `teachers_of` is a group the hub has not given a gid yet.
    """
    engine = engine_for(settings.database_url)
    try:
        service = uids.group_gids(engine, [kube_services.SHOWCASE_GROUP, kube_services.LIVE_GROUP], settings.first_gid)
        if teachers_of is None:
            return service, None
        name = system_users.system_group_name(system_users.TEACH_PREFIX, teachers_of)
        found = uids.known(engine, uids.GROUP, [name])
    finally:
        engine.dispose()
    if name not in found:
        raise SettingsError(
            f"The group {teachers_of!r} has no teachers' gid in the hub database yet: import its class list "
            "(or start a teacher's server) first, then print its grading Job again."
        )
    return service, found[name]


def render(objects: list[dict[str, Any]]) -> str:
    """The objects as one YAML stream, in order."""
    return yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)


def cmd_manifests(args: argparse.Namespace) -> int:
    settings = load_settings(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE, env_overrides())
    kube_services.check_kubernetes_settings(settings)
    kube_services.check_image(args.hub_image, "--hub-image")
    grading = None
    service_gids, teachers_gid = gids(settings, args.grading[0] if args.grading else None)
    if args.grading:
        group, assignment = args.grading
        assert teachers_gid is not None
        grading = (group, assignment, teachers_gid)
    objects = kube_services.manifests(settings, service_gids, args.hub_image, grading)
    sys.stdout.write(render(objects))
    return 0


def add_command(kubernetes: Any) -> None:
    """`manifests` in the `kubernetes` command group (`kube_cli.add_commands`)."""
    p = kubernetes.add_parser(
        "manifests", help="print the services, their network policies and grading Jobs as YAML (kubectl apply -f -)"
    )
    p.add_argument("--site", help="settings file (default: CLHUB_SITE or hub_config/site.toml in this folder)")
    p.add_argument(
        "--hub-image",
        default=kube_services.HUB_IMAGE,
        help=f"the hub image the services run (default {kube_services.HUB_IMAGE})",
    )
    p.add_argument(
        "--grading", nargs=2, metavar=("GROUP", "ASSIGNMENT"), help="also print the Job grading this assignment"
    )
    p.set_defaults(func=cmd_manifests)
