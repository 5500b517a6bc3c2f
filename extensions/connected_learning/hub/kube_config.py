"""The hub's configuration on Kubernetes: what z2jh's `hub.extraConfig` runs in our hub image.

    hub:
      extraConfig:
        clhub: |
          from connected_learning.hub.kube_config import configure_kubernetes
          configure_kubernetes(c)

z2jh's own jupyterhub_config.py has already set what belongs to the chart (the proxy's
address, the hub's bind and connect URLs, the cookie secret, the namespace, the image pull
secrets); this sets the rest from the site settings file (CLHUB_SITE, mounted from the
ConfigMap `clhub-site`), with the same functions `hub/config.py` uses on one machine:
log-in and sessions, the workbook spawner's traits and limits, the pages, the roles, the idle
culler. What differs: the hub database comes from the Secret `clhub-db` (CLHUB_DB_URL,
PGPASSWORD), the spawner is `KubeWorkbookSpawner` with its traits from `kube_spawner.apply_settings`,
and the services are not started by the hub but registered by the URL of their Deployments
(`kube_services.py`), the classroom with the token z2jh generated for it (values.yaml's
`hub.services.classroom`, passed in as CLHUB_CLASSROOM_TOKEN).
"""

from __future__ import annotations

import os
from typing import Any

from ..host.current import for_settings
from ..paths import DataLayout
from ..settings import SettingsError, SiteSettings, env_overrides, load_settings
from . import kube_services
from .config import check_site, configure_addresses, configure_login, configure_pages, services_and_roles
from .database import describe, driver_url, is_postgres

SITE_FILE = f"{kube_services.SITE_MOUNT}/site.toml"
TOKEN_VARIABLES = {"classroom": "CLHUB_CLASSROOM_TOKEN"}  # services that call the hub, and their token's variable
# The idle culler runs in the hub's pod: it reaches the hub on its own address, not through the
# `hub` Service (z2jh's culler does the same).
LOCAL_HUB_API = "http://localhost:8081/hub/api"


def registered_by_url(service: dict[str, Any], settings: SiteSettings, environ: dict[str, str]) -> dict[str, Any]:
    """A service as the hub starts it on one machine, turned into one the hub only knows by URL.

    The idle culler stays a process of the hub's pod. Every other service keeps its name and
    what the hub shows of it, loses the command, user and environment it had on one machine,
    and gets the URL of its Kubernetes Service (and its token, for one that calls the hub).

    Raises:
        SettingsError: a service that calls the hub has no token in `environ`.
    """
    name = service["name"]
    if "url" not in service:  # the idle culler: a command in the hub's pod
        return {**service, "command": [*service["command"], f"--url={LOCAL_HUB_API}"]}
    ports = {
        "classroom": settings.classroom_port,
        "showcase": settings.showcase_port,
        "showcase-live": settings.showcase_live_port,
    }
    registered: dict[str, Any] = {
        key: service[key] for key in ("name", "display", "oauth_no_confirm") if key in service
    }
    registered["url"] = kube_services.service_url(name, ports[name])
    if name in TOKEN_VARIABLES:
        token = environ.get(TOKEN_VARIABLES[name], "")
        if not token:
            raise SettingsError(
                f"{TOKEN_VARIABLES[name]} is empty: the hub cannot let the {name} service in. values.yaml "
                f'passes z2jh\'s generated token (Secret "hub", key "hub.services.{name}.apiToken"); keep '
                f"hub.services.{name} and that hub.extraEnv entry."
            )
        registered["api_token"] = token
    return registered


def configure_kubernetes(c: Any, site_file: str | None = None, environ: dict[str, str] | None = None) -> SiteSettings:
    """Apply the site settings to z2jh's config object `c`; return them.

    Args:
        c: the `c` of z2jh's jupyterhub_config.py (or any traitlets Config).
        site_file: the settings file; default CLHUB_SITE, else /etc/clhub/site.toml.
        environ: where CLHUB_DB_URL and the services' tokens are read; default os.environ.
    Raises:
        SettingsError: a bad settings file, a spawner other than "kubernetes", a name
            Kubernetes refuses, or a missing service token.
    """
    from .kube_spawner import apply_settings  # imports KubeSpawner: only where the hub runs on Kubernetes

    env = dict(os.environ if environ is None else environ)
    site_file = site_file or env.get("CLHUB_SITE") or SITE_FILE
    settings = load_settings(site_file, env_overrides(env))
    if settings.spawner != "kubernetes":
        raise SettingsError(
            f'{settings.source}: site.spawner = "{settings.spawner}", but this hub runs on Kubernetes: '
            'set spawner = "kubernetes" in the site settings of the ConfigMap clhub-site.'
        )
    check_site(settings)
    kube_services.check_kubernetes_settings(settings)
    if not is_postgres(settings.database_url):
        raise SettingsError(
            f"The hub on Kubernetes keeps its state in PostgreSQL, not {describe(settings.database_url)!r} (SQLite on "
            "a shared NFS volume loses writes): make the Secret clhub-db with the database's url and password "
            '(README, "Running on Kubernetes"); values.yaml passes it as CLHUB_DB_URL.'
        )
    layout = DataLayout(settings.data_dir)

    c.JupyterHub.db_url = driver_url(settings.database_url)
    configure_addresses(c, settings)  # as on one machine: each learner's server on its own origin
    c.JupyterHub.cleanup_servers = False  # learners' pods outlive a hub restart

    configure_login(c, settings, layout)
    # z2jh sends a spawning learner to the progress page at once; keep that beside our headers.
    c.JupyterHub.tornado_settings = {**c.JupyterHub.tornado_settings, "slow_spawn_timeout": 0}

    c.JupyterHub.spawner_class = "workbook-kubernetes"
    apply_settings(c, settings)
    classroom_url = kube_services.service_url("classroom", settings.classroom_port)

    host = for_settings(settings)
    configure_pages(c, settings, host)

    services, roles = services_and_roles(settings, host, layout, classroom_url)
    c.JupyterHub.services = [registered_by_url(service, settings, env) for service in services]
    c.JupyterHub.load_roles = roles
    # The hub checks every service's URL each minute; the family-facing ones admit the proxy
    # alone (kube_services.network_policies), so the check would only fill the log.
    c.JupyterHub.service_check_interval = 0
    return settings
