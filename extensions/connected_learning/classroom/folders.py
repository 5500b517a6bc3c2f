"""The classroom service keeps every hub group's folders in shape.

At start and every `sweep_seconds` it creates or repairs the peer-review folder of every
hub group (`peer_review.folders.apply_group`) with its system group first, and writes the
group's display names there for its members to read. A class-list import does the same at
once for the groups it touched. The folder work runs in a thread; making a system group is
the host's (asynchronous) business.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping

from tornado import web
from tornado.httpclient import HTTPClientError

from ..accounts.store import read_display_names
from ..errors import ClhubError
from ..host import system_users
from ..host.base import Host
from ..paths import DataLayout
from ..peer_review import folders as peer_folders
from ..peer_review import moderation
from ..settings import SiteSettings
from .base import Hub, log


def _apply(site: SiteSettings, group: str, users: Iterable[str], names: Mapping[str, str], gid: int | None) -> None:
    peer_folders.apply_group(site.data_dir, peer_folders.policy_for(site, group), gid)
    peer_folders.write_members(site.data_dir, group, {u: names[u] for u in users if u in names}, gid)


async def repair_folders(site: SiteSettings, host: Host, members: Mapping[str, Iterable[str]], prefix: str) -> None:
    """Create or repair the folders of the groups `members` ({group: users}), their system groups
    first (as root), and write each group's display names there for its members to read."""
    loop = asyncio.get_running_loop()
    names = await loop.run_in_executor(None, read_display_names, DataLayout(site.data_dir))
    for group, users in members.items():
        try:
            moderation.validate_group(group)
            gid = await host.ensure_group(system_users.system_group_name(prefix, group))
            await loop.run_in_executor(None, _apply, site, group, users, names, gid)
        except (ClhubError, OSError) as e:
            log.error("Cannot prepare the folder of group %s: %s", group, e)


async def sweep(app: web.Application) -> None:
    site: SiteSettings = app.settings["site"]
    hub: Hub = app.settings["hub"]
    while True:
        try:
            await repair_folders(site, app.settings["host"], await hub.group_members(), app.settings["group_prefix"])
        except (HTTPClientError, OSError) as e:
            log.warning("Group folders not checked this time: %s", e)
        await asyncio.sleep(app.settings["sweep_seconds"])
