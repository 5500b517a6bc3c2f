"""A browser-like HTTP client for a running hub: log in, post the interest form, wait.

Used by the integration tests and the spawn benchmark; it speaks to the hub only through
the proxy's public address, the way a learner's browser does.
"""

from __future__ import annotations

import re
import time
from typing import Any

import requests


class HubSession:
    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.http = requests.Session()

    def xsrf(self) -> str:
        token = self.http.cookies.get("_xsrf")
        if token is None:
            page = self.http.get(f"{self.base}/hub/login")
            token = self.http.cookies.get("_xsrf")
            if token is None:
                match = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
                token = match.group(1) if match else ""
        return token

    def login(self, username: str, password: str) -> requests.Response:
        self.http.get(f"{self.base}/hub/login")
        return self.http.post(
            f"{self.base}/hub/login?next=",
            data={"username": username, "password": password, "_xsrf": self.xsrf()},
            allow_redirects=False)

    def post_form(self, path: str, data: dict[str, Any]) -> requests.Response:
        body = dict(data)
        body["_xsrf"] = self.xsrf()
        return self.http.post(f"{self.base}{path}", data=body, allow_redirects=False,
                              headers={"Referer": f"{self.base}{path}"})

    def spawn_with_form(self, interests: list[str]) -> requests.Response:
        return self.post_form("/hub/spawn", {"interests": interests})

    def wait_ready(self, username: str, timeout: float = 90) -> None:
        """Wait until the learner's JupyterLab answers through the proxy (after OAuth)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            r = self.http.get(f"{self.base}/user/{username}/lab", allow_redirects=True)
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
        return self.http.request(method, f"{self.base}/user/{username}/api/{path}",
                                 headers=headers, allow_redirects=False, **kwargs)

    def contents(self, username: str, path: str = "") -> requests.Response:
        return self.lab_api("GET", username, f"contents/{path}")


class HubAPI:
    """The hub's REST API with a token."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/") + "/hub/api"
        self.http = requests.Session()
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
