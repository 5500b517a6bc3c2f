"""A learner proposes for the showcase from their own server; the teacher previews first.

A real hub with real system users. `clhub showcase` and the `ProposeBox` widget run in the
learner's own kernel, so they reach the classroom service exactly as they do in use: with the
server's hub token. The service decides: a learner sees only their own proposals, only a
teacher of the group previews, and the preview is the page approval then publishes.
"""

from __future__ import annotations

import http.client
import json
import pwd
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import pytest
import requests

from connected_learning.peer_review import folders
from kernelclient import run_code
from realhub import RunningHub
from test_showcase import api, as_learner, token

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
    for short, interests in (("ana", ["art"]), ("ben", ["music"])):
        s = hub.login(short)
        assert s.spawn_with_form(interests).status_code == 302
        s.wait_ready(hub.name(short))
    return hub


def preview(hub: RunningHub, short: str, group: str, proposal: str) -> requests.Response:
    headers = hub.api.http.headers if short == "admin" else token(hub, short)
    return requests.get(
        f"{hub.url}/services/classroom/groups/{group}/showcase/{proposal}/preview",
        headers={"Authorization": headers["Authorization"]},
        timeout=120,
        allow_redirects=False,
    )


def share_story(hub: RunningHub, short: str, title: str) -> str:
    """Share a Markdown story that names its author and their home, as authors do by accident."""
    name = hub.name(short)
    file = title.lower().replace(" ", "-") + ".md"
    text = f"# {title}\n\nWritten by {name}, saved in /home/{name}/{file}.\n"
    made = as_learner(hub, short, sys.executable, "-c", f"open({file!r}, 'w').write({text!r})")
    assert made.returncode == 0, made.stderr
    done = as_learner(hub, short, CLHUB, "share", file, "--title", title)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" as ")[1].split(" ")[0]


def in_kernel(hub: RunningHub, short: str, code: str) -> Any:
    """Run `code` in the learner's own kernel; it prints one JSON value last, which is returned."""
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json={"note": "kernel", "expires_in": 600})
    assert r.status_code == 201, r.text
    out = run_code(hub.url, hub.name(short), r.json()["token"], code, timeout=180)
    lines = out.strip().splitlines()
    assert lines, out
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise AssertionError(out) from None


def clhub_in_server(hub: RunningHub, short: str, *commands: list[str]) -> list[tuple[int, str, str]]:
    """Run `clhub ...` commands in the learner's server (its token, its PATH); [(code, stdout, stderr)]."""
    code = (
        "import json, subprocess\n"
        f"done = [subprocess.run(['clhub', *c], capture_output=True, text=True) for c in {list(commands)!r}]\n"
        "print(json.dumps([[d.returncode, d.stdout, d.stderr] for d in done]))\n"
    )
    return [tuple(x) for x in in_kernel(hub, short, code)]


def consent_and_approve(hub: RunningHub, proposal: str) -> dict[str, Any]:
    g = hub.name("g")
    assert (
        api(hub, "tess", "POST", f"/groups/{g}/showcase/consent/{hub.name('ana')}", json={"given": True}).status_code
        == 200
    )
    r = api(hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{proposal}/approve")
    assert r.status_code == 200, r.text
    return r.json()


def mine(hub: RunningHub, short: str, group: str = "g") -> requests.Response:
    return api(hub, short, "GET", f"/groups/{hub.name(group)}/showcase/mine")


def raw_get(hub: RunningHub, path: str, headers: dict[str, str]) -> tuple[int, str]:
    """GET `path` byte for byte (requests would resolve "/../" itself before the proxy saw it)."""
    conn = http.client.HTTPConnection(urlparse(hub.url).netloc, timeout=60)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def anonymous(hub: RunningHub, path: str) -> requests.Response:
    return requests.get(hub.url + path, timeout=30, allow_redirects=False)


# ------------------------------------------------------------------ the command


def test_clhub_showcase_propose_list_and_withdraw_from_the_learners_server(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share_story(hub, "ana", "Street song")
    bens = share_story(hub, "ben", "Bens beat")
    first, again, no_title, long_title, missing, not_mine, listed = clhub_in_server(
        hub,
        "ana",
        ["showcase", "propose", piece, "--title", "My street song", "--description", "A song about my street."],
        ["showcase", "propose", piece, "--title", "Once more"],
        ["showcase", "propose", piece, "--title", "   "],
        ["showcase", "propose", piece, "--title", "x" * 81],
        ["showcase", "propose", "no-such-piece", "--title", "Nothing", "--group", g],
        ["showcase", "propose", bens, "--title", "Not mine"],
        ["showcase", "list"],
    )
    assert first[0] == 0 and "Proposed 'My street song'" in first[1], first
    # Refusals come back in the service's own words, without a traceback.
    assert again[0] == 2 and "is proposed already" in again[2], again
    assert no_title[0] == 2 and "title of 1 to 80 characters (this one has 0)" in no_title[2], no_title
    assert long_title[0] == 2 and "(this one has 81)" in long_title[2], long_title
    assert missing[0] == 2 and "There is no piece called 'no-such-piece'" in missing[2], missing
    assert not_mine[0] == 2 and "only propose your own pieces" in not_mine[2], not_mine
    for done in (again, no_title, long_title, missing, not_mine):
        assert "Traceback" not in done[2]
    assert listed[0] == 0, listed
    assert f"'My street song' ({g}, piece {piece}): waiting for your teacher" in listed[1]
    assert "family's OK is not recorded yet" in listed[1]
    assert "Bens beat" not in listed[1] and "Not mine" not in listed[1]

    proposal = next(p for p in mine(hub, "ana").json()["proposals"] if p["piece"] == piece)
    published = consent_and_approve(hub, proposal["id"])
    declined_piece = share_story(hub, "ana", "Night walk")
    (made,) = clhub_in_server(hub, "ana", ["showcase", "propose", declined_piece, "--title", "Night walk"])
    assert made[0] == 0, made
    other = next(p for p in mine(hub, "ana").json()["proposals"] if p["piece"] == declined_piece)
    note = "Lovely! Please leave out the name of your street, then propose it again."
    assert (
        api(
            hub, "tess", "POST", f"/groups/{g}/showcase/proposals/{other['id']}/decline", json={"note": note}
        ).status_code
        == 200
    )

    (listed,) = clhub_in_server(hub, "ana", ["showcase", "list"])
    assert listed[0] == 0, listed
    assert f"'My street song' ({g}, piece {piece}): published" in listed[1]
    # On the hub's host: a bare path would stay on the learner's own host, <name>.localhost.
    assert f"Family link: {hub.url}{published['link']}" in listed[1]
    assert f"Card to print: {hub.url}{published['link']}/card" in listed[1]
    card = anonymous(hub, published["link"] + "/card")
    assert card.status_code == 200 and "<h1>My street song</h1>" in card.text and "<svg" in card.text
    assert f"clhub showcase withdraw {proposal['id']}" in listed[1]
    assert f"clhub showcase withdraw {other['id']}" not in listed[1]  # declined: nothing to withdraw
    assert f"'Night walk' ({g}, piece {declined_piece}): declined" in listed[1]
    assert f"Note from your teacher: {note}" in listed[1]

    # Another learner cannot take it down; its author can, from the server, and the link dies.
    (by_ben,) = clhub_in_server(hub, "ben", ["showcase", "withdraw", published["token"]])
    assert by_ben[0] == 2 and "Only the author and their teachers" in by_ben[2], by_ben
    assert anonymous(hub, published["link"]).status_code == 200
    gone, twice, tricky, listed = clhub_in_server(
        hub,
        "ana",
        ["showcase", "withdraw", published["token"]],
        ["showcase", "withdraw", published["token"]],
        ["showcase", "withdraw", "../../groups"],
        ["showcase", "list"],
    )
    assert gone[0] == 0 and "Withdrawn" in gone[1], gone
    assert twice[0] == 2 and "no published piece at this link" in twice[2], twice
    assert tricky[0] == 2 and "You have no proposal '../../groups'" in tricky[2], tricky
    assert anonymous(hub, published["link"]).status_code == 404
    assert f"'My street song' ({g}, piece {piece}): taken down" in listed[1]
    assert published["link"] not in listed[1]


def test_clhub_showcase_withdraws_a_waiting_proposal_by_its_id(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share_story(hub, "ana", "Second thoughts")
    (made,) = clhub_in_server(hub, "ana", ["showcase", "propose", piece, "--title", "Second thoughts"])
    assert made[0] == 0, made
    waiting = next(p for p in mine(hub, "ana").json()["proposals"] if p["piece"] == piece)
    (by_ben,) = clhub_in_server(hub, "ben", ["showcase", "withdraw", waiting["id"]])
    assert by_ben[0] == 2 and "You have no proposal" in by_ben[2], by_ben  # not his: not even found
    gone, listed = clhub_in_server(hub, "ana", ["showcase", "withdraw", waiting["id"]], ["showcase", "list"])
    assert gone[0] == 0 and "Withdrawn" in gone[1], gone
    assert f"'Second thoughts' ({g}, piece {piece}): taken down" in listed[1]
    assert [p["status"] for p in mine(hub, "ana").json()["proposals"] if p["id"] == waiting["id"]] == ["withdrawn"]


def test_outside_a_server_the_command_says_what_it_needs(hub: RunningHub) -> None:
    done = as_learner(hub, "ana", CLHUB, "showcase", "list")
    assert done.returncode == 2 and "cannot reach" in done.stderr and "Traceback" not in done.stderr


# ------------------------------------------------------------------ my proposals, nobody else's


def test_a_learner_lists_only_their_own_proposals(hub: RunningHub) -> None:
    g = hub.name("g")
    anas = share_story(hub, "ana", "Ana only")
    bens = share_story(hub, "ben", "Ben only")
    for short, piece in (("ana", anas), ("ben", bens)):
        r = api(hub, short, "POST", f"/groups/{g}/showcase/proposals", json={"piece": piece, "title": piece})
        assert r.status_code == 201, r.text
    for short, own, other in (("ana", anas, bens), ("ben", bens, anas)):
        r = mine(hub, short)
        assert r.status_code == 200, r.text
        found = r.json()["proposals"]
        assert own in [p["piece"] for p in found] and other not in [p["piece"] for p in found]
        assert {p["owner"] for p in found} == {hub.name(short)}
        assert all("decided_by" not in p for p in found)
    # Not a member: 403, whatever the group; a teacher of another group too.
    assert mine(hub, "zed").status_code == 403
    assert mine(hub, "ted").status_code == 403
    assert mine(hub, "ana", "h").status_code == 403
    # The group's teacher has no proposals of their own there; the full queue is elsewhere.
    assert mine(hub, "tess").json() == {"proposals": []}
    for bad in ("no%2fsuch", "x" * 80, "-x", "a.b"):
        assert api(hub, "ana", "GET", f"/groups/{bad}/showcase/mine").status_code in (403, 404), bad
    # Dots that climb are resolved before the service sees them: whatever answers, it is no one's list.
    for bad in ("..", "%2e%2e", "%2e%2e%2f%2e%2e"):
        r = raw_get(hub, f"/services/classroom/api/groups/{bad}/showcase/mine", token(hub, "ana"))
        assert r[0] != 200 and "proposals" not in r[1], (bad, r)


# ------------------------------------------------------------------ the widget


def test_the_showcase_notebook_is_delivered_beside_my_feedback(hub: RunningHub) -> None:
    home = Path(pwd.getpwnam(hub.name("ana")).pw_dir)
    notebook = home / folders.HOME_LINKS / folders.SHOWCASE_NOTEBOOK
    assert notebook.is_file() and (home / folders.HOME_LINKS / folders.INBOX_NOTEBOOK).is_file()
    assert notebook.stat().st_uid == pwd.getpwnam(hub.name("ana")).pw_uid
    cells = json.loads(notebook.read_text())["cells"]
    code = next(c for c in cells if c["cell_type"] == "code")
    # The notebook's own cell runs in the learner's kernel and draws the box.
    source = "".join(code["source"])
    shown = in_kernel(
        hub,
        "ana",
        source.rsplit("\n", 1)[0] + "\nbox = ProposeBox()\nimport json\n"
        "print(json.dumps([type(box).__name__, box.button.description]))\n",
    )
    assert shown == ["ProposeBox", "Propose"]


WIDGET = """
import json
from connected_learning.showcase.widgets import ProposeBox
box = ProposeBox()
report = {"options": [value for _, value in box.piece.options]}
"""


def test_the_propose_box_proposes_lists_and_withdraws_in_the_learners_kernel(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share_story(hub, "ana", "Widget story")
    bens = share_story(hub, "ben", "Ben widget")
    assert (
        api(hub, "tess", "POST", f"/groups/{g}/showcase/consent/{hub.name('ana')}", json={"given": False}).status_code
        == 200
    )
    code = (
        WIDGET
        + f"""
box.piece.value = {f"{g}/{piece}"!r}
report["suggested"] = box.title.value
box.title.value = "<b>Loud</b> & proud"
box.description.value = "<script>alert(1)</script>"
box.button.click()
report["first"] = box.status.value
box.title.value = "Again"
box.button.click()
report["again"] = box.status.value
box.title.value = ""
box.button.click()
report["no_title"] = box.status.value
report["list"] = [c.children[0].value for c in box.list.children]
print(json.dumps(report))
"""
    )
    seen = in_kernel(hub, "ana", code)
    assert f"{g}/{piece}" in seen["options"] and f"{g}/{bens}" not in seen["options"]
    assert seen["suggested"] == "Widget story"
    assert "Done!" in seen["first"] and "&#x27;&lt;b&gt;Loud&lt;/b&gt; &amp; proud&#x27;" in seen["first"]
    assert "You already asked to show this piece" in seen["again"], seen["again"]
    assert "Give your piece a title of 1 to 80 characters" in seen["no_title"], seen["no_title"]
    mine_row = [row for row in seen["list"] if "Loud" in row]
    assert mine_row == [
        "<b>&lt;b&gt;Loud&lt;/b&gt; &amp; proud</b>: Waiting for your teacher to look at it. "
        "Your teacher also needs your family&#x27;s OK first."
    ]

    # Ben's box offers his pieces only and lists nothing of Ana's.
    bens_view = in_kernel(
        hub,
        "ben",
        WIDGET + "report['list'] = [c.children[0].value for c in box.list.children]\nprint(json.dumps(report))\n",
    )
    assert f"{g}/{bens}" in bens_view["options"] and f"{g}/{piece}" not in bens_view["options"]
    assert not [row for row in bens_view["list"] if "Loud" in row]

    proposal = next(p for p in mine(hub, "ana").json()["proposals"] if p["piece"] == piece)
    assert (
        api(
            hub,
            "tess",
            "POST",
            f"/groups/{g}/showcase/proposals/{proposal['id']}/decline",
            json={"note": "Try <i>again</i> with a picture"},
        ).status_code
        == 200
    )
    proposal = api(
        hub, "ana", "POST", f"/groups/{g}/showcase/proposals", json={"piece": piece, "title": "Second try"}
    ).json()
    link = consent_and_approve(hub, proposal["id"])["link"]
    assert anonymous(hub, link).status_code == 200

    code = (
        WIDGET
        + """
rows = {c.children[0].value: c.children[1:] for c in box.list.children}
report["rows"] = list(rows)
button = next(b[0] for v, b in rows.items() if "Second try" in v)
report["button"] = button.description
button.click()
report["withdrawn"] = box.status.value
report["after"] = [c.children[0].value for c in box.list.children]
button.click()
report["twice"] = box.status.value
print(json.dumps(report))
"""
    )
    seen = in_kernel(hub, "ana", code)
    published = next(r for r in seen["rows"] if "Second try" in r)
    assert "On the showcase!" in published and f'href="{hub.url}{link}"' in published
    # The whole link to send home, the card to print, and the QR code to scan from the screen.
    assert f'href="{hub.url}{link}/card"' in published and 'aria-label="QR code of the family link"' in published
    declined = next(r for r in seen["rows"] if "Loud" in r)
    assert (
        "Not this time." in declined
        and "Your teacher says: <i>Try &lt;i&gt;again&lt;/i&gt; with a picture</i>" in declined
    )
    assert seen["button"] == "Withdraw"
    assert "Done!" in seen["withdrawn"] and "is withdrawn" in seen["withdrawn"]
    assert any("Second try" in r and "Taken down" in r for r in seen["after"])
    assert "not on the showcase any more" in seen["twice"]
    assert anonymous(hub, link).status_code == 404


# ------------------------------------------------------------------ the teacher's preview


def test_the_teacher_previews_exactly_the_page_approval_publishes(hub: RunningHub) -> None:
    g = hub.name("g")
    piece = share_story(hub, "ana", "Preview story")
    r = api(
        hub,
        "ana",
        "POST",
        f"/groups/{g}/showcase/proposals",
        json={
            "piece": piece,
            "title": f"Hi from {hub.name('ana')} <script>x</script>",
            "description": "About my <b>town</b>",
        },
    )
    assert r.status_code == 201, r.text
    proposal = r.json()["id"]

    pages = hub.data_dir / "showcase" / "pages"
    before = sorted(pages.iterdir()) if pages.is_dir() else []
    seen = preview(hub, "tess", g, proposal)
    assert seen.status_code == 200, seen.text[:300]
    assert seen.headers["Content-Security-Policy"] == "sandbox"
    assert seen.headers["Cache-Control"] == "no-store"
    assert seen.headers["Content-Type"].startswith("text/html")
    assert "Preview story" in seen.text and "Ana" in seen.text
    assert "&lt;script&gt;x&lt;/script&gt;" in seen.text and "<script>x" not in seen.text
    assert "About my &lt;b&gt;town&lt;/b&gt;" in seen.text
    for name in hub.users:
        assert name not in seen.text, name
    assert "/home/" not in seen.text
    # Looking publishes nothing.
    assert (sorted(pages.iterdir()) if pages.is_dir() else []) == before
    assert [
        p["status"]
        for p in api(hub, "tess", "GET", f"/groups/{g}/showcase/proposals").json()["proposals"]
        if p["id"] == proposal
    ] == ["proposed"]
    assert preview(hub, "admin", g, proposal).status_code == 200

    published = consent_and_approve(hub, proposal)
    family = anonymous(hub, published["link"])
    assert family.status_code == 200 and family.text == seen.text


def test_only_a_teacher_of_the_group_previews(hub: RunningHub) -> None:
    g, h = hub.name("g"), hub.name("h")
    piece = share_story(hub, "ana", "Private preview")
    proposal = api(
        hub, "ana", "POST", f"/groups/{g}/showcase/proposals", json={"piece": piece, "title": "Private"}
    ).json()["id"]
    for who in ("ana", "ben", "zed", "ted"):
        r = preview(hub, who, g, proposal)
        assert r.status_code == 403, (who, r.status_code)
        assert "Private preview" not in r.text
    # Another group's teacher asking under their own group finds nothing of this one.
    assert preview(hub, "ted", h, proposal).status_code == 404
    for bad in (
        "0123456789ab",
        "zzz",
        "..%2f..%2fconsent.json",
        "%2e%2e",
        quote(proposal + ".json"),
        proposal.upper(),
        proposal + "0",
    ):
        r = preview(hub, "tess", g, bad)
        assert r.status_code == 404, (bad, r.status_code)
        assert "Private preview" not in r.text
    assert preview(hub, "tess", "..", proposal).status_code == 404
    assert preview(hub, "tess", "no%2fsuch", proposal).status_code in (403, 404)
    # No token, no cookie: the service sends a browser to log in and shows nothing.
    r = requests.get(
        f"{hub.url}/services/classroom/groups/{g}/showcase/{proposal}/preview", timeout=30, allow_redirects=False
    )
    assert r.status_code in (302, 403) and "Private preview" not in r.text


def test_the_classroom_page_links_each_proposal_to_its_sandboxed_preview(hub: RunningHub) -> None:
    import re

    g = hub.name("g")
    piece = share_story(hub, "ana", "Queue preview")
    proposal = api(
        hub, "ana", "POST", f"/groups/{g}/showcase/proposals", json={"piece": piece, "title": "Queued"}
    ).json()["id"]
    s = hub.login("tess")
    page = s.http.get(f"{hub.url}/services/classroom/", timeout=60).text
    href = f"/services/classroom/groups/{g}/showcase/{proposal}/preview"
    assert f'href="{href}"' in page
    frame = re.search(rf'<iframe([^>]*)src="{re.escape(href)}"', page)
    assert frame and 'sandbox=""' in frame.group(1) and 'loading="lazy"' in frame.group(1)
    # The teacher's own browser session opens it too.
    r = s.http.get(hub.url + href, timeout=120)
    assert r.status_code == 200 and "Queue preview" in r.text
    assert r.headers["Content-Security-Policy"] == "sandbox"
