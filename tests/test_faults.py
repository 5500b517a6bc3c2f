"""Integration: the site comes back after kill -9 of each of its parts, and nothing is lost.

One real hub (real system users). In order: a learner's server is killed in the middle of
saving a large notebook (the old file stays whole), the hub is killed (its proxy and
services live on as orphans) and started again the way `clhub up` starts it (the orphans
are stopped, a surviving learner's server is found again), then the proxy and every
service are killed and the hub brings them back by itself. At the end the hub, the
teacher's classroom log-in and the showcase answer, and every file is there. A port that
a foreign process holds stops the start with a message naming it.
"""

from __future__ import annotations

import os
import pwd
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from connected_learning.hub import recovery
from connected_learning.hub.launch import start_hub
from connected_learning.hub.recovery import SITE_MARKER
from realhub import RunningHub

pytestmark = pytest.mark.integration
NOT_A_TOKEN = "x" * 32


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub({"ana": ("student", ["g"]), "ben": ("student", ["g"]), "tess": ("teacher", ["g"])})
    for short in ("ana", "ben"):
        s = hub.login(short)
        assert s.spawn_with_form(["art"]).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


def site_processes(hub: RunningHub) -> dict[str, int]:
    """This site's proxy and services by name: {"proxy": pid, "classroom": pid, ...}."""
    marker = recovery.site_marker(hub.data_dir)
    found = {}
    for p in recovery.processes():
        if p.environ.get(SITE_MARKER) != marker:
            continue
        if "JUPYTERHUB_SERVICE_NAME" in p.environ:
            found[p.environ["JUPYTERHUB_SERVICE_NAME"]] = p.pid
        elif any("configurable-http-proxy" in a for a in p.argv[:2]):
            found["proxy"] = p.pid
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def server_pid(hub: RunningHub, short: str) -> int:
    model = hub.api.get(f"/users/{hub.name(short)}").json()
    return int(model["servers"][""]["state"]["pid"])


def notebook(text: str) -> dict[str, Any]:
    cell = {"cell_type": "markdown", "id": "c1", "metadata": {}, "source": text}
    return {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def save(session: Any, hub: RunningHub, short: str, path: str, nb: dict[str, Any]) -> requests.Response:
    return session.lab_api(
        "PUT", hub.name(short), f"contents/{path}", json={"type": "notebook", "content": nb}, timeout=300
    )


def everything_answers(hub: RunningHub, timeout: float = 120) -> None:
    """The hub's API, the teacher's classroom log-in and both showcase services answer."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            api = hub.api.get("/", timeout=10).status_code
            tess = hub.session()
            login = tess.login(hub.name("tess"), "correct-horse-7").status_code
            page = tess.http.get(f"{hub.url}/services/classroom/", timeout=30)
            shows = [
                requests.get(f"{hub.url}/services/{s}/p/{NOT_A_TOKEN}", timeout=30).status_code
                for s in ("showcase", "showcase-live")
            ]
            last = f"api {api}, log-in {login}, classroom {page.status_code}, showcase {shows}"
            if api == 200 and login == 302 and page.status_code == 200 and hub.name("g") in page.text:
                if shows == [404, 404]:  # the services' own answer to an unknown link, not the proxy's 503
                    return
        except requests.RequestException as e:
            last = str(e)
        time.sleep(1)
    raise AssertionError(f"the site did not return to full service: {last}")


def test_a_server_killed_mid_save_leaves_the_old_notebook_whole(hub: RunningHub) -> None:
    ana = hub.login("ana")
    name = hub.name("ana")
    ana.wait_ready(name)  # the server's own cookies (OAuth), XSRF included
    home = Path(pwd.getpwnam(name).pw_dir)
    old = notebook("my first draft")
    assert save(ana, hub, "ana", "big.ipynb", old).status_code in (200, 201)
    assert save(ana, hub, "ana", "keep.ipynb", notebook("keep me")).status_code in (200, 201)
    before = (home / "big.ipynb").read_bytes()

    pid = server_pid(hub, "ana")
    done: list[Any] = []
    big = notebook("x" * 60_000_000)
    saver = threading.Thread(target=lambda: done.append(_try(lambda: save(ana, hub, "ana", "big.ipynb", big))))
    saver.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        # Any save-in-progress file beside it: ours (.~save-big.ipynb-*.tmp) or jupyter_server's
        # own backup copy (.~big.ipynb), made just before it writes into the file itself.
        if any(e.name.startswith((".~save-big.ipynb-", ".~big.ipynb")) for e in os.scandir(home)):
            os.killpg(pid, signal.SIGKILL)  # the server and everything in its session
            break
        time.sleep(0.001)
    else:
        raise AssertionError("the save never began writing")
    saver.join(300)
    assert not alive(pid)
    assert (home / "big.ipynb").read_bytes() == before  # the old file, whole: never empty, never half


def _try(call: Any) -> Any:
    try:
        return call()
    except requests.RequestException as e:
        return e


def test_after_kill_9_of_the_hub_the_start_command_brings_everything_back(hub: RunningHub) -> None:
    ben_pid = server_pid(hub, "ben")
    orphans = site_processes(hub)
    assert {"proxy", "classroom", "showcase", "showcase-live"} <= set(orphans), orphans
    assert hub.proc is not None
    os.kill(hub.proc.pid, signal.SIGKILL)
    hub.proc.wait()
    time.sleep(1)
    assert all(alive(pid) for pid in orphans.values())  # the situation of the issue: orphans hold the ports
    hub.proc = None
    hub.start()  # launch.start_hub: what `clhub up` runs
    assert not any(alive(pid) for pid in orphans.values())
    everything_answers(hub)
    assert "Address already in use" not in hub.log()
    # ben's server lived through it and the new hub found it; ana's (killed) is known stopped.
    hub.api.wait_for_server(hub.name("ben"))
    assert server_pid(hub, "ben") == ben_pid
    hub.api.wait_for_server(hub.name("ana"), ready=False, timeout=60)


def test_after_kill_9_of_the_proxy_and_of_each_service_the_hub_brings_them_back(hub: RunningHub) -> None:
    before = site_processes(hub)
    os.kill(before["proxy"], signal.SIGKILL)
    for name in ("classroom", "showcase", "showcase-live"):
        os.killpg(before[name], signal.SIGKILL)
    everything_answers(hub, timeout=150)
    after = site_processes(hub)
    assert all(after[k] != before[k] for k in ("proxy", "classroom", "showcase", "showcase-live")), (before, after)
    ben = hub.login("ben")
    ben.wait_ready(hub.name("ben"))  # the proxy got ben's route back


def test_the_learner_starts_again_and_every_file_is_there(hub: RunningHub) -> None:
    ana = hub.login("ana")
    assert ana.spawn_with_form(["art"]).status_code == 302
    ana.wait_ready(hub.name("ana"))
    got = {
        path: ana.contents(hub.name("ana"), path).json()["content"]["cells"][0]["source"]
        for path in ("big.ipynb", "keep.ipynb")
    }
    assert got == {"big.ipynb": "my first draft", "keep.ipynb": "keep me"}
    listing = ana.contents(hub.name("ana"), "workbooks").json()["content"]
    assert listing, "the workbooks are gone"


def test_a_port_held_by_a_foreign_process_is_named_before_the_hub_starts(hub: RunningHub) -> None:
    hub.stop()
    port = int(hub.site_file.read_text().split("showcase_port = ")[1].split()[0])
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        with pytest.raises(recovery.SiteStartError) as e:
            start_hub(hub.site_file, "site", cwd=hub.workdir)
        assert f"Port {port} (site.showcase_port in {hub.site_file}) is taken by process {os.getpid()}" in str(e.value)
    finally:
        squatter.close()
    hub.start()
    everything_answers(hub)
