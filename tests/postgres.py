"""A real, throwaway PostgreSQL server for the tests (Debian's postgresql, `make postgresql`).

`postgres_server` (session scope; each xdist worker has its own) runs initdb and pg_ctl in a
temporary folder as the unprivileged `postgres` system user when the tests run as root
(PostgreSQL refuses root), listens on a free TCP port of 127.0.0.1 and on a unix socket in
that folder, asks for passwords over TCP (scram-sha-256), and is stopped and removed at the
end. `new_database()` makes a database with its own owner and password, as an operator would
for a site (README: PostgreSQL), and returns its address.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from realhub import free_port

SYSTEM_USER = "postgres"  # the Debian package's user


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise RuntimeError("Debian's postgresql is not installed: run `make postgresql`.")
    return found[-1]


def _as_server_user(*cmd: str) -> list[str]:
    return ["runuser", "-u", SYSTEM_USER, "--", *cmd] if os.geteuid() == 0 else list(cmd)


@dataclass
class PostgresServer:
    folder: Path
    port: int
    superuser_password: str

    @property
    def socket_dir(self) -> Path:
        return self.folder / "socket"

    def url(self, user: str, password: str, database: str) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def admin_url(self, database: str = "postgres") -> str:
        return self.url("postgres", self.superuser_password, database)

    def execute(self, sql: str, database: str = "postgres", params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Run `sql` as the superuser (autocommit: CREATE DATABASE needs it); its rows, if any."""
        import psycopg2

        conn = psycopg2.connect(self.admin_url(database))
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall()) if cur.description else []
        finally:
            conn.close()

    def new_database(self, password: str | None = None) -> str:
        """A new empty database owned by a new role with a password; its postgresql:// address."""
        name = "clhub_" + secrets.token_hex(4)
        password = password or secrets.token_urlsafe(12)
        self.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", params=(password,))
        self.execute(f"CREATE DATABASE {name} OWNER {name}")
        return self.url(name, password, name)

    def stop(self) -> None:
        subprocess.run(
            _as_server_user(_bin("pg_ctl"), "stop", "-D", str(self.folder / "data"), "-m", "fast", "-w"),
            capture_output=True,
        )


def start_server() -> PostgresServer:
    folder = Path(tempfile.mkdtemp(prefix="clhub-pg-"))
    password = secrets.token_urlsafe(16)
    (folder / "socket").mkdir()
    (folder / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(folder, SYSTEM_USER)
        shutil.chown(folder / "socket", SYSTEM_USER)
        shutil.chown(folder / "pwfile", SYSTEM_USER)
    server = PostgresServer(folder, free_port(), password)
    subprocess.run(
        _as_server_user(
            _bin("initdb"),
            "--pgdata",
            str(folder / "data"),
            "--username",
            "postgres",
            "--pwfile",
            str(folder / "pwfile"),
            "--auth-local",
            "trust",
            "--auth-host",
            "scram-sha-256",
            "--encoding",
            "UTF8",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
    started = subprocess.run(
        _as_server_user(
            _bin("pg_ctl"), "start", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w"
        ),
        capture_output=True,
        text=True,
    )
    if started.returncode != 0:
        log = (folder / "log").read_text() if (folder / "log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"PostgreSQL did not start: {started.stderr}\n{log}")
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)
