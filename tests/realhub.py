"""A real hub for tests and benchmarks: settings file, accounts, start, token, teardown.

`launch_hub` writes a site settings file into a fresh folder (free ports, its own data
folder, optionally its own copy of the catalog), creates the accounts, starts the hub
exactly as `clhub up` does and fetches an admin API token the way the token page does.
`teardown_hub` stops every server and the hub, and removes every system user and group
the hub caused to exist. Names carry a random prefix so parallel runs never meet.
"""

from __future__ import annotations

import json
import os
import pwd
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from connected_learning.accounts import enrolment
from connected_learning.accounts import store as accounts
from connected_learning.host import disks
from connected_learning.host.cgroups import find_groups, read_machine, release
from connected_learning.hub import launch, template
from connected_learning.paths import DataLayout
from connected_learning.settings import load_settings
from hubclient import HubAPI, HubSession, server_url

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
PASSWORD = "correct-horse-7"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> tuple[int, ...]:
    """`count` different free ports, below the kernel's ephemeral range.

    Below it: an outgoing connection of any other test takes its local port from that range,
    and one that took a site's port while the site restarts (a hub killed and started again)
    keeps the site from listening there. Each socket stays bound until all are picked: a port
    let go may be picked again (a site with its hub and classroom on one port fails).
    """
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_low = 32768
    candidates = random.SystemRandom().sample(range(10000, max(ephemeral_low, 10001)), k=200)
    sockets: list[socket.socket] = []
    try:
        for port in candidates:
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                continue
            sockets.append(sock)
            if len(sockets) == count:
                return tuple(sock.getsockname()[1] for sock in sockets)
        raise RuntimeError(f"no {count} free ports between 10000 and {ephemeral_low}")
    finally:
        for sock in sockets:
            sock.close()


def listener(host: str) -> socket.socket:
    """A listening socket on `host` for an attack to aim at; a connection that arrived waits in
    its queue. Control: it accepts a connection from outside any fence."""
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(8)
    socket.create_connection(sock.getsockname(), timeout=3).close()
    sock.accept()[0].close()
    sock.setblocking(False)
    return sock


def fenced_kernels_below(parents: set[int]) -> list[int]:
    """The ipykernel processes below `parents`: the kernels themselves, not the bubblewrap,
    setpriv and prlimit processes around them (their command lines name the kernel too)."""
    children: dict[int, list[int]] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        # The command name in parentheses may hold spaces: the fields after it are fixed.
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(pid))
    found, below = [], [c for parent in parents for c in children.get(parent, [])]
    while below:
        pid = below.pop()
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ipykernel_launcher" in argv and not argv[0].endswith((b"bwrap", b"setpriv", b"prlimit")):
            found.append(pid)
        else:
            below.extend(children.get(pid, []))
    return found


def unique_prefix() -> str:
    return "t" + secrets.token_hex(2)


@dataclass
class RunningHub:
    url: str
    site_file: Path
    data_dir: Path
    catalog_dir: Path
    workdir: Path
    prefix: str
    admin: str
    api: HubAPI
    proc: subprocess.Popen[bytes] | None = None
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    log_path: Path | None = None
    config: Path | None = None
    subdomains: bool = True

    def name(self, short: str) -> str:
        return f"{self.prefix}{short}"

    def server_url(self, name: str) -> str:
        """Where the server of user `name` (the full name) answers, ending in "/"."""
        return server_url(self.url, name, self.subdomains)

    def session(self) -> HubSession:
        return HubSession(self.url, self.subdomains)

    def login(self, short: str, password: str = PASSWORD) -> HubSession:
        s = self.session()
        r = s.login(self.name(short), password)
        assert r.status_code == 302, f"log-in of {self.name(short)} failed: {r.status_code}"
        return s

    def start(self) -> None:
        log = open(self.workdir / "hub.log", "ab")  # noqa: SIM115 (closed with the process)
        self.log_path = self.workdir / "hub.log"
        self.proc = launch.start_hub(self.site_file, "site", cwd=self.workdir, log=log, config=self.config)
        # The hub answers its API on any host name; Python cannot resolve <x>.localhost names.
        try:
            launch.wait_for_hub(f"http://127.0.0.1:{urlsplit(self.url).port}", self.proc, timeout=90)
        except (RuntimeError, TimeoutError) as error:
            # The work folder goes with the teardown: keep why the hub stopped (or hangs) in the failure.
            raise type(error)(f"{error}\nThe end of its log:\n{self.log()[-3000:]}") from None

    def stop(self) -> None:
        if self.proc is not None:
            launch.stop_hub(self.proc, self.data_dir / "hub" / "proxy.pid")
            self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def stop_all_servers(self) -> None:
        for user in self.users:
            try:
                self.api.delete(f"/users/{user}/server", timeout=30)
            except Exception:
                pass
        for user in self.users:
            try:
                self.api.wait_for_server(user, ready=False, timeout=30)
            except Exception:
                pass


def _site_toml(
    data_dir: Path,
    catalog_dir: Path,
    ports: tuple[int, ...],
    admin: str,
    spawner: str,
    extra: str,
    subdomains: bool,
    public_url: str,
    limits: str = "",
) -> str:
    port, hub_port, api_port, classroom_port, showcase_port, live_port = ports
    # Every test's browser comes from 127.0.0.1: the brake per address would add up a whole
    # module's wrong passwords. The tests of that brake set their own.
    key = "failed_logins_from_one_address"
    address_brake = "" if key in extra else f"{key} = 1000\n"
    return f"""
[site]
name = "Test Hub"
bind_ip = "127.0.0.1"
user_subdomains = {str(subdomains).lower()}
public_url = "{public_url}"
port = {port}
hub_port = {hub_port}
proxy_api_port = {api_port}
classroom_port = {classroom_port}
showcase_port = {showcase_port}
showcase_live_port = {live_port}
data_dir = "{data_dir}"
admin_users = ["{admin}"]
spawner = "{spawner}"
start_template = {os.environ.get("CLHUB_TEST_TEMPLATES", "true")}
kernel_template = {os.environ.get("CLHUB_TEST_TEMPLATES", "true")}

[workbooks]
catalog_dir = "{catalog_dir}"
everyone = ["start-here"]

[limits]
idle_timeout_minutes = 0
start_timeout_seconds = 120
{limits}

[login]
failed_logins_before_lockout = 3
lockout_seconds = 60
{address_brake}{extra}
"""


def config_with_admin_token(folder: Path) -> tuple[Path, str]:
    """The package's hub configuration plus a service whose token has admin scopes, written in
    `folder`: for a site where the tests cannot log in with a password to ask for a token (no
    password log-in, or cookies only https carries). Pass both to `launch_hub`."""
    token = secrets.token_hex(24)
    config = folder / "jupyterhub_config.py"
    config.write_text(
        f"exec(compile(open({str(launch.HUB_CONFIG)!r}).read(), {str(launch.HUB_CONFIG)!r}, 'exec'))\n"
        f"c.JupyterHub.services.append({{'name': 'tests-admin', 'api_token': {token!r}}})\n"
        "c.JupyterHub.load_roles.append({'name': 'tests-admin', 'services': ['tests-admin'],\n"
        "    'scopes': ['admin:users', 'admin:groups', 'admin:servers', 'list:users', 'list:groups',\n"
        "               'read:users', 'read:groups', 'tokens']})\n"
    )
    return config, token


def _admin_token(url: str, admin: str) -> str:
    """An API token for the admin account, asked for the way the hub's token page does."""
    s = HubSession(url)
    assert s.login(admin, PASSWORD).status_code == 302
    r = s.http.post(
        f"{url}/hub/api/users/{admin}/tokens",
        json={"note": "tests", "expires_in": 7200},
        headers={"X-XSRFToken": s.xsrf(), "Referer": f"{url}/hub/token"},
    )
    assert r.status_code == 201, r.text
    return r.json()["token"]


def _remove_system_user(name: str) -> None:
    subprocess.run(["pkill", "-KILL", "-u", name], capture_output=True)
    _unmount_disk(name)
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def _unmount_disk(name: str) -> None:
    """The learner's own disk (host/disks.py) stays mounted on their home after a stop: unmount
    it, which frees its loop device too."""
    try:
        home = pwd.getpwnam(name).pw_dir
    except KeyError:
        return
    if disks.mount_source(Path("/proc/self/mountinfo").read_text(), home) is not None:
        if subprocess.run(["umount", home], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", home], capture_output=True)  # a killed process not yet gone


def _remove_system_group(name: str) -> None:
    subprocess.run(["groupdel", name], capture_output=True)


def launch_hub(
    users: dict[str, tuple[str, list[str]]],
    spawner: str = "local",
    own_catalog: bool = False,
    extra_settings: str = "",
    config: Path | None = None,
    prefix: str | None = None,
    subdomains: bool = True,
    host: str = "localhost",
    limits: str = "",
    data_dir: Path | None = None,
    db_url: str = "",
    api_token: str = "",
    https_front: bool = False,
) -> RunningHub:
    """Start a hub with `users` ({short name: (role, [groups])}); names get a random prefix.

    With `subdomains` (the default, as on a real site) the hub is at http://<host>:<port>
    and each server at http://<name>.<host>:<port>/user/<name>/: `host` "localhost" is the
    demo's layout, "hub.localhost" a real site's (hub and servers share a registrable
    domain, so they are the same *site* to a browser). Without, everything is at
    http://127.0.0.1:<port> (the same-origin layout). `data_dir` puts the site's data folder
    elsewhere than in the hub's own temporary folder (the caller removes it). `limits`: lines
    of the [limits] section. `db_url`: the hub's database (`[site] db_url`; default SQLite in
    the data folder).
    """
    prefix = prefix or unique_prefix()
    # Not under pytest's 0700 temp folder: learners' processes must reach the catalog copy.
    workdir = Path(tempfile.mkdtemp(prefix=f"clhub-{prefix}-"))
    os.chmod(workdir, 0o755)
    catalog_dir = REPO / "workbooks"
    if own_catalog:
        catalog_dir = workdir / "workbooks"
        shutil.copytree(REPO / "workbooks", catalog_dir)
        subprocess.run(["chmod", "-R", "a+rX", str(catalog_dir)], check=True)
    data_dir = data_dir or workdir / "data"  # elsewhere: the caller's to remove
    admin = f"{prefix}admin"
    ports = free_ports(6)
    site_file = workdir / "site.toml"
    # "localhost" comes from bind_ip, as in the demo; another host name is the site's public_url.
    # `https_front`: the site says browsers reach it over https (an https front the tests leave out).
    scheme = "https" if https_front else "http"
    public_url = f"{scheme}://{host}:{ports[0]}" if subdomains and host != "localhost" else ""
    site_toml = _site_toml(data_dir, catalog_dir, ports, admin, spawner, extra_settings, subdomains, public_url, limits)
    site_file.write_text(site_toml.replace("[site]\n", f"[site]\ndb_url = {json.dumps(db_url)}\n", 1))
    wanted = [accounts.validate_account(admin, "admin", [], PASSWORD, 8)]
    group_names: set[str] = set()
    for short, (role, groups) in users.items():
        full_groups = [f"{prefix}{g}" for g in groups]
        group_names.update(full_groups)
        wanted.append(accounts.validate_account(f"{prefix}{short}", role, full_groups, PASSWORD, 8))
    accounts.create_accounts(DataLayout(data_dir), load_settings(site_file).database_url, wanted)
    # The names a class list gives them ("Ana" for ana): what peers, teachers and families see.
    enrolment.update_display_names(DataLayout(data_dir), {f"{prefix}{short}": short.title() for short in users})
    url = f"http://{host if subdomains else '127.0.0.1'}:{ports[0]}"
    hub = RunningHub(
        url=url,
        site_file=site_file,
        data_dir=data_dir,
        catalog_dir=catalog_dir,
        workdir=workdir,
        prefix=prefix,
        admin=admin,
        api=HubAPI(url, ""),
        users=[a.name for a in wanted],
        groups=sorted(group_names),
        config=config,
        subdomains=subdomains,
    )
    try:
        hub.start()
        # `api_token`: one that `config` gives admin scopes, for a site where no password logs in.
        hub.api = HubAPI(url, api_token or _admin_token(url, admin))
    except BaseException:
        teardown_hub(hub)
        raise
    return hub


def teardown_hub(hub: RunningHub, remove_users: bool = True) -> None:
    if hub.proc is not None:
        hub.stop_all_servers()
        hub.stop()
    template.stop(template.socket_path(hub.data_dir))  # the start-up template, if one started
    if os.geteuid() == 0:  # control groups a server left behind (host/limits.py)
        groups = find_groups(read_machine())
        for user in hub.users:
            release(list(groups.get(user, {}).values()))
    if remove_users and os.geteuid() == 0:
        for user in hub.users:
            _remove_system_user(user)
        for group in hub.groups:
            _remove_system_group(f"clhub-{group}")
            _remove_system_group(f"clhubt-{group}")  # its teachers' course group
    shutil.rmtree(hub.workdir, ignore_errors=True)
