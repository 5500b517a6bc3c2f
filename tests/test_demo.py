"""`clhub demo` and the demo spawner: accounts, the password, Ctrl-C, and the warning.

`clhub demo` runs exactly as `make demo` does, on a free port and a temporary data
folder, at http://localhost:<port> with each learner's server on <name>.localhost. Run as
root it uses real system users, so the first test spawns no server through it; the demo
of an ordinary user (the demo spawner) is run as `nobody` and starts ana's server.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from jupyterhub.spawner import set_user_setuid

from conftest import REPO, RunningHub, free_port
from connected_learning.hub import launch
from hubclient import HubSession

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")


def _start_demo(
    data_dir: Path, port: int, password: str | None, out: Path, as_user: str | None = None
) -> subprocess.Popen[str]:
    env = dict(os.environ, CLHUB_PORT=str(port), CLHUB_DATA_DIR=str(data_dir))
    env.pop("CLHUB_DEMO_PASSWORD", None)
    if password:
        env["CLHUB_DEMO_PASSWORD"] = password
    become = None
    if as_user:
        env.update(HOME=str(data_dir), USER=as_user)
        become = set_user_setuid(as_user, chdir=False)
    with open(out, "w") as f:
        return subprocess.Popen(
            [CLHUB, "demo"],
            env=env,
            stdout=f,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=data_dir if as_user else REPO,
            preexec_fn=become,
        )


def _group_processes(pgid: int) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pgid=,pid=,args="], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.split()[0] == str(pgid)]


def _stop_with_ctrl_c(proc: subprocess.Popen[str], hub_pids: list[int]) -> None:
    """Send Ctrl-C's signal; clhub must exit, and everything it started must be gone by then."""
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


def _hub_pids(data_dir: Path) -> list[int]:
    """The hub and proxy processes, found through the proxy's pid file and the hub's port."""
    pids = []
    proxy_pid = data_dir / "hub" / "proxy.pid"
    if proxy_pid.exists():
        pids.append(int(proxy_pid.read_text()))
    out = subprocess.run(["pgrep", "-f", "jupyterhub -f"], capture_output=True, text=True).stdout
    for pid in out.split():
        env = Path(f"/proc/{pid}/environ")
        try:
            if str(data_dir).encode() in env.read_bytes():
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def _processes_using(data_dir: Path) -> list[int]:
    """Every process whose environment names `data_dir`: the hub, its services, servers."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if str(data_dir).encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def test_clhub_demo_creates_accounts_and_ctrl_c_stops_everything() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="clhub-demo-"))
    port = free_port()
    url = f"http://localhost:{port}"

    proc = _start_demo(data_dir, port, "a-demo-password-1", data_dir / "first.log")
    try:
        launch.wait_for_hub(url, timeout=90)
        assert f"Open {url} in a browser." in (data_dir / "first.log").read_text()
        for name in ("ana", "ben", "cai", "tess", "milo", "admin"):
            r = HubSession(url).login(name, "a-demo-password-1")
            assert r.status_code == 302, name
        assert HubSession(url).login("ana", "wrong-password-1").status_code != 302
        pids = _hub_pids(data_dir)
        assert len(pids) >= 2, "expected the hub and the proxy"
        _stop_with_ctrl_c(proc, pids)
        assert proc.returncode == 0
        assert [p for p in pids if os.path.exists(f"/proc/{p}")] == []
    finally:
        if proc.poll() is None:
            proc.kill()

    # Without CLHUB_DEMO_PASSWORD a new password is generated and printed once.
    proc = _start_demo(data_dir, port, None, data_dir / "second.log")
    try:
        launch.wait_for_hub(url, timeout=90)
        text = (data_dir / "second.log").read_text()
        assert "a-demo-password-1" not in (data_dir / "first.log").read_text()
        password = re.search(r"Their password \(shown only now\): (\S+)", text).group(1)
        assert HubSession(url).login("ben", password).status_code == 302
        assert HubSession(url).login("ben", "a-demo-password-1").status_code != 302
        _stop_with_ctrl_c(proc, _hub_pids(data_dir))
    finally:
        if proc.poll() is None:
            proc.kill()
    roles = (data_dir / "hub" / "site-roles.json").read_text()
    assert '"tess"' in roles and '"milo"' in roles


def test_the_demo_of_an_ordinary_user_puts_each_server_on_its_own_host() -> None:
    """`make demo` without root: the demo spawner, the hub at localhost, ana at ana.localhost."""
    data_dir = Path(tempfile.mkdtemp(prefix="clhub-demo-"))
    user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() else "nobody"
    if os.geteuid() == 0:
        shutil.chown(data_dir, user)
    port = free_port()
    url = f"http://localhost:{port}"
    proc = _start_demo(
        data_dir, port, "a-demo-password-1", data_dir / "demo.log", as_user=user if os.geteuid() == 0 else None
    )
    try:
        launch.wait_for_hub(url, proc, timeout=90)
        ana = HubSession(url)
        assert ana.login("ana", "a-demo-password-1").status_code == 302
        assert "not isolated from each other" in ana.http.get(f"{url}/hub/home").text
        assert ana.spawn_with_form(["music"]).status_code == 302
        ana.wait_ready("ana", timeout=120)
        assert ana.server_url("ana") == f"http://ana.localhost:{port}/user/ana/"
        assert ana.contents("ana", "workbooks/beat-lab").status_code == 200
        # The classroom is on the hub's host, not on ana's.
        tess = HubSession(url)
        assert tess.login("tess", "a-demo-password-1").status_code == 302
        page = tess.http.get(f"{url}/services/classroom/", timeout=60)
        assert page.status_code == 200 and page.url == f"{url}/services/classroom/", page.url
        assert (data_dir / "homes" / "ana" / "workbooks" / "beat-lab").is_dir()
        server = [
            p for p in _processes_using(data_dir) if b"jupyterhub-singleuser" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        assert len(server) == 1 and Path(f"/proc/{server[0]}").stat().st_uid == pwd.getpwnam(user).pw_uid
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        assert proc.returncode == 0
        assert _processes_using(data_dir) == [], "Ctrl-C left the hub, a service or ana's server running"
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_broken_site_settings_stop_the_hub_with_a_clear_message(tmp_path: Path) -> None:
    site = tmp_path / "site.toml"
    site.write_text(f'[site]\ndata_dir = "{tmp_path / "data"}"\nspawner = "kubernetes"\n')
    proc = launch.start_hub(site, "site", cwd=tmp_path, log=subprocess.PIPE)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    text = out.decode()
    assert "site.spawner = 'kubernetes' is not allowed; use one of: auto, local, demo." in text
    assert "Traceback" not in text
    assert not (tmp_path / "data").exists()


def test_demo_spawner_warns_and_keeps_homes_in_the_data_folder(make_hub) -> None:
    hub: RunningHub = make_hub({"ana": ("student", ["class"])}, spawner="demo")
    s = hub.login("ana")
    page = s.http.get(f"{hub.url}/hub/home").text
    assert "not isolated from each other" in page
    assert s.spawn_with_form(["nature"]).status_code == 302
    s.wait_ready(hub.name("ana"))
    assert hub.api.get(f"/users/{hub.name('ana')}").json()["servers"][""]["url"] == hub.server_url(hub.name("ana"))
    assert hub.server_url(hub.name("ana")).startswith(f"http://{hub.name('ana')}.localhost:")
    home = hub.data_dir / "homes" / hub.name("ana")
    assert (home / "workbooks" / "bird-count" / "bird-count.ipynb").is_file()
    assert "NOT isolated from each other" in hub.log()
