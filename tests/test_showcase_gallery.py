"""A group's family gallery: off by default, one light page of the group's published pieces.

The page itself is checked as a pure function; the rest runs against a real hub: only a
teacher of the group turns it on or off, the showcase service (its own system user, no
log-in) serves it like a piece's page, it follows every approve, decline and withdraw, and
it never shows a user name.
"""

from __future__ import annotations

import http.client
import os
import pwd
import re
import secrets
import stat
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests

from connected_learning.accounts import enrolment
from connected_learning.paths import DataLayout
from connected_learning.showcase.gallery import Entry, render_gallery
from connected_learning.showcase.publish import SHOWCASE_USER
from realhub import RunningHub
from test_showcase import api, as_learner, token

CLHUB = str(Path(sys.executable).parent / "clhub")


# ------------------------------------------------------------------ the page


def test_the_gallery_page_escapes_titles_and_is_light_for_a_phone() -> None:
    page = render_gallery(
        [
            Entry('<img src=x onerror="alert(1)"> & "friends"', "Ana <b>M.</b>", "/services/showcase/p/" + "a" * 32),
            Entry("Beat", "Ben", "/services/showcase/p/" + "b" * 32),
        ]
    )
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<script" not in page and "<img" not in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;friends&quot;" in page
    assert "Made by Ana &lt;b&gt;M.&lt;/b&gt;" in page
    assert page.index("a" * 32) < page.index("b" * 32)
    assert re.findall(r'href="([^"]+)"', page) == [f"/services/showcase/p/{c * 32}" for c in "ab"]
    assert '<html lang="en">' in page and "What we made" in page
    assert len(page.encode()) < 8_000


def test_the_gallery_speaks_spanish_and_says_when_it_is_empty() -> None:
    spanish = render_gallery([Entry("Ritmo", "Ana", "/services/showcase/p/" + "c" * 32)], lang="es-MX")
    assert '<html lang="es">' in spanish and "Lo que hicimos" in spanish and "Creado por Ana" in spanish
    assert "Todavía no hay nada" in render_gallery([], lang="es")
    assert "Nothing is published here yet" in render_gallery([], lang="fr")


# ------------------------------------------------------------------ through a real hub


@pytest.fixture(scope="module")
def hub(make_hub: Any) -> RunningHub:
    hub = make_hub(
        {
            "ana": ("student", ["g"]),
            "ben": ("student", ["g"]),
            "zed": ("student", ["h"]),
            "tess": ("teacher", ["g"]),
            "ted": ("teacher", ["h"]),
        }
    )
    for short in ("ana", "ben"):  # their first start makes their system users and links the group folder
        s = hub.login(short)
        assert s.spawn_with_form(["art"]).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


def gallery(hub: RunningHub, short: str, group: str = "g", **body: Any) -> requests.Response:
    path = f"/groups/{hub.name(group)}/showcase/gallery"
    return api(hub, short, "POST", path, json=body) if body else api(hub, short, "GET", path)


def anonymous(hub: RunningHub, path: str) -> requests.Response:
    return requests.get(hub.url + path, timeout=30, allow_redirects=False)


def publish(hub: RunningHub, short: str, title: str, display: str = "") -> dict[str, Any]:
    """Share a story as `short`, propose it with `title`, record consent and approve: the proposal."""
    g = hub.name("g")
    file = f"story-{secrets.token_hex(4)}.md"
    text = f"# A story\n\nWritten by {hub.name(short)}.\n"
    made = as_learner(hub, short, sys.executable, "-c", f"open({file!r}, 'w').write({text!r})")
    assert made.returncode == 0, made.stderr
    done = as_learner(hub, short, CLHUB, "share", file, "--title", "A story", display=display)
    assert done.returncode == 0, done.stderr
    piece = done.stdout.split(" as ")[1].split(" ")[0]
    r = api(hub, short, "POST", f"/groups/{g}/showcase/proposals", json={"piece": piece, "title": title})
    assert r.status_code == 201, r.text
    assert (
        api(hub, "tess", "POST", f"/groups/{g}/showcase/consent/{hub.name(short)}", json={"given": True}).status_code
        == 200
    )
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{r.json()['id']}/approve")
    assert r.status_code == 200, r.text
    return r.json()


def pages(hub: RunningHub) -> Path:
    return hub.data_dir / "showcase" / "pages"


@pytest.mark.integration
def test_only_a_teacher_of_the_group_turns_the_gallery_on_and_off(hub: RunningHub) -> None:
    assert gallery(hub, "tess").json() == {"enabled": False}
    for who in ("ana", "ben", "zed", "ted"):
        assert gallery(hub, who, enabled=True).status_code == 403, who
        assert gallery(hub, who).status_code == 403, who
    assert gallery(hub, "tess", "h", enabled=True).status_code == 403
    assert gallery(hub, "ted", "h", enabled=True).status_code == 200  # their own group: fine
    assert gallery(hub, "ted", "h", enabled=False).json() == {"enabled": False}
    assert gallery(hub, "tess").json() == {"enabled": False}
    bad = gallery(hub, "tess", enabled="maybe")
    assert bad.status_code == 400 and '"enabled": true' in bad.json()["message"]
    assert api(hub, "tess", "POST", f"/groups/{hub.name('g')}/showcase/gallery", data=b"not json").status_code == 400
    for group in ("no%2fsuch", "-x", "x" * 80):
        r = api(hub, "tess", "POST", f"/groups/{group}/showcase/gallery", json={"enabled": True})
        assert r.status_code in (403, 404), (group, r.status_code)
    assert gallery(hub, "tess").json() == {"enabled": False}


@pytest.mark.integration
def test_the_gallery_lists_published_pieces_and_follows_every_decision(hub: RunningHub) -> None:
    on = gallery(hub, "tess", enabled=True)
    assert on.status_code == 200, on.text
    state = on.json()
    link, gallery_token = state["link"], state["token"]
    assert state["enabled"] is True and link == f"/services/showcase/p/{gallery_token}" and len(gallery_token) == 32

    empty = anonymous(hub, link)
    assert empty.status_code == 200 and "Nothing is published here yet" in empty.text
    assert empty.headers["Content-Security-Policy"] == "sandbox"
    assert "<script" not in empty.text and 'name="viewport"' in empty.text
    # Stored as a piece's page is: the showcase user's group reads it, nobody else.
    showcase_gid = pwd.getpwnam(SHOWCASE_USER).pw_gid
    folder, page = pages(hub) / gallery_token, pages(hub) / gallery_token / "index.html"
    assert (stat.S_IMODE(os.stat(folder).st_mode), os.stat(folder).st_uid, os.stat(folder).st_gid) == (
        0o750,
        0,
        showcase_gid,
    )
    assert (stat.S_IMODE(os.stat(page).st_mode), os.stat(page).st_uid, os.stat(page).st_gid) == (0o640, 0, showcase_gid)

    first = publish(hub, "ana", f'<img src=x onerror="alert(1)"> from {hub.name("ana")}')
    second = publish(hub, "ben", "Beat & bass")
    listed = anonymous(hub, link).text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; from Ana" in listed and "<img" not in listed
    assert "Beat &amp; bass" in listed and "Made by Ana" in listed and "Made by Ben" in listed
    assert set(re.findall(r'href="([^"]+)"', listed)) == {first["link"], second["link"]}
    for name in hub.users:
        assert name not in listed, name
    assert all(anonymous(hub, x).status_code == 200 for x in (first["link"], second["link"]))
    # The gallery's token is not a piece: nobody withdraws it through the piece's door.
    assert api(hub, "tess", "DELETE", f"/showcase/{gallery_token}").status_code == 404
    assert anonymous(hub, link).status_code == 200

    # Declining a published piece takes it off the gallery; so does its author's withdrawal.
    assert (
        api(
            hub,
            "tess",
            "POST",
            f"/groups/{hub.name('g')}/showcase/proposals/{second['id']}/decline",
            json={"note": "Later"},
        ).status_code
        == 200
    )
    listed = anonymous(hub, link).text
    assert "Beat &amp; bass" not in listed and second["link"] not in listed and first["link"] in listed
    assert api(hub, "ana", "DELETE", f"/showcase/{first['token']}").status_code == 204
    assert "Nothing is published here yet" in anonymous(hub, link).text

    # Off: the link answers 404 at once and the page is gone from the disk.
    assert gallery(hub, "tess", enabled=False).json() == {"enabled": False}
    gone = anonymous(hub, link)
    assert gone.status_code == 404 and "not here" in gone.text
    assert not folder.exists()
    third = publish(hub, "ana", "While it is off")  # an approval while it is off writes no gallery
    assert anonymous(hub, link).status_code == 404

    # On again, in Spanish: a new link; the old one stays dead.
    again = gallery(hub, "tess", enabled=True, lang="es").json()
    assert again["token"] != gallery_token and again["lang"] == "es"
    assert anonymous(hub, link).status_code == 404
    spanish = anonymous(hub, again["link"]).text
    assert '<html lang="es">' in spanish and "Lo que hicimos" in spanish and "Creado por Ana" in spanish
    assert third["link"] in spanish
    assert gallery(hub, "tess").json()["link"] == again["link"]
    assert gallery(hub, "tess", enabled=False).status_code == 200


@pytest.mark.integration
def test_a_display_name_that_holds_a_user_name_is_not_shown(hub: RunningHub) -> None:
    state = gallery(hub, "tess", enabled=True).json()
    layout = DataLayout(hub.data_dir)
    enrolment.update_display_names(layout, {hub.name("ana"): f"Ana and {hub.name('ben')}"})  # a careless class list
    try:
        made = publish(hub, "ana", "Friends")
    finally:
        enrolment.update_display_names(layout, {hub.name("ana"): "Ana"})
    listed = anonymous(hub, state["link"]).text
    assert made["link"] in listed and "by a young maker" in listed
    for name in hub.users:
        assert name not in listed, name
    assert api(hub, "ana", "DELETE", f"/showcase/{made['token']}").status_code == 204
    assert gallery(hub, "tess", enabled=False).status_code == 200


@pytest.mark.integration
def test_the_classroom_page_has_the_gallery_switch(hub: RunningHub) -> None:
    g = hub.name("g")
    s = hub.login("tess")
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=60).text
    assert "Turn the gallery on" in page and "gallery link" not in page
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    url = f"{hub.url}/services/classroom/api/groups/{g}/showcase/gallery"
    r = s.http.post(
        url, data={"_xsrf": xsrf, "from_page": "1", "enabled": "true", "lang": "es"}, allow_redirects=False, timeout=60
    )
    assert r.status_code == 302 and r.headers["Location"].endswith(f"#showcase-{g}"), r.text[:300]
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=60).text
    link = re.search(r'href="(/services/showcase/p/[^"/]+)">gallery link', page).group(1)
    assert "Lo que hicimos" in anonymous(hub, link).text
    # Without the page's XSRF token a forged form does nothing.
    assert (
        s.http.post(url, data={"from_page": "1", "enabled": "false"}, allow_redirects=False, timeout=60).status_code
        == 403
    )
    assert anonymous(hub, link).status_code == 200
    r = s.http.post(url, data={"_xsrf": xsrf, "from_page": "1", "enabled": "false"}, allow_redirects=False, timeout=60)
    assert r.status_code == 302
    assert anonymous(hub, link).status_code == 404
    assert "Turn the gallery on" in s.http.get(f"{hub.url}/services/classroom/", timeout=60).text


@pytest.mark.integration
@pytest.mark.parametrize(
    "path",
    [
        "/services/classroom/api/groups/..%2f..%2fshowcase/gallery",
        "/services/classroom/api/groups/%2e%2e/showcase/gallery",
        "/services/classroom/api/groups/../showcase/gallery",
    ],
)
def test_path_tricks_never_reach_a_gallery(hub: RunningHub, path: str) -> None:
    # Sent byte for byte: dots that climb are resolved by the proxy or refused by the service.
    conn = http.client.HTTPConnection(urlparse(hub.url).netloc, timeout=30)
    conn.request(
        "POST", path, body=b'{"enabled": true}', headers={**token(hub, "tess"), "Content-Type": "application/json"}
    )
    r = conn.getresponse()
    body = r.read().decode(errors="replace")
    conn.close()
    assert r.status in (302, 403, 404, 405), (path, r.status, body[:200])
    assert '"enabled": true' not in body and "/services/showcase/p/" not in body
