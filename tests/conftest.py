"""Fixtures that start the real thing: a hub with its proxy and spawner, real system users.

`make_hub` (module scope) starts hubs through `realhub.launch_hub` and tears every one of
them down at the end of the module: servers, hub, proxy, system users and groups.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from postgres import postgres_server  # noqa: F401 (a fixture: a throwaway PostgreSQL server)
from realhub import ARTIFACTS, PASSWORD, REPO, RunningHub, free_port, free_ports, launch_hub, teardown_hub

__all__ = ["PASSWORD", "REPO", "RunningHub", "free_port", "free_ports"]


def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("creates real system users: run as root (make test does in CI)")


@pytest.fixture(scope="module")
def make_hub() -> Iterator:
    """Factory: make_hub({"ana": ("student", ["class"])}, spawner="local", own_catalog=False).

    subdomains=False starts the same-origin layout (every server under the hub's host);
    host="hub.localhost" a real site's layout (see realhub.launch_hub); limits="memory_mb = 256"
    adds lines to the site's [limits] section.
    """
    hubs: list[RunningHub] = []

    def factory(
        users: dict[str, tuple[str, list[str]]],
        spawner: str = "local",
        own_catalog: bool = False,
        extra_settings: str = "",
        subdomains: bool = True,
        host: str = "localhost",
        limits: str = "",
        https_front: bool = False,
    ) -> RunningHub:
        if spawner == "local":
            needs_root()
        hub = launch_hub(
            users,
            spawner=spawner,
            own_catalog=own_catalog,
            extra_settings=extra_settings,
            subdomains=subdomains,
            host=host,
            limits=limits,
            https_front=https_front,
        )
        hubs.append(hub)
        return hub

    yield factory
    for hub in hubs:
        teardown_hub(hub)


@contextlib.contextmanager
def one_demo_at_a_time() -> Iterator[None]:
    """Hold while a `clhub demo` runs: every demo listens on the demo's fixed internal ports (the
    hub's 8081, the classroom's 8082, ...) and, run as root, has the system users ana, ben, ...
    So the test files that start one take turns, across xdist's workers too."""
    with open("/tmp/clhub-tests-demo.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless Debian Chromium as root, with nothing reaching out to the closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
]


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium, driven by Playwright (launched with executable_path)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_logged_in(browser, hub: RunningHub, short: str, width: int = 1280, height: int = 800):  # noqa: ANN201
    """A new page on which learner `short` has just logged in through the hub's form."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", hub.name(short))
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    return page
