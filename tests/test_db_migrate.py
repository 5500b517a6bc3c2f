"""`clhub db migrate --to postgresql://…`: a populated SQLite site carried into a real PostgreSQL.

The site is filled with the project's own tools (`clhub user add`, `accounts.store`, JupyterHub's
ORM for roles, tokens, servers, services and OAuth clients, NativeAuthenticator's passwords) and
two tables of the project's own (`clhub_*`, one with a serial id); the migration must carry every
row of every table, leave the SQLite file as it was, move the sequences past the copied ids and
never print a password. The PostgreSQL server is a real one (tests/postgres.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
)

from connected_learning import cli
from connected_learning.accounts import store
from connected_learning.hub import database
from connected_learning.hub.database import DatabaseError, describe, driver_url, migrate, open_session
from connected_learning.paths import DataLayout
from connected_learning.settings import load_settings
from postgres import PostgresServer
from realhub import REPO, free_port

PASSWORDS = {"tess": "tess-password-1", "ana": "ana-password-1", "ben": "ben-password-1", "cai": "cai-password-1"}

# The project's own tables, as another part of it would make them in the hub's database.
EXTRA = MetaData()
Table("users", EXTRA, Column("id", Integer, primary_key=True))  # JupyterHub's, for the foreign key
UIDS = Table(
    "clhub_uids",
    EXTRA,
    Column("name", String(32), primary_key=True),
    Column("uid", Integer, nullable=False, unique=True),
)
NOTES = Table(
    "clhub_notes",
    EXTRA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE")),
    Column("text", Text),
    Column("made", DateTime),
    Column("blob", LargeBinary),
    Column("done", Boolean),
)


@dataclass
class Site:
    folder: Path
    site_file: Path
    data_dir: Path
    db: Path
    token: str  # ana's API token

    @property
    def url(self) -> str:
        return f"sqlite:///{self.db}"


def write_site(folder: Path, data_dir: Path, extra: str = "") -> Path:
    site_file = folder / "site.toml"
    site_file.write_text(
        f'[site]\ndata_dir = "{data_dir}"\nspawner = "demo"\nport = {free_port()}\n{extra}'
        f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n'
    )
    return site_file


def populate(site_file: Path) -> str:
    """Fill the site's SQLite database the way the project does; ana's API token."""
    from jupyterhub import orm, roles

    assert cli.main(["user", "add", "tess", "--role", "teacher", "--group", "class-a", "--password", PASSWORDS["tess"],
                     "--site", str(site_file)]) == 0  # fmt: skip
    settings = load_settings(site_file)
    layout = DataLayout(settings.data_dir)
    store.create_accounts(
        layout,
        settings.database_url,
        [
            store.validate_account("ana", "student", ["class-a"], PASSWORDS["ana"], 8, "Ana Ñandú"),
            store.validate_account("ben", "mentor", ["class-a", "class-b"], PASSWORDS["ben"], 8),
            store.validate_account("cai", "admin", [], PASSWORDS["cai"], 8),
        ],
    )
    db = open_session(settings.database_url)
    try:
        ana = orm.User.find(db, "ana")
        tess = orm.User.find(db, "tess")
        role = roles.create_role(db, {"name": "teacher-class-a", "scopes": ["admin:users!group=class-a"]})
        roles.grant_role(db, tess, role)
        roles.grant_role(db, orm.Group.find(db, "class-b"), orm.Role.find(db, "teacher-class-a"))
        orm.Group.find(db, "class-a").properties = {"course": "Ciencias · 1º"}
        db.add(orm.OAuthClient(identifier="jupyterhub", redirect_uri="/hub/oauth_callback"))  # as the hub makes it
        db.commit()
        token = ana.new_api_token(note="notebook report")
        client = orm.OAuthClient(
            identifier="jupyterhub-user-ana",
            secret="client-secret",
            redirect_uri="/user/ana/oauth_callback",
            allowed_scopes=["access:servers!server=ana/"],
        )
        server = orm.Server(ip="127.0.0.1", port=40001, base_url="/user/ana/")
        db.add(
            orm.Spawner(
                user=ana,
                name="",
                server=server,
                state={"pid": 1234},
                started=dt.datetime(2026, 3, 1, 9, 30),
                oauth_client=client,
                user_options={"interests": ["space", "music"]},
            )
        )
        service = orm.Service(name="classroom")
        db.add(service)
        db.commit()
        service.new_api_token(note="classroom")
        db.commit()
    finally:
        db.close()
    engine = create_engine(settings.database_url)
    EXTRA.create_all(engine, tables=[UIDS, NOTES])
    with engine.begin() as conn:
        conn.execute(UIDS.insert(), [{"name": "ana", "uid": 100000}, {"name": "ben", "uid": 100001}])
        conn.execute(
            NOTES.insert(),
            [
                {
                    "user_id": 2,
                    "text": "Ñandú 🦜",
                    "made": dt.datetime(2026, 1, 2, 3, 4, 5),
                    "blob": b"\x00\xff",
                    "done": True,
                },
                {"user_id": 3, "text": "", "made": None, "blob": None, "done": False},
            ],
        )
        conn.execute(NOTES.delete().where(NOTES.c.id == 1))  # a gap: the next id is max + 1, not count + 1
        conn.execute(NOTES.insert(), [{"id": 7, "user_id": 2, "text": "seventh", "done": True}])
    engine.dispose()
    return token


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Site:
    folder = tmp_path_factory.mktemp("sqlite-site")
    data_dir = folder / "data"
    site_file = write_site(folder, data_dir)
    token = populate(site_file)
    return Site(folder, site_file, data_dir, data_dir / "hub" / "jupyterhub.sqlite", token)


def copy_site(site: Site, folder: Path) -> Site:
    """Another site with a copy of `site`'s database (for tests that damage it)."""
    data_dir = folder / "data"
    (data_dir / "hub").mkdir(parents=True)
    shutil.copy(site.db, data_dir / "hub" / "jupyterhub.sqlite")
    return Site(folder, write_site(folder, data_dir), data_dir, data_dir / "hub" / "jupyterhub.sqlite", site.token)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rows(engine: Any, table: Table) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]


def known_tables() -> dict[str, Table]:
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo  # noqa: F401

    return {**EXTRA.tables, **orm.Base.metadata.tables}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# ------------------------------------------------------------------ the migration


def test_migrate_carries_every_table_and_row(
    populated: Site, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo

    target = postgres_server.new_database()
    password = target.split(":")[2].split("@")[0]
    before = digest(populated.db)
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(populated.site_file))
    assert code == 0, out
    assert password not in out
    assert describe(target) in out and "***" in out
    assert f'db_url = "{database.without_password(target)}"' in out and "@127.0.0.1" in out
    assert digest(populated.db) == before, "the SQLite source changed"

    source = create_engine(populated.url)
    pg = create_engine(driver_url(target))
    source_tables = set(inspect(source).get_table_names())
    assert {"users", "users_info", "api_tokens", "user_role_map", "clhub_uids", "clhub_notes"} <= source_tables
    assert source_tables <= set(inspect(pg).get_table_names())
    # The counts, table by table, as printed.
    tables = known_tables()
    for name in sorted(source_tables - {"alembic_version"}):
        source_rows = rows(source, tables[name])
        assert rows(pg, tables[name]) == source_rows, name
        assert any(
            line.split()[:3] == [name, str(len(source_rows)), str(len(source_rows))] for line in out.splitlines()
        )
    with source.connect() as a, pg.connect() as b:
        revision = "SELECT version_num FROM alembic_version"
        assert a.exec_driver_sql(revision).all() == b.exec_driver_sql(revision).all()
    assert len(rows(pg, tables["users"])) == 4 and len(rows(pg, tables["clhub_notes"])) == 2

    # What the hub reads there: passwords, memberships, roles, tokens; new rows get new ids.
    db = open_session(target)
    try:
        for name, secret in PASSWORDS.items():
            info = UserInfo.find(db, name)
            assert info is not None and info.is_authorized and bcrypt.checkpw(secret.encode(), info.password)
        ben = orm.User.find(db, "ben")
        assert sorted(g.name for g in ben.groups) == ["class-a", "class-b"]
        assert [r.name for r in orm.User.find(db, "tess").roles] == ["teacher-class-a"]
        assert orm.Group.find(db, "class-a").properties == {"course": "Ciencias · 1º"}
        found = orm.APIToken.find(db, populated.token)
        assert found is not None and found.user.name == "ana"
        spawner = orm.User.find(db, "ana").orm_spawners[""]
        assert spawner.state == {"pid": 1234} and spawner.server.port == 40001
        assert spawner.oauth_client.allowed_scopes == ["access:servers!server=ana/"]
        newest = max(r[0] for r in rows(pg, tables["users"]))
        db.add(orm.User(name="dee"))
        db.commit()
        assert orm.User.find(db, "dee").id == newest + 1
    finally:
        db.close()
    with pg.begin() as conn:
        made = conn.execute(NOTES.insert().values(text="after the move")).inserted_primary_key
    assert made is not None and made[0] == 8  # past the copied 7
    source.dispose()
    pg.dispose()


def test_a_target_that_holds_data_is_refused(
    populated: Site, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    target = postgres_server.new_database()
    migrate(populated.url, target, progress=lambda _: None)
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(populated.site_file))
    assert code == 2
    assert "already holds data" in out and "users" in out and "empty database" in out
    engine = create_engine(driver_url(target))
    assert len(rows(engine, known_tables()["users"])) == 4, "the second run added or removed accounts"
    engine.dispose()


def test_a_failed_copy_leaves_the_target_empty(
    populated: Site, postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite keeps text in an integer column; PostgreSQL refuses it half-way through the copy."""
    site = copy_site(populated, tmp_path)
    with sqlite3.connect(site.db) as conn:
        conn.execute("INSERT INTO clhub_uids (name, uid) VALUES ('eve', 'not-a-number')")
    target = postgres_server.new_database()
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(site.site_file))
    assert code == 2
    assert "nothing was kept" in out and target.split(":")[2].split("@")[0] not in out
    engine = create_engine(driver_url(target))
    assert inspect(engine).get_table_names() == [], "a failed migration left tables behind"
    engine.dispose()
    # Control: the same site without the bad row carries over.
    with sqlite3.connect(site.db) as conn:
        conn.execute("DELETE FROM clhub_uids WHERE name = 'eve'")
    assert run_cli(capsys, "db", "migrate", "--to", target, "--site", str(site.site_file))[0] == 0


def test_a_table_of_the_project_with_loose_sqlite_types_is_carried(
    populated: Site, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    """A table made by hand in SQLite (no declared type, SQLite's own names) still arrives."""
    site = copy_site(populated, tmp_path)
    with sqlite3.connect(site.db) as conn:
        conn.execute("CREATE TABLE clhub_odd (id INTEGER PRIMARY KEY, anything, made TIMESTAMP, n NUMERIC)")
        conn.execute("INSERT INTO clhub_odd (anything, made, n) VALUES ('x', '2026-01-02 03:04:05', 2.5)")
    target = postgres_server.new_database()
    copied = {c.table: c for c in migrate(site.url, target, progress=lambda _: None)}
    assert copied["clhub_odd"].source_rows == copied["clhub_odd"].target_rows == 1
    engine = create_engine(driver_url(target))
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT anything, n FROM clhub_odd").all() == [("x", 2.5)]
        conn.exec_driver_sql("INSERT INTO clhub_odd (anything) VALUES ('y')")
        assert conn.exec_driver_sql("SELECT max(id) FROM clhub_odd").scalar() == 2
    engine.dispose()


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("mysql://clhub:pw-in-url-9@db/clhub", "not a PostgreSQL address"),
        ("postgresql://clhub:pw-in-url-9@[::1/clhub", "not a database address"),
        ("sqlite:////tmp/elsewhere.sqlite", "not a PostgreSQL address"),
        ("", "not a PostgreSQL address"),
    ],
)
def test_bad_addresses_are_refused_without_their_password(
    populated: Site, address: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_cli(capsys, "db", "migrate", "--to", address, "--site", str(populated.site_file))
    assert code == 2 and says in out, out
    assert "pw-in-url-9" not in out


def test_an_unreachable_server_and_a_wrong_password(
    populated: Site, postgres_server: PostgresServer, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = free_port()
    code, out = run_cli(
        capsys, "db", "migrate", "--to", f"postgresql://clhub:s3cret-Pw@127.0.0.1:{closed}/clhub",
        "--site", str(populated.site_file),
    )  # fmt: skip
    assert code == 2
    assert f"Cannot open the database postgresql://clhub:***@127.0.0.1:{closed}/clhub" in out
    assert "PostgreSQL is running" in out and "s3cret-Pw" not in out

    target = postgres_server.new_database()
    wrong = target.replace(target.split(":")[2].split("@")[0], "Wr0ng-guess")
    code, out = run_cli(capsys, "db", "migrate", "--to", wrong, "--site", str(populated.site_file))
    assert code == 2
    assert "password authentication failed" in out and "Check the user's password" in out
    assert "Wr0ng-guess" not in out and target.split(":")[2].split("@")[0] not in out

    missing = target.rsplit("/", 1)[0] + "/no_such_db"
    code, out = run_cli(capsys, "db", "migrate", "--to", missing, "--site", str(populated.site_file))
    assert code == 2 and "does not exist" in out and "Create the database" in out


def test_the_source_must_be_a_hub_database_of_this_jupyterhub(
    populated: Site, postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = postgres_server.new_database()
    old = copy_site(populated, tmp_path / "old")
    with sqlite3.connect(old.db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '833da8570507'")
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(old.site_file))
    assert code == 2 and "833da8570507" in out and f"jupyterhub upgrade-db --db=sqlite:///{old.db}" in out

    damaged = copy_site(populated, tmp_path / "damaged")
    damaged.db.write_bytes(b"this is not a database" * 100)
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(damaged.site_file))
    assert code == 2 and "Cannot open the database" in out

    empty_folder = tmp_path / "none"
    empty_folder.mkdir()
    site_file = write_site(empty_folder, empty_folder / "data")
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(site_file))
    assert code == 2 and "There is no hub database" in out

    already = tmp_path / "already"
    already.mkdir()
    site_file = write_site(already, already / "data", f'db_url = "{target}"\n')
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(site_file))
    assert code == 2 and "is not SQLite" in out
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CLHUB_DB_URL", target)
        code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(populated.site_file))
    assert code == 2 and "CLHUB_DB_URL names postgresql://" in out and "unset it" in out
    engine = create_engine(driver_url(target))
    assert inspect(engine).get_table_names() == [], "a refused migration wrote into the target"
    engine.dispose()


@pytest.fixture
def answering_hub(populated: Site) -> Iterator[None]:
    """Something answering /hub/api/ on the site's port, as a running hub does."""

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"version": "5.5.4"}')

        def log_message(self, *args: object) -> None:
            pass

    port = load_settings(populated.site_file).port
    server = http.server.HTTPServer(("127.0.0.1", port), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield
    server.shutdown()
    server.server_close()


def test_refused_while_the_hub_runs(
    populated: Site, postgres_server: PostgresServer, answering_hub: None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = postgres_server.new_database()
    code, out = run_cli(capsys, "db", "migrate", "--to", target, "--site", str(populated.site_file))
    assert code == 2 and "The hub is running; stop it first" in out
    engine = create_engine(driver_url(target))
    assert inspect(engine).get_table_names() == []
    engine.dispose()


# ------------------------------------------------------------------ the site on PostgreSQL


def test_user_add_and_the_hub_config_follow_clhub_db_url(
    postgres_server: PostgresServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from jupyterhub import orm
    from traitlets.config import Config

    from connected_learning.hub.config import configure

    target = postgres_server.new_database()
    site_file = write_site(tmp_path, tmp_path / "data")
    monkeypatch.setenv("CLHUB_DB_URL", target)
    monkeypatch.setenv("PGSSLMODE", "prefer")
    code, out = run_cli(capsys, "user", "add", "zoe", "--group", "class-z", "--password", "zoe-password-1",
                        "--site", str(site_file))  # fmt: skip
    assert code == 0, out
    assert not (tmp_path / "data" / "hub" / "jupyterhub.sqlite").exists(), "the account went to SQLite"
    db = open_session(target)
    try:
        assert [g.name for g in orm.User.find(db, "zoe").groups] == ["class-z"]
    finally:
        db.close()
    c = Config()
    configure(c, str(site_file), mode="demo")
    assert c.JupyterHub.db_url == driver_url(target)
    classroom = next(s for s in c.JupyterHub.services if s["name"] == "classroom")
    assert classroom["environment"]["CLHUB_DB_URL"] == target  # it writes class lists' passwords there
    assert classroom["environment"]["PGSSLMODE"] == "prefer"  # libpq's own settings reach it too


def test_sqlite_files_stay_private(tmp_path: Path) -> None:
    db = tmp_path / "hub.sqlite"
    open_session(f"sqlite:///{db}").close()
    assert db.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://clhub:p%40ss%2Fw0rd@db.example.org:5432/clhub", "postgresql://clhub:***@db.example.org:5432/clhub"),
        ("postgresql+psycopg2://clhub:hunter22@db/clhub?sslmode=require", "postgresql+psycopg2://clhub:***@db/clhub?sslmode=require"),
        ("postgresql://clhub@db/clhub", "postgresql://clhub@db/clhub"),
        ("sqlite:////srv/clhub/hub/jupyterhub.sqlite", "sqlite:////srv/clhub/hub/jupyterhub.sqlite"),
        ("postgresql://clhub:hunter22@[::1/clhub", "postgresql://clhub:***@[::1/clhub"),
    ],
)  # fmt: skip
def test_describe_hides_the_password(url: str, shown: str) -> None:
    assert describe(url) == shown
    assert "hunter22" not in describe(url) and "p%40ss" not in describe(url) and "p@ss" not in describe(url)


def test_driver_messages_lose_the_password() -> None:
    assert database.hide_password("failed for clhub:hunter22@db", "postgresql://clhub:hunter22@db/x") == (
        "failed for clhub:***@db"
    )
    with pytest.raises(DatabaseError) as e:
        database.engine_for("postgresql://clhub:hunter22@127.0.0.1:1/clhub")
    assert "hunter22" not in str(e.value) and "***" in str(e.value)


def test_clhub_demo_makes_its_accounts_in_the_database_clhub_db_url_names(
    postgres_server: PostgresServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before its hub starts, `clhub demo` writes the demo accounts: into CLHUB_DB_URL's database,
    and an unreachable one stops it with the password hidden (the hub never starts)."""
    monkeypatch.setenv("CLHUB_PORT", str(free_port()))
    monkeypatch.setenv("CLHUB_DATA_DIR", str(tmp_path / "demo"))
    monkeypatch.setenv("CLHUB_DB_URL", f"postgresql://clhub:Demo-s3cret@127.0.0.1:{free_port()}/clhub")
    code, out = run_cli(capsys, "demo")
    assert code == 2 and "Cannot open the database postgresql://clhub:***@127.0.0.1" in out
    assert "Demo-s3cret" not in out and "Open http" not in out
    assert not (tmp_path / "demo" / "hub" / "jupyterhub.sqlite").exists()

    # Control: the same demo's accounts on a reachable database (its hub is not started here).
    from jupyterhub import orm

    target = postgres_server.new_database()
    settings = load_settings(REPO / "hub_config" / "demo.toml", {"site.db_url": target})
    store.create_accounts(DataLayout(tmp_path / "demo"), settings.database_url, store.demo_accounts("demo-pw-123", 8))
    db = open_session(target)
    try:
        assert sorted(u.name for u in db.query(orm.User)) == sorted(n for n, _, _ in store.DEMO_ACCOUNTS)
    finally:
        db.close()


def test_many_sessions_on_a_server_database_use_one_connection(postgres_server: PostgresServer) -> None:
    """The classroom writes passwords once per class list and reset: not a new connection each time
    (PostgreSQL's default is 100 for everyone)."""
    target = postgres_server.new_database()
    for i in range(30):
        store.set_passwords(target, {"ana": f"password-{i:02d}"})
    name = target.rsplit("/", 1)[1]
    open_connections = postgres_server.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", params=(name,)
    )
    assert open_connections[0][0] <= 2
    db = open_session(target)
    try:
        from nativeauthenticator.orm import UserInfo

        assert bcrypt.checkpw(b"password-29", UserInfo.find(db, "ana").password)
    finally:
        db.close()
