"""Which host this site is: chosen once when the hub starts, then passed down by name.

`for_site` decides from the settings (`[site] spawner`: "local" is the system host, "demo"
the same-user host, "kubernetes" a pod per learner, "auto" the system host when the hub runs
as root; `for_settings` also gives the Kubernetes host the site's database and first ids); the hub puts the
name in the environment of its services and of every learner's server (`CLHUB_HOST`), where
`current` finds the same host again. A process started without it (a tool run by hand)
decides as the hub would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ClhubError
from ..settings import SiteSettings
from .base import HOST_VARIABLE, Host
from .kubernetes import KubernetesHost
from .same_user import SameUserHost
from .system import SystemHost

HOSTS: dict[str, type[Host]] = {h.name: h for h in (SystemHost, SameUserHost, KubernetesHost)}
BY_SPAWNER = {"local": SystemHost.name, "demo": SameUserHost.name, "kubernetes": KubernetesHost.name}


class HostError(ClhubError):
    code = "host"


def _make(name: str, data_dir: str | os.PathLike[str]) -> Host:
    try:
        return HOSTS[name](Path(data_dir))
    except KeyError:
        raise HostError(f"{HOST_VARIABLE}={name!r} is not a host; known: {', '.join(HOSTS)}.") from None


def for_site(spawner: str, data_dir: str | os.PathLike[str]) -> Host:
    """The host the settings ask for; `spawner` is the `[site] spawner` setting."""
    if spawner == "auto":
        return _make(SystemHost.name if os.geteuid() == 0 else SameUserHost.name, data_dir)
    if spawner not in BY_SPAWNER:
        raise HostError(f"spawner = {spawner!r} is not known; use auto, local, demo or kubernetes.")
    return _make(BY_SPAWNER[spawner], data_dir)


def for_settings(settings: SiteSettings) -> Host:
    """`for_site` for these settings; a Kubernetes host also learns the database and the first ids."""
    if settings.spawner == "kubernetes":
        return KubernetesHost(
            settings.data_dir, settings.database_url, first_uid=settings.first_uid, first_gid=settings.first_gid
        )
    return for_site(settings.spawner, settings.data_dir)


def current(data_dir: str | os.PathLike[str] = "", environ: Mapping[str, str] | None = None) -> Host:
    """The host the hub chose, from the environment it gave this process."""
    environ = os.environ if environ is None else environ
    data_dir = data_dir or environ.get("CLHUB_DATA_DIR", "")
    name = environ.get(HOST_VARIABLE)
    return _make(name, data_dir) if name else for_site("auto", data_dir)
