"""Log-in for Connected Learning Hub: NativeAuthenticator with safe user names and site roles.

Accounts are created by `clhub` and by class-list imports, with bcrypt passwords in the
hub database. User names must be safe as system user and folder names.

Password guessing is braked for the guesser, not the account's owner (`login_brake`, in
place of NativeAuthenticator's lock-out, which let anybody lock anybody out): a browser
that logged in as X carries a signed device cookie for X and is braked only by its own
failures; every other browser shares one brake per account, with waits that grow to at
most a minute. A braked browser is told how long to wait. A name that does not exist gets
the same answer after the same bcrypt work (against a dummy hash), so the page does not
reveal which names exist. bcrypt runs in a thread, off the hub's event loop.

Roles: teachers and mentors of a group get the hub roles `teacher-<group>` and
`mentor-<group>` (RBAC scopes filtered with `!group=`), from the site's roles file that
`clhub` and the classroom service write. The authenticator manages those roles
(`manage_roles`): they are given at log-in and refreshed every `auth_refresh_age`
seconds, so a class list imported while the hub runs takes effect without a restart.

A password a teacher reset is temporary: after logging in with it the learner is sent
to the change-password page, and no server starts until they have chosen their own.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

import bcrypt
from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub.utils import get_browser_protocol, url_path_join
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import TEMPLATE_DIR as NATIVE_TEMPLATES
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.orm import UserInfo
from tornado import web
from traitlets import Float, Integer, List, Unicode

from ..errors import ClhubError
from ..settings import validate_username
from .login_brake import Brakes, Source, account_source, client_address, device_source, wait_message
from .plain_errors import PlainError
from .sessions import STOP_WAIT_MARGIN_SECONDS, ClhubLogoutHandler, SharedComputerLogin
from .socket_owner import peer_uid

DEVICE_COOKIE = "clhub-device"
INVALID_LOGIN = "Invalid username or password."
BCRYPT_MAX_BYTES = 72


def teacher_scopes(group: str) -> list[str]:
    """What a teacher of `group` may do in the hub: that group's users and servers, nothing more."""
    return [
        f"list:users!group={group}",
        f"read:users!group={group}",
        f"read:users:activity!group={group}",
        f"servers!group={group}",
        f"access:servers!group={group}",
        f"read:groups!group={group}",
    ]


def site_roles(roles_file: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Roles from the site's roles file: teachers and mentors per group, with their users."""
    try:
        raw = json.loads(Path(roles_file).read_text())
    except (OSError, ValueError):
        raw = {}
    roles: list[dict[str, Any]] = []
    for group, users in sorted(raw.get("teacher", {}).items()):
        roles.append(
            {
                "name": f"teacher-{group}",
                "description": f"Teaches group {group}: sees its learners and starts or stops their servers.",
                "scopes": teacher_scopes(group),
                "users": sorted(users),
            }
        )
    for group, users in sorted(raw.get("mentor", {}).items()):
        roles.append(
            {
                "name": f"mentor-{group}",
                "description": f"Mentors group {group}: reads its peer-review folder and gives feedback.",
                "scopes": [f"read:groups!group={group}"],
                "users": sorted(users),
            }
        )
    return roles


# What someone hears who tries to log in to (or start) an account a teacher is removing.
REMOVED_MESSAGE = "This account is being removed from its class. If that is a mistake, ask your teacher now."


def read_flags(path: str) -> set[str]:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return set()
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


def over_https(handler: Any) -> bool:
    """Whether browsers reach the hub over https, as JupyterHub decides for its log-in cookies: the
    site's public_url says so; without one, the request (the outermost X-Forwarded-Proto)."""
    public_url = handler.settings.get("public_url")
    if public_url:
        return bool(public_url.scheme == "https")
    return bool(get_browser_protocol(handler.request) == "https")


class LoginRefused(web.HTTPError):
    """A log-in answered with a message of its own (braked, or not approved yet), not a plain failure."""

    def __init__(self, status: int, message: str, retry_after: int = 0) -> None:
        super().__init__(status, message)
        self.retry_after = retry_after


class ClhubLoginHandler(SharedComputerLogin, NativeLoginHandler):
    """The log-in page: a plain message when braked, never another person's `next`.

    A learner with a temporary password goes to change it first.
    """

    _render_sync = False
    _sync_templates_registered = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # NativeAuthenticator gives only the async template environment its pages.
        env = self.settings.get("jinja2_env_sync")
        if env is not None and not ClhubLoginHandler._sync_templates_registered:
            env.loader = ChoiceLoader([env.loader, FileSystemLoader([NATIVE_TEMPLATES])])
            ClhubLoginHandler._sync_templates_registered = True

    def _render(
        self, login_error: str | None = None, username: str | None = None, sync: bool = False, **ignored: Any
    ) -> Any:
        # JupyterHub shows its own errors of this form (an expired form) on the form itself, from
        # its synchronous `write_error`, with more fields than NativeAuthenticator's `_render`
        # takes: without this the learner gets a blank page.
        self._render_sync = sync
        try:
            return super()._render(login_error=login_error, username=username)
        finally:
            self._render_sync = False

    def render_template(self, name: str, sync: bool = False, **ns: Any) -> Any:
        return super().render_template(name, sync=sync or self._render_sync, **ns)

    def get_next_url(self, user: Any = None, default: Any = None) -> str:
        if user is not None and self.authenticator.must_change_password(user.name):
            return url_path_join(self.hub.base_url, "change-password")
        self.drop_next_of_others(user)
        return super().get_next_url(user, default)

    async def post(self) -> None:
        data = {
            arg: self.get_argument(arg, strip=arg == "username")
            for arg in self.request.body_arguments
            if arg != "_xsrf"
        }
        data.setdefault("username", "")
        data.setdefault("password", "")
        try:
            user = await self.login_user(data)
        except LoginRefused as refused:
            self.set_status(refused.status_code)
            if refused.retry_after:
                self.set_header("Retry-After", str(refused.retry_after))
            self.finish(await self._render(login_error=refused.log_message, username=data["username"]))
            return
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        self.set_status(403)
        self.finish(await self._render(login_error=INVALID_LOGIN, username=data["username"]))


class ClhubAuthenticator(NativeAuthenticator):
    roles_file = Unicode(
        "",
        config=True,
        help="The site's roles file (JSON: {'teacher': {group: [users]}, 'mentor': {...}}), written by "
        "`clhub` and the classroom service. Example: '/var/lib/clhub/hub/site-roles.json'.",
    )
    password_changes_file = Unicode(
        "",
        config=True,
        help="JSON list of users whose password a teacher reset: they must choose a new one at their "
        "next log-in. Example: '/var/lib/clhub/hub/password-changes.json'.",
    )
    pending_removals_file = Unicode(
        "",
        config=True,
        help="JSON object of accounts a teacher is removing, still inside the undo window (written by the "
        "classroom, accounts/removal.py): they can neither log in nor start. "
        "Example: '/var/lib/clhub/hub/pending-removals.json'.",
    )
    brake_free_failures = Integer(
        5,
        config=True,
        help="Failed log-ins in a row from one source (a browser with the account's device cookie, or all "
        "other browsers together) before that source must wait. Default 5.",
    )
    brake_first_wait_seconds = Float(
        5.0,
        config=True,
        help="The first wait, in seconds, once a source is braked; each further failure doubles it, up to "
        "brake_longest_wait_seconds. Default 5.",
    )
    brake_longest_wait_seconds = Float(
        60.0,
        config=True,
        help="The longest wait, in seconds, between two tries of a braked source: the longest an account's "
        "owner on a new computer is kept out. Default 60.",
    )
    brake_address_failures = Integer(
        20,
        config=True,
        help="Failed log-ins from one address, over any names, before that address must wait (browsers with "
        "the account's device cookie aside): one guess spread over many names. Default 20.",
    )
    trusted_proxies = List(
        Unicode(),
        [],
        config=True,
        help="Addresses or networks of the site's https front (nginx, Caddy, a load balancer) whose "
        "X-Forwarded-For entry the brake believes. Example: ['10.0.0.0/8'].",
    )
    device_cookie_days = Float(
        90.0,
        config=True,
        help="How long a browser stays known for the accounts that logged in with it (the device cookie), in "
        "days. Default 90.",
    )
    device_cookie_accounts = Integer(
        40,
        config=True,
        help="Most accounts one browser's device cookie names (a shared computer: the most recent ones are "
        "kept). Default 40.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.brake = Brakes.for_site(
            self.brake_free_failures,
            self.brake_first_wait_seconds,
            self.brake_longest_wait_seconds,
            self.brake_address_failures,
        )
        self._logins: dict[str, float] = {}  # name -> time.monotonic() of their last log-in
        self._dummy_hash = b""

    def validate_username(self, username: str) -> bool:
        try:
            validate_username(username)
        except ClhubError:
            return False
        return bool(super().validate_username(username))

    # ----------------------------------------------------------- roles

    def roles_for(self, name: str, admin: bool) -> list[dict[str, Any]]:
        """Every role `name` should hold: the default ones plus their groups' teacher/mentor roles.

        The default roles are listed so that JupyterHub, which takes away every role missing
        from this list, leaves them alone (they are held already, so nothing is re-granted).
        """
        roles: list[dict[str, Any]] = [{"name": "user"}]
        if admin:
            roles.append({"name": "admin"})
        for role in site_roles(self.roles_file) if self.roles_file else []:
            if name in role["users"]:
                roles.append({k: role[k] for k in ("name", "description", "scopes")})
        return roles

    def _is_admin(self, handler: Any, name: str) -> bool:
        user = handler.find_user(name) if handler is not None else None
        return name in self.admin_users or bool(user is not None and user.admin)

    # ----------------------------------------------------------- log-in and its brake

    def _devices(self, handler: Any) -> dict[str, str]:
        """The accounts this browser logged in as: {name: nonce}, from its signed device cookie."""
        raw = handler.get_secure_cookie(DEVICE_COOKIE, max_age_days=self.device_cookie_days)
        try:
            value = json.loads(raw) if raw else {}
        except ValueError:
            return {}
        if not isinstance(value, dict):
            return {}
        return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}

    def address(self, handler: Any) -> str:
        """Where a log-in came from, for the brake per address ('' with no request).

        The proxy runs as the hub's own user; a connection that another user's process on this
        machine made straight to the hub's port is counted by that uid (hub/socket_owner.py),
        whatever X-Forwarded-For it wrote.
        """
        if handler is None:
            return ""
        connection = handler.request.connection
        peer = getattr(getattr(connection, "context", None), "address", None)
        if not isinstance(peer, tuple) or len(peer) < 2:
            peer = ("", 0)
        try:
            local = connection.stream.socket.getsockname()
        except (AttributeError, OSError):
            local = None
        if peer[0] and isinstance(local, tuple):
            uid = peer_uid(peer, local)
            if uid is not None and uid != os.getuid():
                return f"uid {uid} on this machine"
        return client_address(handler.request.headers.get("X-Forwarded-For", ""), peer[0], self.trusted_proxies)

    def _remember_device(self, handler: Any, name: str, devices: dict[str, str]) -> None:
        devices = {k: v for k, v in devices.items() if k != name}
        devices[name] = devices.get(name) or secrets.token_urlsafe(9)
        kept = dict(list(devices.items())[-self.device_cookie_accounts :])
        handler.set_secure_cookie(
            DEVICE_COOKIE,
            json.dumps(kept, separators=(",", ":")),
            expires_days=self.device_cookie_days,
            path=handler.hub.base_url,
            httponly=True,
            samesite="Lax",
            secure=over_https(handler),
        )

    def _user_info(self, name: str) -> Any:
        # populate_existing: the classroom service changes passwords through its own connection.
        return self.db.query(UserInfo).filter(UserInfo.username == name).populate_existing().first()

    def _hash_for_unknown(self) -> bytes:
        if not self._dummy_hash:
            self._dummy_hash = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt())
        return self._dummy_hash

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        """Check a log-in; braked sources and accounts not approved yet get a `LoginRefused`.

        Returns:
            The user's model with their roles, or None for a wrong name or password.
        Raises:
            LoginRefused: 429 with the seconds to wait, or 403 for an account an admin has not
                approved yet (said only to someone who gave its password).
        """
        name = self.normalize_username(data.get("username", ""))
        password = data.get("password", "")
        devices = self._devices(handler) if handler is not None else {}
        source: Source = device_source(devices[name]) if name in devices else account_source(name)
        address = self.address(handler)
        info = self._user_info(name)
        fingerprint: bytes = info.password if info is not None else b""
        wait = self.brake.wait_seconds(source, fingerprint, address)
        if wait:
            self.log.warning("Log-in for %r braked for %d s more (%s, from %s)", name[:40], wait, source[0], address)
            raise LoginRefused(429, wait_message(wait), retry_after=wait)
        hashed = fingerprint or self._hash_for_unknown()
        encoded = password.encode()
        # bcrypt 5 refuses more than 72 bytes; such a password was never stored, but costs the same work.
        good = await asyncio.to_thread(bcrypt.checkpw, encoded[:BCRYPT_MAX_BYTES], hashed)
        good = good and len(encoded) <= BCRYPT_MAX_BYTES
        if good and info is not None and info.has_2fa:
            good = bool(info.is_valid_token(data.get("2fa")))
        if not good or info is None:
            wait = self.brake.failed(source, fingerprint, address)
            if wait:  # say so now, not after one more try
                self.log.warning(
                    "Log-in for %r braked for %d s after failures (%s, from %s)", name[:40], wait, source[0], address
                )
                raise LoginRefused(429, wait_message(wait), retry_after=wait)
            return None
        if not info.is_authorized:
            if self.being_removed(name):
                raise LoginRefused(403, REMOVED_MESSAGE)
            raise LoginRefused(403, "Your account is waiting for a teacher or librarian to turn it on.")
        self.brake.succeeded(source)
        if handler is not None:
            self._remember_device(handler, name, devices)
        self._logins[name] = time.monotonic()
        return {"name": name, "roles": self.roles_for(name, self._is_admin(handler, name))}

    def logged_in_since(self, name: str, since: float) -> bool:
        """Whether `name` logged in after `since` (a time.monotonic() value) in this hub process."""
        return self._logins.get(name, float("-inf")) > since

    async def refresh_user(self, user: Any, handler: Any = None) -> dict[str, Any]:
        return {"name": user.name, "roles": self.roles_for(user.name, bool(user.admin))}

    async def load_managed_roles(self) -> list[dict[str, Any]]:
        # With their users: at start the hub gives exactly these assignments and, with
        # reset_managed_roles_on_startup, takes back any the file no longer lists. (Without
        # that reset JupyterHub 5.5 fails at start with KeyError 'users' once assignments exist.)
        return site_roles(self.roles_file) if self.roles_file else []

    # ----------------------------------------------------------- temporary passwords

    def must_change_password(self, name: str) -> bool:
        return bool(self.password_changes_file) and name in read_flags(self.password_changes_file)

    def change_password(self, username: str, new_password: str) -> bool:
        success = bool(super().change_password(username, new_password))
        if success and self.must_change_password(username):
            from ..learner.provision import atomic_write_text

            remaining = sorted(read_flags(self.password_changes_file) - {username})
            atomic_write_text(Path(self.password_changes_file), json.dumps(remaining))
        return success

    def being_removed(self, name: str) -> bool:
        """Whether a teacher is removing `name` (the undo window has not ended yet)."""
        if not self.pending_removals_file:
            return False
        try:
            data = json.loads(Path(self.pending_removals_file).read_text())
        except (OSError, ValueError):
            return False
        return isinstance(data, dict) and name in data

    def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        # Not through an admin's button or the API either: the classroom stopped this space
        # when the removal began, and an undo gives it back.
        if self.being_removed(user.name):
            raise PlainError(403, REMOVED_MESSAGE)
        if self.must_change_password(user.name):
            raise PlainError(
                403,
                "Your teacher gave you a temporary password. Choose your own password first: "
                "click Change my password at the top of this page.",
            )
        return super().pre_spawn_start(user, spawner)

    def delete_user(self, user: Any) -> Any:
        """Removing a user: JupyterHub stops a ready server first, not one still starting.

        Such a server is stopped as soon as its start ends, before the user is removed
        (a coroutine then; NativeAuthenticator's own callers pass a user without servers).
        """
        starting = [name for name, sp in getattr(user, "spawners", {}).items() if sp.pending == "spawn"]
        if not starting:
            return super().delete_user(user)

        async def stop_then_delete() -> Any:
            for server_name in starting:
                spawner = user.spawners[server_name]
                deadline = time.monotonic() + float(spawner.start_timeout) + STOP_WAIT_MARGIN_SECONDS
                while spawner.pending and time.monotonic() < deadline:
                    await asyncio.sleep(0.25)
                if spawner.active and not spawner.pending:
                    self.log.info("Stopping %s's server, started while they were being removed", user.name)
                    await user.stop(server_name)
            return super(ClhubAuthenticator, self).delete_user(user)

        return stop_then_delete()

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [
            (path, ClhubLoginHandler if path == r"/login" else handler) for path, handler in super().get_handlers(app)
        ] + [(r"/logout", ClhubLogoutHandler)]
