"""Integration: the real hub, proxy and LocalWorkbookSpawner with real system users.

One hub for the module, with its own copy of the catalog so that a test can publish a
new workbook release. The tests run in file order and build on each other's servers.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import stat
import tomllib
from pathlib import Path

import pytest

from conftest import PASSWORD, RunningHub
from connected_learning.catalog.load import load_catalog
from kernelclient import run_code

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hub(make_hub) -> RunningHub:
    return make_hub(
        {"ana": ("student", ["class"]), "ben": ("student", ["class"]), "cai": ("student", [])}, own_catalog=True
    )


def _user_token(hub: RunningHub, short: str) -> str:
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json={"note": "test", "expires_in": 600})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def _server_pid(hub: RunningHub, short: str) -> int:
    model = hub.api.get(f"/users/{hub.name(short)}", params={"include_stopped_servers": "0"}).json()
    return int(model["servers"][""]["state"]["pid"])


def test_unknown_interest_in_the_form_gets_400_and_changes_nothing(hub: RunningHub) -> None:
    s = hub.login("ana")
    r = s.spawn_with_form(["music", "../../etc"])
    assert r.status_code == 400
    assert (
        "&#39;../../etc&#39; is not an interest offered here" in r.text
        or "'../../etc' is not an interest offered here" in r.text
    )
    assert not (hub.data_dir / "hub" / "interests" / f"{hub.name('ana')}.json").exists()
    assert hub.api.get(f"/users/{hub.name('ana')}").json()["servers"] == {}
    # No interest at all is refused too.
    assert s.spawn_with_form([]).status_code == 400


def test_no_interest_ticked_brings_the_form_back_in_plain_words(hub: RunningHub) -> None:
    s = hub.login("cai")
    r = s.spawn_with_form([])
    assert r.status_code == 400
    assert "Choose at least one interest" in r.text
    assert "HTTP 400" not in r.text and "Bad Request" not in r.text and "Error:" not in r.text
    assert 'name="interests"' in r.text  # the form itself comes back, to tick a box and try again
    assert hub.api.get(f"/users/{hub.name('cai')}").json()["servers"] == {}


def test_unknown_interest_through_the_api_gets_400(hub: RunningHub) -> None:
    name = hub.name("cai")
    r = hub.api.post(f"/users/{name}/server", json={"interests": ["music", "cooking-with-<script>"]})
    assert r.status_code == 400
    assert "cooking-with-<script>" in r.json()["message"]
    r = hub.api.post(f"/users/{name}/server", json={"interests": "not-a-list-of-interests"})
    assert r.status_code == 400
    assert not (hub.data_dir / "hub" / "interests" / f"{name}.json").exists()
    assert hub.api.get(f"/users/{name}").json()["servers"] == {}


def test_two_learners_log_in_and_get_their_workbooks(hub: RunningHub) -> None:
    ana, ben = hub.login("ana"), hub.login("ben")
    assert ana.spawn_with_form(["music"]).status_code == 302
    assert ben.spawn_with_form(["nature"]).status_code == 302
    ana.wait_ready(hub.name("ana"))
    ben.wait_ready(hub.name("ben"))

    def listing(session, short: str) -> list[str]:
        r = session.contents(hub.name(short), "workbooks")
        assert r.status_code == 200, r.text
        return sorted(c["name"] for c in r.json()["content"])

    catalog = load_catalog(hub.catalog_dir)
    assert listing(ana, "ana") == [w.id for w in catalog.for_interests(["music"], ["start-here"])]
    assert listing(ben, "ben") == [w.id for w in catalog.for_interests(["nature"], ["start-here"])]
    assert "beat-lab" in listing(ana, "ana") and "bird-count" in listing(ben, "ben")
    r = ben.contents(hub.name("ben"), "workbooks/bird-count/data")
    assert "garden-birds.csv" in [c["name"] for c in r.json()["content"]]
    # The choice is remembered: no form on the next visit to the spawn page.
    assert json.loads((hub.data_dir / "hub" / "interests" / f"{hub.name('ana')}.json").read_text()) == {
        "interests": ["music"],
        "language": "en",
    }


def test_a_learner_who_reads_spanish_gets_the_spanish_editions(hub: RunningHub) -> None:
    cai, name = hub.login("cai"), hub.name("cai")
    r = cai.spawn_with_form(["music"], language="klingon")
    assert r.status_code == 400 and "not a language offered here" in r.text
    assert not (hub.data_dir / "hub" / "interests" / f"{name}.json").exists()  # bad input changes nothing
    assert cai.spawn_with_form(["nature"], language="es").status_code == 302
    cai.wait_ready(name)
    catalog = load_catalog(hub.catalog_dir)
    expected = [w.id for w in catalog.for_interests(["nature"], ["start-here"], "es")]
    assert "start-here-es" in expected and "bird-count-es" in expected  # the control: editions exist
    listing = sorted(c["name"] for c in cai.contents(name, "workbooks").json()["content"])
    assert listing == sorted(expected)
    assert "bird-count" not in listing and "start-here" not in listing
    # Every nature workbook comes, in Spanish where it has a Spanish edition.
    assert len(listing) == len(catalog.for_interests(["nature"], ["start-here"]))
    # The kernels speak the learner's language by default.
    out = run_code(
        hub.url, name, _user_token(hub, "cai"), "import os; print(os.environ['CONNECTED_LEARNING_LANGUAGE'])"
    )
    assert out.strip().endswith("es"), out
    hub.api.delete(f"/users/{name}/server")
    hub.api.wait_for_server(name, ready=False, timeout=60)


def test_homes_are_private_and_servers_run_as_their_learner(hub: RunningHub) -> None:
    for short in ("ana", "ben"):
        entry = pwd.getpwnam(hub.name(short))
        st = os.stat(entry.pw_dir)
        assert stat.S_IMODE(st.st_mode) == 0o700
        assert st.st_uid == entry.pw_uid
        pid = _server_pid(hub, short)
        assert os.stat(f"/proc/{pid}").st_uid == entry.pw_uid
    groups = os.getgrouplist(hub.name("ana"), pwd.getpwnam(hub.name("ana")).pw_gid)
    import grp

    assert f"clhub-{hub.name('class')}" in {grp.getgrgid(g).gr_name for g in groups}


def test_one_learners_server_cannot_read_anothers_files(hub: RunningHub) -> None:
    ben_home = pwd.getpwnam(hub.name("ben")).pw_dir
    code = (
        "import os\n"
        f"print('me', os.getuid())\n"
        "try:\n"
        f"    open({ben_home + '/workbooks/bird-count/bird-count.ipynb'!r}).read()\n"
        "    print('READ OK')\n"
        "except PermissionError:\n"
        "    print('permission denied')\n"
        "try:\n"
        f"    os.listdir({ben_home!r})\n"
        "    print('LIST OK')\n"
        "except PermissionError:\n"
        "    print('permission denied')\n"
    )
    out = run_code(hub.url, hub.name("ana"), _user_token(hub, "ana"), code)
    assert f"me {pwd.getpwnam(hub.name('ana')).pw_uid}" in out
    assert out.count("permission denied") == 2, out
    # And the hub refuses ana's cookie on ben's server.
    ana = hub.login("ana")
    r = ana.http.get(f"{hub.server_url(hub.name('ben'))}api/contents/workbooks", allow_redirects=True)
    assert r.status_code == 403 or "bird-count" not in r.text


def test_a_new_release_keeps_the_learners_edit_and_adds_new_files(hub: RunningHub) -> None:
    name = hub.name("ana")
    ana = hub.login("ana")
    ana.wait_ready(name)
    path = "workbooks/beat-lab/beat-lab.ipynb"
    nb = ana.contents(name, path).json()["content"]
    nb["cells"].insert(0, {"cell_type": "markdown", "metadata": {}, "source": "MY OWN BEAT NOTES", "id": "mine"})
    r = ana.lab_api("PUT", name, f"contents/{path}", json={"type": "notebook", "content": nb})
    assert r.status_code == 200, r.text

    assert hub.api.delete(f"/users/{name}/server").status_code in (202, 204)
    hub.api.wait_for_server(name, ready=False)

    # The catalog publishes beat-lab 1.1: a changed notebook and a new data file.
    folder = hub.catalog_dir / "music" / "beat-lab"
    meta_path = folder / "workbook.toml"
    meta = meta_path.read_text()
    old = tomllib.loads(meta)
    new_version = old["version"] + ".1"
    files = [*old.get("files", []), "rhythms.csv"]
    meta = re.sub(r'^version = ".*"$', f'version = "{new_version}"', meta, flags=re.M)
    meta = re.sub(r"^files = .*$", "", meta, flags=re.M) + f"\nfiles = {json.dumps(files)}\n"
    meta_path.write_text(meta)
    release_nb = json.loads((folder / "beat-lab.ipynb").read_text())
    release_nb["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "NEW IN 1.1", "id": "new11"})
    (folder / "beat-lab.ipynb").write_text(json.dumps(release_nb))
    (folder / "rhythms.csv").write_text("name,steps\nfour on the floor,x...x...x...x...\n")
    os.chmod(folder / "rhythms.csv", 0o644)

    r = hub.api.post(f"/users/{name}/server")  # no options: the remembered interests
    assert r.status_code in (201, 202), r.text
    hub.api.wait_for_server(name)
    ana.wait_ready(name)
    mine = ana.contents(name, path).json()["content"]
    assert mine["cells"][0]["source"] == "MY OWN BEAT NOTES"
    assert all(c["source"] != "NEW IN 1.1" for c in mine["cells"])
    beside = ana.contents(name, f"workbooks/beat-lab/beat-lab (new version {new_version}).ipynb")
    assert beside.status_code == 200
    assert beside.json()["content"]["cells"][-1]["source"] == "NEW IN 1.1"
    assert ana.contents(name, "workbooks/beat-lab/rhythms.csv").status_code == 200


def test_the_spawn_page_reported_progress(hub: RunningHub) -> None:
    log = hub.log()
    assert f"{hub.name('ana')}: Copying your workbooks" in log
    assert "Your workbooks are ready: 1 new file, 1 new version saved beside a file you changed" in log, (
        "the second start of ana should have added rhythms.csv and placed beat-lab's new release beside her edit"
    )


def test_a_hub_restart_keeps_running_servers_and_their_files(hub: RunningHub) -> None:
    name = hub.name("ben")
    pid = _server_pid(hub, "ben")
    ben = hub.login("ben")
    ben.wait_ready(name)
    before = ben.contents(name, "workbooks/bird-count/bird-count.ipynb").json()["content"]
    hub.stop()
    assert os.path.exists(f"/proc/{pid}"), "the hub's exit took the learner's server with it"
    hub.start()
    hub.api.wait_for_server(name)
    assert _server_pid(hub, "ben") == pid
    ben.wait_ready(name)
    assert ben.contents(name, "workbooks/bird-count/bird-count.ipynb").json()["content"] == before


def test_interests_page_changes_the_choice_and_refuses_bad_values(hub: RunningHub) -> None:
    ben = hub.login("ben")
    page = ben.http.get(f"{hub.url}/hub/interests")
    assert page.status_code == 200
    assert re.search(r'value="nature" checked', page.text)
    r = ben.post_form("/hub/interests", {"interests": ["nature", "zzz-unknown"]})
    assert r.status_code == 400 and "zzz-unknown" in r.text
    assert json.loads((hub.data_dir / "hub" / "interests" / f"{hub.name('ben')}.json").read_text()) == {
        "interests": ["nature"],
        "language": "en",
    }
    r = ben.post_form("/hub/interests", {"interests": ["nature", "music"]})
    assert r.status_code == 200 and "Saved" in r.text
    assert json.loads((hub.data_dir / "hub" / "interests" / f"{hub.name('ben')}.json").read_text()) == {
        "interests": ["nature", "music"],
        "language": "en",
    }
    # The language too: Spanish is offered (the catalog has Spanish editions); an unknown one is refused.
    assert 'name="language" value="es"' in page.text and 'value="en" checked' in page.text
    # (requests would read the page as Latin-1: the hub sends no charset, the page's <meta> says UTF-8)
    music = re.search(r'value="music".*?</label>', page.content.decode("utf-8"), re.S)
    assert music and '<span lang="es">(Música)</span>' in music.group(0), music  # each also says its Spanish name
    r = ben.post_form("/hub/interests", {"interests": ["nature"], "language": "../../etc/passwd"})
    assert r.status_code == 400 and "not a language offered here" in r.text
    assert json.loads((hub.data_dir / "hub" / "interests" / f"{hub.name('ben')}.json").read_text())["language"] == "en"
    r = ben.post_form("/hub/interests", {"interests": ["nature"], "language": "es"})
    assert r.status_code == 200 and "Saved" in r.text
    assert re.search(r'value="es" checked', r.text)  # remembered, and shown as chosen
    # The form now speaks Spanish: its words and the interests' names (from interests.toml).
    spanish = r.content.decode("utf-8")
    assert "¿Qué te interesa?" in spanish and "Naturaleza y medio ambiente" in spanish
    assert "What are you into?" not in spanish
    assert json.loads((hub.data_dir / "hub" / "interests" / f"{hub.name('ben')}.json").read_text()) == {
        "interests": ["nature"],
        "language": "es",
    }


def test_logging_out_stops_the_server(hub: RunningHub) -> None:
    name = hub.name("ben")
    ben = hub.login("ben")
    ben.http.get(f"{hub.url}/hub/logout")
    hub.api.wait_for_server(name, ready=False, timeout=60)
    r = ben.http.get(f"{hub.url}/hub/home", allow_redirects=False)
    assert r.status_code == 302 and "/hub/login" in r.headers["location"]


def test_repeated_failed_log_ins_lock_the_account(hub: RunningHub) -> None:
    for _ in range(3):
        assert hub.session().login(hub.name("cai"), "wrong-password").status_code != 302
    # Now even the right password is refused for a while; another account is not affected.
    assert hub.session().login(hub.name("cai"), PASSWORD).status_code != 302
    assert hub.session().login(hub.name("ben"), PASSWORD).status_code == 302


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ana/../root", "Ana Smith", "root;id", "x" * 40])
def test_user_names_with_path_characters_are_refused(hub: RunningHub, bad: str) -> None:
    r = hub.api.post("/users", json={"usernames": [bad]})
    assert r.status_code == 400
    r = hub.session().login(bad, PASSWORD)
    assert r.status_code in (200, 403)
    assert "Invalid username or password" in r.text


def test_passwords_are_not_in_the_hub_log(hub: RunningHub) -> None:
    assert PASSWORD not in hub.log()


def test_files_of_the_test_are_real(hub: RunningHub) -> None:
    # Guard against a test that cannot fail: the beside file exists on disk, owned by ana.
    home = Path(pwd.getpwnam(hub.name("ana")).pw_dir)
    [beside] = (home / "workbooks" / "beat-lab").glob("beat-lab (new version *).ipynb")
    assert beside.stat().st_uid == pwd.getpwnam(hub.name("ana")).pw_uid


# ------------------------------------------------------------------ a learner's world on the hub's pages


def test_the_nav_bar_shows_each_role_what_it_needs(hub: RunningHub) -> None:
    learner = hub.login("ana").http.get(f"{hub.url}/hub/home")
    nav = learner.text.split("<nav", 1)[1].split("</nav>", 1)[0]
    assert 'href="/hub/home"' in nav and "Change my password" in nav
    assert [w for w in (">Token<", "Services", "/hub/admin", "Classroom", "Stop My Server") if w in learner.text] == []
    # The menu item the temporary-password message names is really there, and leads to the page.
    assert hub.login("ana").http.get(f"{hub.url}/hub/change-password").status_code == 200
    admin = hub.session()
    assert admin.login(hub.admin, PASSWORD).status_code == 302
    page = admin.http.get(f"{hub.url}/hub/home").text
    nav = page.split("<nav", 1)[1].split("</nav>", 1)[0]
    # Control: the same page for an admin still has the staff menus.
    assert all(w in nav for w in (">Token<", "Services", "/hub/admin", "Classroom")), nav


def test_where_each_person_lands_after_logging_in(hub: RunningHub) -> None:
    admin = hub.session()
    r = admin.login(hub.admin, PASSWORD)
    assert r.status_code == 302 and r.headers["Location"].endswith("/services/classroom/"), r.headers["Location"]
    r = admin.http.get(f"{hub.url}/hub/", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/services/classroom/"), r.headers["Location"]
    # A learner lands in her space if it runs, else on the interest form (JupyterHub's way).
    running = bool(hub.api.get(f"/users/{hub.name('ana')}").json()["servers"])
    ana = hub.session()
    r = ana.login(hub.name("ana"), PASSWORD)
    wanted = f"/user/{hub.name('ana')}/" if running else "/hub/spawn"
    assert r.status_code == 302 and r.headers["Location"].endswith(wanted), r.headers
    r = ana.http.get(f"{hub.url}/hub/", allow_redirects=False)
    assert r.status_code == 302 and "/services/classroom" not in r.headers["Location"]


def test_hub_errors_speak_plainly(hub: RunningHub) -> None:
    s = hub.login("ana")
    r = s.http.get(f"{hub.url}/hub/no-such-page")
    assert r.status_code == 404 and "We could not find this page" in r.text
    assert "moons" not in r.text and "Go to Home" in r.text
    r = s.http.get(f"{hub.url}/hub/admin")
    assert r.status_code == 403 and "You cannot open this page" in r.text
    # Logged out: the plain page, with the way back to the log-in page.
    r = hub.session().http.get(f"{hub.url}/hub/no-such-page")
    assert r.status_code == 404 and "Go to the log-in page" in r.text


@pytest.mark.parametrize(
    ("status", "heading"),
    [
        (403, "You cannot open this page"),
        (404, "We could not find this page"),
        (500, "Something went wrong"),
        (503, "Not ready just now"),
    ],
)
def test_the_error_page_in_plain_words_for_each_status(status: int, heading: str) -> None:
    from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader
    from jupyterhub._data import DATA_FILES_PATH
    from tornado import web

    from connected_learning.hub.config import TEMPLATES
    from connected_learning.hub.plain_errors import PlainError

    stock = FileSystemLoader(os.path.join(DATA_FILES_PATH, "templates"))
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(TEMPLATES)), stock, PrefixLoader({"templates": stock})])
    )
    ns = {
        "static_url": lambda path, **kw: path,
        "base_url": "/hub/",
        "login_url": "/hub/login",
        "user": None,
        "status_code": status,
        "status_message": "Technical Words",
        "clhub_site_name": "Our hub",
    }
    technical = env.get_template("error.html").render(ns, message="HTTP jargon", exception=web.HTTPError(status))
    assert heading in technical
    # JupyterHub's own message is folded away for the adult who helps, never the headline.
    assert technical.index("<details") < technical.index("HTTP jargon")
    plain = PlainError(status, "Your workbooks are being updated.")
    written = env.get_template(f"{status}.html" if status == 404 else "error.html").render(
        ns, message=plain.jupyterhub_message, exception=plain
    )
    assert heading in written and 'id="clhub-error-message">Your workbooks are being updated.<' in written
    assert "<details" not in written and "Technical Words" not in written
    # The proxy's error pages pass no exception and no message at all.
    bare = {k: v for k, v in ns.items()}
    assert heading in env.get_template("error.html").render(bare, message_html="Your server appears to be down.")


def test_the_administrator_is_warned_of_plain_http_not_the_learner() -> None:
    from connected_learning.hub.config import insecure_site_warning

    assert "plain http" in insecure_site_warning("http://hub.school.example:8000")
    assert "plain http" in insecure_site_warning("http://192.168.1.20:8000")
    for fine in ("https://hub.school.example", "http://localhost:8000", "http://127.0.0.1:8000", "http://a.localhost"):
        assert insecure_site_warning(fine) == "", fine


def test_the_log_in_page_has_no_https_warning_for_learners(hub: RunningHub) -> None:
    page = hub.session().http.get(f"{hub.url}/hub/login").text
    assert 'id="username_input"' in page  # control: it is the log-in form
    assert "insecure-login-warning" not in page and "HTTPS" not in page and "unsecured" not in page


def test_a_broken_catalog_gives_a_learner_plain_words(hub: RunningHub) -> None:
    """Last: the catalog is broken while the hub runs, then mended."""
    toml = next(hub.catalog_dir.glob("*/*/workbook.toml"))
    good = toml.read_text()
    s = hub.session()
    assert s.login(hub.admin, PASSWORD).status_code == 302
    try:
        toml.write_text("this is = = not toml")
        r = s.http.get(f"{hub.url}/hub/spawn")
        assert r.status_code == 503, r.status_code
        assert "Not ready just now" in r.text and "The workbooks are being updated" in r.text
    finally:
        toml.write_text(good)
    assert s.http.get(f"{hub.url}/hub/spawn").status_code == 200  # control: mended, the form is back


@pytest.mark.parametrize(("public_url", "warned"), [("http://hub.school.example", True), ("", False)])
def test_the_hub_log_warns_the_administrator_of_plain_http(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, public_url: str, warned: bool
) -> None:
    from traitlets.config import Config

    from connected_learning.hub.config import configure

    site = tmp_path / "site.toml"
    catalog = Path(__file__).resolve().parents[1] / "workbooks"
    site.write_text(
        f'[site]\ndata_dir = "{tmp_path / "data"}"\nport = 8123\n'
        + (f'public_url = "{public_url}"\n' if public_url else "")
        + f'[workbooks]\ncatalog_dir = "{catalog}"\n'
    )
    c = Config()
    with caplog.at_level("WARNING", logger="JupyterHub"):
        configure(c, str(site), mode="site")
    logged = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert bool(logged) == warned, logged
    assert bool(c.JupyterHub.template_vars.get("clhub_insecure_warning")) == warned


def test_the_temporary_password_message_names_a_menu_item_that_exists(hub: RunningHub) -> None:
    from connected_learning.accounts.store import PASSWORD_CHANGES

    flags = hub.data_dir / "hub" / PASSWORD_CHANGES
    flags.write_text(json.dumps([hub.name("ben")]))
    try:
        s = hub.session()
        r = s.login(hub.name("ben"), PASSWORD)
        assert r.status_code == 302 and r.headers["Location"].endswith("/hub/change-password")
        r = s.spawn_with_form(["music"])
        assert r.status_code == 403 and "click Change my password at the top of this page" in r.text
        nav = r.text.split("<nav", 1)[1].split("</nav>", 1)[0]
        assert '<a class="nav-link" href="/hub/change-password">Change my password</a>' in nav
    finally:
        flags.write_text("[]")
    assert hub.login("ben").spawn_with_form(["music"]).status_code == 302  # control: the flag was what refused
