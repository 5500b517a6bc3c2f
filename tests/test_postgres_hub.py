"""Integration: the real hub, classroom and showcase on a real PostgreSQL server.

Scenario 1 (`[site] db_url`): a site that starts on an empty PostgreSQL database. A learner
logs in and starts their space, an administrator imports a class list through the classroom
(whose passwords the classroom service writes into the hub database), a learner shares a piece
and a teacher approves its showcase proposal. The hub restarts on the same database and nothing
is lost: accounts, groups, roles, passwords (the class list's too), the admin's API token, the
running space, the piece and the family link.

Scenario 2 (`CLHUB_DB_URL`): a site that ran on SQLite (accounts, a class list, a log-in) is
stopped, moved with `clhub db migrate`, and started on PostgreSQL: the same people log in with
their passwords and their groups and roles are there. No SQLite file is made on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from conftest import needs_root
from connected_learning.hub.database import driver_url
from postgres import PostgresServer
from realhub import PASSWORD, RunningHub, launch_hub, teardown_hub
from test_showcase import anonymous, api, consent, decide, propose, share_story

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")
HEADER = "username,display_name,group,role,password\n"


def upload_class_list(hub: RunningHub, rows: list[str]) -> dict[str, Any]:
    """A class list through the classroom service, as an administrator imports one."""
    r = requests.post(
        f"{hub.url}/services/classroom/api/roster",
        data=(HEADER + "\n".join(rows) + "\n").encode(),
        headers={**bearer(hub, hub.admin), "Content-Type": "text/csv"},
        timeout=300,
    )
    assert r.status_code == 201, r.text
    reply: dict[str, Any] = r.json()
    hub.users.extend(u for u in reply["created"] if u not in hub.users)  # the teardown removes them
    return reply


def bearer(hub: RunningHub, name: str) -> dict[str, str]:
    r = hub.api.post(
        f"/users/{name}/tokens",
        json={"note": "postgres test", "expires_in": 600, "scopes": ["access:services!service=classroom"]},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"token {r.json()['token']}"}


def accounts(hub: RunningHub) -> dict[str, tuple[bool, list[str], list[str]]]:
    """Every hub user: admin or not, their groups, their roles (what a restart must keep)."""
    return {
        u["name"]: (u["admin"], sorted(u["groups"]), sorted(u["roles"]))
        for u in hub.api.get("/users", params={"include_stopped_servers": "1"}).json()
    }


def tables(url: str) -> set[str]:
    engine = create_engine(driver_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def count(url: str, table: str) -> int:
    engine = create_engine(driver_url(url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar() or 0)
    finally:
        engine.dispose()


def without_password(url: str) -> tuple[str, str]:
    """(the address without its password, the password)."""
    password = url.split(":")[2].split("@")[0]
    return url.replace(f":{password}@", "@"), password


@pytest.fixture(scope="module")
def pg_hub(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningHub, str]]:
    """A site whose settings name the database without a password; libpq finds it in PGPASSFILE."""
    needs_root()
    url = postgres_server.new_database()
    address, password = without_password(url)
    pgpass = tmp_path_factory.mktemp("pgpass") / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:{address.rsplit('/', 1)[1]}:*:{password}\n")
    pgpass.chmod(0o600)  # libpq ignores a file others may read
    os.environ["PGPASSFILE"] = str(pgpass)
    hub = None
    try:
        hub = launch_hub(
            {"ana": ("student", ["g"]), "ben": ("student", ["g"]), "tess": ("teacher", ["g"])},
            db_url=address,
        )
        yield hub, url
    finally:
        os.environ.pop("PGPASSFILE", None)
        if hub is not None:
            teardown_hub(hub)


def test_the_site_runs_and_restarts_on_postgresql_with_nothing_lost(pg_hub: tuple[RunningHub, str]) -> None:
    hub, url = pg_hub
    assert 'db_url = "postgresql://' in hub.site_file.read_text() and url not in hub.site_file.read_text()
    assert not (hub.data_dir / "hub" / "jupyterhub.sqlite").exists(), "the hub made a SQLite database"
    assert {"users", "users_info", "api_tokens", "alembic_version"} <= tables(url)
    assert count(url, "users_info") == 4  # the accounts' passwords, in NativeAuthenticator's table there
    password = url.split(":")[2].split("@")[0]
    assert password not in hub.log(), "the hub's log shows the database's password"

    # Log in and start a space.
    ana = hub.name("ana")
    s = hub.login("ana")
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(ana)
    assert hub.session().login(ana, "not-the-password").status_code != 302  # control: passwords are checked

    # A class list: accounts and the group through the hub, passwords by the classroom into PostgreSQL.
    g, kid = hub.name("g"), hub.name("kid")
    reply = upload_class_list(hub, [f"{kid},Kid K.,{g},student,", f"{hub.name('tom')},Tom T.,{g},mentor,"])
    slips = {slip["username"]: slip["password"] for slip in reply["slips"]}
    assert set(slips) == {kid, hub.name("tom")}
    for name, secret in slips.items():  # a log-in also gives the roles file's roles (mentor) at once
        assert hub.session().login(name, secret).status_code == 302, name
    assert count(url, "users_info") == 6

    # Share a piece and approve its showcase proposal.
    piece = share_story(hub, "ana", "Street story")
    proposed = propose(hub, "ana", piece)
    assert proposed.status_code == 201, proposed.text
    assert consent(hub, "tess", "ana", True).status_code == 200
    approved = decide(hub, "tess", proposed.json()["id"], "approve")
    assert approved.status_code == 200, approved.text
    link = approved.json()["link"]
    assert anonymous(hub, link).status_code == 200

    before = accounts(hub)
    assert f"teacher-{g}" in before[hub.name("tess")][2] and f"mentor-{g}" in before[hub.name("tom")][2]
    pieces_before = api(hub, "tess", "GET", f"/groups/{g}/pieces")
    assert pieces_before.status_code == 200 and piece in pieces_before.text, pieces_before.text
    proposals_before = api(hub, "tess", "GET", f"/groups/{g}/showcase/proposals").json()["proposals"]
    assert [p["status"] for p in proposals_before if p["piece"] == piece] == ["published"]

    # The same site, restarted on the same database.
    hub.stop()
    hub.start()
    assert accounts(hub) == before  # the admin's API token still works: tokens are kept too
    for name, secret in [(ana, PASSWORD), (hub.name("tess"), PASSWORD), (kid, slips[kid])]:
        assert hub.session().login(name, secret).status_code == 302, name
    assert hub.session().login(kid, PASSWORD).status_code != 302
    hub.api.wait_for_server(ana)
    s.wait_ready(ana)  # her space survived the restart, and her log-in (its tokens live in the database)
    assert api(hub, "tess", "GET", f"/groups/{g}/pieces").json() == pieces_before.json()
    assert api(hub, "tess", "GET", f"/groups/{g}/showcase/proposals").json()["proposals"] == proposals_before
    assert anonymous(hub, link).status_code == 200
    assert not (hub.data_dir / "hub" / "jupyterhub.sqlite").exists()
    assert password not in hub.log()


@pytest.fixture(scope="module")
def sqlite_hub() -> Iterator[RunningHub]:
    needs_root()
    hub = launch_hub({"ana": ("student", ["g"]), "tess": ("teacher", ["g"])})
    try:
        yield hub
    finally:
        os.environ.pop("CLHUB_DB_URL", None)
        os.environ.pop("PGPASSWORD", None)
        teardown_hub(hub)


def test_a_migrated_site_starts_on_postgresql_and_its_people_log_in(
    sqlite_hub: RunningHub, postgres_server: PostgresServer
) -> None:
    hub = sqlite_hub
    g = hub.name("g")
    reply = upload_class_list(hub, [f"{hub.name('kid')},Kid K.,{g},student,"])
    kid, kid_password = reply["slips"][0]["username"], reply["slips"][0]["password"]
    assert hub.session().login(kid, kid_password).status_code == 302
    before = accounts(hub)
    sqlite_file = hub.data_dir / "hub" / "jupyterhub.sqlite"

    target = postgres_server.new_database()
    running = subprocess.run(
        [CLHUB, "db", "migrate", "--to", target, "--site", str(hub.site_file)], capture_output=True, text=True
    )
    assert running.returncode == 2 and "The hub is running" in running.stderr  # never beside a running hub
    hub.stop()
    done = subprocess.run(
        [CLHUB, "db", "migrate", "--to", target, "--site", str(hub.site_file)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    password = target.split(":")[2].split("@")[0]
    assert password not in done.stdout + done.stderr
    assert any(line.split()[:1] == ["users_info"] for line in done.stdout.splitlines())
    migrated = sqlite_file.read_bytes()

    # As an operator's service file would set them: the address, and the password apart.
    os.environ["CLHUB_DB_URL"], os.environ["PGPASSWORD"] = without_password(target)
    hub.start()
    assert accounts(hub) == before
    for name, secret in [(hub.name("ana"), PASSWORD), (hub.name("tess"), PASSWORD), (kid, kid_password)]:
        assert hub.session().login(name, secret).status_code == 302, name
    assert hub.session().login(kid, PASSWORD).status_code != 302
    # A new class list lands in PostgreSQL, not in the old file.
    newer = upload_class_list(hub, [f"{hub.name('lee')},Lee L.,{g},student,"])["slips"][0]
    assert hub.session().login(newer["username"], newer["password"]).status_code == 302
    assert sqlite_file.read_bytes() == migrated, "the hub wrote into the old SQLite database"
    assert count(target, "users") == len(before) + 1
    assert password not in hub.log()
