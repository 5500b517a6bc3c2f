"""Starting and stopping a hub process: one way for `clhub`, the tests and the benchmarks.

The hub runs the package's `hub/jupyterhub_config.py` in its own process group with SIGINT
restored to the default (a hub started from a background shell otherwise passes an
ignored SIGINT to its services and waits 30 s for each at shutdown). `stop_hub` sends
SIGTERM and, after a grace period, kills the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from ..host import start_template
from ..host.current import for_site
from ..settings import env_overrides, load_settings
from . import template
from .prepare import prepare_site
from .recovery import SITE_MARKER, check_ports, site_marker, stop_leftovers

HUB_CONFIG = Path(__file__).resolve().parent / "jupyterhub_config.py"


def _restore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def hub_command(config: Path = HUB_CONFIG) -> list[str]:
    return [str(Path(sys.executable).parent / "jupyterhub"), "-f", str(config)]


def start_hub(
    site_file: str | os.PathLike[str],
    mode: str,
    *,
    cwd: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    log: IO[bytes] | int | None = None,
    new_session: bool = True,
    config: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Prepare the site (`prepare.prepare_site`), then start its hub in `mode` ("site" or
    "demo") and return the process.

    Leftovers of this site's previous hub (proxy, services) are stopped first, and a port
    that something else holds stops the start with a message (`recovery`).
    """
    full_env = dict(os.environ if env is None else env)
    settings = load_settings(site_file, env_overrides(full_env))
    # A hub killed outright leaves its proxy and services holding the ports: stop this site's.
    stopped = stop_leftovers(settings.data_dir)
    check_ports(settings, wait=10 if stopped else 0)
    host = for_site(settings.spawner, settings.data_dir)
    prepare_site(settings, host)
    if start_template.wanted(settings.start_template, host.name):
        # Loading JupyterLab takes the template a few seconds: while the hub starts, not as a learner waits.
        template.start_early(
            template.socket_path(settings.data_dir), str(Path(sys.executable).parent / template.SINGLEUSER)
        )
    full_env["CLHUB_SITE"] = str(site_file)
    full_env[SITE_MARKER] = site_marker(settings.data_dir)  # the proxy inherits it
    full_env["CLHUB_MODE"] = mode
    return subprocess.Popen(
        hub_command(config or HUB_CONFIG),
        cwd=cwd,
        env=full_env,
        stdout=log,
        stderr=subprocess.STDOUT if log else None,
        preexec_fn=_restore_sigint,
        start_new_session=new_session,
    )


def wait_for_hub(url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60) -> None:
    """Wait until the hub answers at `url` (its public address); raise if it died or never did."""
    deadline = time.monotonic() + timeout
    api = url.rstrip("/") + "/hub/api/"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"The hub exited with code {proc.returncode} while starting.")
        try:
            with urllib.request.urlopen(api, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"The hub did not answer at {api} within {timeout:.0f} s.")


def _stop_leftover_proxy(pid_file: Path) -> None:
    """Stop the proxy named in `pid_file` if the hub exited without stopping it."""
    try:
        pid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if b"configurable-http-proxy" in cmdline:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def stop_hub(proc: subprocess.Popen[bytes], proxy_pid_file: Path | None = None, grace: float = 20) -> None:
    """Stop the hub (and, in demo mode, everything it started) within `grace` seconds.

    Must not be called from a signal handler while another thread or frame waits on
    `proc` (Popen.wait is not re-entrant); `clhub` only sets a flag in its handler.
    """
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    if proxy_pid_file is not None:
        _stop_leftover_proxy(proxy_pid_file)
