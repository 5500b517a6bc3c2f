"""A learning platform (an LMS such as Canvas or Moodle) played by the tests, speaking LTI 1.3.

`Platform` runs a real HTTP server on 127.0.0.1 and holds an RSA key pair. Its pages:

    /jwks                  its public keys (JWKS); every fetch is counted (`jwks_fetches`), and
                           with `jwks_silent` a fetch is accepted and never answered
    /auth                  the authorization endpoint: takes the hub's authorization redirect,
                           signs an id_token for the launch the request names (lti_message_hint)
                           with the hub's nonce, and answers a form that posts it to the hub's
                           callback by itself (`response_mode=form_post`)
    /course/<launch id>    a course page whose link starts that launch: a form that posts the
                           third-party-initiated log-in to the hub by itself (what a learner's
                           click on the link in Canvas does)

A `Launch` says who launches from which course to where, and how the platform spoils it for an
attack: expired, tampered payload, signed with another key, for another audience, issuer or
deployment. `launch()` walks the whole flow with an HTTP session (log-in initiation, the hub's
redirect to /auth, the posted id_token) and returns the hub's answer to the callback and the
posted form, so a test can post it a second time (a replay).
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
LOGIN_PATH = "/hub/lti13/oauth_login"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Person:
    sub: str
    given_name: str
    family_name: str
    email: str = ""

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass
class Course:
    id: str
    label: str
    title: str


@dataclass
class Launch:
    """One click on a link in the course, and how (for an attack) the platform spoils it."""

    person: Person
    course: Course
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    target_link_uri: str = ""  # default: the hub's own address
    custom: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: secrets.token_hex(6))
    expired: bool = False  # exp and iat an hour ago
    tampered: bool = False  # the payload changed after signing (another sub), the signature kept
    other_key: bool = False  # signed with a key the JWKS does not hold, under the same key id
    audience: str = ""  # default: the platform's client_id
    issuer: str = ""  # default: the platform's issuer
    deployment_id: str = ""  # default: the platform's deployment id
    message_type: str = "LtiResourceLinkRequest"


class Platform:
    """The test's learning platform: keys, JWKS over HTTP, the authorization endpoint, course pages."""

    def __init__(self, client_id: str = "clhub-tool-1", deployment_id: str = "deployment-1") -> None:
        self.client_id = client_id
        self.deployment_id = deployment_id
        self.key = _new_key()
        self.kid = "platform-key-1"
        self.other = _new_key()
        self.launches: dict[str, Launch] = {}
        self.jwks_fetches = 0
        self.jwks_silent = False
        self.signed: list[dict[str, Any]] = []  # the claims of every id_token it signed
        self.hub_url = ""
        self._stop = threading.Event()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/jwks":
                    platform.jwks_fetches += 1
                    if platform.jwks_silent:
                        platform._stop.wait(120)  # accepted, never answered
                        return
                    self._send(200, "application/json", json.dumps(platform.jwks()))
                elif parts.path == "/auth":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    status, body = platform.authorize(query)
                    self._send(status, "text/html", body)
                elif parts.path.startswith("/course/"):
                    launch = platform.launches.get(parts.path[len("/course/") :])
                    if launch is None:
                        self._send(404, "text/plain", "no such launch")
                    else:
                        self._send(200, "text/html", platform.course_page(launch))
                else:
                    self._send(404, "text/plain", "not here")

            def _send(self, status: int, kind: str, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.issuer = self.url
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ running

    def start(self) -> Platform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    @property
    def authorize_url(self) -> str:
        return f"{self.url}/auth"

    def settings(self) -> str:
        """The site's [login.lti13] table for a hub that trusts this platform."""
        return (
            "[login.lti13]\n"
            f'issuer = "{self.issuer}"\n'
            f'client_ids = ["{self.client_id}"]\n'
            f'deployment_ids = ["{self.deployment_id}"]\n'
            f'authorize_url = "{self.authorize_url}"\n'
            f'jwks_url = "{self.jwks_url}"\n'
        )

    # ------------------------------------------------------------------ keys and tokens

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def claims(self, launch: Launch, nonce: str) -> dict[str, Any]:
        now = int(time.time()) - (3600 if launch.expired else 0)
        return {
            "iss": launch.issuer or self.issuer,
            "aud": launch.audience or self.client_id,
            "sub": launch.person.sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "name": launch.person.name,
            "given_name": launch.person.given_name,
            "family_name": launch.person.family_name,
            "email": launch.person.email,
            CLAIM + "message_type": launch.message_type,
            CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": launch.deployment_id or self.deployment_id,
            CLAIM + "target_link_uri": launch.target_link_uri or f"{self.hub_url}/hub/",
            CLAIM + "resource_link": {"id": f"link-{launch.id}", "title": "Today's workbook"},
            CLAIM + "context": {
                "id": launch.course.id,
                "label": launch.course.label,
                "title": launch.course.title,
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            CLAIM + "roles": launch.roles,
            CLAIM + "custom": launch.custom,
            CLAIM + "tool_platform": {"guid": "test-platform", "name": "Test LMS"},
        }

    def id_token(self, launch: Launch, nonce: str) -> str:
        claims = self.claims(launch, nonce)
        self.signed.append(claims)
        key = self.other if launch.other_key else self.key
        token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        if launch.tampered:
            header, _, signature = token.split(".")
            changed = dict(claims, sub=claims["sub"] + "-someone-else")
            body = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
            token = f"{header}.{body}.{signature}"
        return token

    # ------------------------------------------------------------------ the pages

    def add(self, launch: Launch) -> Launch:
        self.launches[launch.id] = launch
        return launch

    def initiation(self, launch: Launch) -> dict[str, str]:
        """The third-party-initiated log-in's fields, as the platform sends them to the hub."""
        return {
            "iss": self.issuer,
            "login_hint": launch.person.sub,
            "target_link_uri": launch.target_link_uri or f"{self.hub_url}/hub/",
            "lti_message_hint": launch.id,
            "client_id": self.client_id,
            # The platform's own deployment: a spoiled launch's other deployment is in its token only.
            "lti_deployment_id": self.deployment_id,
        }

    def course_page(self, launch: Launch) -> str:
        return _auto_post(f"{self.hub_url}{LOGIN_PATH}", self.initiation(launch), "Course: " + launch.course.title)

    def authorize(self, query: dict[str, str]) -> tuple[int, str]:
        """The authorization endpoint: the hub's request checked as a platform would, then the id_token."""
        launch = self.launches.get(query.get("lti_message_hint", ""))
        if launch is None or query.get("login_hint") != launch.person.sub:
            return 400, "unknown launch"
        if query.get("client_id") != self.client_id or query.get("response_mode") != "form_post":
            return 400, "bad authorization request"
        if query.get("scope") != "openid" or query.get("response_type") != "id_token":
            return 400, "bad authorization request"
        redirect_uri = query.get("redirect_uri", "")
        if not redirect_uri.startswith(self.hub_url + "/"):
            return 400, "redirect_uri is not the registered tool"
        fields = {"id_token": self.id_token(launch, query.get("nonce", "")), "state": query.get("state", "")}
        return 200, _auto_post(redirect_uri, fields, "Launching")


def _auto_post(action: str, fields: dict[str, str], title: str) -> str:
    inputs = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">' for k, v in fields.items()
    )
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>"
        f'<form id="go" method="post" action="{html.escape(action)}">{inputs}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        '<script>document.getElementById("go").submit()</script></body></html>'
    )


def read_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of an auto-posting form page."""
    action = re.search(r'<form[^>]* action="([^"]*)"', page)
    assert action, page[:500]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page))
    return html.unescape(action.group(1)), {html.unescape(k): html.unescape(v) for k, v in fields.items()}


@dataclass
class Result:
    """The hub's answer to the posted id_token, and what was posted (to post again)."""

    response: requests.Response
    action: str
    form: dict[str, str]
    cookies: dict[str, str]


def launch(platform: Platform, launch: Launch, session: requests.Session | None = None) -> Result:
    """Walk one launch: log-in initiation to the hub, its redirect to /auth, the id_token to the callback.

    Redirects are not followed after the callback: `Result.response` is the hub's own answer.
    """
    platform.add(launch)
    http = session or requests.Session()
    first = http.post(platform.hub_url + LOGIN_PATH, data=platform.initiation(launch), allow_redirects=False)
    assert first.status_code == 302, (first.status_code, first.text[:500])
    location = first.headers["Location"]
    assert location.startswith(platform.authorize_url + "?"), location
    auth = http.get(location, allow_redirects=False)
    assert auth.status_code == 200, (auth.status_code, auth.text[:500])
    action, form = read_form(auth.text)
    cookies = http.cookies.get_dict()
    answer = http.post(action, data=form, allow_redirects=False, timeout=60)
    return Result(answer, action, form, cookies)


def initiation_query(platform: Platform, launch: Launch) -> str:
    return urlencode(platform.initiation(launch))
