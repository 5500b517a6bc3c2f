"""`clhub backup` and `clhub restore` of a site whose hub database is PostgreSQL (a real server).

The archive holds the database as pg_dump's custom format (`hub.pgdump`, 0600) beside the data
folder; restore loads it, all or nothing, into an empty database (`--db-url`, CLHUB_DB_URL or the
one the site had), forgets the old machine's servers and names that database in the restored
settings, without its password. Passwords never reach the output, the manifest or a command line.
"""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import create_engine, inspect

from connected_learning.accounts import store
from connected_learning.hub import database
from connected_learning.hub.database import driver_url, open_session, without_password
from connected_learning.paths import DataLayout
from connected_learning.settings import load_settings
from postgres import PostgresServer
from test_db_migrate import run_cli, write_site


def make_site(folder: Path, url: str) -> Path:
    """A demo-spawner site on `url`: two accounts with display names, and a server the hub thinks runs."""
    from jupyterhub import orm

    folder.mkdir()
    site_file = write_site(folder, folder / "data", f'db_url = "{url}"\n')
    settings = load_settings(site_file)
    store.create_accounts(
        DataLayout(settings.data_dir),
        settings.database_url,
        [
            store.validate_account("ana", "student", ["class-a"], "ana-password-1", 8, "Ana R."),
            store.validate_account("tess", "teacher", ["class-a"], "tess-password-1", 8, "Tess K."),
        ],
    )
    db = open_session(url)
    try:
        ana = orm.User.find(db, "ana")
        db.add(orm.Spawner(user=ana, name="", server=orm.Server(port=40123), state={"pid": 4242}))
        db.commit()
    finally:
        db.close()
    return site_file


def test_a_postgresql_site_is_backed_up_and_restored_into_an_empty_database(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jupyterhub import orm
    from nativeauthenticator.orm import UserInfo

    source = postgres_server.new_database()
    secret = source.split(":")[2].split("@")[0]
    site_file = make_site(tmp_path / "site", source)
    archive = tmp_path / "site.tar.gz"
    code, out = run_cli(capsys, "backup", str(archive), "--site", str(site_file))
    assert code == 0, out
    assert secret not in out
    with tarfile.open(archive) as tar:
        dump = tar.getmember("hub.pgdump")
        assert dump.mode == 0o600 and dump.size > 0
        manifest = json.load(tar.extractfile("clhub-backup.json"))  # type: ignore[arg-type]
    assert manifest["database"] == without_password(source) and secret not in json.dumps(manifest)

    # Into a database that holds data: refused, and nothing is unpacked.
    other = tmp_path / "other"
    code, out = run_cli(capsys, "restore", str(archive), "--data-dir", str(other / "data"),
                        "--site", str(other / "site.toml"), "--db-url", source)  # fmt: skip
    assert code == 2 and "is not empty" in out and secret not in out
    assert not other.exists()
    code, out = run_cli(capsys, "restore", str(archive), "--data-dir", str(other / "data"),
                        "--site", str(other / "site.toml"), "--db-url", "mysql://x:y@db/z")  # fmt: skip
    assert code == 2 and "not a PostgreSQL address" in out and not other.exists()

    target = postgres_server.new_database()
    code, out = run_cli(capsys, "restore", str(archive), "--data-dir", str(other / "data"),
                        "--site", str(other / "site.toml"), "--db-url", target)  # fmt: skip
    assert code == 0, out
    assert f"The hub database is back in {database.describe(target)}" in out
    assert target.split(":")[2].split("@")[0] not in out
    restored = (other / "site.toml").read_text()
    assert f'db_url = "{without_password(target)}"' in restored and str(other / "data") in restored
    assert json.loads((other / "data" / "hub" / "display-names.json").read_text())["ana"] == "Ana R."

    db = open_session(target)
    try:
        assert sorted(u.name for u in db.query(orm.User)) == ["ana", "tess"]
        assert [g.name for g in orm.User.find(db, "tess").groups] == ["class-a"]
        assert bcrypt.checkpw(b"ana-password-1", UserInfo.find(db, "ana").password)
        spawner = orm.User.find(db, "ana").orm_spawners[""]
        assert spawner.server is None and not spawner.state  # that server ran on the old machine
        newest = max(u.id for u in db.query(orm.User))
        db.add(orm.User(name="cai"))  # the id counters came back too
        db.commit()
        assert orm.User.find(db, "cai").id == newest + 1
    finally:
        db.close()


def test_a_restore_that_fails_leaves_the_database_empty(
    postgres_server: PostgresServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = postgres_server.new_database()
    site_file = make_site(tmp_path / "site", source)
    archive = tmp_path / "site.tar.gz"
    assert run_cli(capsys, "backup", str(archive), "--site", str(site_file))[0] == 0
    # A damaged dump inside an otherwise sound archive.
    damaged = tmp_path / "damaged.tar.gz"
    with tarfile.open(archive) as old, tarfile.open(damaged, "w:gz") as new:
        for member in old.getmembers():
            data = old.extractfile(member) if member.isreg() else None
            if member.name == "hub.pgdump":
                body = (data.read() if data else b"")[:200]  # cut short
                member.size = len(body)
                data = io.BytesIO(body)
            new.addfile(member, data)
    target = postgres_server.new_database()
    code, out = run_cli(capsys, "restore", str(damaged), "--data-dir", str(tmp_path / "r" / "data"),
                        "--site", str(tmp_path / "r" / "site.toml"), "--db-url", target)  # fmt: skip
    assert code == 2 and "pg_restore" in out, out
    engine = create_engine(driver_url(target))
    assert inspect(engine).get_table_names() == []
    engine.dispose()
    # Control: the sound archive restores into the same, still empty database.
    code, out = run_cli(capsys, "restore", str(archive), "--data-dir", str(tmp_path / "s" / "data"),
                        "--site", str(tmp_path / "s" / "site.toml"), "--db-url", target)  # fmt: skip
    assert code == 0, out


def test_the_tools_get_the_password_through_the_environment_not_the_command_line() -> None:
    address, env = database._libpq("postgresql+psycopg2://clhub:hunter22@db.example.org:5432/clhub?sslmode=require")
    assert address == "postgresql://clhub@db.example.org:5432/clhub?sslmode=require"
    assert env["PGPASSWORD"] == "hunter22"
