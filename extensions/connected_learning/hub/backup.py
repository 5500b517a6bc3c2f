"""`clhub backup` and `clhub restore`: a whole site in one archive, and back.

The archive (tar, gzip) of a running site holds:

    clhub-backup.json   what it is: when, from which data folder and host, and the system
                        users and groups that own its files (names, homes, memberships)
    site.toml           the site's settings file
    hub.pgdump          a PostgreSQL site's hub database (pg_dump's custom format, 0600); a
                        SQLite site's is in data/hub/ like every other file
    data/...            the data folder: hub database, secrets, interests, roles, releases,
                        groups (peer review, moderation, proposals), showcase, courses
                        (grades), exchange, and learners' homes in demo mode
    homes/<user>/...    each hub user's home outside the data folder (/home/<user>)

Every SQLite file (the hub's database, each nbgrader gradebook) is copied through SQLite's
backup API, so it is consistent even while the hub or a grader writes to it; every other
file is written atomically by the product, so each is copied whole, old or new. Owners
are kept by name, with modes (setgid and sticky bits included).

A PostgreSQL site's database is dumped by PostgreSQL's own pg_dump (consistent while the hub
writes) and loaded by pg_restore in one transaction into an empty database, which the
restored settings then name (without its password: libpq's environment or ~/.pgpass has it).

`restore` refuses a data folder that is not empty (unless forced), creates the system
users and groups the files belong to that this machine lacks (owners map by name, so
uids may differ), unpacks, and forgets servers that ran on the old machine.
"""

from __future__ import annotations

import argparse
import contextlib
import grp
import json
import os
import pwd
import re
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ClhubError
from ..host.current import for_site
from ..host.system import ensure_system_user
from ..paths import DataLayout
from ..settings import SiteSettings
from . import database
from .database import sqlite_file

MANIFEST = "clhub-backup.json"
SITE = "site.toml"
HUB_DUMP = "hub.pgdump"  # a PostgreSQL site's hub database, pg_dump's custom format
FORMAT = 1
SQLITE_MAGIC = b"SQLite format 3\x00"
# Left out: SQLite's side files (the backup API has their content) and the dead proxy's pid.
SKIP_SUFFIXES = ("-journal", "-wal", "-shm")
SKIP_NAMES = {"proxy.pid"}
# Learners' disk images (host/disks.py) are mounted on their homes, which are backed up file by
# file; a restored home is moved into a new image at its learner's next start.
SKIP_DATA_FOLDERS = {"disks"}
# The start-up template's socket, pid, lock and log (hub/template.py): this machine's running state.
SKIP_HUB_FOLDERS = {"template"}
SYSTEM_GROUP_PREFIXES = ("clhub-", "clhubt-")
SERVICE_USERS = ("clhub-showcase", "clhub-live", "clhub-grader")


class BackupError(ClhubError):
    code = "backup"


# ------------------------------------------------------------------ backup


def _is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_MAGIC
    except OSError:
        return False


def sqlite_copy(src: str, dst: str) -> None:
    """A consistent copy of the SQLite database `src`, taken while others may write to it."""
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True, timeout=30)
    try:
        target = sqlite3.connect(dst)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _hub_users(db: str) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT name FROM users ORDER BY name")]


def _memberships() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for g in grp.getgrall():
        for member in g.gr_mem:
            found.setdefault(member, []).append(g.gr_name)
    return found


def _accounts(names: list[str]) -> list[dict[str, Any]]:
    groups = _memberships()
    accounts: list[dict[str, Any]] = []
    for name in [*SERVICE_USERS, *names]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        accounts.append(
            {
                "name": name,
                "service": name in SERVICE_USERS,
                "home": entry.pw_dir,
                "shell": entry.pw_shell,
                "comment": entry.pw_gecos,
                "groups": sorted(groups.get(name, [])),
            }
        )
    return accounts


def _site_groups(accounts: list[dict[str, Any]]) -> list[str]:
    """The site's system groups its users belong to (groups that only own files are made as met)."""
    return sorted({g for a in accounts for g in a["groups"] if g.startswith(SYSTEM_GROUP_PREFIXES)})


def _ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        _run("groupadd", name)


def _add_tree(tar: tarfile.TarFile, root: str, arc_root: str, scratch: str) -> int:
    """Add the folder `root` as `arc_root`; return the number of files. SQLite goes through backup."""
    count = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        rel = os.path.relpath(folder, root)
        arc_folder = arc_root if rel == "." else f"{arc_root}/{rel}"
        with contextlib.suppress(FileNotFoundError):
            tar.add(folder, arcname=arc_folder, recursive=False)
        if rel == "." and arc_root == "data":
            dirs[:] = [d for d in dirs if d not in SKIP_DATA_FOLDERS]
        elif rel == "hub" and arc_root == "data":
            dirs[:] = [d for d in dirs if d not in SKIP_HUB_FOLDERS]
        elif rel == ".":
            dirs[:] = [d for d in dirs if d != "lost+found"]  # a home that is its own file system
        # os.walk lists a link to a folder among the folders and does not enter it: keep the link.
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = [d for d in dirs if d not in links]
        for name in sorted([*files, *links]):
            if name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES):
                continue
            path = os.path.join(folder, name)
            try:
                info = tar.gettarinfo(path, arcname=f"{arc_folder}/{name}")
            except FileNotFoundError:
                continue  # removed while we walked: a running site
            if info is None:
                continue  # a socket or fifo: nothing to keep
            if info.islnk():  # hard links become files: each path restores on its own
                info.type = tarfile.REGTYPE
                info.linkname = ""
                info.size = os.lstat(path).st_size
            if info.isreg():
                source = path
                if _is_sqlite(path):
                    source = os.path.join(scratch, "db.sqlite")
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(source)
                    sqlite_copy(path, source)
                try:
                    with open(source, "rb") as f:
                        info.size = os.fstat(f.fileno()).st_size
                        tar.addfile(info, f)
                except FileNotFoundError:
                    continue
            else:
                tar.addfile(info)
            count += 1
    return count


def backup(settings: SiteSettings, out: str | os.PathLike[str]) -> int:
    """Write the archive of the site to `out` (mode 0600: it holds secrets); return the file count."""
    url = settings.database_url
    db = sqlite_file(url)
    if db is not None and not db.is_file():
        raise BackupError(f"No hub database at {db}: is {settings.source} the site's settings file?")
    host = for_site(settings.spawner, settings.data_dir)
    data_root = os.path.realpath(settings.data_dir)
    if db is not None and not os.path.realpath(db).startswith(data_root + os.sep):
        raise BackupError(
            f"The hub database {db} is outside the data folder {data_root}, so the archive would lack it: "
            "move it into the data folder's hub/ (and db_url with it), or leave db_url empty."
        )
    out = os.path.abspath(out)
    if out.startswith(data_root + os.sep):
        raise BackupError(f"{out} is inside the data folder {data_root}; write the backup somewhere else.")
    with tempfile.TemporaryDirectory(prefix="clhub-backup-") as scratch:
        if db is None:
            names = database.user_names(url)  # before the dump: a user added meanwhile has no home here yet
            hub_dump = os.path.join(scratch, HUB_DUMP)
            database.dump(url, hub_dump)
        else:
            db_copy = os.path.join(scratch, "hub.sqlite")
            sqlite_copy(str(db), db_copy)
            names = _hub_users(db_copy)
        homes = {}
        for user in names:
            home = host.home(user)
            if home and os.path.isdir(home) and not os.path.realpath(home).startswith(data_root + os.sep):
                homes[user] = home
        manifest = {
            "format": FORMAT,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data_dir": data_root,
            "site_file": str(settings.source),
            "host": host.name,
            "users": [],
            "groups": [],
        }
        if db is None:
            manifest["database"] = database.without_password(url)
        if host.isolated:
            manifest["users"] = users = _accounts(sorted(homes))
            manifest["groups"] = _site_groups(users)
        partial = f"{out}.partial"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=2).encode())
                _add_bytes(tar, SITE, Path(settings.source).read_bytes())
                if db is None:
                    with open(hub_dump, "rb") as f:
                        info = tar.gettarinfo(fileobj=f, arcname=HUB_DUMP)
                        info.mode, info.uname, info.gname = 0o600, "root", "root"
                        tar.addfile(info, f)
                count = _add_tree(tar, data_root, "data", scratch)
                for user, home in homes.items():
                    count += _add_tree(tar, home, f"homes/{user}", scratch)
                tar.close()
                raw.flush()
                os.fsync(raw.fileno())
            os.replace(partial, out)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
    return count


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io

    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(data))


# ------------------------------------------------------------------ restore


@dataclass(frozen=True)
class Restored:
    data_dir: Path
    site_file: Path
    files: int
    created_users: list[str]
    database: str = ""  # a PostgreSQL site's database, as it may be shown


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"The archive holds an unsafe path {name!r}; it was not made by clhub backup.")
    return path


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode:
        raise BackupError(f"`{' '.join(cmd)}` failed: {done.stderr.strip()}")


def recreate_accounts(manifest: dict[str, Any]) -> list[str]:
    """Create the system groups and users the archive's files belong to; return the new users."""
    created = []
    users = manifest.get("users") or []
    assert isinstance(users, list)
    for user in users:
        if user["service"]:
            with contextlib.suppress(KeyError):
                pwd.getpwnam(user["name"])
                continue
            ensure_system_user(user["name"])
            created.append(user["name"])
    for group in manifest.get("groups") or []:
        _ensure_group(group)
    for user in users:
        if user["service"]:
            continue
        try:
            pwd.getpwnam(user["name"])
            continue  # the same name on this machine: files map to it
        except KeyError:
            pass
        cmd = ["useradd", "--no-create-home", "--home-dir", user["home"], "--shell", user["shell"]]
        cmd += ["--user-group", "--comment", user["comment"] or "Connected Learning Hub learner"]
        if user["groups"]:
            cmd += ["--groups", ",".join(user["groups"])]
        _run(*cmd, user["name"])
        created.append(user["name"])
    return created


def _forget_servers(db: Path) -> None:
    """Servers of the old machine are not running here: the hub must not trust their pids."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE spawners SET server_id = NULL, state = NULL")
        conn.execute(
            "DELETE FROM servers WHERE id NOT IN (SELECT _server_id FROM services WHERE _server_id IS NOT NULL)"
        )
        conn.commit()


def _with_data_dir(text: str, data_dir: Path) -> str:
    return _with_site_value(text, "data_dir", str(data_dir))


def _with_site_value(text: str, key: str, value: str) -> str:
    """The settings file `text` with `[site] key = value` (replaced, or added)."""
    line = f"{key} = {json.dumps(value)}"
    if re.search(rf"(?m)^\s*{key}\s*=", text):
        return re.sub(rf"(?m)^\s*{key}\s*=.*$", lambda _: line, text, count=1)
    if re.search(r"(?m)^\[site\]\s*$", text):
        return re.sub(r"(?m)^\[site\]\s*$", lambda _: f"[site]\n{line}", text, count=1)
    return f"{text.rstrip()}\n\n[site]\n{line}\n"


def _members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """Members in order, refusing paths that leave the archive's folders or pass through a link."""
    links: list[PurePosixPath] = []
    for member in tar:
        path = _safe_member(member.name)
        if any(path != link and link in path.parents for link in links):
            raise BackupError(f"The archive writes {member.name!r} through a link; it was not made by clhub backup.")
        if member.issym():
            links.append(path)
        elif not (member.isdir() or member.isreg()):
            continue  # devices, hard links: never written by clhub backup
        yield member


def restore(
    archive: str | os.PathLike[str],
    data_dir: str | os.PathLike[str] | None = None,
    site_file: str | os.PathLike[str] | None = None,
    force: bool = False,
    db_url: str | None = None,
) -> Restored:
    """Bring back the site in `archive` (into `data_dir`, default the one it came from).

    A PostgreSQL site's hub database goes into `db_url` (default CLHUB_DB_URL, else the
    database it came from, its password from libpq's environment), which must be empty; the
    restored settings name it.

    Raises:
        BackupError: the data folder or the settings file is in the way, or the archive is
            not one of clhub backup's.
        DatabaseError: the PostgreSQL database cannot be reached, is not empty, or refused the dump.
    """
    with tarfile.open(archive, "r:gz") as tar, tempfile.TemporaryDirectory(prefix="clhub-restore-") as scratch:
        first = tar.next()
        if first is None or first.name != MANIFEST:
            raise BackupError(f"{archive} is not an archive made by clhub backup (no {MANIFEST} first).")
        f = tar.extractfile(first)
        assert f is not None
        manifest = json.load(f)
        target = Path(os.path.abspath(data_dir or manifest["data_dir"]))
        site_out = Path(os.path.abspath(site_file or manifest["site_file"]))
        if target.exists() and any(target.iterdir()) and not force:
            raise BackupError(f"The data folder {target} is not empty; restore into an empty one, or add --force.")
        if site_out.exists() and not force:
            raise BackupError(f"{site_out} exists; name another with --site, or add --force.")
        server_db = ""
        if manifest.get("database"):
            server_db = db_url or os.environ.get("CLHUB_DB_URL") or str(manifest["database"])
            if not database.is_postgres(server_db):
                raise BackupError(
                    f"This backup's hub database is PostgreSQL; {database.describe(server_db)!r} is not a "
                    "PostgreSQL address (postgresql://user@host:port/database)."
                )
            database.check_empty(server_db)  # before anything is unpacked
        root = for_site("auto", target).isolated  # system users here: the accounts must exist
        if manifest.get("host") == "system" and not root:
            raise BackupError("This backup is of a site with system users: restore it as root.")
        created = recreate_accounts(manifest) if root else []
        homes = {u["name"]: u["home"] for u in manifest.get("users", []) if not u["service"]}
        target.mkdir(parents=True, exist_ok=True)
        count = 0
        for member in _members(tar):
            path = PurePosixPath(member.name)
            if member.name == SITE:
                text = _with_data_dir(tar.extractfile(member).read().decode(), target)  # type: ignore[union-attr]
                if server_db:
                    text = _with_site_value(text, "db_url", database.without_password(server_db))
                site_out.parent.mkdir(parents=True, exist_ok=True)
                site_out.write_text(text)
                continue
            if member.name == HUB_DUMP and server_db and member.isreg():
                tar.extract(member, scratch)
                continue
            if path.parts[0] == "data":
                dest_root, rel = target, PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else None
            elif path.parts[0] == "homes" and len(path.parts) > 1 and path.parts[1] in homes:
                home = Path(homes[path.parts[1]])
                dest_root, rel = home.parent, PurePosixPath(home.name, *path.parts[2:])
            else:
                continue
            if rel is None:  # the data folder itself: its mode and owner
                member.name = target.name
                tar.extract(member, target.parent)
                continue
            if root and member.gname.startswith(SYSTEM_GROUP_PREFIXES):
                _ensure_group(member.gname)  # e.g. a course's teachers' group: owns files, has no members
            member.name = str(rel)
            tar.extract(member, dest_root)
            count += 1
        if server_db:
            if not os.path.isfile(os.path.join(scratch, HUB_DUMP)):
                raise BackupError(f"{archive} names a PostgreSQL database but holds no {HUB_DUMP}.")
            database.load(server_db, os.path.join(scratch, HUB_DUMP))
            database.forget_servers(server_db)
    if not server_db:
        _forget_servers(DataLayout(target).db)
    return Restored(target, site_out, count, created, database.describe(server_db) if server_db else "")


# ------------------------------------------------------------------ the commands


def cmd_backup(args: argparse.Namespace) -> int:
    from ..settings import DEFAULT_SITE, env_overrides, load_settings

    settings = load_settings(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE, env_overrides())
    count = backup(settings, args.file)
    print(f"Backed up {count} files and folders of the site at {settings.data_dir} to {args.file}.")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    done = restore(args.file, args.data_dir, args.site, force=args.force, db_url=args.db_url)
    if done.created_users:
        print(f"Created system accounts: {', '.join(done.created_users)}.")
    if done.database:
        print(f"The hub database is back in {done.database}.")
    print(
        f"Restored {done.files} files and folders into {done.data_dir}; settings in {done.site_file}. "
        f"Start the site with: clhub up --site {done.site_file}"
    )
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("backup", help="write an archive of the site (it may be running)")
    p.add_argument("file", help="the archive to write (tar.gz, mode 0600: it holds the site's secrets)")
    p.add_argument("--site", help="settings file (default: CLHUB_SITE or hub_config/site.toml)")
    p.set_defaults(func=cmd_backup)
    p = sub.add_parser("restore", help="bring a site back from an archive of clhub backup (hub stopped)")
    p.add_argument("file", help="the archive")
    p.add_argument("--data-dir", help="where to put the data folder (default: where it was); must be empty")
    p.add_argument("--site", help="where to write the settings file (default: where it was)")
    p.add_argument("--force", action="store_true", help="restore into a non-empty data folder, over the settings file")
    p.add_argument(
        "--db-url",
        help="a PostgreSQL site's hub database: an empty one to restore into (default: CLHUB_DB_URL, else the one "
        "the site had)",
    )
    p.set_defaults(func=cmd_restore)
