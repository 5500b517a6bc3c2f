"""Which host this site is: chosen once when the hub starts, then passed down by name.

`for_site` decides from the settings (`[site] spawner`: "local" is the system host, "demo"
the same-user host, "auto" the system host when the hub runs as root); the hub puts the
name in the environment of its services and of every learner's server (`CLHUB_HOST`), where
`current` finds the same host again. A process started without it (a tool run by hand)
decides as the hub would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import ClhubError
from .base import HOST_VARIABLE, Host
from .same_user import SameUserHost
from .system import SystemHost

HOSTS: dict[str, type[Host]] = {h.name: h for h in (SystemHost, SameUserHost)}
BY_SPAWNER = {"local": SystemHost.name, "demo": SameUserHost.name}


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
        raise HostError(f"spawner = {spawner!r} is not known; use auto, local or demo.")
    return _make(BY_SPAWNER[spawner], data_dir)


def current(data_dir: str | os.PathLike[str] = "", environ: Mapping[str, str] | None = None) -> Host:
    """The host the hub chose, from the environment it gave this process."""
    environ = os.environ if environ is None else environ
    data_dir = data_dir or environ.get("CLHUB_DATA_DIR", "")
    name = environ.get(HOST_VARIABLE)
    return _make(name, data_dir) if name else for_site("auto", data_dir)
