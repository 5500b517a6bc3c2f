"""Stable uids for learners and gids for groups on Kubernetes, kept in the hub's database.

On one machine `useradd` hands out ids and /etc/passwd keeps them. A cluster has no such
file, so the hub keeps its own: two tables of its own in the hub's database (same URL as
JupyterHub's, SQLite or PostgreSQL), made when missing:

    clhub_uids   name (a hub user, primary key)          -> uid (unique)
    clhub_gids   name (a system group name, primary key) -> gid (unique)

A group's name is the one a system host would give it: `clhub-<group>` for a hub group's
members, `clhubt-<group>` for its teachers (`host.system_users`), `clhub-showcase` for a
service. Rules: an id is the highest one taken plus one (never below `[kubernetes]
first_uid` / `first_gid`), never a row id that a migration could renumber; a row is never
deleted, so a removed learner's uid stays taken and nobody else ever owns their files (the
same name coming back gets the same uid, and the same home: homes are kept by name). Two
allocations at once (two spawns, a spawn and an enrolment) cannot take one id twice: the
unique constraints refuse the second insert, which then tries again with the next id.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from sqlalchemy import Column, Integer, MetaData, String, Table, func, inspect, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from ..errors import ClhubError

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}\Z")  # a user name or a system group name (<= 32 characters)
TRIES = 50  # inserts one allocation may lose to others before it gives up

metadata = MetaData()
UIDS = Table(
    "clhub_uids",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("uid", Integer, nullable=False, unique=True),
)
GIDS = Table(
    "clhub_gids",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("gid", Integer, nullable=False, unique=True),
)


class IdError(ClhubError):
    code = "ids"


@dataclass(frozen=True)
class _Kind:
    table: Table
    id_column: str
    what: str  # "user" or "group", for messages

    def check(self, name: str) -> str:
        if not isinstance(name, str) or not NAME.match(name):
            raise IdError(
                f"{str(name)[:40]!r} is not a valid {self.what} name for an id: use 1-32 lowercase letters, "
                "digits, '-' or '_', starting with a letter."
            )
        return name


USER = _Kind(UIDS, "uid", "user")
GROUP = _Kind(GIDS, "gid", "group")


def ensure_tables(engine: Engine) -> None:
    """Create `clhub_uids` and `clhub_gids` where they are missing (never touching existing ones)."""
    try:
        metadata.create_all(engine, checkfirst=True)
    except DatabaseError:
        # Another process made them between the check and the creation; if not, this says why.
        metadata.create_all(engine, checkfirst=True)


def _known(conn: Connection, kind: _Kind, names: list[str]) -> dict[str, int]:
    table = kind.table
    rows = conn.execute(select(table.c.name, table.c[kind.id_column]).where(table.c.name.in_(names)))
    return {name: int(number) for name, number in rows}


def known(engine: Engine, kind: _Kind, names: list[str]) -> dict[str, int]:
    """The ids already given to `names` ({name: id}); allocates nothing, creates nothing."""
    names = [kind.check(n) for n in names]
    if not inspect(engine).has_table(kind.table.name):
        return {}
    with engine.connect() as conn:
        return _known(conn, kind, names)


def _next_ids(found: dict[str, int], names: list[str], highest: int | None, first: int) -> dict[str, int]:
    """Ids for the names not in `found`: after the highest taken, never below `first`."""
    start = max(first, (highest or 0) + 1)
    return {n: start + i for i, n in enumerate(n for n in names if n not in found)}


def preview(engine: Engine, kind: _Kind, names: list[str], first: int) -> tuple[dict[str, int], dict[str, int]]:
    """(the ids `names` have, the ids the others would get now): reads only, writes nothing.

    What `clhub kubernetes pod` shows for a learner or a group the hub has not met yet; the
    real allocation may differ if another one happens first.
    """
    names = sorted({kind.check(n) for n in names})
    if not inspect(engine).has_table(kind.table.name):
        return {}, _next_ids({}, names, None, first)
    with engine.connect() as conn:
        found = _known(conn, kind, names)
        highest = conn.execute(select(func.max(kind.table.c[kind.id_column]))).scalar()
    return found, _next_ids(found, names, highest, first)


def allocate(engine: Engine, kind: _Kind, names: list[str], first: int) -> dict[str, int]:
    """The id of each of `names`, given now to those that have none ({name: id}).

    Safe when other processes allocate at the same time: an insert that loses to theirs (the
    same id, or the same name) is rolled back and tried again.

    Raises:
        IdError: a bad name, or an id that could not be had after many tries.
    """
    names = sorted({kind.check(n) for n in names})
    ensure_tables(engine)
    table = kind.table
    column = table.c[kind.id_column]
    for attempt in range(TRIES):
        try:
            with engine.begin() as conn:
                found = _known(conn, kind, names)
                if all(n in found for n in names):
                    return found
                given = _next_ids(found, names, conn.execute(select(func.max(column))).scalar(), first)
                conn.execute(table.insert(), [{"name": n, kind.id_column: i} for n, i in given.items()])
            return {**found, **given}
        except IntegrityError:
            continue  # somebody else took one of these ids or names meanwhile: read again
        except OperationalError as e:
            if "locked" not in str(e).lower():  # SQLite: another writer holds the file for a moment
                raise
            time.sleep(0.01 * (attempt + 1))
    raise IdError(f"No free {kind.id_column} could be given to {', '.join(names)} after {TRIES} tries; try again.")


def learner_uid(engine: Engine, user: str, first_uid: int) -> int:
    """The learner's uid, allocated on first use."""
    return allocate(engine, USER, [user], first_uid)[user]


def group_gids(engine: Engine, groups: list[str], first_gid: int) -> dict[str, int]:
    """The gids of system group names ("clhub-<group>"), allocated on first use."""
    return allocate(engine, GROUP, groups, first_gid)


def name_of_uid(engine: Engine, uid: int) -> str | None:
    """Whose uid this is, None if nobody's."""
    if not inspect(engine).has_table(UIDS.name):
        return None
    with engine.connect() as conn:
        found = conn.execute(select(UIDS.c.name).where(UIDS.c.uid == uid)).scalar()
    return None if found is None else str(found)
