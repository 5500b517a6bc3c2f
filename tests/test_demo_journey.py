"""The whole peer-review-to-showcase journey in the demo of an ordinary user (`make demo`
without root): every account runs as one system user, so nothing but the host seam tells the
classroom whose piece is whose.

A teacher imports a learner with a display name; the learner shares a piece from her own
kernel, a classmate gives feedback, she proposes it; the teacher sees her true name on the
proposal, approves it, and the progress table counts the piece and the feedback.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pwd
import shutil
import signal
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from conftest import free_port
from connected_learning.hub import launch
from hubclient import HubSession
from kernelclient import run_code
from test_demo import _processes_using, _start_demo

pytestmark = pytest.mark.integration
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
