"""Log-in for Connected Learning Hub: NativeAuthenticator with safe user names and site roles.

Accounts are created by `clhub` and by class-list imports, with bcrypt passwords in the
hub database; failed log-ins lock an account for a while (NativeAuthenticator's
`allowed_failed_logins`). User names must be safe as system user and folder names.

Roles: teachers and mentors of a group get the hub roles `teacher-<group>` and
`mentor-<group>` (RBAC scopes filtered with `!group=`), from the site's roles file that
`clhub` and the classroom service write. The authenticator manages those roles
(`manage_roles`): they are given at log-in and refreshed every `auth_refresh_age`
seconds, so a class list imported while the hub runs takes effect without a restart.

A password a teacher reset is temporary: after logging in with it the learner is sent
to the change-password page, and no server starts until they have chosen their own.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jupyterhub.utils import maybe_future, url_path_join
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from tornado import web
from traitlets import Unicode

from ..errors import ClhubError
from ..settings import validate_username


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


def read_flags(path: str) -> set[str]:
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return set()
    return {v for v in value if isinstance(v, str)} if isinstance(value, list) else set()


class ClhubLoginHandler(NativeLoginHandler):
    """NativeAuthenticator's log-in page; a learner with a temporary password goes to change it."""

    def get_next_url(self, user: Any = None, default: Any = None) -> str:
        if user is not None and self.authenticator.must_change_password(user.name):
            return url_path_join(self.hub.base_url, "change-password")
        return super().get_next_url(user, default)


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

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        name = await maybe_future(super().authenticate(handler, data))
        if not name:
            return None
        return {"name": name, "roles": self.roles_for(name, self._is_admin(handler, name))}

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

    def pre_spawn_start(self, user: Any, spawner: Any) -> None:
        if self.must_change_password(user.name):
            raise web.HTTPError(
                403,
                "Your teacher gave you a temporary password. Choose your own password first: "
                "open Change password from the menu (/hub/change-password).",
            )
        return super().pre_spawn_start(user, spawner)

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [
            (path, ClhubLoginHandler if path == r"/login" else handler) for path, handler in super().get_handlers(app)
        ]
