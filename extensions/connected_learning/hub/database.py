"""The hub's database: SQLite in the data folder, or PostgreSQL (`[site] db_url`).

Every place that opens it goes through `open_session` with `SiteSettings.database_url`, and
every message about it goes through `describe`, which never shows a password written in the
address. `migrate` (`clhub db migrate --to URL`) moves a stopped SQLite site to PostgreSQL:
JupyterHub's schema made by `jupyterhub.orm`, then every table of the source copied row by
row in the order its foreign keys need, the sequences moved past the copied ids and the rows
counted on both sides, all in one transaction of the target (a failure leaves it empty).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ClhubError

POSTGRES_SCHEMES = ("postgresql://", "postgresql+psycopg2://")
# libpq's own ways to the password and the TLS of a connection (README: PostgreSQL); the hub
# passes them on to the classroom service, which writes class lists' passwords into the database.
LIBPQ_VARIABLES = ("PGPASSWORD", "PGPASSFILE", "PGSSLMODE", "PGSSLROOTCERT")
BATCH_ROWS = 1000


_FACTORIES: dict[str, Any] = {}  # server database URL -> JupyterHub's session factory on it
_FACTORIES_LOCK = threading.Lock()


class DatabaseError(ClhubError):
    code = "database"


def describe(url: str) -> str:
    """`url` fit to print: the password, if the address has one, becomes ***."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        # Not an address SQLAlchemy reads: hide whatever sits between "user:" and "@".
        return re.sub(r"(//[^/:@]*:)[^@/]*@", r"\1***@", url)


def without_password(url: str) -> str:
    """`url` with no password in it, as a settings file should name the database."""
    from sqlalchemy.engine import URL, make_url

    u = make_url(url)
    return URL.create(u.drivername, u.username, None, u.host, u.port, u.database, u.query).render_as_string()


def _password(url: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).password or ""
    except (ArgumentError, ValueError):
        return ""


def hide_password(text: str, url: str) -> str:
    """`text` (a driver's message, say) with the password of `url` replaced by ***."""
    password = _password(url)
    return text.replace(password, "***") if password else text


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def is_postgres(url: str) -> bool:
    return url.startswith(POSTGRES_SCHEMES)


def sqlite_file(url: str) -> Path | None:
    """The file of a `sqlite:///path` address; None for any other database."""
    if not url.startswith("sqlite:///"):
        return None
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    return Path(path.removeprefix("file:"))


def libpq_environment() -> dict[str, str]:
    """The libpq variables set in this process's environment, to hand on to a service."""
    return {name: os.environ[name] for name in LIBPQ_VARIABLES if name in os.environ}


def driver_url(url: str) -> str:
    """`url` naming its driver: plain postgresql:// is psycopg2 (the `postgresql` extra), which
    SQLAlchemy 2.1 no longer takes by default."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg2://" + url.removeprefix("postgresql://")
    return url


def _reason(error: BaseException, url: str) -> str:
    """The driver's own first line for why it failed, password hidden."""
    original = getattr(error, "orig", None) or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return hide_password(lines[0] if lines else type(original).__name__, url)


def connect_error(error: BaseException, url: str) -> DatabaseError:
    """A DatabaseError saying the database at `url` cannot be opened, and the likely fixes."""
    reason = _reason(error, url)
    if "password authentication failed" in reason or "no password supplied" in reason:
        hint = "Check the user's password (in ~/.pgpass, PGPASSWORD or the address)."
    elif "does not exist" in reason:
        hint = "Create the database and its user first (README: PostgreSQL)."
    elif "Connection refused" in reason or "could not translate host name" in reason or "timeout" in reason:
        hint = "Check the server's name and port, and that PostgreSQL is running there."
    else:
        hint = "Check the address (postgresql://user@host:port/database)."
    return DatabaseError(f"Cannot open the database {describe(url)}: {reason}. {hint}")


def engine_for(url: str, **kwargs: Any) -> Any:
    """A SQLAlchemy engine for `url` that has connected once; DatabaseError (password hidden) if not."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    if not (is_sqlite(url) or is_postgres(url)):
        raise DatabaseError(
            f"{describe(url)!r} is not a database address; use postgresql://user@host:port/database or sqlite:///path."
        )
    try:
        engine = create_engine(driver_url(url), **kwargs)
    except (ArgumentError, NoSuchModuleError, ValueError) as e:
        raise DatabaseError(f"{describe(url)!r} is not a database address: {hide_password(str(e), url)}") from None
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as e:
        engine.dispose()
        raise connect_error(e, url) from None
    return engine


def open_session(url: str) -> Any:
    """A session of JupyterHub's ORM (NativeAuthenticator's table included) on the hub database.

    The tables are created where missing; a new SQLite file is made private to the hub's user.
    A server database's engine is made once per process (the classroom opens a session per
    class list: one pool of connections, not one per request); a SQLite file is opened anew
    each time, as a file replaced on disk (a restore) must be.
    """
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo  # noqa: F401 (its table must exist before the session makes them)
    from sqlalchemy.exc import OperationalError

    path = sqlite_file(url)
    try:
        if path is not None:
            session = orm.new_session_factory(driver_url(url))()
        else:
            with _FACTORIES_LOCK:
                if url not in _FACTORIES:
                    _FACTORIES[url] = orm.new_session_factory(driver_url(url))
                factory = _FACTORIES[url]
            session = factory()
    except OperationalError as e:
        raise connect_error(e, url) from None
    if path is not None and path.is_file():
        os.chmod(path, 0o600)  # passwords' hashes and tokens: the hub's user alone
    return session


# ------------------------------------------------------------------ clhub db migrate


@dataclass(frozen=True)
class Copied:
    table: str
    source_rows: int
    target_rows: int


def _jupyterhub_head() -> str:
    """The schema revision the installed JupyterHub makes (its alembic head)."""
    import jupyterhub
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(Path(jupyterhub.__file__).parent / "alembic")).get_current_head()
    assert head is not None
    return head


def _read_only(url: str) -> str:
    path = sqlite_file(url)
    assert path is not None
    return f"sqlite:///file:{path}?mode=ro&uri=true"


@contextmanager
def _engines(source_url: str, target_url: str) -> Iterator[tuple[Any, Any]]:
    source = engine_for(_read_only(source_url))
    try:
        target = engine_for(target_url)
    except BaseException:
        source.dispose()
        raise
    try:
        yield source, target
    finally:
        source.dispose()
        target.dispose()


def _check_source(source: Any, source_url: str) -> list[str]:
    """The source's tables; DatabaseError if it is not a JupyterHub database this JupyterHub reads."""
    from sqlalchemy import inspect, text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        tables = inspect(source).get_table_names()
    except SQLAlchemyError as e:
        raise DatabaseError(
            f"Cannot open the database {describe(source_url)}: {_reason(e, source_url)}. Is it damaged? "
            "Bring the site back from its last backup (clhub restore), then migrate."
        ) from None
    if "users" not in tables:
        raise DatabaseError(f"{describe(source_url)} has no hub accounts (no users table): is it the site's database?")
    head = _jupyterhub_head()
    revision = None
    if "alembic_version" in tables:
        with source.connect() as conn:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    if revision != head:
        raise DatabaseError(
            f"{describe(source_url)} has JupyterHub's schema {revision}, this JupyterHub makes {head}: upgrade it "
            f"first with `.venv/bin/jupyterhub upgrade-db --db={describe(source_url)}` (it keeps a copy of the "
            "file beside it), then migrate."
        )
    return tables


def _check_target_empty(target: Any, target_url: str, tables: list[str]) -> None:
    from sqlalchemy import MetaData, func, select

    present = MetaData()
    present.reflect(target, only=lambda name, _: name in tables)
    with target.connect() as conn:
        filled = [t.name for t in present.sorted_tables if conn.execute(select(func.count()).select_from(t)).scalar()]
    if filled:
        raise DatabaseError(
            f"The database {describe(target_url)} already holds data (tables {', '.join(sorted(filled))}); "
            "migrate into a new, empty database (README: PostgreSQL), so nothing there is mixed or lost."
        )


def _portable(kind: Any) -> Any:
    """A column type PostgreSQL can make, for a type SQLite reported; text where SQLite had none."""
    from sqlalchemy import Text
    from sqlalchemy.types import NullType

    if isinstance(kind, NullType):
        return Text()
    try:
        return kind.as_generic()
    except NotImplementedError:
        return Text()


def _schema(source: Any) -> tuple[Any, list[Any]]:
    """The target's tables: JupyterHub's (and NativeAuthenticator's) from their models, the rest
    (clhub_* and any other) as the source has them, with portable column types. And the order
    to copy them in."""
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo  # noqa: F401 (registers users_info in orm.Base)
    from sqlalchemy import MetaData

    known = orm.Base.metadata
    reflected = MetaData()
    reflected.reflect(source)
    combined = MetaData()
    for table in known.sorted_tables:
        table.to_metadata(combined)
    for table in reflected.sorted_tables:
        if table.name in known.tables:
            continue
        copy = table.to_metadata(combined)
        for column in copy.columns:
            column.type = _portable(column.type)
            column.server_default = None  # SQLite's spelling; the values come with the rows
    order = [combined.tables[t.name] for t in combined.sorted_tables if t.name in reflected.tables]
    return combined, order


def _reset_sequences(conn: Any, tables: list[Any]) -> None:
    """Move each serial column's sequence past the copied ids, so the next row gets a new one."""
    from sqlalchemy import text

    for table in tables:
        for column in table.primary_key.columns:
            seq = conn.execute(
                text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
            ).scalar()
            if seq:
                largest = f'SELECT MAX("{column.name}") FROM "{table.name}"'
                conn.execute(text(f"SELECT setval(:s, COALESCE(({largest}), 0) + 1, false)"), {"s": seq})


def migrate(source_url: str, target_url: str, progress: Callable[[str], None] = print) -> list[Copied]:
    """Copy the stopped hub's SQLite database at `source_url` into the empty PostgreSQL `target_url`.

    The source is opened read-only. Returns each table's row counts, which are equal.

    Raises:
        DatabaseError: a bad or unreachable address (password hidden), a source that is not a
            hub database of this JupyterHub, a target that is not PostgreSQL or not empty, or
            counts that differ (then nothing is kept in the target).
    """
    from sqlalchemy import func, select
    from sqlalchemy.exc import SQLAlchemyError

    if not is_postgres(target_url):
        raise DatabaseError(
            f"{describe(target_url)!r} is not a PostgreSQL address; use postgresql://user@host:port/database."
        )
    path = sqlite_file(source_url)
    if path is None:
        raise DatabaseError(f"The site's database {describe(source_url)} is not SQLite: it has nothing to migrate.")
    if not path.is_file():
        raise DatabaseError(f"There is no hub database at {path}: is this the site's settings file?")
    copied: list[Copied] = []
    with _engines(source_url, target_url) as (source, target):
        tables = _check_source(source, source_url)
        _check_target_empty(target, target_url, tables)
        metadata, order = _schema(source)
        try:
            with target.begin() as out, source.connect() as src:
                metadata.create_all(out)
                for table in order:
                    progress(f"Copying {table.name}...")
                    rows = src.execution_options(stream_results=True).execute(select(table))
                    while batch := rows.fetchmany(BATCH_ROWS):
                        out.execute(table.insert(), [dict(row._mapping) for row in batch])
                _reset_sequences(out, order)
                for table in order:
                    count = src.execute(select(func.count()).select_from(table)).scalar() or 0
                    landed = out.execute(select(func.count()).select_from(table)).scalar() or 0
                    copied.append(Copied(table.name, count, landed))
                wrong = [c for c in copied if c.source_rows != c.target_rows]
                if wrong:
                    raise DatabaseError(
                        "Rows went missing, so nothing was kept: "
                        + ", ".join(f"{c.table} {c.source_rows} -> {c.target_rows}" for c in wrong)
                    )
        except SQLAlchemyError as e:
            raise DatabaseError(
                f"Copying into {describe(target_url)} failed, so nothing was kept there: {_reason(e, target_url)}"
            ) from None
    return copied


# ------------------------------------------------------------------ clhub backup / restore of a PostgreSQL site


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """`url` as PostgreSQL's own tools take it, without its password, and the environment that
    carries the password instead (a command line is visible to every user of the machine)."""
    from sqlalchemy.engine import make_url

    bare = without_password(url)
    bare = "postgresql://" + bare.split("://", 1)[1]
    env = dict(os.environ)
    password = make_url(url).password
    if password:
        env["PGPASSWORD"] = password
    return bare, env


def _tool(url: str, *args: str) -> None:
    import subprocess

    address, env = _libpq(url)
    try:
        done = subprocess.run([*args, f"--dbname={address}"], capture_output=True, text=True, env=env)
    except FileNotFoundError:
        raise DatabaseError(
            f"{args[0]} is not installed: install PostgreSQL's tools (apt-get install postgresql-client)."
        ) from None
    if done.returncode:
        lines = [line for line in done.stderr.splitlines() if line.strip()][:3]
        raise DatabaseError(f"{args[0]} of {describe(url)} failed: {hide_password(' '.join(lines), url)}")


def dump(url: str, path: str | os.PathLike[str]) -> None:
    """PostgreSQL's own consistent copy of the database at `url` (pg_dump's custom format), at `path`."""
    _tool(url, "pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={path}")


def check_empty(url: str) -> None:
    """DatabaseError unless the database at `url` can be reached and has no tables."""
    from sqlalchemy import inspect

    engine = engine_for(url)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        named = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
        raise DatabaseError(
            f"The database {describe(url)} is not empty (tables {named}); restore into a new, empty database "
            "(README: PostgreSQL) or name one with --db-url."
        )


def load(url: str, path: str | os.PathLike[str]) -> None:
    """Load a dump made by `dump` into the empty database at `url`, all or nothing."""
    check_empty(url)
    _tool(url, "pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", str(path))


def user_names(url: str) -> list[str]:
    """The hub's users, by name."""
    from sqlalchemy import text

    engine = engine_for(url)
    try:
        with engine.connect() as conn:
            return [str(row[0]) for row in conn.execute(text("SELECT name FROM users ORDER BY name"))]
    finally:
        engine.dispose()


def forget_servers(url: str) -> None:
    """After a restore: the servers of the old machine are not running here (a SQLite site's
    restore does the same on its file)."""
    from sqlalchemy import text

    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE spawners SET server_id = NULL, state = NULL"))
            conn.execute(
                text(
                    "DELETE FROM servers WHERE id NOT IN (SELECT _server_id FROM services WHERE _server_id IS NOT NULL)"
                )
            )
    finally:
        engine.dispose()
