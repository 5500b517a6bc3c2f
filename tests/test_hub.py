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
        "interests": ["music"]
    }


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
        "interests": ["nature"]
    }
    r = ben.post_form("/hub/interests", {"interests": ["nature", "music"]})
    assert r.status_code == 200 and "Saved" in r.text
    assert json.loads((hub.data_dir / "hub" / "interests" / f"{hub.name('ben')}.json").read_text()) == {
        "interests": ["nature", "music"]
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
