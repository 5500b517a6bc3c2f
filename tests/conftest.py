"""Fixtures that start the real thing: a hub with its proxy and spawner, real system users.

`make_hub` (module scope) starts hubs through `realhub.launch_hub` and tears every one of
them down at the end of the module: servers, hub, proxy, system users and groups.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from realhub import ARTIFACTS, PASSWORD, REPO, RunningHub, free_port, launch_hub, teardown_hub

__all__ = ["PASSWORD", "REPO", "RunningHub", "free_port"]


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("creates real system users: run as root (make test does in CI)")


@pytest.fixture(scope="module")
def make_hub() -> Iterator:
    """Factory: make_hub({"ana": ("student", ["class"])}, spawner="local", own_catalog=False)."""
    hubs: list[RunningHub] = []

    def factory(users: dict[str, tuple[str, list[str]]], spawner: str = "local",
                own_catalog: bool = False, extra_settings: str = "") -> RunningHub:
        if spawner == "local":
            needs_root()
        hub = launch_hub(users, spawner=spawner, own_catalog=own_catalog, extra_settings=extra_settings)
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        teardown_hub(hub)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
