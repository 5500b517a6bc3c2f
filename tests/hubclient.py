"""A browser-like HTTP client for a running hub: log in, post the interest form, wait.

Used by the integration tests and the spawn benchmark; it speaks to the hub only through
the proxy's public address, the way a learner's browser does. With per-user subdomains a
learner's server is at http://<name>.localhost:<port>/user/<name>/: browsers resolve every
*.localhost name to this computer by themselves, Python's resolver here does not, so
`LoopbackNames` connects to 127.0.0.1 and sends the name in the Host header. URLs,
cookies and redirects stay exactly what a browser sees (`LocalhostCookies` mends the one
place where Python's cookie jar differs from a browser's).
"""

from __future__ import annotations

import re
import time
from http.cookiejar import Cookie, CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar, cookiejar_from_dict

from connected_learning.hub.config import subdomain_hook


def is_subdomain_of_localhost(url: str) -> bool:
    return (urlsplit(url).hostname or "").endswith(".localhost")


def loopback(url: str) -> tuple[str, dict[str, str]]:
    """The address to connect to for `url`, and the Host header to send (for non-requests clients)."""
    parts = urlsplit(url)
    if not is_subdomain_of_localhost(url):
        return url, {}
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"127.0.0.1{port}")), {"Host": parts.netloc}


class LoopbackNames(HTTPAdapter):
    """Reach every <name>.localhost at 127.0.0.1, naming it in the Host header."""

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host, pool = super().build_connection_pool_key_attributes(request, verify, cert)
        if is_subdomain_of_localhost(request.url or ""):
            host = {**host, "host": "127.0.0.1"}
        return host, pool

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if is_subdomain_of_localhost(request.url or ""):
            # A copy: the session builds redirects from its own request, which must not keep this name.
            request = request.copy()
            request.headers["Host"] = urlsplit(request.url).netloc
        return super().send(request, *args, **kwargs)


class LocalhostCookies(DefaultCookiePolicy):
    """Send a cookie set with Domain=localhost back to localhost, as browsers do.

    With subdomains JupyterHub sets its session id for the whole domain (Domain=localhost);
    http.cookiejar calls a dotless host "localhost.local" and then never sends it back, so
    the hub's XSRF check (bound to the session id) would fail for this client alone.
    """

    def return_ok_domain(self, cookie: Cookie, request: Any) -> bool:
        if urlsplit(request.get_full_url()).hostname == cookie.domain.lstrip("."):
            return True
        return bool(super().return_ok_domain(cookie, request))


class BrowserSession(requests.Session):
    """A requests session whose Cookie headers follow `LocalhostCookies`."""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        prepared = super().prepare_request(request)
        # requests merges the cookies into a jar of its own, with the default policy; redo it.
        # (Redirects copy this jar, policy included.)
        jar = RequestsCookieJar(policy=LocalhostCookies())
        jar.update(self.cookies)
        if request.cookies:
            jar.update(
                request.cookies if isinstance(request.cookies, CookieJar) else cookiejar_from_dict(request.cookies)
            )
        prepared.headers.pop("Cookie", None)
        prepared.prepare_cookies(jar)
        return prepared


def http_session() -> requests.Session:
    """A requests session that reaches *.localhost names and keeps their cookies as a browser does."""
    session = BrowserSession()
    session.mount("http://", LoopbackNames())
    return session


def server_url(hub_url: str, username: str, subdomains: bool = True) -> str:
    """Where `username`'s server answers (ending in "/"), as the hub configures it.

    With subdomains: <name>.<hub host>/user/<name>/ (the hub's own `subdomain_hook`),
    otherwise <hub url>/user/<name>/.
    """
    base = hub_url.rstrip("/")
    if subdomains:
        parts = urlsplit(base)
        port = f":{parts.port}" if parts.port else ""
        base = f"{parts.scheme}://{subdomain_hook(username, parts.hostname or '', 'user')}{port}"
    return f"{base}/user/{username}/"


class HubSession:
    def __init__(self, base_url: str, subdomains: bool = True) -> None:
        self.base = base_url.rstrip("/")
        self.subdomains = subdomains
        self.http = http_session()

    def server_url(self, username: str) -> str:
        """`username`'s server, ending in "/"."""
        return server_url(self.base, username, self.subdomains)

    def _hub_xsrf_cookie(self) -> str | None:
        # The hub's, not a server's (each learner's server sets its own on /user/<name>/).
        return next((c.value for c in self.http.cookies if c.name == "_xsrf" and c.path.rstrip("/") == "/hub"), None)

    def xsrf(self) -> str:
        token = self._hub_xsrf_cookie()
        if token is None:
            page = self.http.get(f"{self.base}/hub/login")
            token = self._hub_xsrf_cookie()
            if token is None:
                match = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
                token = match.group(1) if match else ""
        return token

    def login(self, username: str, password: str) -> requests.Response:
        self.http.get(f"{self.base}/hub/login")
        return self.http.post(
            f"{self.base}/hub/login?next=",
            data={"username": username, "password": password, "_xsrf": self.xsrf()},
            allow_redirects=False,
        )

    def post_form(self, path: str, data: dict[str, Any]) -> requests.Response:
        body = dict(data)
        body["_xsrf"] = self.xsrf()
        return self.http.post(
            f"{self.base}{path}", data=body, allow_redirects=False, headers={"Referer": f"{self.base}{path}"}
        )

    def spawn_with_form(self, interests: list[str], language: str | None = None) -> requests.Response:
        form: dict[str, Any] = {"interests": interests}
        if language is not None:
            form["language"] = language
        return self.post_form("/hub/spawn", form)

    def wait_ready(self, username: str, timeout: float = 90) -> None:
        """Wait until the learner's JupyterLab answers through the proxy (after OAuth)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            r = self.http.get(f"{self.server_url(username)}lab", allow_redirects=True)
            if r.status_code == 200 and "jupyter-config-data" in r.text:
                return
            last = f"{r.status_code} at {r.url}: {' '.join(r.text.split())[:300]}"
            time.sleep(0.5)
        raise TimeoutError(f"{username}'s server was not ready within {timeout} s; last answer {last}")

    def _xsrf_header(self, username: str) -> dict[str, str]:
        for cookie in self.http.cookies:
            if cookie.name == "_xsrf" and cookie.path.rstrip("/") == f"/user/{username}":
                return {"X-XSRFToken": cookie.value or ""}
        return {}

    def lab_api(self, method: str, username: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the API of `username`'s server with this browser's cookies."""
        headers = kwargs.pop("headers", {})
        headers.update(self._xsrf_header(username))
        return self.http.request(
            method, f"{self.server_url(username)}api/{path}", headers=headers, allow_redirects=False, **kwargs
        )

    def contents(self, username: str, path: str = "") -> requests.Response:
        return self.lab_api("GET", username, f"contents/{path}")


class HubAPI:
    """The hub's REST API with a token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/") + "/hub/api"
        self.http = http_session()
        self.http.headers["Authorization"] = f"token {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.http.get(self.base + path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.http.post(self.base + path, **kw)

    def delete(self, path: str, **kw: Any) -> requests.Response:
        return self.http.delete(self.base + path, **kw)

    def wait_for_server(self, username: str, ready: bool = True, timeout: float = 90) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            model = self.get(f"/users/{username}").json()
            server = model.get("servers", {}).get("")
            if ready and server and server.get("ready"):
                return model
            if not ready and not server:
                return model
            time.sleep(0.25)
        raise TimeoutError(f"{username}'s server did not become {'ready' if ready else 'stopped'}")
