"""`clhub demo` and the demo spawner: accounts, the password, Ctrl-C, the warning, and the
whole peer-review-to-showcase journey in the demo of an ordinary user.

`clhub demo` runs exactly as `make demo` does, on a free port and a temporary data
folder, at http://localhost:<port> with each learner's server on <name>.localhost. Run as
root it uses real system users, so the first test spawns no server through it; the demo
of an ordinary user (the demo spawner) is run as `nobody` and starts ana's server.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from jupyterhub.spawner import set_user_setuid

from conftest import REPO, RunningHub, free_port, one_demo_at_a_time
from connected_learning.hub import launch, template
from connected_learning.settings import SettingsError
from hubclient import HubSession
from kernelclient import run_code

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")


@pytest.fixture(autouse=True)
def _one_demo_at_a_time() -> Iterator[None]:
    """The demos of this file and of test_browser_journeys.py use the same fixed ports: in turn."""
    with one_demo_at_a_time():
        yield


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
            [CLHUB, "demo", "--site", str(REPO / "hub_config" / "demo.toml")],
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
        socket_path = template.socket_path(data_dir)
        if os.geteuid() == 0:  # as root the start-up template starts beside the hub (the control)
            deadline = time.monotonic() + 60
            while not template.is_running(socket_path) and time.monotonic() < deadline:
                time.sleep(0.2)
            pids.append(template.template_pid(socket_path) or 0)
            assert pids[-1], "the start-up template did not start beside the demo's hub"
        _stop_with_ctrl_c(proc, pids)
        assert proc.returncode == 0
        assert [p for p in pids if os.path.exists(f"/proc/{p}")] == []  # the template too: nothing left as root
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
    shutil.rmtree(data_dir, ignore_errors=True)
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
    site.write_text(f'[site]\ndata_dir = "{tmp_path / "data"}"\nspawner = "cloud"\n')
    message = "site.spawner = 'cloud' is not allowed; use one of: auto, local, demo, kubernetes."
    # `clhub up`, the tests and the benchmarks stop before preparing anything...
    with pytest.raises(SettingsError, match=re.escape(message)):
        launch.start_hub(site, "site", cwd=tmp_path, log=subprocess.PIPE)
    assert not (tmp_path / "data").exists()
    # ...and so does a hub started by hand with the same configuration file.
    env = dict(os.environ, CLHUB_SITE=str(site), CLHUB_MODE="site")
    proc = subprocess.Popen(
        launch.hub_command(), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    text = out.decode()
    assert message in text
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


# ------------------------------------------------------------------ the journey, without root
# Every account of a non-root demo runs as one system user, so nothing but the host seam tells
# the classroom whose piece is whose. (In this file: the demos use the same fixed ports for the
# hub's own API and services, so they run one after another.)

PASSWORD = "a-demo-password-1"
GROUP = "demo-class"


def _token(url: str, session: HubSession, name: str) -> str:
    """An API token of the logged-in `name`, made through the hub's API with the browser's cookie."""
    r = session.http.post(
        f"{url}/hub/api/users/{name}/tokens",
        json={"note": "demo journey", "expires_in": 900},
        headers={"X-XSRFToken": session.xsrf(), "Referer": f"{url}/hub/"},
        timeout=60,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["token"])


def _in_kernel(url: str, name: str, token: str, *command: str) -> Any:
    """Run `clhub <command>` in `name`'s own kernel, as a learner types it in a terminal."""
    code = (
        "import json, subprocess\n"
        f"r = subprocess.run(['clhub', *{list(command)!r}], capture_output=True, text=True)\n"
        "print(json.dumps([r.returncode, r.stdout, r.stderr]))\n"
    )
    out = run_code(url, name, token, code, timeout=180).strip().splitlines()
    code_, stdout, stderr = json.loads(out[-1])
    assert code_ == 0, f"clhub {' '.join(command)}: {stdout}{stderr}"
    return stdout


def _start_server(url: str, name: str, password: str, interests: list[str]) -> tuple[HubSession, str]:
    s = HubSession(url)
    assert s.login(name, password).status_code == 302, name
    assert s.spawn_with_form(interests).status_code == 302
    s.wait_ready(name, timeout=120)
    return s, _token(url, s, name)


def test_a_non_root_demo_carries_share_feedback_propose_approve_and_progress() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="clhub-journey-"))
    user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() else "nobody"
    if os.geteuid() == 0:
        shutil.chown(data_dir, user)
    port = free_port()
    url = f"http://localhost:{port}"
    proc = _start_demo(data_dir, port, PASSWORD, data_dir / "demo.log", as_user=user if os.geteuid() == 0 else None)
    try:
        launch.wait_for_hub(url, proc, timeout=90)
        tess = HubSession(url)
        assert tess.login("tess", PASSWORD).status_code == 302
        teacher = {"Authorization": f"token {_token(url, tess, 'tess')}"}
        classroom = f"{url}/services/classroom/api"

        # The teacher imports a learner with a display name into her group.
        r = requests.post(
            f"{classroom}/roster",
            data=f"username,display_name,group,role,password\nlia,Lia P.,{GROUP},student,\n".encode(),
            headers={**teacher, "Content-Type": "text/csv"},
            timeout=300,
        )
        assert r.status_code == 201, r.text
        lia_password = next(s["password"] for s in r.json()["slips"] if s["username"] == "lia")

        # Lia shares from her own kernel; ana gives feedback from hers.
        _, lia = _start_server(url, "lia", lia_password, ["art"])
        run_code(url, "lia", lia, "open('my-dragon.md', 'w').write('# My dragon\\n\\nIt breathes bubbles.\\n')")
        shared = _in_kernel(url, "lia", lia, "share", "my-dragon.md", "--title", "My dragon")
        piece = shared.split(" as ")[1].split(" ")[0]
        _, ana = _start_server(url, "ana", PASSWORD, ["art"])
        _in_kernel(url, "ana", ana, "feedback", piece, "--works", "The bubbles!", "--reaction", "wow")
        # Ana cannot propose Lia's piece, even though both run as the same system user.
        code = (
            "import json, subprocess\n"
            f"r = subprocess.run(['clhub', 'showcase', 'propose', {piece!r}, '--title', 'Mine now'],"
            " capture_output=True, text=True)\n"
            "print(json.dumps([r.returncode, r.stdout, r.stderr]))\n"
        )
        refused = json.loads(run_code(url, "ana", ana, code, timeout=180).strip().splitlines()[-1])
        assert refused[0] != 0 and "your own" in refused[1] + refused[2], refused
        _in_kernel(url, "lia", lia, "showcase", "propose", piece, "--title", "My dragon")

        # The teacher sees Lia's true author and display name, and approves.
        proposals = requests.get(f"{classroom}/groups/{GROUP}/showcase/proposals", headers=teacher, timeout=60)
        assert proposals.status_code == 200, proposals.text
        (proposal,) = [p for p in proposals.json()["proposals"] if p["piece"] == piece]
        assert proposal["owner"] == "lia" and proposal["author_display"] == "Lia P.", proposal
        consent = requests.post(
            f"{classroom}/groups/{GROUP}/showcase/consent/lia", json={"given": True}, headers=teacher, timeout=60
        )
        assert consent.status_code == 200, consent.text
        approved = requests.post(
            f"{classroom}/groups/{GROUP}/showcase/proposals/{proposal['id']}/approve", headers=teacher, timeout=120
        )
        assert approved.status_code == 200, approved.text
        page = requests.get(url + approved.json()["link"], timeout=60)
        assert page.status_code == 200 and "My dragon" in page.text and "Lia P." in page.text

        # Progress counts the piece and the feedback, for the right learners.
        table = tess.http.get(f"{url}/services/classroom/groups/{GROUP}/progress.csv", timeout=60)
        assert table.status_code == 200, table.text
        rows = {row["User name"]: row for row in csv.DictReader(io.StringIO(table.text))}
        assert rows["lia"]["Pieces shared"] == "1" and rows["lia"]["Feedback received"] == "1", rows["lia"]
        assert rows["ana"]["Feedback given"] == "1" and rows["ana"]["Pieces shared"] == "0", rows["ana"]
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        assert _processes_using(data_dir) == [], "Ctrl-C left the hub, a service or a server running"
    finally:
        if proc.poll() is None:
            proc.kill()
        for pid in _processes_using(data_dir):  # a failed run must not leave a hub holding the ports
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)
