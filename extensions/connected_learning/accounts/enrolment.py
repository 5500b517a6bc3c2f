"""Enrolment: turn a checked class list into hub accounts, groups, roles and system users.

`roster.validate_roster` decides whether every row of a class list is sound;
`check_permission` decides whether the person importing it may make those changes (an
admin anything; a teacher only students and mentors of groups they teach, and no
existing account from outside their groups); `apply` makes them, in the running hub,
through the hub's REST API (users, groups, memberships) plus the files the hub reads:
NativeAuthenticator's password table, the display names and the site's roles file. On a
real site it also creates the system users and groups, so folders and servers are ready
before anybody logs in. Nothing is applied unless the whole list is valid and allowed.

`reset_password` gives a learner a new, temporary password: they choose their own at
their next log-in (see `auth.ClhubAuthenticator`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..host.base import Host
from ..learner.provision import atomic_write_text
from ..paths import DataLayout
from .roster import RosterProblem, RosterRow, clean_display_name, generate_password
from .store import PASSWORD_CHANGES, set_passwords, update_roles_file, write_display_names

# An async call of the hub's REST API: (method, path, JSON body or None) -> decoded reply.
HubCall = Callable[[str, str, Any], Awaitable[Any]]


@dataclass(frozen=True)
class Actor:
    """Who imports: their hub name, whether they are an admin, and the groups they teach."""

    name: str
    admin: bool
    teaches: frozenset[str]


@dataclass
class Outcome:
    created: list[str] = field(default_factory=list)
    joined: list[tuple[str, str]] = field(default_factory=list)  # (user, group)
    groups_created: list[str] = field(default_factory=list)
    slips: list[tuple[str, str, str]] = field(default_factory=list)  # (display name, user, password)


def check_permission(
    rows: Sequence[RosterRow], actor: Actor, existing_groups: Iterable[str], memberships: Mapping[str, Iterable[str]]
) -> list[RosterProblem]:
    """What `actor` may not do among `rows`, one problem per row (empty: all allowed).

    Args:
        existing_groups: the hub's groups now.
        memberships: existing users and their groups now.
    """
    if actor.admin:
        return []
    problems = []
    known_groups = set(existing_groups)
    for row in rows:
        if row.group not in actor.teaches:
            why = (
                f"you do not teach the group {row.group!r}; ask an administrator to add it"
                if row.group in known_groups
                else f"the group {row.group!r} does not exist; only an administrator can create groups"
            )
        elif row.role == "teacher":
            why = "only an administrator can add teachers"
        elif not row.new_account and not set(memberships.get(row.username, ())) & actor.teaches:
            why = f"{row.username!r} is an account outside your groups; ask an administrator to add them"
        else:
            continue
        problems.append(RosterProblem(row.line, "group" if "group" in why else "role", row.group, why))
    return problems


# ------------------------------------------------------------------ files the hub reads


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return default


def update_display_names(layout: DataLayout, names: Mapping[str, str]) -> None:
    write_display_names(layout, names)


def flag_password_change(layout: DataLayout, name: str) -> None:
    path = layout.hub / PASSWORD_CHANGES
    flags = _read_json(path, [])
    flags = set(flags) if isinstance(flags, list) else set()
    atomic_write_text(path, json.dumps(sorted(flags | {name})))


# ------------------------------------------------------------------ apply


def _write_hub_files(layout: DataLayout, db_url: str, rows: Sequence[RosterRow], passwords: dict[str, str]) -> None:
    """The class list's passwords (in the hub database), display names and roles (in the hub's
    files), in one thread hop: the classroom's other requests go on meanwhile."""
    set_passwords(db_url, passwords)
    update_display_names(layout, {r.username: r.display_name for r in rows})
    update_roles_file(layout, [(r.username, r.role, [r.group]) for r in rows])


async def apply(
    rows: Sequence[RosterRow],
    *,
    layout: DataLayout,
    db_url: str,
    hub: HubCall,
    existing_groups: Iterable[str],
    memberships: Mapping[str, Iterable[str]],
    host: Host,
    group_prefix: str = "clhub-",
) -> Outcome:
    """Create what `rows` (valid and allowed) ask for; return what was done and the slips.

    Raises:
        SystemUserError: a system account could not be made (the hub accounts exist by then;
            the learner's first start tries again).
    """
    outcome = Outcome()
    new_users = sorted({r.username for r in rows if r.new_account})
    if new_users:
        await hub("POST", "/users", {"usernames": new_users})
        outcome.created = new_users
    known = set(existing_groups)
    by_group: dict[str, list[str]] = {}
    for row in rows:
        by_group.setdefault(row.group, []).append(row.username)
    for group, users in sorted(by_group.items()):
        if group not in known:
            await hub("POST", f"/groups/{group}", None)
            outcome.groups_created.append(group)
        await hub("POST", f"/groups/{group}/users", {"users": sorted(set(users))})
        outcome.joined.extend((u, group) for u in sorted(set(users)))
    passwords = {r.username: r.password for r in rows if r.password is not None}
    await asyncio.to_thread(_write_hub_files, layout, db_url, rows, passwords)
    seen = set()
    for row in rows:
        if row.password is not None and row.username not in seen:
            seen.add(row.username)
            outcome.slips.append((row.display_name, row.username, row.password))
    for name in sorted({r.username for r in rows}):
        groups = sorted(set(memberships.get(name, ())) | {r.group for r in rows if r.username == name})
        await host.ensure_learner(name, group_prefix, groups)
    return outcome


def rename(layout: DataLayout, name: str, display_name: str) -> str:
    """Give `name` the display name `display_name`, checked as a class list's; the name as stored.

    Raises:
        RosterError: the name cannot be a display name (the import's reason).
    """
    cleaned = clean_display_name(display_name)
    write_display_names(layout, {name: cleaned})
    return cleaned


def reset_password(layout: DataLayout, db_url: str, name: str, min_length: int) -> str:
    """A new temporary password for `name` (in the hub database at `db_url`); they must choose
    their own at their next log-in."""
    password = generate_password(min_length)
    set_passwords(db_url, {name: password})
    flag_password_change(layout, name)
    return password
