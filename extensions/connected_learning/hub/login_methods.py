"""The site's ways in, held by one JupyterHub Authenticator: `[login] method`.

With only "native" the hub runs `ClhubAuthenticator` itself, as it always did (same class,
same pages). With more, or another, `LoginMethodsAuthenticator` is the hub's authenticator:

- it *is* a `ClhubAuthenticator`: the name-and-password log-in with its brake, temporary
  passwords, removals and the site's teacher/mentor roles work as before, for every user;
  the password form is offered only when "native" is on;
- it holds one authenticator per other method in `methods` ({"oidc": ..., "sip2": ...,
  "lti13": ...}), made with `parent=self` (so `c.OidcAuthenticator.*` reaches it) and the
  hub's database session; each brings its own routes (`get_handlers`, less /login and
  /logout) whose handlers find their method with `method_of(handler, name)`;
- /login shows each way in, in the order of the setting (`login_fragment`: a template per
  method; the learning platform has none, its launches come from the platform);
- /logout is the shared-computer log-out (`sessions.ClhubLogoutHandler`) and, for a method
  that can (`end_session_url`), then sends the browser to end the provider's own session.

A method class offers: `login_method_name`, `login_fragment` ("" for none), `get_handlers`,
and optionally `async end_session_url(handler, user_name) -> str | None`.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from nativeauthenticator.orm import UserInfo
from tornado.escape import url_escape
from traitlets import List, Unicode, import_item

from .authenticator import ClhubAuthenticator, ClhubLoginHandler
from .sessions import ClhubLogoutHandler

NATIVE = "native"
# Where each method's authenticator lives (imported only when the site turns it on).
METHOD_CLASSES = {
    "oidc": "connected_learning.hub.login_oidc.OidcAuthenticator",
    "sip2": "connected_learning.hub.login_sip2.Sip2Authenticator",
    "lti13": "connected_learning.hub.login_lti.LtiAuthenticator",
}
NATIVE_OFF = "This site does not use user names and passwords. Use a way in shown on this page."


def private_file_text(path: str | os.PathLike[str], key: str, error: type[Exception]) -> str:
    """The first line of a secret's file named by setting `key`: opened without following a link, and
    refused (as `error`, naming the file and never its content) where others than its owner may read it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as e:
        raise error(f"{key} {str(path)!r} cannot be read: {e.strerror}.") from None
    with os.fdopen(fd) as f:
        mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
        if mode & 0o077:
            raise error(
                f"{key} {str(path)!r} may be read by others than its owner (mode {mode:o}); run: chmod 600 {path}"
            )
        return f.readline().strip()


def method_of(handler: Any, name: str) -> Any:
    """The authenticator of method `name` for `handler`: held by the frame, else the hub's own (a site
    with that method alone runs its authenticator directly)."""
    authenticator = handler.settings["authenticator"]
    methods = getattr(authenticator, "methods", None)
    return methods[name] if methods and name in methods else authenticator


def has_password(user: Any) -> bool:
    """Whether `user` (the hub's User, or None on the log-in page) has a password of the hub's: a page's
    "Change my password" is for them only, not for school-account, card or platform users."""
    if user is None:
        return False
    return user.db.query(UserInfo.id).filter(UserInfo.username == user.name).first() is not None


def _page_namespace(handler: Any, errors: dict[str, str], username: str = "") -> dict[str, Any]:
    frame = handler.settings["authenticator"]
    fragments = []
    for name in frame.login_methods:
        method = frame if name == NATIVE else frame.methods[name]
        if method.login_fragment:
            fragments.append((method.login_fragment, method))
    return {
        "fragments": fragments,
        "methods_page": True,
        "next": url_escape(handler.get_argument("next", "")),
        "xsrf": handler.xsrf_token.decode("ascii"),
        "login_url": handler.settings["login_url"],
        "login_error": errors.get(NATIVE, ""),
        "school_error": errors.get("oidc", ""),
        "card_error": errors.get("sip2", ""),
        "methods_note": errors.get("", ""),
        "username": username,
        "two_factor_auth": False,
        "enable_signup": bool(getattr(frame, "enable_signup", False)) and NATIVE in frame.login_methods,
    }


async def render_login_page(handler: Any, errors: dict[str, str], status: int = 200, username: str = "") -> None:
    """Answer `handler`'s request with the log-in page, `errors` ({method: message}) beside their methods.

    For a method's handlers after a refusal: the person sees every way in again, with the reason.
    """
    handler.set_status(status)
    html = await handler.render_template("login-methods.html", **_page_namespace(handler, errors, username))
    handler.finish(html)


class MethodsLoginHandler(ClhubLoginHandler):
    """/hub/login: every way in the site allows; the password form posts here when "native" is on."""

    def _render(
        self, login_error: str | None = None, username: str | None = None, sync: bool = False, **ignored: Any
    ) -> Any:
        namespace = _page_namespace(self, {NATIVE: login_error or ""}, username or "")
        return self.render_template("login-methods.html", sync=sync, **namespace)

    async def post(self) -> None:
        if NATIVE not in self.authenticator.login_methods:
            await render_login_page(self, {"": NATIVE_OFF}, status=403)
            return
        await super().post()


class MethodsLogoutHandler(ClhubLogoutHandler):
    """Log-out on a shared computer, then the provider's own log-out where the person's method has one."""

    _end_session: str | None = None

    async def handle_logout(self) -> None:
        await super().handle_logout()
        user = self.current_user  # still known here: JupyterHub forgets it after this step
        if user is None:
            return
        for method in self.authenticator.methods.values():
            end_session = getattr(method, "end_session_url", None)
            url = await end_session(self, user.name) if end_session else None
            if url:
                self._end_session = url
                return

    async def render_logout_page(self) -> None:
        if self._end_session:
            self.redirect(self._end_session)
            return
        await super().render_logout_page()


class LoginMethodsAuthenticator(ClhubAuthenticator):
    """Passwords (when on) and the site's other log-in methods, each with its own routes."""

    login_methods = List(
        Unicode(),
        [NATIVE],
        config=True,
        help="The ways in, in the order the log-in page shows them: any of 'native', 'oidc', 'sip2', "
        "'lti13' (settings: [login] method). Default ['native'].",
    )
    login_method_name = NATIVE
    login_fragment = "native-form.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        unknown = [name for name in self.login_methods if name != NATIVE and name not in METHOD_CLASSES]
        if unknown:
            raise ValueError(f"Unknown log-in methods {unknown}; known: {[NATIVE, *METHOD_CLASSES]}.")
        session = kwargs.get("_deprecated_db_session")
        self.methods: dict[str, Any] = {
            name: import_item(METHOD_CLASSES[name])(parent=self, _deprecated_db_session=session)
            for name in self.login_methods
            if name != NATIVE
        }

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        """The password form's check, only when "native" is on (other methods check in their own handlers)."""
        if NATIVE not in self.login_methods:
            return None
        return await super().authenticate(handler, data)

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        handlers: list[tuple[str, Any]] = [(r"/login", MethodsLoginHandler), (r"/logout", MethodsLogoutHandler)]
        if NATIVE in self.login_methods:
            handlers += [(p, h) for p, h in super().get_handlers(app) if p not in (r"/login", r"/logout")]
        for method in self.methods.values():
            handlers += [(p, h) for p, h in method.get_handlers(app) if p not in (r"/login", r"/logout")]
        return handlers
