"""Launches from the learning platform (LTI 1.3) against a real hub and the test's own platform.

The platform (`lti_platform.Platform`) is real: RSA keys, a JWKS served over HTTP, the
third-party-initiated log-in, signed id_tokens. A good launch makes the learner (a safe name,
"Ada L."), the course's group and the right role; the same person is the same user next time;
a workbook link opens that workbook once the learner's JupyterLab has started. Spoiled launches
(expired, tampered, another key, another audience, issuer or deployment, a replay, a link for
another site or naming no workbook, a platform whose JWKS does not answer) each get a plain
message and create nothing; the control is the platform's own record that the hub fetched its
JWKS, so each attack reached the signature check, and a good launch on the same hub.
"""

from __future__ import annotations

import grp
import json
import re
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from traitlets.config import Config

from conftest import PASSWORD, needs_root
from connected_learning.hub.config import configure
from connected_learning.hub.lti_launch import (
    CLAIM,
    course_group,
    course_role,
    course_slug,
    display_parts,
    named_target,
    take_nonce,
    tool_configuration,
)
from connected_learning.hub.plain_errors import PlainError
from connected_learning.settings import SettingsError, load_settings, validate_username
from lti_platform import (
    INSTRUCTOR,
    LEARNER,
    TEACHING_ASSISTANT,
    Course,
    Launch,
    Person,
    Platform,
    Result,
    launch,
)
from realhub import RunningHub, config_with_admin_token, launch_hub, teardown_hub

REPO = Path(__file__).resolve().parents[1]
LTI_NAME = re.compile(r"l-[a-z2-7]{10,29}\Z")
COURSE = Course("course-v1:Riverside+BIO101+2026", "BIO 101", "Biology with Ms. Lee")
ADA = Person("a1f9c3d2-0000-4000-8000-ada", "Ada", "Lovelace", "ada.lovelace@school.example")


# ------------------------------------------------------------------ the pure parts


def test_course_role_maps_lms_roles() -> None:
    teacher, mentor = {INSTRUCTOR}, {TEACHING_ASSISTANT}
    assert course_role([LEARNER], teacher, mentor) == "student"
    assert course_role([INSTRUCTOR], teacher, mentor) == "teacher"
    # A TA's roles name Instructor as well: the mentor role wins.
    assert course_role([INSTRUCTOR, TEACHING_ASSISTANT], teacher, mentor) == "mentor"
    assert course_role("Instructor", teacher, mentor) == "student"  # not a list: nobody special
    assert course_role([None, 7], teacher, mentor) == "student"


@pytest.mark.parametrize(
    "label",
    ["BIO 101", "101 Biology", "../../etc", "", "Ünïcödé ñ", "a" * 300, "--", "Ms. Lee's 7B (2026/27)", "\0\n"],
)
def test_course_group_is_safe_and_fits_a_system_group(label: str) -> None:
    group = course_group("abcdefgh234567", label, set())
    assert validate_username(group) == group
    assert len("clhubt-" + group) <= 32
    assert group.endswith("-abcdefgh")
    assert course_slug(label) in group


def test_course_group_stays_when_the_label_changes() -> None:
    first = course_group("abcdefgh234567", "BIO 101", set())
    assert first == "bio-101-abcdefgh"
    assert course_group("abcdefgh234567", "Biology (renamed)", {first, "other-zzzzzzzz"}) == first
    assert course_group("zzzzzzzz234567", "BIO 101", {first}) == "bio-101-zzzzzzzz"


def _claims(target: str, workbook: Any = None) -> dict[str, Any]:
    claims: dict[str, Any] = {CLAIM + "target_link_uri": target}
    if workbook is not None:
        claims[CLAIM + "custom"] = {"workbook": workbook}
    return claims


def test_named_target_accepts_names_only_from_this_site() -> None:
    site = "https://hub.example.org"
    assert named_target(_claims(site + "/hub/"), site) is None
    assert named_target(_claims(site + "/hub/", "beat-lab"), site) == ("workbook", "beat-lab")
    assert named_target(_claims(site + "/hub/?workbook=beat-lab"), site) == ("workbook", "beat-lab")
    assert named_target(_claims(site + "/hub/?assignment=beat-lab"), site) == ("assignment", "beat-lab")
    assert named_target(_claims("HTTPS://HUB.example.org/hub/", "beat-lab"), site) == ("workbook", "beat-lab")
    assignment = _claims(site + "/hub/") | {CLAIM + "custom": {"assignment": "recipe-scaler"}}
    assert named_target(assignment, site) == ("assignment", "recipe-scaler")
    for bad in ("../beat-lab", "/etc/passwd", "%2e%2e%2fx", "beat-lab/../../x", "Beat-Lab", "", ["beat-lab"], "a\nb"):
        with pytest.raises(PlainError):
            named_target(_claims(site + "/hub/", bad), site)
        with pytest.raises(PlainError):
            named_target(_claims(site + "/hub/") | {CLAIM + "custom": {"assignment": bad}}, site)
    for target in (
        "https://evil.example/hub/?workbook=beat-lab",
        "http://hub.example.org/hub/",  # another scheme
        "https://hub.example.org:8443/hub/",  # another port
        "https://hub.example.org@evil.example/hub/",
        "//evil.example/hub/",
        "javascript:alert(1)",
        None,
    ):
        with pytest.raises(PlainError):
            named_target(_claims(target), site)  # type: ignore[arg-type]


def test_display_parts_and_tool_configuration() -> None:
    assert display_parts({"given_name": "Ada", "family_name": "Lovelace"}) == ("Ada", "Lovelace")
    assert display_parts({"name": "Grace Brewster Hopper"}) == ("Grace", "Hopper")
    assert display_parts({"name": 7}) == ("", "")
    config = tool_configuration("Riverside Lab", "https://hub.example.org", "/hub/")
    assert config["oidc_initiation_url"] == "https://hub.example.org/hub/lti13/oauth_login"
    assert config["redirect_uris"] == ["https://hub.example.org/hub/lti13/oauth_callback"]
    assert "email" not in json.dumps(config).lower()
    assert config["extensions"][0]["privacy_level"] == "name_only"


def test_a_nonce_is_taken_once() -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    with Session(create_engine("sqlite://")) as db:
        exp = int(time.time()) + 300
        assert take_nonce(db, "https://lms.example", "n-1", exp)
        assert not take_nonce(db, "https://lms.example", "n-1", exp)
        assert take_nonce(db, "https://other.example", "n-1", exp)  # another platform's nonce
        assert take_nonce(db, "https://lms.example", "n-2", exp)


LTI_TABLE = """
[login.lti13]
issuer = "https://moodle.riverside-school.org"
client_ids = ["abc123"]
deployment_ids = ["7"]
authorize_url = "https://moodle.riverside-school.org/mod/lti/auth.php"
jwks_url = "https://moodle.riverside-school.org/mod/lti/certs.php"
"""


def _site(tmp_path: Path, login: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\ndata_dir = "{tmp_path / "data"}"\nspawner = "demo"\nport = 8123\n'
        f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n[login]\n{login}'
    )
    return path


def test_the_lti13_settings_alone_configure_the_frame_with_the_platform(tmp_path: Path) -> None:
    c = Config()
    configure(c, str(_site(tmp_path, 'method = "lti13"\n' + LTI_TABLE)), mode="demo")
    assert c.JupyterHub.authenticator_class.endswith("LoginMethodsAuthenticator")
    assert list(c.LoginMethodsAuthenticator.login_methods) == ["lti13"]
    assert c.LtiAuthenticator.issuer == "https://moodle.riverside-school.org"
    assert c.LtiAuthenticator.client_id == {"abc123"}
    assert c.LtiAuthenticator.deployment_ids == {"7"}
    assert c.LtiAuthenticator.jwks_endpoint.endswith("/mod/lti/certs.php")
    assert c.LtiAuthenticator.site_url == "http://localhost:8123"  # settings.url
    assert c.LtiAuthenticator.manage_roles is True


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (("issuer = ", 'issuer = ""\n#'), "login.lti13.issuer is empty"),
        (("deployment_ids = ", "deployment_ids = []\n#"), "login.lti13.deployment_ids is empty"),
        (("client_ids = ", "client_ids = []\n#"), "login.lti13.client_ids is empty"),
        (("jwks_url = ", 'jwks_url = "http://moodle.riverside-school.org/certs"\n#'), "login.lti13.jwks_url"),
        (("issuer = ", "issuer = 7\n#"), "login.lti13.issuer must be"),
        (("client_ids = ", 'client_ids = ["a\\nb"]\n#'), "login.lti13.client_ids"),
    ],
)
def test_bad_lti13_settings_are_refused_naming_the_key(tmp_path: Path, change: tuple[str, str], named: str) -> None:
    table = LTI_TABLE.replace(*change)
    with pytest.raises(SettingsError, match=re.escape(named)):
        load_settings(_site(tmp_path, 'method = ["native", "lti13"]\n' + table))
    load_settings(_site(tmp_path, 'method = ["native", "lti13"]\n' + LTI_TABLE))  # the control


# ------------------------------------------------------------------ against a real hub


@pytest.fixture
def platform() -> Iterator[Platform]:
    p = Platform().start()
    yield p
    p.stop()


def lti_hub(make_hub: Any, platform: Platform, **kwargs: Any) -> RunningHub:
    settings = 'method = ["native", "lti13"]\n\n' + platform.settings() + "jwks_timeout_seconds = 5\n"
    hub: RunningHub = make_hub({}, extra_settings=settings, **kwargs)
    platform.hub_url = hub.url
    return hub


def snapshot(hub: RunningHub) -> dict[str, Any]:
    """What a launch may create: hub users and groups, external-id rows, display names, roles."""
    users = sorted(u["name"] for u in hub.api.get("/users").json())
    groups = sorted(g["name"] for g in hub.api.get("/groups").json())
    db = sqlite3.connect(hub.data_dir / "hub" / "jupyterhub.sqlite")
    try:
        rows = db.execute("SELECT count(*) FROM clhub_external_ids").fetchone()[0]
    except sqlite3.OperationalError:  # no external log-in yet: no table
        rows = 0
    finally:
        db.close()
    files = {}
    for name in ("display-names.json", "site-roles.json"):
        path = hub.data_dir / "hub" / name
        files[name] = path.read_text() if path.exists() else ""
    return {"users": users, "groups": groups, "rows": rows, **files}


def adopt(hub: RunningHub, before: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The users and groups made since `before`, handed to the hub's teardown to remove."""
    after = snapshot(hub)
    users = [u for u in after["users"] if u not in before["users"]]
    groups = [g for g in after["groups"] if g not in before["groups"]]
    hub.users.extend(u for u in users if u not in hub.users)
    hub.groups.extend(g for g in groups if g not in hub.groups)
    return users, groups


def logged_in(hub: RunningHub, http: requests.Session) -> bool:
    """Whether this browser's cookies open the hub's home page (not the log-in page)."""
    return http.get(f"{hub.url}/hub/home", allow_redirects=False).status_code == 200


def roles_of(hub: RunningHub, name: str) -> set[str]:
    return set(hub.api.get(f"/users/{name}").json()["roles"])


@pytest.mark.integration
def test_launches_make_the_learner_the_course_group_and_roles(make_hub: Any, platform: Platform) -> None:
    hub = lti_hub(make_hub, platform)
    before = snapshot(hub)

    first = hub.session()
    result = launch(platform, Launch(ADA, COURSE), first.http)
    assert result.response.status_code == 302, result.response.text[:500]
    (ada,), (group,) = adopt(hub, before)
    assert LTI_NAME.match(ada), ada
    assert group.startswith("bio-101-") and validate_username(group) == group
    members = hub.api.get(f"/groups/{group}").json()["users"]
    assert members == [ada]
    # Its peer-review folder is made at once, for the group's system group, as a class list's is.
    folder = hub.data_dir / "groups" / group / "peer-review"
    assert folder.is_dir() and folder.stat().st_gid == grp.getgrnam(f"clhub-{group}").gr_gid
    names = json.loads((hub.data_dir / "hub" / "display-names.json").read_text())
    assert names[ada] == "Ada L."
    assert roles_of(hub, ada) == {"user"}
    assert logged_in(hub, first.http)
    # Nothing of the person but "Ada L." is kept: not the e-mail, not the family name, not the LMS id.
    kept = b"".join(p.read_bytes() for p in (hub.data_dir / "hub").iterdir() if p.is_file())
    for secret in (ADA.email, ADA.family_name, ADA.sub):
        assert secret.encode() not in kept

    # The same person again, in another browser: the same user, nothing new.
    again = launch(platform, Launch(ADA, COURSE), hub.session().http)
    assert again.response.status_code == 302
    assert snapshot(hub)["users"] == sorted([*before["users"], ada])

    # From another course: the same learner, in both courses' groups.
    art = Course("course-v1:Riverside+ART7+2026", "Art 7", "Art club")
    assert launch(platform, Launch(ADA, art), hub.session().http).response.status_code == 302
    (art_group,) = [g for g in adopt(hub, before)[1] if g != group]
    assert art_group.startswith("art-7-")
    assert sorted(hub.api.get(f"/users/{ada}").json()["groups"]) == sorted([group, art_group])

    # A teaching assistant and an instructor of the course: mentor and teacher of its group.
    ta = Person("ta-7", "Tomás", "Álvarez")
    teacher = Person("teacher-3", "Lena", "Lee")
    launch(platform, Launch(ta, COURSE, roles=[INSTRUCTOR, TEACHING_ASSISTANT]), hub.session().http)
    launch(platform, Launch(teacher, COURSE, roles=[INSTRUCTOR]), hub.session().http)
    adopt(hub, before)
    ta_name, teacher_name = _names_by_display(hub, "Tomás Á.", "Lena L.")
    assert roles_of(hub, ta_name) == {"user", f"mentor-{group}"}
    assert roles_of(hub, teacher_name) == {"user", f"teacher-{group}"}
    assert sorted(hub.api.get(f"/groups/{group}").json()["users"]) == sorted([ada, ta_name, teacher_name])
    # The teacher lands in the classroom, where the course's group is theirs.
    classroom = hub.session()
    answer = launch(platform, Launch(teacher, COURSE, roles=[INSTRUCTOR]), classroom.http)
    assert answer.response.headers["Location"].endswith("/services/classroom/")


def _names_by_display(hub: RunningHub, *shown: str) -> list[str]:
    names = json.loads((hub.data_dir / "hub" / "display-names.json").read_text())
    return [user for wanted in shown for user, name in names.items() if name == wanted]


@pytest.mark.integration
def test_a_workbook_link_opens_that_workbook(make_hub: Any, platform: Platform) -> None:
    hub = lti_hub(make_hub, platform)
    before = snapshot(hub)
    session = hub.session()
    result = launch(platform, Launch(ADA, COURSE, custom={"workbook": "beat-lab"}), session.http)
    assert result.response.status_code == 302, result.response.text[:500]
    (ada,), (group,) = adopt(hub, before)
    location = result.response.headers["Location"]
    assert location == "/hub/user-redirect/lab/tree/workbooks/beat-lab/beat-lab.ipynb"
    # Following it starts the learner's JupyterLab (no interest form: the workbook chose for them).
    session.http.get(hub.url + location, timeout=60)
    hub.api.wait_for_server(ada, timeout=150)
    session.wait_ready(ada)
    landed = session.http.get(hub.url + location, timeout=60)
    assert landed.status_code == 200
    assert landed.url.startswith(session.server_url(ada) + "lab/tree/workbooks/beat-lab/beat-lab.ipynb")
    assert session.contents(ada, "workbooks/beat-lab/beat-lab.ipynb").status_code == 200
    # The course's group got its peer-review folder with the learner's first start.
    assert (hub.data_dir / "groups" / group / "peer-review").is_dir()


@pytest.mark.integration
def test_an_assignment_link_opens_the_course_assignment(make_hub: Any, platform: Platform) -> None:
    hub = lti_hub(make_hub, platform)
    before = snapshot(hub)
    # Before the teacher has given it out: refused, and nothing is made.
    early = launch(platform, Launch(ADA, COURSE, custom={"assignment": "recipe-scaler"}))
    assert early.response.status_code == 400 and "has not given out here yet" in early.response.text
    assert snapshot(hub) == before

    # The course's instructor launches, and gives the assignment out in the classroom.
    teacher = Person("teacher-3", "Lena", "Lee")
    assert launch(platform, Launch(teacher, COURSE, roles=[INSTRUCTOR])).response.status_code == 302
    (lena,), (group,) = adopt(hub, before)
    token = hub.api.post(
        f"/users/{lena}/tokens", json={"expires_in": 600, "scopes": ["access:services!service=classroom"]}
    ).json()["token"]
    given = requests.post(
        f"{hub.url}/services/classroom/api/groups/{group}/assignments",
        json={"workbook": "recipe-scaler"},
        headers={"Authorization": f"token {token}"},
        timeout=600,
    )
    assert given.status_code in (200, 201), given.text[:500]

    session = hub.session()
    result = launch(platform, Launch(ADA, COURSE, custom={"assignment": "recipe-scaler"}), session.http)
    assert result.response.status_code == 302, result.response.text[:500]
    (ada,) = [u for u in adopt(hub, before)[0] if u != lena]
    location = result.response.headers["Location"]
    assert location == f"/hub/user-redirect/lab/tree/assignments/{group}/recipe-scaler/recipe-scaler.ipynb"
    session.http.get(hub.url + location, timeout=60)
    hub.api.wait_for_server(ada, timeout=150)
    session.wait_ready(ada)
    found = session.contents(ada, f"assignments/{group}/recipe-scaler/recipe-scaler.ipynb")
    assert found.status_code == 200


SPOILED = [
    ("expired", {"expired": True}, "too old to use"),
    ("tampered", {"tampered": True}, "could not check that this link"),
    ("another key", {"other_key": True}, "could not check that this link"),
    ("another audience", {"audience": "someone-elses-tool"}, "could not check that this link"),
    ("another issuer", {"issuer": "https://evil.example"}, "could not check that this link"),
    ("another deployment", {"deployment_id": "deployment-9"}, "could not check that this link"),
    ("a link for another site", {"target_link_uri": "https://evil.example/hub/"}, "made for another website"),
    ("a path for a workbook", {"custom": {"workbook": "../../../etc/passwd"}}, "names a workbook this hub"),
    ("an encoded path", {"custom": {"workbook": "..%2f..%2fetc"}}, "names a workbook this hub"),
    ("an absolute path", {"custom": {"workbook": "/etc/passwd"}}, "names a workbook this hub"),
    ("no such workbook", {"custom": {"workbook": "no-such-workbook"}}, "names a workbook this hub"),
]


@pytest.mark.integration
def test_spoiled_launches_create_nothing(make_hub: Any, platform: Platform) -> None:
    hub = lti_hub(make_hub, platform)
    before = snapshot(hub)
    for label, spoil, words in SPOILED:
        fetched = platform.jwks_fetches
        result = launch(platform, Launch(Person(f"sub-{label}", "Mallory", "M."), COURSE, **spoil))
        page = result.response.text
        assert result.response.status_code in (400, 403), (label, result.response.status_code)
        assert words in page, (label, page[:800])
        assert "Traceback" not in page
        assert platform.jwks_fetches == fetched + 1, f"{label}: the hub never asked for the platform's keys"
        assert snapshot(hub) == before, label

    # A platform whose keys do not answer: a plain message, nothing made, and the hub kept serving.
    platform.jwks_silent = True
    fetched = platform.jwks_fetches
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(launch, platform, Launch(ADA, COURSE))
        while platform.jwks_fetches == fetched and not waiting.done():
            time.sleep(0.05)
        # While the hub waits for the keys, it answers everyone else.
        assert requests.get(f"{hub.url}/hub/lti13/config", timeout=30).status_code == 200
        assert not waiting.done()
        result = waiting.result()
    assert result.response.status_code == 503
    assert "did not answer the hub" in result.response.text
    assert platform.jwks_fetches == fetched + 1
    assert snapshot(hub) == before
    platform.jwks_silent = False

    # The control: a good launch on the same hub, and then its replay.
    good = launch(platform, Launch(ADA, COURSE))
    assert good.response.status_code == 302, good.response.text[:500]
    adopt(hub, before)
    after_good = snapshot(hub)
    assert len(after_good["users"]) == len(before["users"]) + 1
    attacker = _cookies_session(good)
    replay = attacker.post(good.action, data=good.form, allow_redirects=False, timeout=60)
    assert replay.status_code == 403
    assert "already used once" in replay.text
    assert platform.jwks_fetches == fetched + 3  # the replay passed the state and signature checks
    assert snapshot(hub) == after_good
    assert not logged_in(hub, attacker)
    # The used nonces are in the hub's database: a restarted hub refuses the replay too.
    hub.stop()
    hub.start()
    again = _post_again(good)
    assert again.status_code == 403 and "already used once" in again.text
    assert snapshot(hub) == after_good


def _cookies_session(result: Result) -> requests.Session:
    http = requests.Session()
    for name, value in result.cookies.items():
        http.cookies.set(name, value)
    return http


def _post_again(result: Result) -> requests.Response:
    """The captured id_token and state posted again with the cookies the browser had then (an attacker's copy)."""
    return _cookies_session(result).post(result.action, data=result.form, allow_redirects=False, timeout=60)


@pytest.mark.integration
def test_the_tool_configuration_and_a_visit_without_a_launch(make_hub: Any, platform: Platform) -> None:
    hub = lti_hub(make_hub, platform)
    config = requests.get(f"{hub.url}/hub/lti13/config", timeout=30).json()
    assert config["oidc_initiation_url"] == f"{hub.url}/hub/lti13/oauth_login"
    assert config["redirect_uris"] == [f"{hub.url}/hub/lti13/oauth_callback"]
    assert "email" not in json.dumps(config).lower()
    visit = requests.get(f"{hub.url}/hub/lti13/oauth_login", timeout=30)
    assert visit.status_code == 400
    assert "go to your course and click the link" in visit.text
    stranger = requests.post(
        f"{hub.url}/hub/lti13/oauth_login",
        data={"iss": "https://evil.example", "login_hint": "x", "target_link_uri": hub.url + "/hub/"},
        allow_redirects=False,
        timeout=30,
    )
    assert stranger.status_code == 403
    assert "authorize" not in stranger.headers.get("Location", "")
    # Another client or deployment of the same platform: refused before the platform is asked.
    for spoil in ({"client_id": "someone-elses-tool"}, {"lti_deployment_id": "deployment-9"}):
        fields = platform.initiation(platform.add(Launch(ADA, COURSE))) | spoil
        refused = requests.post(f"{hub.url}/hub/lti13/oauth_login", data=fields, allow_redirects=False, timeout=30)
        assert refused.status_code == 403, spoil
    # Without the optional client_id: the hub's own one goes to the platform (the control: a redirect).
    fields = platform.initiation(platform.add(Launch(ADA, COURSE)))
    del fields["client_id"]
    sent = requests.post(f"{hub.url}/hub/lti13/oauth_login", data=fields, allow_redirects=False, timeout=30)
    assert sent.status_code == 302
    assert f"client_id={platform.client_id}" in sent.headers["Location"]


@pytest.mark.integration
def test_an_lti_only_site_is_entered_from_a_course_alone(platform: Platform, tmp_path: Path) -> None:
    """`method = "lti13"`: the log-in page has no form and sends people to their course; a name
    and password open nothing (not even the site admin's); a launch from the course logs in. The
    tests reach the hub's API with a service token the configuration grants."""
    needs_root()
    config, token = config_with_admin_token(tmp_path)
    settings = 'method = "lti13"\n\n' + platform.settings() + "jwks_timeout_seconds = 5\n"
    hub = launch_hub({}, extra_settings=settings, config=config, api_token=token)
    platform.hub_url = hub.url
    try:
        browser = hub.session()
        page = browser.http.get(f"{hub.url}/hub/login")
        assert page.status_code == 200
        assert "Open the course and click the link to this hub there" in page.text
        assert "<form" not in page.text and 'name="password"' not in page.text
        before = snapshot(hub)
        refused = browser.http.post(
            f"{hub.url}/hub/login?next=",
            data={"username": hub.admin, "password": PASSWORD, "_xsrf": browser.xsrf()},
            allow_redirects=False,
        )
        assert refused.status_code == 403
        assert not logged_in(hub, browser.http)
        result = launch(platform, Launch(ADA, COURSE), browser.http)
        assert result.response.status_code == 302, result.response.text[:500]  # the control: a real launch
        (ada,), _ = adopt(hub, before)
        assert LTI_NAME.match(ada) and logged_in(hub, browser.http)
    finally:
        teardown_hub(hub)
