"""The library card over SIP2: `CardDesk` against a real SIP2 server (tests/sip2_server.py) and a real hub database.

Every case is a log-in through `CardDesk.log_in` (what the hub's card form calls), with the
server's record of requests as the control: a refusal that never reached the catalogue, or a
log-in that did, is seen there. A refused log-in creates nothing: no user, no group, no row
in clhub_external_ids, no roles or display-name entry. The card number appears in no user
name, log line, file of the data folder, or page.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connected_learning.accounts.store import read_display_names
from connected_learning.hub.database import open_session
from connected_learning.hub.login_sip2 import (
    CARD_BLOCKED,
    NO_CATALOGUE,
    NOT_A_CARD,
    WRONG_CARD,
    CardDesk,
    CardRefused,
    clean_card,
    clean_pin,
    configure_sip2,
    sip2_password,
    split_name,
)
from connected_learning.paths import DataLayout
from connected_learning.settings import SettingsError, load_settings
from sip2_server import (
    BLOCKED,
    EMPTY_FIELDS,
    EXPIRED,
    INSTITUTION,
    LOGIN_PASSWORD,
    LOGIN_USER,
    LOST,
    NAMELESS,
    PATRONS,
    STAFF,
    UNKNOWN,
    VALID,
    Sip2Site,
    running_sip2,
)


@pytest.fixture(scope="module")
def sip2(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sip2Site]:
    with running_sip2(tmp_path_factory.mktemp("sip2-certs")) as site:
        yield site


class Desk:
    """A CardDesk on a fresh data folder and hub database, its log captured."""

    def __init__(self, root: Path, site: Sip2Site, **traits: Any) -> None:
        self.layout = DataLayout(root / "data")
        self.layout.hub.mkdir(parents=True)
        self.db_url = f"sqlite:///{self.layout.db}"
        self.db = open_session(self.db_url)
        self.log = logging.getLogger(f"test-sip2-{id(self)}")
        self.log.setLevel(logging.DEBUG)
        self.records: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: self.records.append(record.getMessage())  # type: ignore[method-assign]
        self.log.addHandler(handler)
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": site.port,
            "login_user": LOGIN_USER,
            "login_password": LOGIN_PASSWORD,
            "institution_id": INSTITUTION,
            "timeout_seconds": 3.0,
            "staff_patron_types": ["STAFF"],
            "group": "walk-in",
            "data_dir": str(self.layout.root),
            "brake_free_failures": 3,
        }
        settings.update(traits)
        self.desk = CardDesk(log=self.log, **settings)

    def log_in(self, card: str, pin: str) -> str:
        return asyncio.run(self.desk.log_in(self.db, card, pin))

    def refused(self, card: str, pin: str) -> CardRefused:
        with pytest.raises(CardRefused) as caught:
            self.log_in(card, pin)
        return caught.value

    def users(self) -> list[str]:
        from jupyterhub import orm

        self.db.expire_all()
        return sorted(u.name for u in self.db.query(orm.User))

    def groups(self) -> dict[str, list[str]]:
        from jupyterhub import orm

        return {g.name: sorted(u.name for u in g.users) for g in self.db.query(orm.Group)}

    def roles(self) -> dict[str, Any]:
        return json.loads(self.layout.roles_file.read_text()) if self.layout.roles_file.exists() else {}

    def external_rows(self) -> int:
        from sqlalchemy import inspect, text

        if not inspect(self.db.connection()).has_table("clhub_external_ids"):
            return 0
        return int(self.db.execute(text("select count(*) from clhub_external_ids")).scalar())

    def nothing_created(self) -> None:
        assert self.users() == []
        assert self.groups() == {}
        assert self.external_rows() == 0
        assert self.roles() == {} or not any(self.roles().values())
        assert read_display_names(self.layout) == {}

    def files_text(self) -> str:
        """Every file of the data folder, as text (the SQLite database included)."""
        return "".join(p.read_bytes().decode("latin-1") for p in self.layout.root.rglob("*") if p.is_file())


@pytest.fixture
def desk(tmp_path: Path, sip2: Sip2Site) -> Desk:
    return Desk(tmp_path, sip2)


# ------------------------------------------------------------------ a card that may log in


def test_first_log_in_makes_a_learner_with_a_safe_name_and_the_walk_in_group(desk: Desk, sip2: Sip2Site) -> None:
    asked = len(sip2.got("63"))
    name = desk.log_in(VALID, PATRONS[VALID].pin)
    # The catalogue was asked (the control): the hub's log-in, then the card.
    new = sip2.got("63")[asked:]
    assert [r.fields["patron_identifier"] for r in new] == [VALID]
    assert new[0].fields["patron_password"] == PATRONS[VALID].pin
    assert new[0].fields["institution_id"] == INSTITUTION
    assert sip2.got("93", sip2.port)[-1].fields["login_user_id"] == LOGIN_USER
    assert name.startswith("c-") and len(name) == 12
    assert VALID not in name and not any(part in name for part in (VALID[:6], VALID[-6:]))
    assert desk.users() == [name]
    assert desk.groups() == {"walk-in": [name]}
    assert read_display_names(desk.layout) == {name: "Ada L."}  # "Lovelace, Ada": first name, initial
    assert not desk.roles().get("teacher", {}).get("walk-in")  # a learner, not a teacher
    # The card number is nowhere: not in the log, not in any file of the data folder (database included).
    assert VALID not in "\n".join(desk.records)
    assert PATRONS[VALID].pin not in "\n".join(desk.records)
    assert VALID not in desk.files_text()


def test_second_log_in_is_the_same_user(desk: Desk, sip2: Sip2Site) -> None:
    first = desk.log_in(VALID, PATRONS[VALID].pin)
    second = desk.log_in(f" {VALID[:7]} {VALID[7:]} ", PATRONS[VALID].pin)  # typed with spaces
    assert first == second
    assert desk.users() == [first] and desk.external_rows() == 1
    assert sip2.cards_asked()[-2:] == [VALID, VALID]


def test_staff_card_teaches_the_walk_in_group(desk: Desk) -> None:
    name = desk.log_in(STAFF, PATRONS[STAFF].pin)
    assert name in desk.roles()["teacher"]["walk-in"]
    assert read_display_names(desk.layout) == {name: "Grace H."}


def test_staff_by_card_prefix_when_the_system_sends_no_patron_class(tmp_path: Path, sip2: Sip2Site) -> None:
    desk = Desk(tmp_path, sip2, staff_patron_types=[], staff_card_prefixes=["2999"])
    staff = desk.log_in(STAFF, PATRONS[STAFF].pin)
    learner = desk.log_in(VALID, PATRONS[VALID].pin)
    assert desk.roles()["teacher"]["walk-in"] == [staff]
    assert desk.groups() == {"walk-in": sorted([staff, learner])}


def test_a_card_without_a_name_gets_no_display_name(desk: Desk) -> None:
    name = desk.log_in(NAMELESS, PATRONS[NAMELESS].pin)
    assert name in desk.users()
    assert read_display_names(desk.layout) == {}


@pytest.mark.parametrize("checksums", [False, True])
def test_an_answer_with_empty_optional_fields_is_read(tmp_path: Path, sip2: Sip2Site, checksums: bool) -> None:
    """An empty currency (BH|) is no currency: pysip2's model refuses it, the client reads the answer without it."""
    port = sip2.checksum_port if checksums else sip2.port
    desk = Desk(tmp_path, sip2, port=port, checksums=checksums)
    name = desk.log_in(EMPTY_FIELDS, PATRONS[EMPTY_FIELDS].pin)
    assert read_display_names(desk.layout) == {name: "Eve E."}
    # The control: the wrong PIN is still wrong (CQ=N read from that answer too).
    assert desk.refused(EMPTY_FIELDS, "0000").log_message == WRONG_CARD


def test_tls_with_the_librarys_ca(tmp_path: Path, sip2: Sip2Site) -> None:
    desk = Desk(tmp_path, sip2, host="localhost", port=sip2.tls_port, tls=True, ca_file=str(sip2.ca_file))
    before = len(sip2.got("63", sip2.tls_port))
    assert desk.log_in(VALID, PATRONS[VALID].pin).startswith("c-")
    assert sip2.cards_asked(sip2.tls_port)[before:] == [VALID]


def test_checksums_and_sequence_numbers_for_a_system_that_demands_them(tmp_path: Path, sip2: Sip2Site) -> None:
    strict = Desk(tmp_path, sip2, port=sip2.checksum_port, checksums=True)
    assert strict.log_in(VALID, PATRONS[VALID].pin).startswith("c-")
    # Control: without them that server only asks for the request again, and nobody gets in.
    plain = Desk(tmp_path / "plain", sip2, port=sip2.checksum_port)
    assert plain.refused(VALID, PATRONS[VALID].pin).log_message == NO_CATALOGUE
    plain.nothing_created()


# ------------------------------------------------------------------ cards that may not


@pytest.mark.parametrize(
    ("card", "pin", "message"),
    [
        (VALID, "0000", WRONG_CARD),
        (UNKNOWN, "1234", WRONG_CARD),  # the same words: the page does not tell which cards exist
        (BLOCKED, PATRONS[BLOCKED].pin, CARD_BLOCKED),
        (EXPIRED, PATRONS[EXPIRED].pin, CARD_BLOCKED),
        (LOST, PATRONS[LOST].pin, CARD_BLOCKED),
        (BLOCKED, "9999", WRONG_CARD),  # blocked is said only to someone who knows the PIN
    ],
)
def test_refused_cards_reach_the_catalogue_and_create_nothing(
    desk: Desk, sip2: Sip2Site, card: str, pin: str, message: str
) -> None:
    before = len(sip2.got("63"))
    refused = desk.refused(card, pin)
    assert refused.log_message == message
    assert sip2.cards_asked()[before:] == [card]  # the control: the catalogue was asked, and said no
    desk.nothing_created()
    assert card not in "\n".join(desk.records) and pin not in "\n".join(desk.records)


def test_a_narrower_blocked_when_lets_an_over_the_limit_card_in(tmp_path: Path, sip2: Sip2Site) -> None:
    desk = Desk(tmp_path, sip2, blocked_when=["card_lost"])
    assert desk.log_in(BLOCKED, PATRONS[BLOCKED].pin).startswith("c-")
    assert desk.refused(LOST, PATRONS[LOST].pin).log_message == CARD_BLOCKED


@pytest.mark.parametrize("where", ["silent", "closed", "wrong_ca", "wrong_host", "wrong_login"])
def test_a_catalogue_that_does_not_answer_gets_a_friendly_message(tmp_path: Path, sip2: Sip2Site, where: str) -> None:
    traits: dict[str, Any] = {
        "silent": {"port": sip2.silent_port, "timeout_seconds": 1.0},
        "closed": {"port": sip2.closed_port},
        "wrong_ca": {"host": "localhost", "port": sip2.tls_port, "tls": True, "ca_file": str(sip2.wrong_ca_file)},
        # The right CA, but an address the certificate is not for.
        "wrong_host": {"port": sip2.tls_port, "tls": True, "ca_file": str(sip2.ca_file)},
        "wrong_login": {"login_password": "not-the-password"},
    }[where]
    desk = Desk(tmp_path, sip2, **traits)
    silent_before = len(sip2.silent_connections)
    logins_before = len(sip2.got("93"))
    cards_before = len(sip2.got("63"))
    refused = desk.refused(VALID, PATRONS[VALID].pin)
    assert refused.status_code == 503 and refused.log_message == NO_CATALOGUE
    desk.nothing_created()
    log = "\n".join(desk.records)
    assert "gave no answer" in log and VALID not in log and PATRONS[VALID].pin not in log
    assert sip2.got("63")[cards_before:] == []  # the card never reached a catalogue that answers
    if where == "silent":  # the control: the request did arrive, and was never answered
        assert any(b"63" in got for got in sip2.silent_connections[silent_before:]) or any(
            b"93" in got for got in sip2.silent_connections[silent_before:]
        )
        assert "did not answer within 1 s" in log
    if where == "wrong_login":  # the control: the hub's own log-in reached the catalogue, which said no
        assert sip2.got("93")[logins_before:][0].fields["login_password"] == "not-the-password"
        assert "refused the hub's SIP2 log-in" in log and "not-the-password" not in log
    if where in ("wrong_ca", "wrong_host"):
        assert "certificate" in log


# ------------------------------------------------------------------ attacks


def test_guessing_a_pin_is_braked_and_stops_reaching_the_catalogue(desk: Desk, sip2: Sip2Site) -> None:
    before = len(sip2.got("63"))
    for guess in ("0001", "0002", "0003"):
        refused = desk.refused(VALID, guess)
    assert refused.status_code == 429 and refused.retry_after > 0  # the third failure brakes
    # Braked: even the right PIN waits, and the catalogue is not asked at all.
    braked = desk.refused(VALID, PATRONS[VALID].pin)
    assert braked.status_code == 429 and "Wait" in braked.log_message
    assert len(sip2.got("63")) - before == 3  # the control: three guesses arrived, the fourth did not
    desk.nothing_created()
    # Another card is not braked by this one's guesses.
    assert desk.log_in(STAFF, PATRONS[STAFF].pin).startswith("c-")


@pytest.mark.parametrize(
    ("card", "pin", "message"),
    [
        ("../../etc/passwd", "1", NOT_A_CARD),
        ("/etc/x", "1", NOT_A_CARD),
        (f"{VALID}|AD4321", "1", NOT_A_CARD),  # a SIP2 field smuggled into the card number
        ("x" * 10_000, "1", NOT_A_CARD),
        ("", "1", NOT_A_CARD),
        (VALID, "0000|AD4321", WRONG_CARD),  # and into the PIN
        (VALID, "43\r21", WRONG_CARD),
        (VALID, "4" * 100_000, WRONG_CARD),
        (VALID, "", WRONG_CARD),
    ],
)
def test_bad_input_never_reaches_the_catalogue(desk: Desk, sip2: Sip2Site, card: str, pin: str, message: str) -> None:
    before = len(sip2.got("63"))
    assert desk.refused(card, pin).log_message == message
    assert len(sip2.got("63")) == before
    desk.nothing_created()


def test_a_card_holder_never_takes_over_an_existing_account(desk: Desk) -> None:
    """The name a card would get already belongs to a class list's account: the card gets a longer one."""
    from connected_learning.accounts.store import put_user
    from connected_learning.hub.external_accounts import candidate_names, site_secret, subject_code

    code = subject_code(site_secret(desk.layout), INSTITUTION, VALID)
    taken = candidate_names("sip2", code)[0]
    put_user(desk.db, taken, [])
    desk.db.commit()
    name = desk.log_in(VALID, PATRONS[VALID].pin)
    assert name != taken and name.startswith(taken)
    assert desk.groups() == {"walk-in": [name]}


# ------------------------------------------------------------------ the pieces


def test_clean_card_and_pin() -> None:
    assert clean_card(" 2123 4000 0000 17 ") == "21234000000017"
    assert clean_card("ab-12") == "ab-12"
    assert clean_card("12.3") is None and clean_card("١٢٣") is None
    assert clean_pin("pässwörd 1") == "pässwörd 1"
    assert clean_pin("a|b") is None and clean_pin("a\x00") is None and clean_pin("x" * 65) is None


def test_split_name() -> None:
    assert split_name("Lovelace, Ada King") == ("Ada King", "Lovelace")
    assert split_name("Ada   Lovelace") == ("Ada", "Lovelace")
    assert split_name("Ada") == ("Ada", "")
    assert split_name("") == ("", "")


# ------------------------------------------------------------------ settings


def _site(tmp_path: Path, body: str) -> Path:
    site = tmp_path / "site.toml"
    site.write_text(f'[site]\ndata_dir = "data"\n{body}')
    return site


def test_settings_reach_the_card_desk(tmp_path: Path) -> None:
    from traitlets.config import Config

    (tmp_path / "secret").write_text("from-the-file\n")
    os.chmod(tmp_path / "secret", 0o600)
    (tmp_path / "ca.pem").write_text("x")
    site = _site(
        tmp_path,
        '[login]\nmethod = ["native", "sip2"]\n[login.sip2]\nhost = "sip.example.org"\nport = 6443\ntls = true\n'
        'ca_file = "ca.pem"\nlogin_user = "clhub"\npassword_file = "secret"\ninstitution_id = "RIV"\n'
        'staff_patron_types = ["STAFF"]\nblocked_when = ["card_lost"]\ngroup = "library-lab"\n',
    )
    settings = load_settings(site)
    c = Config()
    configure_sip2(c, settings, DataLayout(settings.data_dir), environ={})
    desk = CardDesk(config=c)
    assert (desk.host, desk.port, desk.tls, desk.login_user) == ("sip.example.org", 6443, True, "clhub")
    assert desk.ca_file == str(tmp_path / "ca.pem") and desk.login_password == "from-the-file"
    assert (desk.institution_id, desk.group, desk.blocked_when) == ("RIV", "library-lab", ["card_lost"])
    # The environment wins over the file.
    assert sip2_password(settings, {"CLHUB_SIP2_PASSWORD": "from-env"}) == "from-env"


def test_a_password_file_others_can_read_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("pw\n")
    os.chmod(tmp_path / "secret", 0o644)
    settings = load_settings(_site(tmp_path, '[login.sip2]\nhost = "h"\npassword_file = "secret"\n'))
    with pytest.raises(SettingsError, match="chmod 600"):
        sip2_password(settings, {})
    os.symlink(tmp_path / "secret", tmp_path / "link")
    os.chmod(tmp_path / "secret", 0o600)
    settings = load_settings(_site(tmp_path, '[login.sip2]\nhost = "h"\npassword_file = "link"\n'))
    with pytest.raises(SettingsError, match="cannot be read"):  # no following a link to someone's file
        sip2_password(settings, {})


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[login]\nmethod = "sip2"\n', "login.sip2.host is empty"),
        ('[login.sip2]\nhost = "h"\nport = 0\n', "login.sip2.port = 0"),
        ('[login.sip2]\nhost = "h"\nblocked_when = ["asleep"]\n', "login.sip2.blocked_when"),
        ('[login.sip2]\nhost = "h"\nencoding = "klingon"\n', "login.sip2.encoding"),
        ('[login.sip2]\nhost = "h"\ngroup = "../x"\n', "login.sip2.group"),
        ('[login.sip2]\nhost = "h"\ntimeout_seconds = 600\n', "login.sip2.timeout_seconds"),
        ('[login.sip2]\nhost = "h"\npassword = "x"\n', "unknown key login.sip2.password"),
        ('[login]\nmethod = "sip2"\n[login.sip2]\nhost = "h"\nca_file = "ca.pem"\n', "tls is false"),
    ],
)
def test_bad_settings_are_refused_by_name(tmp_path: Path, body: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_site(tmp_path, body))
    assert words in str(caught.value)


def test_guesses_from_elsewhere_do_not_brake_the_cards_owner_on_their_own_computer(desk: Desk, sip2: Sip2Site) -> None:
    """As for names (login_brake): a browser that logged in with the card before is braked only by its own tries."""
    name = desk.log_in(VALID, PATRONS[VALID].pin)
    owners_browser = {name: "nonce-of-the-owners-browser"}
    for guess in ("0001", "0002", "0003"):
        refused = desk.refused(VALID, guess)  # a classmate, on another computer
    assert refused.status_code == 429
    assert desk.refused(VALID, PATRONS[VALID].pin).status_code == 429  # the control: other browsers are braked
    before = len(sip2.got("63"))
    assert asyncio.run(desk.desk.log_in(desk.db, VALID, PATRONS[VALID].pin, owners_browser)) == name
    assert len(sip2.got("63")) == before + 1
    # A device cookie naming another account does not help with this card.
    assert desk.refused(VALID, PATRONS[VALID].pin).status_code == 429
    with pytest.raises(CardRefused) as caught:
        asyncio.run(desk.desk.log_in(desk.db, VALID, PATRONS[VALID].pin, {"c-someoneelse": "n"}))
    assert caught.value.status_code == 429
