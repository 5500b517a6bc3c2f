"""Preparing a site before its hub starts: everything with a side effect, in one step.

`config.configure` only sets configuration; what must exist on disk and in the system's
accounts for that configuration to work is made here, by `launch.start_hub` (so by
`clhub up`, `clhub demo`, the tests and the benchmarks alike), before the hub process
starts. Every step may run again: it creates what is missing and repairs modes.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from ..host import disks
from ..host.base import Host
from ..paths import DataLayout
from ..settings import SiteSettings
from ..showcase import publish

PROXY_TOKEN = "proxy_token"  # in <data>/hub/: the proxy's API token, kept across restarts


def secret_file(path: Path, nbytes: int = 32) -> str:
    """Read a secret kept in `path`, creating it (mode 0600) the first time."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(nbytes))
    return path.read_text().strip()


def prepare_site(settings: SiteSettings, host: Host) -> None:
    """The data folder, the proxy's secret, the services' system users and the showcase folders."""
    layout = DataLayout(settings.data_dir)
    layout.create()
    secret_file(layout.hub / PROXY_TOKEN)
    # Only the system host makes learners' disks; a smaller disk_mb is refused here, before anyone starts.
    disks.check_no_shrink(layout.disks, settings.disk_mb)
    for note in disks.mount_all(layout.disks):  # after a reboot: every home shows its files again
        print(f"Connected Learning Hub: {note}", file=sys.stderr)
    host.ensure_service_user(publish.SHOWCASE_USER)
    publish.prepare_folders(settings.data_dir, publish.reader_gid(host))
    if settings.showcase_live:
        host.ensure_service_user(publish.LIVE_USER)
        publish.prepare_live_folder(settings.data_dir, publish.live_gid(host))
