"""The classroom service's front door: the teacher's page and who-am-I for scripts.

    GET /services/classroom/              every group the caller teaches: members, pieces,
                                          open reports, showcase proposals, the gallery
    GET /services/classroom/api/groups    {"teaches": [...], "member_of": [...]}

Any hub user may open them; a student's page lists no group (they teach none). What the
page shows of a group is read from disk in a thread, one group at a time.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..accounts import removal
from ..accounts.store import read_display_names, teachers_of
from ..paths import DataLayout
from ..peer_review import moderation
from ..showcase import gallery, publish
from ..showcase.messages import language_name, languages
from .base import APIHandler, BaseHandler
from .rules import groups_taught, hub_user


def family_languages() -> list[tuple[str, str]]:
    """The languages a family page can be approved in (one translation file each), English first."""
    return [(code, language_name(code)) for code in languages()]


def group_overview(
    place: moderation.Place, members: list[str], names: dict[str, str], leaving: dict[str, dict[str, str]]
) -> dict[str, Any]:
    """What the teacher's page shows of one group (blocking: reads the group's folders).

    `leaving`: the accounts being removed, {user: their removal}, with an Undo until it is due.
    Teachers are marked: only an administrator renames, resets or removes them.
    """
    teachers = teachers_of(DataLayout(place.data_dir), place.group)
    return {
        "name": place.group,
        "members": [
            {"name": m, "display": names.get(m, ""), "leaving": leaving.get(m), "teacher": m in teachers}
            for m in sorted(members)
        ],
        "pieces": moderation.list_pieces(place),
        "reports": [r for r in moderation.list_reports(place) if r["status"] == "open"],
        "proposals": publish.list_proposals(place),
        "gallery": gallery.read_state(place),
    }


class HomePage(BaseHandler):
    @hub_user
    async def get(self) -> None:
        groups = []
        layout = DataLayout(self.site.data_dir)
        names = await self.run(read_display_names, layout)
        leaving = await self.run(removal.pending, layout)
        for group in groups_taught(self.me, await self.hub.groups()):
            members = (await self.hub.get(f"/groups/{quote(group)}")).get("users", [])
            groups.append(await self.run(group_overview, self.place(group), members, names, leaving))
        self.page("home.html", me=self.me, groups=groups, languages=family_languages())


class GroupsAPI(APIHandler):
    @hub_user
    async def get(self) -> None:
        me = self.me
        self.finish({"teaches": groups_taught(me, await self.hub.groups()), "member_of": me.get("groups", [])})


default_handlers = [
    (r"", HomePage),
    (r"api/groups", GroupsAPI),
]
