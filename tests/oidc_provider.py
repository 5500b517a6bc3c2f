"""A real OpenID Connect provider for the log-in tests, and a front that lets a test tamper with its tokens.

`provider()` runs oidc-provider-mock (a Flask app: authorization page where the test picks the
subject, token endpoint, JWKS, end_session) on a free port of this machine. `Front` sits
before its token endpoint the way an attacker or a broken provider would: it passes the
mock's ID token on re-signed with its own key (published at /jwks, so the hub trusts it), or
expired, or with a stale auth_time, or signed with a key nobody publishes, or it stops
answering altogether (`closed()`: its port is closed). Its /.well-known document is the mock's
with the issuer, token endpoint and keys pointing at the front, so a hub configured with the
front's address as issuer uses discovery as with a real provider.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from oidc_provider_mock import run_server_in_thread

from hubclient import HubSession
from realhub import free_port


@dataclass
class Provider:
    url: str  # http://localhost:<port>: also the issuer the mock names

    def set_user(self, sub: str, **claims: Any) -> None:
        r = requests.put(f"{self.url}/users/{urllib.parse.quote(sub, safe='')}", json=claims, timeout=10)
        assert r.status_code == 204, r.text


@contextlib.contextmanager
def provider() -> Iterator[Provider]:
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on this machine only
    with run_server_in_thread(port=free_port()) as server:
        yield Provider(f"http://localhost:{server.server_port}")


def _key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Front:
    """Before the mock's token endpoint; `mode` says what it does to the next ID tokens."""

    upstream: Provider
    port: int = field(default_factory=free_port)
    mode: str = "resign"  # resign | expired | stale | forged | wrong-audience
    issuer_override: str = ""
    key: Any = field(default_factory=_key)
    rogue: Any = field(default_factory=_key)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def jwks(self) -> dict[str, Any]:
        public = RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": "front", "use": "sig", "alg": "RS256"}]}

    def tamper(self, id_token: str, issuer: str) -> str:
        claims = jwt.decode(id_token, options={"verify_signature": False})
        now = int(time.time())
        claims["iss"] = issuer
        key, kid = self.key, "front"
        if self.mode == "expired":
            claims.update(iat=now - 7200, exp=now - 3600)
        elif self.mode == "stale":
            claims["auth_time"] = now - 3600  # a session from an hour ago: no fresh sign-in
        elif self.mode == "forged":
            key, kid = self.rogue, "front"  # the same key id, another key: the signature cannot hold
        elif self.mode == "wrong-audience":
            claims["aud"] = "another-app"
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})

    def start(self) -> Front:
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/.well-known/openid-configuration"):
                    meta = requests.get(f"{front.upstream.url}/.well-known/openid-configuration", timeout=10).json()
                    meta.update(issuer=front.url, token_endpoint=f"{front.url}/token", jwks_uri=f"{front.url}/jwks")
                    self._json(200, meta)
                elif self.path.startswith("/jwks"):
                    self._json(200, front.jwks())
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                issuer = query.get("iss", [front.issuer_override or front.url])[0]
                headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
                r = requests.post(f"{front.upstream.url}/oauth2/token", data=body, headers=headers, timeout=10)
                answer = r.json()
                if r.status_code == 200 and "id_token" in answer:
                    answer["id_token"] = front.tamper(answer["id_token"], issuer)
                self._json(r.status_code, answer)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @contextlib.contextmanager
    def closed(self) -> Iterator[None]:
        """The provider's port closed (nothing listens), then open again."""
        self.stop()
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", self.port)) != 0, "the front's port should be closed"
        try:
            yield
        finally:
            self.start()

    @contextlib.contextmanager
    def doing(self, mode: str) -> Iterator[None]:
        self.mode = mode
        try:
            yield
        finally:
            self.mode = "resign"


@dataclass
class Attempt:
    """One log-in through the provider: what the hub asked for, and how it answered at the end."""

    authorize_url: str
    answer: requests.Response
    callback_url: str = ""

    @property
    def params(self) -> dict[str, str]:
        return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.authorize_url).query))


def sign_in(s: HubSession, hub_url: str, sub: str, next_url: str = "") -> Attempt:
    """Press the school button, sign in at the provider as `sub`, come back; the hub's last answer (no redirects)."""
    start = f"{hub_url}/hub/oauth_login" + (f"?next={urllib.parse.quote(next_url)}" if next_url else "")
    r = s.http.get(start, allow_redirects=False, timeout=30)
    if r.status_code != 302:
        return Attempt("", r)
    authorize = r.headers["Location"]
    r = s.http.post(authorize, data={"sub": sub}, allow_redirects=False, timeout=30)
    assert r.status_code == 302, (r.status_code, r.text[:500])
    callback = r.headers["Location"]
    assert callback.startswith(hub_url), callback
    return Attempt(authorize, s.http.get(callback, allow_redirects=False, timeout=60), callback)


def message_of(page: str) -> str:
    """The alert the log-in page shows, as text."""
    found = re.search(r'role="alert"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(found.group(1).strip()) if found else ""
