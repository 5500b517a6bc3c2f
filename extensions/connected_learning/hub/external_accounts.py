"""Hub accounts for people another system vouches for: a school account, the learning platform, a library card.

A person arrives as (method, issuer, subject): the provider's own stable id for them. Their
hub user name is `<prefix>-<code>`: prefix `s` (school account, OIDC), `l` (learning
platform, LTI 1.3) or `c` (library card, SIP2); code the first 10 characters of the lower-case
base32 HMAC-SHA256 of `issuer + "\\0" + subject`, keyed with the site's secret. So a name says
nothing about the person (never their name, e-mail or card number) and cannot be guessed
without the secret. The table `clhub_external_ids` in the hub's database keeps who is who:

    clhub_external_ids(method, issuer, subject_hmac, username)
        unique (method, issuer, subject_hmac), unique (username)

so the same person is the same user at every log-in, and a name already taken (by another
person, or by any existing hub user: a class list's account is never taken over) makes the
newcomer's name one character longer.

    <data>/hub/external-ids.key   root 0600: the site's secret (made on first use; it is in backups,
                                  and losing it gives everybody a new account)

Groups and roles go through the account store the class lists use (`accounts.store`):
hub groups like any other (their peer-review folders are made by the spawner and the
classroom's sweep), teacher and mentor roles in the site's roles file. The display name
is the first name and the family name's initial ("Ada L."), nothing else about the person
is kept. Everything runs in the caller's database session: inside the running hub that is
the hub's own (`Authenticator.db`), so the hub sees the new user at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..accounts.roster import RosterError, clean_display_name
from ..accounts.store import ROLES, put_user, update_roles_file, write_display_names
from ..errors import ClhubError
from ..paths import DataLayout
from ..settings import validate_username

PREFIXES = {"oidc": "s", "lti13": "l", "sip2": "c"}
SECRET_FILE = "external-ids.key"
TABLE = "clhub_external_ids"
CODE_LENGTH = 10  # characters of the code at first: 50 bits, then one more per collision
MAX_ID_LENGTH = 1024  # an issuer or subject longer than this is refused (OIDC's `sub` is at most 255)
MAX_NAME_PART = 40  # characters of a first name kept for the display name
GROUP_ROLES = ("student", "mentor", "teacher")


class ExternalAccountError(ClhubError):
    code = "bad-external-account"


@dataclass(frozen=True)
class ExternalPerson:
    """Who a log-in method vouches for, and what the hub should make of them.

    Attributes:
        method: "oidc", "lti13" or "sip2".
        issuer: who vouches (the OIDC issuer URL, the LTI platform's issuer, the library's SIP2 host).
        subject: their stable id there (OIDC `sub`, LTI `sub`, the card number); never shown or kept.
        given_name, family_name: for the display name "Ada L." (both optional).
        groups: {hub group: "student" | "mentor" | "teacher"} to join at this log-in.
    """

    method: str
    issuer: str
    subject: str
    given_name: str = ""
    family_name: str = ""
    groups: Mapping[str, str] = field(default_factory=dict)


def _metadata() -> Any:
    from sqlalchemy import Column, Integer, MetaData, Table, Unicode, UniqueConstraint

    metadata = MetaData()
    Table(
        TABLE,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("method", Unicode(16), nullable=False),
        Column("issuer", Unicode(MAX_ID_LENGTH), nullable=False),
        Column("subject_hmac", Unicode(64), nullable=False),
        Column("username", Unicode(255), nullable=False, unique=True),
        UniqueConstraint("method", "issuer", "subject_hmac", name="clhub_external_ids_person"),
    )
    return metadata


_TABLE: Any = _metadata().tables[TABLE]


def site_secret(layout: DataLayout) -> bytes:
    """The site's secret for user names: made on first use (0600, root's), the same ever after."""
    path = layout.hub / SECRET_FILE
    layout.hub.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd) as f:
        if os.fstat(f.fileno()).st_mode & 0o077:
            os.fchmod(f.fileno(), 0o600)
        value = f.read().strip()
    if len(value) < 32:
        raise ExternalAccountError(
            f"{path} is too short to be the site's secret for school, platform and card accounts; "
            "bring it back from the last backup (a new one gives every such person a new account)."
        )
    return value.encode()


def validate_person(person: ExternalPerson) -> ExternalPerson:
    """Check what a log-in method hands over, once, at the edge; ExternalAccountError names the bad part."""
    if person.method not in PREFIXES:
        raise ExternalAccountError(f"{person.method!r} is not a log-in method; use one of {', '.join(PREFIXES)}.")
    for label, value in (("issuer", person.issuer), ("subject", person.subject)):
        if not isinstance(value, str) or not value:
            raise ExternalAccountError(f"The {label} of a {person.method} log-in is empty.")
        if len(value) > MAX_ID_LENGTH:
            raise ExternalAccountError(f"The {label} of a {person.method} log-in is over {MAX_ID_LENGTH} characters.")
    if "\0" in person.issuer:  # it separates issuer and subject in the HMAC
        raise ExternalAccountError(f"The issuer of a {person.method} log-in holds a NUL character.")
    for group, role in person.groups.items():
        try:
            validate_username(group)
        except ClhubError as e:
            raise ExternalAccountError(f"Group {group[:40]!r} cannot be a hub group: {e}") from None
        if role not in GROUP_ROLES:
            raise ExternalAccountError(f"{role!r} is not a role in a group; use one of {', '.join(GROUP_ROLES)}.")
    return person


def subject_code(secret: bytes, issuer: str, subject: str) -> str:
    """The full code of a person: lower-case base32 (no padding) of HMAC-SHA256(secret, issuer NUL subject)."""
    digest = hmac.new(secret, f"{issuer}\0{subject}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()


def candidate_names(method: str, code: str) -> list[str]:
    """The names a person may get, shortest first: `<prefix>-` and 10, 11, ... characters of `code`."""
    prefix = PREFIXES[method] + "-"
    longest = min(len(code), 31 - len(prefix))  # validate_username: at most 31 characters
    return [validate_username(prefix + code[:n]) for n in range(CODE_LENGTH, longest + 1)]


def display_name_for(given_name: str, family_name: str) -> str:
    """ "Ada L." from ("Ada", "Lovelace"); "" when the parts make no safe name (then none is written).

    Only the first word of the first name and one letter of the family name: a provider's
    full name or an e-mail address in a name field never reaches a page.
    """
    first = (given_name or "").strip().split()
    initial = next((c for c in (family_name or "").strip() if c.isalpha()), "")
    if not first:
        return ""
    name = first[0][:MAX_NAME_PART] + (f" {initial.upper()}." if initial else "")
    try:
        return clean_display_name(name)
    except RosterError:
        return ""


def ensure_table(db: Any) -> None:
    """Create `clhub_external_ids` in the session's database where it is missing (in the session's transaction)."""
    _TABLE.create(db.connection(), checkfirst=True)


def find_user(db: Any, method: str, issuer: str, subject_hmac: str) -> str | None:
    from sqlalchemy import select

    row = db.execute(
        select(_TABLE.c.username).where(
            _TABLE.c.method == method, _TABLE.c.issuer == issuer, _TABLE.c.subject_hmac == subject_hmac
        )
    ).first()
    return row[0] if row else None


def _free_name(db: Any, names: Iterable[str]) -> str:
    from jupyterhub import orm
    from sqlalchemy import select

    for name in names:
        taken = db.execute(select(_TABLE.c.id).where(_TABLE.c.username == name)).first()
        if taken is None and orm.User.find(db, name) is None:
            return name
    raise ExternalAccountError("No free user name is left for this person (every longer name is taken).")


def _put(db: Any, person: ExternalPerson, code: str) -> str:
    """Find or make the user of `code` and their memberships, committed; rolled back on any failure."""
    from jupyterhub import orm
    from jupyterhub.roles import grant_role

    try:
        ensure_table(db)
        name = find_user(db, person.method, person.issuer, code)
        if name is None:
            name = _free_name(db, candidate_names(person.method, code))
            db.execute(
                _TABLE.insert().values(method=person.method, issuer=person.issuer, subject_hmac=code, username=name)
            )
        user = put_user(db, name, sorted(person.groups))
        db.flush()
        if orm.Role.find(db, "user") is not None:  # the hub's default role (a fresh database has none yet)
            grant_role(db, entity=user, rolename="user", commit=False)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return name


def external_user(db: Any, layout: DataLayout, person: ExternalPerson) -> str:
    """The hub user for `person`: found, or created with their groups, roles and display name; their name.

    Runs in session `db` (inside the hub: the hub's own) and commits it; on any failure the
    session is rolled back and nothing is created: no user, group, table row or file entry.
    A later log-in of the same person finds the same user and joins any new `groups`
    (a group they left is not taken away: class lists and teachers manage that).

    Raises:
        ExternalAccountError: `person` is not sound (named), or no free name is left.
    """
    from sqlalchemy.exc import IntegrityError

    validate_person(person)
    code = subject_code(site_secret(layout), person.issuer, person.subject)
    try:
        name = _put(db, person, code)
    except IntegrityError:  # the same person's first log-in in another process, at the same moment
        name = _put(db, person, code)
    if person.groups:
        update_roles_file(layout, [(name, role, [g]) for g, role in sorted(person.groups.items()) if role in ROLES])
    display = display_name_for(person.given_name, person.family_name)
    if display:
        write_display_names(layout, {name: display}, keep_existing=True)
    return name


def user_of(db: Any, layout: DataLayout, method: str, issuer: str, subject: str) -> str | None:
    """The hub user of a person already known, or None; creates nothing (but the site's secret)."""
    code = subject_code(site_secret(layout), issuer, subject)
    from sqlalchemy import inspect

    if not inspect(db.connection()).has_table(TABLE):
        return None
    return find_user(db, method, issuer, code)
