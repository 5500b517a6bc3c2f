"""The "Play with it" live showcase through a real hub, its proxy and Voila.

A learner shares a notebook with a widget, a probe that tries to read homes and the data
folder, a division by zero and a runaway allocation; the teacher approves it. Anonymous
visitors then open the live page through the proxy. The hub runs with two live kernels at
most, one preheated and an idle time of 12 s, so the limit is reached inside this module
and kernels come back within it.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
from tornado.websocket import websocket_connect

from connected_learning.showcase.publish import LIVE_USER
from realhub import RunningHub, fenced_kernels_below, listener
from test_showcase import CLHUB, as_learner, consent, decide

pytestmark = pytest.mark.integration
LIMIT = 2


LISTENERS = [(sock, sock.getsockname()[1]) for sock in (listener("127.0.0.1"), listener("127.0.0.2"))]


def notebook(hub: RunningHub) -> str:
    """The shared notebook: a widget, and a probe that attacks from the live kernel.

    The probe lists /proc, walks up from its folder, tries the homes, the data folder and the
    showcase's folders (every published token is in `showcase/live`), and connects to the
    hub's port and to the module's two listeners (127.0.0.1 and another address). Its
    lines reach the page, which is how the test knows it ran. Nothing in it names a user
    (the snapshot would scrub it anyway); the paths are spelt out in parts for the same reason.
    """
    data = list(hub.data_dir.parts)
    ports = [int(hub.url.rsplit(":", 1)[1].split("/")[0]), *(port for _, port in LISTENERS)]
    probe = f'''import os, socket
print("pids", len([p for p in os.listdir("/proc") if p.isdigit()]))
# The live copy's setup cell moved to a private copy; `_clh_piece` is where the piece itself lies.
print("top", " ".join(sorted(os.listdir(os.path.dirname(_clh_piece)))))
try:
    open(os.path.join(_clh_piece, "x.txt"), "w").close()
    print("piece", "writable")
except OSError:
    print("piece", "read-only")
data = os.path.join(*{data!r})
targets = [os.path.join(os.sep, "home"), data, os.path.join(data, "hub"), os.path.join(data, "groups"),
    os.path.join(data, "groups", "{hub.prefix}g", "peer-review"), os.path.join(data, "showcase", "snapshots"),
    os.path.join(data, "showcase", "live"), os.path.join(data, "showcase", "pages"),
    os.path.join(data, "showcase", "consent.json"), "/sys/fs/cgroup"]
for n, target in enumerate(targets):
    try:
        os.listdir(target) if os.path.isdir(target) else open(target).read(1)
        print("probe", n, "read")
    except PermissionError:
        print("probe", n, "denied")
    except FileNotFoundError:
        print("probe", n, "absent")
environs = [open(os.path.join("/proc", p, "environ"), "rb").read() for p in os.listdir("/proc") if p.isdigit()]
environs.append(repr(dict(os.environ)).encode())
print("environ", "secret" if any(b"JUPYTERHUB" in e or b"CLHUB" in e for e in environs) else "clean")
for n, address in enumerate([("127.0.0.1", {ports[0]}), ("127.0.0.1", {ports[1]}), ("127.0.0.2", {ports[2]})]):
    try:
        socket.create_connection(address, timeout=3).close()
        print("net", n, "reached")
    except OSError:
        print("net", n, "unreachable")
try:
    hoard = bytearray(3 * 1024 ** 3)
    print("memory", "granted")
except MemoryError:
    print("memory", "refused")
'''
    cells = [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "# Robot dance\n\n<script>document.title = 'pwned'</script>"
            "<img src=x onerror=\"document.title = 'pwned'\">\n",
        },
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "import ipywidgets as widgets\nbutton = widgets.Button(description='Dance', icon='music')\n"
            "label = widgets.Label('Ready')\nbutton.on_click(lambda _: setattr(label, 'value', 'Dancing!'))\n"
            "widgets.VBox([button, label])\n",
        },
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": probe},
        # An output that runs script in the visitor's browser: it tries the hub's API with the
        # visitor's session and the cookies, and writes what it got into the title.
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": "from IPython.display import HTML\n"
            'HTML(\'<img alt="" src="data:,x" onerror="fetch(&quot;/hub/api/user&quot;, '
            "{credentials: &quot;include&quot;}).then(r => r.text())"
            ".then(t => { document.title = &quot;leak:&quot; + t; })"
            ".catch(() => { let c; try { c = document.cookie } catch (e) { c = &quot;none&quot; } "
            "document.title = &quot;blocked:&quot; + c; })\">')\n",
        },
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None, "source": "print(1 / 0)\n"},
    ]
    return json.dumps(
        {
            "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub(
        {"ana": ("student", ["g"]), "tess": ("teacher", ["g"])},
        extra_settings=f"\n[showcase]\nlive_kernels = {LIMIT}\nlive_preheat = 1\nlive_idle_minutes = 0.2\n",
    )
    s = hub.login("ana")
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(hub.name("ana"))
    return hub


def publish(hub: RunningHub, title: str) -> dict[str, Any]:
    """Ana shares the notebook, proposes it, the teacher previews it (and sees the code the live
    page will run), records consent and approves."""
    file = title.lower().replace(" ", "-") + ".ipynb"
    made = as_learner(hub, "ana", sys.executable, "-c", f"open({file!r}, 'w').write({notebook(hub)!r})")
    assert made.returncode == 0, made.stderr
    shared = as_learner(hub, "ana", CLHUB, "share", file, "--title", title)
    assert shared.returncode == 0, shared.stderr
    piece = shared.stdout.split(" as ")[1].split(" ")[0]
    from test_showcase import api

    r = api(
        hub,
        "ana",
        "POST",
        f"/groups/{hub.name('g')}/showcase/proposals",
        json={"piece": piece, "title": title, "description": "Press the button."},
    )
    assert r.status_code == 201, r.text
    from test_showcase_propose import preview

    seen = preview(hub, "tess", hub.name("g"), r.json()["id"])
    assert seen.status_code == 200, seen.text[:500]
    assert "The code that runs when a family presses" in seen.text
    for line in (
        "socket.create_connection(address, timeout=3)",
        "os.listdir(&quot;/proc&quot;)",
        "button.on_click(lambda _: setattr(label, &#x27;value&#x27;, &#x27;Dancing!&#x27;))",
    ):
        assert line in seen.text, line
    assert consent(hub, "tess", "ana", True).status_code == 200
    r = decide(hub, "tess", r.json()["id"], "approve")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def piece(hub: RunningHub) -> dict[str, Any]:
    return publish(hub, "Robot dance")


def live_url(hub: RunningHub, token: str) -> str:
    return f"{hub.url}/services/showcase-live/p/{token}"


def kernel_uids(hub: RunningHub) -> list[int]:
    """The owners of this hub's live kernels, below this hub's live service (other hubs on the
    machine may have their own; a fenced kernel's environment is empty)."""
    mine = f"CLHUB_SHOWCASE_LIVE={hub.data_dir / 'showcase' / 'live'}".encode() + b"\0"
    services = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if (
                b"connected_learning.showcase.live" in Path(f"/proc/{pid}/cmdline").read_bytes()
                and mine in Path(f"/proc/{pid}/environ").read_bytes()
            ):
                services.add(int(pid))
        except OSError:
            continue
    uids = []
    for pid in fenced_kernels_below(services):
        try:
            uids.append(os.stat(f"/proc/{pid}").st_uid)
        except OSError:
            continue
    return uids


def test_the_hubs_health_check_answers_without_a_kernel(hub: RunningHub, piece: dict) -> None:
    # First in the module: no live page has been opened yet, so no kernel may exist after.
    for _ in range(3):
        r = requests.get(f"{hub.url}/services/showcase-live/", timeout=30)
        assert r.status_code == 200 and r.text == "ok\n"
    assert kernel_uids(hub) == []


def test_the_static_page_leads_to_the_live_one_which_plays_as_the_live_user(hub: RunningHub, piece: dict) -> None:
    static = requests.get(f"{hub.url}{piece['link']}", timeout=30)
    assert static.status_code == 200
    assert f'href="/services/showcase-live/p/{piece["token"]}"' in static.text
    page = requests.get(live_url(hub, piece["token"]), timeout=120)
    assert page.status_code == 200, hub.log()[-6000:]
    assert "Lots of people" not in page.text
    assert "application/vnd.jupyter.widget-view+json" in page.text  # the widget, for Voila's front end
    # Sources stripped, no traceback, the student's script gone before Voila saw it.
    assert "button.on_click" not in page.text and "bytearray" not in page.text
    assert "ZeroDivisionError" not in page.text and "Traceback" not in page.text
    assert "did not work here; the rest of the page still does" in page.text and "show_tracebacks" not in page.text
    assert "document.title = 'pwned'" not in page.text
    assert hub.name("ana") not in page.text
    # The kernel ran fenced, as the live service's user: it saw only itself and reached nothing.
    probes = re.findall(r"probe (\d+) (read|denied|absent)", page.text)
    assert len(probes) == 10, page.text[-3000:]  # control: the probe ran to its end
    assert "environ clean" in page.text  # no token or path of the services in any environment it sees
    assert "read" not in {verdict for _n, verdict in probes}, probes
    pids = re.search(r"pids (\d+)", page.text)
    assert pids and 1 <= int(pids.group(1)) <= 3, page.text[-3000:]  # its own /proc: no other kernel
    top = re.search(r"top ([^<\n]*)", page.text)
    assert top and "fenced" in top.group(1).split() and "home" not in top.group(1).split(), page.text[-3000:]
    assert "piece read-only" in page.text
    assert re.findall(r"net (\d) (reached|unreachable)", page.text) == [
        ("0", "unreachable"),
        ("1", "unreachable"),
        ("2", "unreachable"),
    ]
    for aimed_at, _port in LISTENERS:
        with pytest.raises(BlockingIOError):  # nothing arrived
            aimed_at.accept()
    assert "memory refused" in page.text
    assert set(kernel_uids(hub)) == {pwd.getpwnam(LIVE_USER).pw_uid}


@pytest.mark.parametrize(
    "path",
    [
        "voila/tree",
        "voila/render/x.ipynb",
        "voila/api/contents/",
        "login",
        "p/%2e%2e/%2e%2e/hub/api/users",
        "p/%2e%2e/%2e%2e/etc/passwd",
        "p/short",
        "p/{token}.ipynb",
        "voila/files/{token}/piece.ipynb",
        "voila/static/../../showcase_live.py",
    ],
)
def test_only_live_pages_are_served(hub: RunningHub, piece: dict, path: str) -> None:
    r = requests.get(
        f"{hub.url}/services/showcase-live/{path.format(token=piece['token'])}", timeout=30, allow_redirects=False
    )
    # Dot segments are resolved before the service sees them (by the client or the proxy):
    # such a path leaves the live service, and the hub sends an anonymous visitor to log in.
    assert r.status_code in (403, 404) or (r.status_code == 302 and "%2e" in path), (path, r.status_code)
    assert "import" not in r.text and "nbformat" not in r.text


def kernel_id_of(page: str) -> str:
    found = re.search(r'"kernelId":\s*"([0-9a-f-]{36})"', page)
    assert found, page[:2000]
    return found.group(1)


async def talk(ws_url: str, marker: Path) -> list[str]:
    """Send an execute_request, then a kernel_info_request; return the message types that come back."""
    conn = await websocket_connect(ws_url)
    session = uuid.uuid4().hex

    def message(kind: str, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "username": "",
                "session": session,
                "msg_type": kind,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "channel": "shell",
            "buffers": [],
            "content": content,
        }

    execute = message(
        "execute_request",
        {
            "code": f"open({str(marker)!r}, 'w').write('ran')",
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    )
    info = message("kernel_info_request", {})
    await conn.write_message(json.dumps(execute))
    await conn.write_message(json.dumps(info))
    seen: list[str] = []
    try:
        while "kernel_info_reply" not in seen:
            raw = await asyncio.wait_for(conn.read_message(), 60)
            if raw is None:
                break
            if isinstance(raw, str):
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") in (
                    execute["header"]["msg_id"],
                    info["header"]["msg_id"],
                ):
                    seen.append(reply["header"]["msg_type"])
        await asyncio.sleep(2)  # time for a late execute_reply, were the request run
        while True:
            try:
                raw = await asyncio.wait_for(conn.read_message(), 0.5)
            except TimeoutError:
                break
            if raw is None:
                break
            if isinstance(raw, str):
                reply = json.loads(raw)
                if reply.get("parent_header", {}).get("msg_id") == execute["header"]["msg_id"]:
                    seen.append(reply["header"]["msg_type"])
    finally:
        conn.close()
    return seen


def test_an_anonymous_execute_request_is_dropped(hub: RunningHub, piece: dict, tmp_path: Path) -> None:
    kernel = kernel_id_of(open_live(hub, piece["token"]))
    marker = Path("/tmp") / f"clhub-live-{uuid.uuid4().hex}"
    ws = hub.url.replace("http://", "ws://") + f"/services/showcase-live/api/kernels/{kernel}/channels"
    seen = asyncio.run(talk(ws, marker))
    assert "kernel_info_reply" in seen  # the channel works: what is missing was dropped
    assert "execute_reply" not in seen and "execute_input" not in seen and "stream" not in seen
    assert not marker.exists()


def test_beyond_the_limit_visitors_get_the_saved_version(hub: RunningHub, piece: dict) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(LIMIT + 3) as pool:
        answers = list(pool.map(lambda _: requests.get(live_url(hub, piece["token"]), timeout=120), range(LIMIT + 3)))
    assert all(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    busy = [r for r in answers if "Lots of people are playing right now" in r.text]
    assert len(busy) >= 3, "more visitors were given a kernel than the limit allows"
    assert f'href="/services/showcase/p/{piece["token"]}"' in busy[-1].text
    assert len(kernel_uids(hub)) <= LIMIT


def open_live(hub: RunningHub, token: str) -> str:
    """The live page, once a kernel is free again (idle ones are culled after 12 s)."""
    deadline = time.monotonic() + 90
    while True:
        r = requests.get(live_url(hub, token), timeout=120)
        assert r.status_code == 200
        if "Lots of people are playing right now" not in r.text or time.monotonic() > deadline:
            return r.text
        time.sleep(2)


def test_withdrawing_stops_the_live_version_and_its_kernels(hub: RunningHub) -> None:
    second = publish(hub, "Robot dance two")
    kernel = kernel_id_of(open_live(hub, second["token"]))
    kernels = f"{hub.url}/services/showcase-live/api/kernels/{kernel}"
    assert requests.get(kernels, timeout=30).status_code == 200
    from test_showcase import api

    assert api(hub, "ana", "DELETE", f"/showcase/{second['token']}").status_code == 204
    assert requests.get(live_url(hub, second["token"]), timeout=30).status_code == 404
    assert not (hub.data_dir / "showcase" / "live" / second["token"]).exists()
    # The live service's sweep (every 2 s) stops the kernel of a copy that is gone.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and requests.get(kernels, timeout=30).status_code == 200:
        time.sleep(0.5)
    assert requests.get(kernels, timeout=30).status_code == 404


PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
AXE = Path(__file__).resolve().parents[1] / "node_modules" / "axe-core" / "axe.min.js"


@pytest.mark.browser
def test_the_live_page_plays_on_a_phone_isolated_from_the_hub_and_axe_finds_nothing_serious(
    hub: RunningHub, piece: dict, browser: Any, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    from test_browser_showcase import logged_in

    # A teacher who is logged in to the hub opens the live page on her phone.
    context = logged_in(browser, hub, "tess")
    try:
        page = context.new_page()
        failed: list[str] = []
        elsewhere: list[str] = []
        page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
        page.on("request", lambda r: None if r.url.startswith((hub.url, "data:", "blob:")) else elsewhere.append(r.url))
        deadline = time.monotonic() + 90
        while True:  # kernels of earlier tests are culled after 12 s idle
            response = page.goto(live_url(hub, piece["token"]), wait_until="load")
            assert response is not None and response.status == 200
            if "Lots of people" not in page.content() or time.monotonic() > deadline:
                break
            page.wait_for_timeout(2000)
        button = page.get_by_role("button", name="Dance")
        expect(button).to_be_visible(timeout=60_000)
        button.click()
        expect(page.get_by_text("Dancing!")).to_be_visible(timeout=30_000)
        # Voila's scripts run, in an opaque origin (CSP sandbox): the output's script ran too, and
        # got neither the hub's answer nor a cookie.
        assert page.evaluate("window.origin") == "null"
        expect(page).to_have_title(re.compile("^blocked:none$"), timeout=30_000)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts / "showcase-live-phone.png"), full_page=True)
        # Everything the page needs comes from the hub's address, fonts included (CORS from the
        # sandbox's "null" origin), and nothing goes to anybody else (Voila's template names a CDN).
        # Chromium reports a request the CSP stopped as failed with "csp": it never left the phone.
        assert all(f"{u} csp" in failed for u in elsewhere), (elsewhere, failed)
        expected = [f for f in failed if f.endswith(" csp") or "/hub/api/user" in f]  # the payload's fetch
        assert [f for f in failed if f not in expected] == [], failed
        page.add_script_tag(path=str(AXE))
        report = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        (artifacts / "axe-showcase-live.json").write_text(json.dumps(report, indent=1))
        serious = [
            (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:5])
            for v in report["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert serious == [], serious
    finally:
        context.close()


def test_a_preheated_kernel_handed_out_after_a_long_wait_is_not_culled_under_the_visitor(hub: RunningHub) -> None:
    """Preheating with idle culling: the pooled kernel's last activity is its pre-run.

    Voila protects a pooled kernel from the culler only while it sits in the pool. Here the
    pool's kernel waits longer than the idle time (12 s), then a visitor gets it: unless it
    is marked active when handed out, the next cull (every 6 s) stops it while the visitor's
    page is still loading its widgets.
    """
    third = publish(hub, "Robot dance three")
    deadline = time.monotonic() + 90
    while kernel_uids(hub) and time.monotonic() < deadline:  # earlier tests' kernels, culled when idle
        time.sleep(1)
    open_live(hub, third["token"])  # cold; the pool for this piece fills behind it at once
    time.sleep(20)  # the pooled kernel is now idle for longer than the idle time
    used_before = hub.log().count("Using pre-heated kernel")
    kernel = kernel_id_of(open_live(hub, third["token"]))
    assert hub.log().count("Using pre-heated kernel") == used_before + 1, "the second visit was not preheated"
    time.sleep(8)  # longer than the cull interval, shorter than the idle time since the hand-out
    r = requests.get(f"{hub.url}/services/showcase-live/api/kernels/{kernel}", timeout=30)
    assert r.status_code == 200, "the culler stopped the kernel it had just handed to a visitor"
