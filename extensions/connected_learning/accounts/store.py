"""Hub accounts made by `clhub`: user, password, groups and site role, in one step.

Used while the hub is stopped (`clhub demo` creates the demo accounts before it starts
the hub; `clhub user add` refuses to run beside a running hub). It writes JupyterHub's
own tables through `jupyterhub.orm`, NativeAuthenticator's password table (bcrypt), and
the site's role file that `auth.site_roles` turns into hub roles.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import bcrypt

from ..errors import ClhubError
from ..hub.database import open_session
from ..learner.provision import atomic_write_text
from ..paths import DataLayout
from ..settings import validate_username

ROLES = ("student", "teacher", "mentor", "admin")
DISPLAY_NAMES = "display-names.json"  # in <data>/hub: {user: the name peers and families see}
PASSWORD_CHANGES = "password-changes.json"  # in <data>/hub: users who must choose a new password
# Letters and digits that cannot be mistaken for each other on a printed login slip.


class AccountError(ClhubError):
    code = "bad-account"


@dataclass(frozen=True)
class NewAccount:
    name: str
    password: str
    role: str
    groups: tuple[str, ...]
    display_name: str = ""  # given only where the account has none yet (see `fill_display_names`)


def validate_account(
    name: str, role: str, groups: Iterable[str], password: str, min_length: int, display_name: str = ""
) -> NewAccount:
    """Check one account request at the edge; raise AccountError naming the bad value."""
    try:
        validate_username(name)
        for group in groups:
            validate_username(group)
    except ClhubError as e:
        raise AccountError(str(e)) from None
    if role not in ROLES:
        raise AccountError(f"{role!r} is not a role; use one of: {', '.join(ROLES)}.")
    if len(password) < min_length:
        raise AccountError(f"The password for {name!r} is too short; use at least {min_length} characters.")
    return NewAccount(name, password, role, tuple(groups), display_name)


def read_display_names(layout: DataLayout) -> dict[str, str]:
    """Display names from class lists, {user name: "Ana M."}; empty when there are none."""
    try:
        names = json.loads((layout.hub / DISPLAY_NAMES).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in names.items() if isinstance(v, str) and v} if isinstance(names, dict) else {}


_NAMES_LOCK = threading.Lock()  # one read-change-write of the names file at a time (the classroom's threads)


def write_display_names(layout: DataLayout, names: Mapping[str, str], *, keep_existing: bool = False) -> dict[str, str]:
    """Record `names` ({user: display name}) in the display-names file; return those written.

    With `keep_existing`, a user who already has a display name keeps it: the demo fills its
    accounts' names at every start without undoing a name a teacher gave since.
    """
    with _NAMES_LOCK:
        current = read_display_names(layout)
        written = {u: n for u, n in names.items() if n and not (keep_existing and current.get(u))}
        if written:
            current.update(written)
            atomic_write_text(layout.hub / DISPLAY_NAMES, json.dumps(current, indent=1, sort_keys=True))
        return written


def drop_display_name(layout: DataLayout, name: str) -> None:
    """Take `name` off the display-names file (their account is gone)."""
    with _NAMES_LOCK:
        current = read_display_names(layout)
        if current.pop(name, None) is not None:
            atomic_write_text(layout.hub / DISPLAY_NAMES, json.dumps(current, indent=1, sort_keys=True))


def teachers_of(layout: DataLayout, group: str) -> set[str]:
    """Who teaches `group`, as the site's roles file says (empty when it cannot be read)."""
    try:
        data = json.loads(layout.roles_file.read_text())
        return set(data["teacher"][group])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def update_roles_file(layout: DataLayout, entries: Iterable[tuple[str, str, Iterable[str]]]) -> None:
    """Record who teaches and mentors which group, from (user, role, groups) entries.

    The site's roles file is what `auth.site_roles` turns into hub roles; a user listed
    here with another role in a group is taken off that group's teacher/mentor lists.
    """
    try:
        data = json.loads(layout.roles_file.read_text())
    except (OSError, ValueError):
        data = {}
    data = data if isinstance(data, dict) else {}
    for name, user_role, groups in entries:
        for group in groups:
            for role in ("teacher", "mentor"):
                table = data.setdefault(role, {})
                members = set(table.get(group, []))
                members.discard(name)
                if role == user_role:
                    members.add(name)
                table[group] = sorted(members)
    atomic_write_text(layout.roles_file, json.dumps(data, indent=1, sort_keys=True))


def store_password(db: Any, name: str, password: str) -> None:
    """Put a bcrypt hash of `password` in NativeAuthenticator's table (in session `db`)."""
    from nativeauthenticator.orm import UserInfo

    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt())
    info = UserInfo.find(db, name)
    if info is None:
        db.add(UserInfo(username=name, password=hashed, is_authorized=True))
    else:
        info.password = hashed
        info.is_authorized = True


def set_passwords(db_url: str, passwords: Mapping[str, str]) -> None:
    """Set passwords in the hub database at `db_url` (the hub reads them at each log-in, running or not)."""
    db = open_session(db_url)
    try:
        for name, password in passwords.items():
            store_password(db, name, password)
        db.commit()
    finally:
        db.close()


def put_user(db: Any, name: str, groups: Iterable[str], admin: bool | None = None) -> Any:
    """The hub user `name` in session `db`, created where missing, made a member of `groups`
    (created where missing); `admin` set unless None. Not committed: the caller commits.

    The one way accounts reach JupyterHub's tables outside its REST API: `create_accounts`
    (hub stopped, its own session) and `hub.external_accounts` (inside the running hub, its session).
    """
    from jupyterhub import orm

    user = orm.User.find(db, name)
    if user is None:
        user = orm.User(name=name)
        db.add(user)
    if admin is not None:
        user.admin = admin
    for group_name in groups:
        group = orm.Group.find(db, group_name)
        if group is None:
            group = orm.Group(name=group_name)
            db.add(group)
        if group not in user.groups:
            user.groups.append(group)
    return user


def create_accounts(layout: DataLayout, db_url: str, accounts: Iterable[NewAccount]) -> None:
    """Create or update `accounts` in the hub database at `db_url` (the hub must be stopped).

    An account's `display_name` is written only where the user has none yet.
    """
    accounts = list(accounts)
    layout.create()
    db = open_session(db_url)
    try:
        for account in accounts:
            put_user(db, account.name, account.groups, admin=account.role == "admin")
            store_password(db, account.name, account.password)
            update_roles_file(layout, [(account.name, account.role, account.groups)])
        db.commit()
    finally:
        db.close()
    write_display_names(layout, {a.name: a.display_name for a in accounts if a.display_name}, keep_existing=True)


# (user, role, display name): the names peers, the showcase and families see. `clhub demo`
# gives them at every start to an account without one; a name a teacher changed stays.
DEMO_ACCOUNTS = (
    ("ana", "student", "Ana R."),
    ("ben", "student", "Ben T."),
    ("cai", "student", "Cai L."),
    ("tess", "teacher", "Tess K."),
    ("milo", "mentor", "Milo P."),
    ("admin", "admin", "Ada M."),
)
DEMO_GROUP = "demo-class"


def demo_accounts(password: str, min_length: int) -> list[NewAccount]:
    return [
        validate_account(name, role, [] if role == "admin" else [DEMO_GROUP], password, min_length, display)
        for name, role, display in DEMO_ACCOUNTS
    ]
