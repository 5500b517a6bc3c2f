"""Publishing to the showcase through a real hub: propose, consent, approve, the family link, take-down.

Learners share as their own system users; the classroom service (behind the hub's OAuth)
decides who may propose, approve and withdraw; the showcase service (no log-in, its own
system user) serves the page anonymously through the proxy, sandboxed, and nothing else.
"""

from __future__ import annotations

import http.client
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import requests
from jupyterhub.spawner import set_user_setuid

from connected_learning.peer_review import folders
from connected_learning.showcase.publish import SHOWCASE_USER
from realhub import RunningHub

pytestmark = pytest.mark.integration
CLHUB = str(Path(sys.executable).parent / "clhub")


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
    s = hub.login("ana")
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(hub.name("ana"))
    return hub


def token(hub: RunningHub, short: str) -> dict[str, str]:
    r = hub.api.post(
        f"/users/{hub.name(short)}/tokens",
        json={"note": "showcase test", "expires_in": 600, "scopes": ["access:services!service=classroom"]},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"token {r.json()['token']}"}


def api(hub: RunningHub, short: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(
        method, f"{hub.url}/services/classroom/api{path}", headers=token(hub, short), timeout=120, **kw
    )


def as_learner(hub: RunningHub, short: str, *cmd: str, display: str = "") -> subprocess.CompletedProcess[str]:
    """Run `cmd` as the learner's system user in their home (`display`: the name their pieces carry)."""
    name = hub.name(short)
    home = pwd.getpwnam(name).pw_dir
    env = {
        "HOME": home,
        "PATH": "/usr/bin:/bin",
        "JUPYTERHUB_USER": name,
        "CLHUB_DISPLAY_NAME": display or short.title(),
    }
    return subprocess.run(
        list(cmd), env=env, cwd=home, capture_output=True, text=True, timeout=60, preexec_fn=set_user_setuid(name)
    )


def share_story(hub: RunningHub, short: str, title: str) -> str:
    """Share a Markdown story that names its author and their home, as authors do by accident."""
    name = hub.name(short)
    file = title.lower().replace(" ", "-") + ".md"
    text = f"# My story\n\nWritten by {name}, saved in /home/{name}/story.md. Hello {hub.name('ben')}!\n"
    made = as_learner(hub, short, sys.executable, "-c", f"open({file!r}, 'w').write({text!r})")
    assert made.returncode == 0, made.stderr
    done = as_learner(hub, short, CLHUB, "share", file, "--title", title)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" as ")[1].split(" ")[0]


def propose(hub: RunningHub, short: str, piece: str, title: str = "My story") -> requests.Response:
    return api(
        hub,
        short,
        "POST",
        f"/groups/{hub.name('g')}/showcase/proposals",
        json={"piece": piece, "title": title, "description": "A story about my street."},
    )


def decide(hub: RunningHub, short: str, proposal: str, action: str, **body: Any) -> requests.Response:
    return api(hub, short, "POST", f"/groups/{hub.name('g')}/showcase/proposals/{proposal}/{action}", json=body)


def consent(hub: RunningHub, short: str, student: str, given: bool) -> requests.Response:
    return api(
        hub, short, "POST", f"/groups/{hub.name('g')}/showcase/consent/{hub.name(student)}", json={"given": given}
    )


def anonymous(hub: RunningHub, path: str) -> requests.Response:
    return requests.get(hub.url + path, timeout=30, allow_redirects=False)


def showcase_dir(hub: RunningHub) -> Path:
    return hub.data_dir / "showcase"


def test_propose_consent_approve_and_the_family_link(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share_story(hub, "ana", "Street story")
    # Only the piece's owner, a member of the group, proposes it.
    assert propose(hub, "ben", piece).status_code == 403
    assert propose(hub, "zed", piece).status_code == 403
    bad = propose(hub, "ana", piece, title="")
    assert bad.status_code == 400 and "title of 1 to 80" in bad.json()["message"]
    assert propose(hub, "ana", piece, title="x" * 81).status_code == 400
    assert propose(hub, "ana", "no-such-piece").status_code == 404
    long = api(
        hub,
        "ana",
        "POST",
        f"/groups/{g}/showcase/proposals",
        json={"piece": piece, "title": "Fine", "description": "x" * 501},
    )
    assert long.status_code == 400 and "under 500" in long.json()["message"]
    r = propose(hub, "ana", piece)
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]
    assert propose(hub, "ana", piece).status_code == 409

    for who in ("ana", "ben", "ted"):
        assert api(hub, who, "GET", f"/groups/{g}/showcase/proposals").status_code == 403, who
    listed = api(hub, "tess", "GET", f"/groups/{g}/showcase/proposals").json()["proposals"]
    assert [(p["piece"], p["status"], p["consent"]) for p in listed if p["id"] == proposal] == [
        (piece, "proposed", False)
    ]

    # Only a teacher of the group approves: not the author, not a peer, not another group's teacher.
    for who in ("ana", "ben", "ted"):
        assert decide(hub, who, proposal, "approve").status_code == 403, who
    no_consent = decide(hub, "tess", proposal, "approve")
    assert no_consent.status_code == 403 and "consent" in no_consent.json()["message"]
    assert consent(hub, "ben", "ana", True).status_code == 403
    assert consent(hub, "tess", "zed", True).status_code == 404  # not in the group
    assert consent(hub, "tess", "ana", True).status_code == 200
    assert stat.S_IMODE(os.stat(showcase_dir(hub) / "consent.json").st_mode) == 0o600

    done = decide(hub, "tess", proposal, "approve")
    assert done.status_code == 200, done.text
    link = done.json()["link"]
    token = done.json()["token"]
    assert link == f"/services/showcase/p/{token}" and len(token) == 32

    page = anonymous(hub, link)
    assert page.status_code == 200, page.text[:300]
    assert page.headers["Content-Security-Policy"] == "sandbox"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # Cacheable, yet revalidated each time: unchanged costs a 304, withdrawn shows at once.
    assert page.headers["Cache-Control"] == "public, no-cache" and page.headers.get("Etag")
    again = requests.get(hub.url + link, headers={"If-None-Match": page.headers["Etag"]}, timeout=30)
    assert again.status_code == 304 and again.content == b""
    # Sent gzipped to browsers that take it (compressed once, kept while the file is the same).
    assert page.headers["Content-Encoding"] == "gzip" and page.headers["Vary"] == "Accept-Encoding"
    plain = requests.get(hub.url + link, headers={"Accept-Encoding": "identity"}, timeout=30)
    assert "Content-Encoding" not in plain.headers and plain.text == page.text
    assert plain.headers["Etag"] != page.headers["Etag"]
    assert "My story" in page.text and "Ana" in page.text and "A story about my street." in page.text
    for name in hub.users:
        assert name not in page.text, name
    assert "/home/" not in page.text
    stored = showcase_dir(hub) / "snapshots" / token / "files"
    kept = b"".join(f.read_bytes() for f in stored.rglob("*") if f.is_file())
    assert b"My story" in kept and b"/home/" not in kept
    assert not [name for name in hub.users if name.encode() in kept]

    card = anonymous(hub, link + "/card")
    assert card.status_code == 200 and "<svg" in card.text and link in card.text
    assert "sandbox" in card.headers["Content-Security-Policy"]


def test_the_showcase_runs_as_its_own_user_who_reads_pages_and_no_home(hub: RunningHub) -> None:
    pages = showcase_dir(hub) / "pages"
    info = os.stat(pages)
    assert stat.S_IMODE(info.st_mode) == 0o710 and info.st_uid == 0
    assert info.st_gid == pwd.getpwnam(SHOWCASE_USER).pw_gid
    assert stat.S_IMODE(os.stat(showcase_dir(hub) / "snapshots").st_mode) == 0o700
    # The running service is the showcase user, not root.
    mine = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if b"connected_learning.showcase.service" in cmdline and str(pages).encode() in environ:
            mine.append(os.stat(f"/proc/{pid}").st_uid)
    assert mine == [pwd.getpwnam(SHOWCASE_USER).pw_uid]
    # What that user can and cannot read, decided by the operating system.
    home = pwd.getpwnam(hub.name("ana")).pw_dir
    code = (
        "import os, sys\n"
        "for p in sys.argv[1:]:\n"
        "    try:\n"
        "        os.listdir(p) if os.path.isdir(p) else open(p).read(1); print('read', p)\n"
        "    except PermissionError:\n"
        "        print('denied', p)\n"
    )
    targets = [
        home,
        str(hub.data_dir / "hub"),
        str(folders.peer_review_dir(hub.data_dir, hub.name("g"))),
        str(showcase_dir(hub) / "snapshots"),
        str(showcase_dir(hub) / "consent.json"),
        str(pages),
    ]
    out = subprocess.run(
        [sys.executable, "-c", code, *targets],
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
        preexec_fn=set_user_setuid(SHOWCASE_USER),
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:-1] == [f"denied {t}" for t in targets]


def test_withdrawing_removes_every_copy_and_the_link_answers_404(hub: RunningHub) -> None:
    piece = share_story(hub, "ana", "Withdraw me")
    proposal = propose(hub, "ana", piece).json()["id"]
    assert consent(hub, "tess", "ana", True).status_code == 200
    done = decide(hub, "tess", proposal, "approve").json()
    token, link = done["token"], done["link"]
    assert anonymous(hub, link).status_code == 200
    assert api(hub, "ben", "DELETE", f"/showcase/{token}").status_code == 403
    assert api(hub, "ted", "DELETE", f"/showcase/{token}").status_code == 403
    assert api(hub, "ana", "DELETE", f"/showcase/{token}").status_code == 204
    gone = anonymous(hub, link)
    assert gone.status_code == 404 and "not here" in gone.text
    assert anonymous(hub, link + "/card").status_code == 404
    assert not (showcase_dir(hub) / "pages" / token).exists()
    assert not (showcase_dir(hub) / "snapshots" / token).exists()
    assert api(hub, "ana", "DELETE", f"/showcase/{token}").status_code == 404
    listed = api(hub, "tess", "GET", f"/groups/{hub.name('g')}/showcase/proposals").json()["proposals"]
    assert [p["status"] for p in listed if p["id"] == proposal] == ["withdrawn"]


def test_a_waiting_proposal_can_be_withdrawn_by_its_author_or_teacher_only(hub: RunningHub) -> None:
    g = hub.name("g")
    first = propose(hub, "ana", share_story(hub, "ana", "Changed my mind")).json()["id"]
    assert api(hub, "ben", "DELETE", f"/groups/{g}/showcase/proposals/{first}").status_code == 403
    assert api(hub, "ted", "DELETE", f"/groups/{g}/showcase/proposals/{first}").status_code in (403, 404)
    assert api(hub, "ana", "DELETE", f"/groups/{g}/showcase/proposals/{first}").status_code == 204
    assert consent(hub, "tess", "ana", True).status_code == 200
    assert decide(hub, "tess", first, "approve").status_code == 409  # nothing left to approve
    assert api(hub, "ana", "DELETE", f"/groups/{g}/showcase/proposals/{first}").status_code == 409
    assert api(hub, "ana", "DELETE", f"/groups/{g}/showcase/proposals/..%2f..%2fx").status_code == 404
    # A published one, withdrawn by the teacher through its proposal: the page is gone too.
    second = propose(hub, "ana", share_story(hub, "ana", "Teacher takes it down")).json()["id"]
    link = decide(hub, "tess", second, "approve").json()["link"]
    assert anonymous(hub, link).status_code == 200
    assert api(hub, "tess", "DELETE", f"/groups/{g}/showcase/proposals/{second}").status_code == 204
    assert anonymous(hub, link).status_code == 404
    listed = api(hub, "tess", "GET", f"/groups/{g}/showcase/proposals").json()["proposals"]
    assert {p["id"]: p["status"] for p in listed if p["id"] in (first, second)} == {
        first: "withdrawn",
        second: "withdrawn",
    }


def test_the_teacher_publishes_in_spanish_and_no_other_language(hub: RunningHub) -> None:
    proposal = propose(hub, "ana", share_story(hub, "ana", "Mi calle")).json()["id"]
    assert consent(hub, "tess", "ana", True).status_code == 200
    assert decide(hub, "tess", proposal, "approve", lang="klingon").status_code == 400
    done = decide(hub, "tess", proposal, "approve", lang="es")
    assert done.status_code == 200, done.text
    page = anonymous(hub, done.json()["link"])
    assert page.status_code == 200 and '<html lang="es">' in page.text


def test_declining_keeps_it_unpublished_and_takes_a_published_one_down(hub: RunningHub) -> None:
    piece = share_story(hub, "ana", "Decline me")
    first = propose(hub, "ana", piece).json()["id"]
    assert decide(hub, "ana", first, "decline", note="no").status_code == 403
    declined = decide(hub, "tess", first, "decline", note="Please leave out your street's name.")
    assert declined.status_code == 200 and declined.json()["status"] == "declined"
    assert "link" not in declined.json()
    assert decide(hub, "tess", first, "approve").status_code == 409

    assert consent(hub, "tess", "ana", True).status_code == 200
    second = propose(hub, "ana", piece).json()["id"]
    link = decide(hub, "tess", second, "approve").json()["link"]
    assert anonymous(hub, link).status_code == 200
    assert decide(hub, "tess", second, "decline", note="Taken down after all.").status_code == 200
    assert anonymous(hub, link).status_code == 404


def test_consent_taken_back_stops_approval(hub: RunningHub) -> None:
    piece = share_story(hub, "ana", "No consent")
    proposal = propose(hub, "ana", piece).json()["id"]
    assert consent(hub, "tess", "ana", False).status_code == 200
    assert decide(hub, "tess", proposal, "approve").status_code == 403
    assert consent(hub, "tess", "ana", True).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/services/showcase/p/..%2f..%2fetc",
        "/services/showcase/p/..%2f..%2fetc%2fpasswd",
        "/services/showcase/static/../",
        "/services/showcase/static/..%2f..%2f",
        "/services/showcase/p/%2e%2e/%2e%2e/",
        "/services/showcase/p/%2e%2e",
        "/services/showcase/",
        "/services/showcase/p/",
        "/services/showcase/p/REVIEW.ipynb",
        "/services/showcase/p/showcase.py",
    ],
)
def test_the_showcase_refuses_path_tricks(hub: RunningHub, path: str) -> None:
    # Sent byte for byte (requests would resolve "/../" itself before the proxy saw it).
    conn = http.client.HTTPConnection(urlparse(hub.url).netloc, timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode(errors="replace")
    conn.close()
    # Dots that climb out of /services/showcase/ are resolved by the proxy, which then sends the
    # request to the hub (a redirect to log in), never to a file; everything else is the service's 404.
    # (An absolute address on the hub's own host when servers have subdomains.)
    location = urlparse(r.getheader("Location") or "")
    left = r.status == 302 and location.path.startswith("/hub/") and location.netloc in ("", urlparse(hub.url).netloc)
    assert r.status == 404 or left, (path, r.status, r.getheader("Location"), body[:200])
    assert "root:" not in body and "nbformat" not in body and "import" not in body


def test_a_token_with_a_file_suffix_is_not_a_page(hub: RunningHub) -> None:
    piece = share_story(hub, "ana", "Suffix")
    proposal = propose(hub, "ana", piece).json()["id"]
    assert consent(hub, "tess", "ana", True).status_code == 200
    link = decide(hub, "tess", proposal, "approve").json()["link"]
    for suffix in (".ipynb", ".py", "/index.html", "/../", "%2f..%2fmeta.json", "/"):
        r = anonymous(hub, link + suffix)
        assert r.status_code == 404, (suffix, r.status_code)
        assert "My story" not in r.text


def test_the_teachers_page_queues_proposals_with_consent_and_decisions(hub: RunningHub) -> None:
    import re

    g = hub.name("g")
    piece = share_story(hub, "ana", "Queue story")
    proposal = propose(hub, "ana", piece, title="Queued <script>x</script>").json()["id"]
    api(hub, "tess", "POST", f"/groups/{g}/showcase/consent/{hub.name('ana')}", json={"given": False})
    s = hub.login("tess")
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=60).text
    assert "Showcase proposals" in page and "Queued &lt;script&gt;" in page and "<script>x" not in page
    assert re.search(
        rf'proposals/{proposal}/approve">\s*<input[^>]+>\s*<input[^>]+>\s*<label[^>]+>[^<]*</label>'
        r'\s*<select[^>]*name="lang"[^>]*>.*?</select>\s*<button[^>]+disabled',
        page,
        re.S,
    )
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    base = f"{hub.url}/services/classroom/api/groups/{g}/showcase"
    r = s.http.post(
        f"{base}/consent/{hub.name('ana')}",
        data={"_xsrf": xsrf, "from_page": "1", "given": "true"},
        allow_redirects=False,
        timeout=60,
    )
    assert r.status_code == 302, r.text[:300]
    r = s.http.post(
        f"{base}/proposals/{proposal}/approve",
        data={"_xsrf": xsrf, "from_page": "1"},
        allow_redirects=False,
        timeout=120,
    )
    assert r.status_code == 302, r.text[:300]
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=60).text
    link = re.search(r'href="(/services/showcase/p/[^"/]+)"', page).group(1)
    assert requests.get(hub.url + link, timeout=60).status_code == 200
    # Without the page's XSRF token a forged form does nothing.
    r = s.http.post(
        f"{base}/proposals/{proposal}/decline", data={"from_page": "1", "note": "x"}, allow_redirects=False, timeout=60
    )
    assert r.status_code == 403
