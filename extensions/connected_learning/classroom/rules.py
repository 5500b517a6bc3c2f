"""Who may call what: the rule each classroom handler method declares, checked before it runs.

    @hub_user                        any hub user (not a service, not anonymous)
    @teacher_of_group                a teacher of the group the URL names (role `teacher-<g>`), or an admin
    @member_of_group                 a member of that group (the hub's groups)
    @member_or_teacher_of_group      a member, a teacher of the group, or an admin
    @teacher_of_any_group            an admin, or a teacher of at least one group
    @author_or_teacher(find, ...)    the author of what `find` names, a teacher of its group, or an admin

As with JupyterHub's `@needs_scope`, the rule is readable where the method is defined, and a
method without one cannot reach `self.me`. Every rule first needs somebody: with nobody
identified a GET is sent to the hub's log-in and anything else gets 403 (tornado's
`web.authenticated`); a service's token gets 403. The group a URL names (its first part) is
checked at this edge, once (`moderation.validate_group`): a name that cannot be a group
("..", "a/b") answers 404 to everybody, before any rule about it.

An admin counts as a teacher of every group, not as a member of any. A mentor of G holds the
role `mentor-G` and is a member of G: in the classroom a mentor may do what members do
(report, propose and follow their own pieces), never moderate; mentors read and comment in
the group's folder itself, where the operating system decides.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from tornado import web

from ..peer_review import moderation
from .base import BaseHandler, Owned

Method = TypeVar("Method", bound=Callable[..., Awaitable[None]])
Check = Callable[[BaseHandler, dict[str, Any], tuple[Any, ...]], Awaitable[None]]


def teaches(user: dict[str, Any], group: str) -> bool:
    """May `user` (a hub user model with roles) moderate `group`?"""
    return bool(user.get("admin")) or f"teacher-{group}" in user.get("roles", [])


def member_of(user: dict[str, Any], group: str) -> bool:
    return group in user.get("groups", [])


def groups_taught(user: dict[str, Any], all_groups: list[str]) -> list[str]:
    return [g for g in all_groups if teaches(user, g)]


def rule(description: str, check: Check) -> Callable[[Method], Method]:
    """A decorator that lets the method run only when `check` passes for the caller.

    `check(handler, me, path_args)` raises (403, 404) to refuse. The method's `rule`
    attribute keeps `description`, for people and for the tests of the rules.
    """

    def decorate(method: Method) -> Method:
        @functools.wraps(method)
        async def guarded(self: BaseHandler, *args: Any, **kwargs: Any) -> None:
            me = await self.hub_user()
            await check(self, me, args)
            self._me = me
            await method(self, *args, **kwargs)

        setattr(guarded, "rule", description)  # noqa: B010 (a function's attribute, set once)
        return cast(Method, web.authenticated(guarded))

    return decorate


def _group(args: tuple[Any, ...]) -> str:
    """The group the URL names, checked at the edge (404 for a name no group can have)."""
    return moderation.validate_group(args[0])


async def _anybody(handler: BaseHandler, me: dict[str, Any], args: tuple[Any, ...]) -> None:
    return None


async def _teacher(handler: BaseHandler, me: dict[str, Any], args: tuple[Any, ...]) -> None:
    group = _group(args)
    if not teaches(me, group):
        raise web.HTTPError(403, f"You do not teach the group {group!r}.")


async def _member(handler: BaseHandler, me: dict[str, Any], args: tuple[Any, ...]) -> None:
    group = _group(args)
    if not member_of(me, group):
        raise web.HTTPError(403, f"You are not a member of the group {group!r}.")


async def _member_or_teacher(handler: BaseHandler, me: dict[str, Any], args: tuple[Any, ...]) -> None:
    group = _group(args)
    if not (member_of(me, group) or teaches(me, group)):
        raise web.HTTPError(403, f"You are not a member of the group {group!r}.")


async def _teacher_of_any(handler: BaseHandler, me: dict[str, Any], args: tuple[Any, ...]) -> None:
    if not me.get("admin") and not groups_taught(me, await handler.hub.groups()):
        raise web.HTTPError(403, "Only teachers and administrators can import class lists.")


hub_user = rule("any hub user", _anybody)
teacher_of_group = rule("a teacher of the group, or an admin", _teacher)
member_of_group = rule("a member of the group", _member)
member_or_teacher_of_group = rule("a member or a teacher of the group, or an admin", _member_or_teacher)
teacher_of_any_group = rule("a teacher of some group, or an admin", _teacher_of_any)


def author_or_teacher(find: Callable[..., Awaitable[Owned]], refusal: str) -> Callable[[Method], Method]:
    """The author of the thing a request names, a teacher of its group, or an admin.

    `find(handler, *path_args)` reads who made it and where (404 when there is no such
    thing); the handler gets the answer as `self.owned`. `refusal` is the 403's message.
    """

    async def check(handler: BaseHandler, me: dict[str, Any], args: tuple[Any, ...]) -> None:
        owned = await find(handler, *args)
        if me["name"] != owned.owner and not teaches(me, owned.group):
            raise web.HTTPError(403, refusal)
        handler.owned = owned

    return rule("the author, a teacher of their group, or an admin", check)
