"""Names and accounts for school, platform and library-card log-ins (hub/external_accounts.py).

On a real hub database (SQLite, JupyterHub's own tables) through the session the hub would
use; the running hub's use of it is in test_login_oidc.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from jupyterhub import orm

from connected_learning.accounts.store import create_accounts, read_display_names, validate_account
from connected_learning.hub import external_accounts as ext
from connected_learning.hub.database import open_session
from connected_learning.paths import DataLayout
from connected_learning.settings import validate_username

ISSUER = "https://accounts.google.com"


@pytest.fixture
def site(tmp_path: Path) -> tuple[DataLayout, str]:
    layout = DataLayout(tmp_path / "data")
    layout.create()
    return layout, f"sqlite:///{layout.db}"


def person(subject: str = "10769150350006150715113082367", **kw: Any) -> ext.ExternalPerson:
    return ext.ExternalPerson(kw.pop("method", "oidc"), kw.pop("issuer", ISSUER), subject, **kw)


def make(site: tuple[DataLayout, str], who: ext.ExternalPerson) -> str:
    layout, url = site
    db = open_session(url)
    try:
        return ext.external_user(db, layout, who)
    finally:
        db.close()


def state(site: tuple[DataLayout, str]) -> dict[str, Any]:
    """Everything an external log-in may create: users, groups, table rows, names, roles."""
    layout, url = site
    db = open_session(url)
    try:
        ext.ensure_table(db)
        rows = db.execute(ext._TABLE.select()).fetchall()
        users = {u.name: sorted(g.name for g in u.groups) for u in db.query(orm.User)}
        groups = sorted(g.name for g in db.query(orm.Group))
        db.rollback()
    finally:
        db.close()
    roles = json.loads(layout.roles_file.read_text()) if layout.roles_file.exists() else {}
    return {"users": users, "groups": groups, "rows": len(rows), "names": read_display_names(layout), "roles": roles}


def test_the_same_person_gets_the_same_safe_name_every_time(site: tuple[DataLayout, str]) -> None:
    first = make(site, person(given_name="Ada", family_name="Lovelace"))
    assert re.fullmatch(r"s-[a-z2-7]{10}", first), first
    assert validate_username(first) == first
    assert make(site, person(given_name="Ada", family_name="Lovelace")) == first
    # The name comes from the subject alone: a new display name at the provider changes nothing.
    assert make(site, person(given_name="Augusta", family_name="King")) == first
    assert state(site)["rows"] == 1
    assert list(state(site)["users"]) == [first]
    assert read_display_names(site[0]) == {first: "Ada L."}
    # Control: another subject, another issuer, another method are each another person.
    others = {
        make(site, person("10769150350006150715113082368")),
        make(site, person(issuer="https://login.microsoftonline.com/x/v2.0")),
        make(site, person(method="sip2")),
        make(site, person(method="lti13")),
    }
    assert first not in others and len(others) == 4
    assert {n[:2] for n in others} == {"s-", "c-", "l-"}


def test_the_name_is_keyed_by_the_site_secret_kept_private(site: tuple[DataLayout, str], tmp_path: Path) -> None:
    layout, _ = site
    name = make(site, person())
    key = layout.hub / ext.SECRET_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    secret = key.read_bytes()
    # The code is HMAC(secret, issuer NUL subject): another site's secret gives another name.
    other = DataLayout(tmp_path / "other")
    other.create()
    assert make((other, f"sqlite:///{other.db}"), person()) != name
    # A secret left readable by others is made private again, and is the same secret.
    os.chmod(key, 0o644)
    assert ext.site_secret(layout) == secret.strip()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_an_existing_class_list_account_is_never_taken_over(site: tuple[DataLayout, str]) -> None:
    layout, url = site
    who = person()
    shortest, longer = ext.candidate_names("oidc", ext.subject_code(ext.site_secret(layout), ISSUER, who.subject))[:2]
    create_accounts(layout, url, [validate_account(shortest, "student", ["class-a"], "a-long-password", 8, "Ana R.")])
    name = make(site, who)
    assert name == longer and len(name) == len(shortest) + 1
    after = state(site)
    assert after["users"][shortest] == ["class-a"]  # the native account is as it was
    assert after["names"][shortest] == "Ana R."
    assert make(site, who) == longer


def test_a_name_held_by_another_person_makes_the_newcomer_one_character_longer(site: tuple[DataLayout, str]) -> None:
    layout, url = site
    code = ext.subject_code(ext.site_secret(layout), ISSUER, "alice")
    shortest = ext.candidate_names("oidc", code)[0]
    db = open_session(url)
    ext.ensure_table(db)  # someone else (another subject) already holds the shortest name
    db.execute(ext._TABLE.insert().values(method="oidc", issuer=ISSUER, subject_hmac="x" * 52, username=shortest))
    db.commit()
    db.close()
    assert make(site, person("alice")) == ext.candidate_names("oidc", code)[1]


@pytest.mark.parametrize(
    "subject",
    ["../../etc/passwd", "ADA LOVELACE", "ada@school.example", "<script>x</script>", "a\nb", "é" * 300, "0", " "],
)
def test_any_subject_gives_a_safe_name(site: tuple[DataLayout, str], subject: str) -> None:
    name = make(site, person(subject))
    assert re.fullmatch(r"s-[a-z2-7]{10}", name)


@pytest.mark.parametrize(
    ("given", "family", "shown"),
    [
        ("Ada", "Lovelace", "Ada L."),
        ("  Ada Augusta ", "byron-king", "Ada B."),
        ("Zoë", "Ørsted", "Zoë Ø."),
        ("Ada", "", "Ada"),
        ("", "Lovelace", None),
        ("ada@school.example", "L", None),  # an e-mail in a name field never reaches a page
        ("<b>Ada</b>", "L", None),
        ("=cmd|x", "L", None),
        ("Ada\u202e", "L", None),
    ],
)
def test_display_name_is_first_name_and_initial_or_nothing(
    site: tuple[DataLayout, str], given: str, family: str, shown: str | None
) -> None:
    name = make(site, person(given_name=given, family_name=family))
    assert read_display_names(site[0]).get(name) == shown


@pytest.mark.parametrize(
    ("who", "words"),
    [
        (person(""), "subject"),
        (person("x" * 1025), "over 1024"),
        (person(issuer=""), "issuer"),
        (person(issuer="https://a\0x"), "NUL"),
        (person(method="saml"), "not a log-in method"),
        (person(groups={"../etc": "student"}), "cannot be a hub group"),
        (person(groups={"Class A": "student"}), "cannot be a hub group"),
        (person(groups={"class-a": "admin"}), "not a role"),
    ],
)
def test_unsafe_input_is_refused_and_creates_nothing(
    site: tuple[DataLayout, str], who: ext.ExternalPerson, words: str
) -> None:
    before = state(site)
    with pytest.raises(ext.ExternalAccountError, match=words):
        make(site, who)
    assert state(site) == before


def test_groups_and_roles_go_where_class_lists_put_them(site: tuple[DataLayout, str]) -> None:
    teacher = make(site, person("t1", given_name="Tess", family_name="K", groups={"class-a": "teacher"}))
    learner = make(site, person("l1", given_name="Ben", family_name="T", groups={"class-a": "student"}))
    after = state(site)
    assert after["users"] == {teacher: ["class-a"], learner: ["class-a"]}
    assert after["roles"]["teacher"]["class-a"] == [teacher]
    assert after["names"] == {teacher: "Tess K.", learner: "Ben T."}
    # A later log-in with a new group joins it and keeps the old one.
    make(site, person("l1", groups={"class-b": "student"}))
    assert state(site)["users"][learner] == ["class-a", "class-b"]
    # Without groups the learner joins none (a class list adds them, as today).
    loner = make(site, person("l2"))
    assert state(site)["users"][loner] == []


def test_nothing_is_created_when_no_name_is_free(site: tuple[DataLayout, str]) -> None:
    layout, url = site
    who = person("crowded", given_name="Ada", family_name="L", groups={"class-z": "teacher"})
    names = ext.candidate_names("oidc", ext.subject_code(ext.site_secret(layout), ISSUER, who.subject))
    create_accounts(layout, url, [validate_account(n, "student", [], "a-long-password", 8) for n in names])
    before = state(site)
    with pytest.raises(ext.ExternalAccountError, match="No free user name"):
        make(site, who)
    assert state(site) == before
    assert "class-z" not in before["groups"]
    # Control: one free name, and the same person gets it.
    db = open_session(url)
    db.delete(orm.User.find(db, names[-1]))
    db.commit()
    db.close()
    assert make(site, who) == names[-1]


def test_a_known_person_is_found_without_creating_anything(site: tuple[DataLayout, str]) -> None:
    layout, url = site
    db = open_session(url)
    try:
        assert ext.user_of(db, layout, "oidc", ISSUER, "someone") is None
        name = ext.external_user(db, layout, person("someone"))
        assert ext.user_of(db, layout, "oidc", ISSUER, "someone") == name
        assert ext.user_of(db, layout, "sip2", ISSUER, "someone") is None
    finally:
        db.close()
