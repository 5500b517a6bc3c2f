"""School accounts: OpenID Connect (Google Workspace, Microsoft Entra ID, any provider), on oauthenticator.

    /hub/oauth_login      to the provider: prompt=login (Google: select_account), max_age=0, a nonce
    /hub/oauth_callback   back: code for tokens, the ID token checked, the person found or made

`OidcAuthenticator` is oauthenticator's `GenericOAuthenticator` with what a school on shared
computers needs:

- The provider's endpoints come from its discovery document (<issuer>/.well-known/
  openid-configuration, read at the first log-in and kept) or from the settings.
- The ID token is checked here, not trusted: its signature against the provider's published
  keys (JWKS), issuer, audience, expiry, our nonce, and `auth_time` no older than the moment
  this log-in began (less `FRESH_LOGIN_MARGIN_SECONDS` of clock difference): so a provider that
  ignores prompt=login and lets a browser walk into the previous person's session is refused.
- Who may come in: with Google the `hd` claim must be one of the school's domains; with
  Microsoft the `tid` claim must be the school's tenant. The hub user is `s-<code>` from the
  provider's `sub` (`external_accounts`); given and family names become "Ada L."; the e-mail
  address is never asked for (scope "openid profile") nor kept.
- Groups and the teacher role come from the groups claim through the site's two maps, else the
  learner joins no group (class lists add them, as with passwords).
- Log Out ends the provider's session where it has an end_session_endpoint (with the person's
  ID token as id_token_hint, and the hub's log-in page to come back to).

Every refusal is a plain sentence on the log-in page (`OidcRefused`); the log gets the reason.
Nothing is created before every check has passed.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
from jupyterhub.utils import url_path_join
from oauthenticator.generic import GenericOAuthenticator
from oauthenticator.oauth2 import OAuthCallbackHandler, OAuthLoginHandler, _deserialize_state, _serialize_state
from tornado import web
from tornado.httpclient import HTTPClientError
from traitlets import Dict, Float, Integer, List, Unicode

from ..errors import ClhubError
from ..paths import DataLayout
from .external_accounts import ExternalAccountError, ExternalPerson, external_user
from .login_methods import method_of, render_login_page
from .sessions import names_other_server

GOOGLE_ISSUER = "https://accounts.google.com"
MICROSOFT_ISSUER = "https://login.microsoftonline.com/{tenant}/v2.0"
SECRET_ENV = "CLHUB_OIDC_CLIENT_SECRET"
FRESH_LOGIN_MARGIN_SECONDS = 30  # clock difference allowed between the provider and the hub
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]

UNREACHABLE = "We cannot reach your school's sign-in page right now. Please try again in a few minutes."
REFUSED = "Your school account could not be checked. Please try signing in again."
NOT_SCHOOL = "This account is not from your school. Sign in with your school account."
NOT_FRESH = "Your school asked for your password again, but it was not typed. Please sign in again."
EXPIRED = "Signing in took too long. Please try again."


class OidcRefused(web.HTTPError):
    """A school-account log-in refused, with a message for the person and a reason for the log."""

    def __init__(self, status: int, message: str, reason: str) -> None:
        super().__init__(status, reason)
        self.message = message


class OidcSettingsError(ClhubError):
    code = "bad-oidc-settings"


def read_client_secret(path: str, environ: dict[str, str] | None = None) -> str:
    """The client secret: CLHUB_OIDC_CLIENT_SECRET, else the file at `path` (mode 0600 or stricter).

    Raises:
        OidcSettingsError: neither is set, or the file is missing, empty or readable by others
            (the message names the file, never the secret).
    """
    env = os.environ if environ is None else environ
    if env.get(SECRET_ENV, "").strip():
        return env[SECRET_ENV].strip()
    if not path:
        raise OidcSettingsError(
            f"login.oidc.client_secret_file is empty and {SECRET_ENV} is not set: give the file that holds the "
            "client secret (mode 0600)."
        )
    from .login_methods import private_file_text

    secret = private_file_text(path, "login.oidc.client_secret_file", OidcSettingsError)
    if not secret:
        raise OidcSettingsError(f"login.oidc.client_secret_file {path!r} is empty; put the client secret in it.")
    return secret


def _state(handler: Any) -> dict[str, Any]:
    return _deserialize_state(handler.get_state_cookie() or "") or {}


class OidcLoginHandler(OAuthLoginHandler):
    """To the provider, asking for a fresh sign-in, with a nonce and the time this log-in began."""

    @property
    def authenticator(self) -> Any:
        return method_of(self, "oidc")

    async def get(self) -> None:
        try:
            await self.authenticator.discover()
        except OidcRefused as refused:
            self.log.warning("School account log-in cannot start: %s", refused.log_message)
            await render_login_page(self, {"oidc": refused.message}, status=refused.status_code)
            return
        nonce = secrets.token_urlsafe(24)
        state = {
            "state_id": self._generate_state_id(),
            "next_url": self._get_next_url(),
            "nonce": nonce,
            "started": time.time(),
        }
        params = dict(self.authenticator.fresh_login_params(), nonce=nonce)
        verifier, challenge = self._generate_pkce_params()
        state["code_verifier"] = verifier
        params.update(code_challenge=challenge, code_challenge_method="S256")
        self.set_state_cookie(_serialize_state(state))
        params["state"] = _serialize_state({"state_id": state["state_id"]})
        self.authorize_redirect(
            redirect_uri=self.authenticator.get_callback_url(self),
            client_id=self.authenticator.client_id,
            scope=self.authenticator.scope,
            extra_params=params,
            response_type="code",
        )


class OidcCallbackHandler(OAuthCallbackHandler):
    """Back from the provider: every refusal on the log-in page in plain words, nothing created."""

    @property
    def authenticator(self) -> Any:
        return method_of(self, "oidc")

    async def get(self) -> None:
        try:
            if self.get_argument("error", ""):  # the person cancelled, or the provider refused
                raise OidcRefused(403, REFUSED, f"provider answered {self.get_argument('error')[:60]!r}")
            self.check_arguments()
            user = await self.login_user()
        except OidcRefused as refused:
            self.log.warning("School account log-in refused: %s", refused.log_message)
            await render_login_page(self, {"oidc": refused.message}, status=refused.status_code)
            return
        except web.HTTPError as e:  # oauthenticator's own (state missing or mismatched: an old tab)
            self.log.warning("School account log-in refused: %s", e.log_message)
            await render_login_page(self, {"oidc": EXPIRED}, status=400)
            return
        if user is None:
            await render_login_page(self, {"oidc": REFUSED}, status=403)
            return
        self.redirect(self.get_next_url(user))

    def get_next_url(self, user: Any = None) -> str:
        next_url = str(super().get_next_url(user))
        if user is not None and names_other_server(next_url, self.base_url, user.name):
            return url_path_join(self.hub.base_url, "home")  # left by the previous person at this computer
        return next_url


class OidcAuthenticator(GenericOAuthenticator):
    """School accounts through OpenID Connect, for the log-in methods' frame (`login_methods`)."""

    login_method_name = "oidc"
    login_fragment = "school-button.html"
    login_handler = OidcLoginHandler
    callback_handler = OidcCallbackHandler

    preset = Unicode("generic", config=True, help="'generic', 'google' or 'microsoft' (login.oidc.preset).")
    issuer = Unicode("", config=True, help="The provider's issuer address; discovery reads its metadata.")
    jwks_url = Unicode("", config=True, help="Where the provider's signing keys are; empty: discovered.")
    end_session_endpoint = Unicode("", config=True, help="The provider's end_session_endpoint; empty: discovered.")
    allowed_domains = List(Unicode(), config=True, help="Google: the school's domains (the hd claim).")
    tenant = Unicode("", config=True, help="Microsoft: the school's tenant id or domain (the tid claim).")
    groups_claim = Unicode("", config=True, help="The ID token's claim with the person's groups; empty: none read.")
    learner_groups = Dict(config=True, help="{school group: hub group} that makes a learner of that hub group.")
    teacher_groups = Dict(config=True, help="{school group: hub group} that makes a teacher of that hub group.")
    button_label = Unicode("Sign in with your school account", config=True, help="The log-in page's button.")
    timeout_seconds = Float(10.0, config=True, help="How long to wait for the provider, in seconds.")
    data_dir = Unicode("", config=True, help="The site's data folder (external accounts' secret and files).")
    jwks_cache_seconds = Integer(3600, config=True, help="How long the provider's keys are kept, in seconds.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._metadata: dict[str, Any] = {}
        self._keys: dict[str, Any] = {}
        self._keys_at = 0.0
        self._id_tokens: dict[str, str] = {}  # user -> their last ID token, for Log Out's id_token_hint

    # ----------------------------------------------------------- the provider

    def expected_issuer(self) -> str:
        if self.preset == "google":
            return GOOGLE_ISSUER
        if self.preset == "microsoft":
            return MICROSOFT_ISSUER.format(tenant=self.tenant)
        return self.issuer.rstrip("/")

    def fresh_login_params(self) -> dict[str, str]:
        # Google knows no prompt=login; select_account at least shows whose account it would use.
        return {"prompt": "select_account" if self.preset == "google" else "login", "max_age": "0"}

    async def _get_json(self, url: str, what: str) -> Any:
        try:
            return await self.httpfetch(
                url, label=what, request_timeout=self.timeout_seconds, connect_timeout=self.timeout_seconds
            )
        except (TimeoutError, HTTPClientError, OSError, ValueError) as e:
            raise OidcRefused(503, UNREACHABLE, f"{what} {url}: {e}") from None

    async def discover(self) -> dict[str, Any]:
        """The provider's endpoints: the settings' where given, else its discovery document (read once)."""
        if self._metadata:
            return self._metadata
        issuer = self.expected_issuer()
        meta: dict[str, Any] = {}
        if not all(getattr(self, trait) for trait in ("authorize_url", "token_url", "jwks_url")):
            meta = await self._get_json(url_path_join(issuer, ".well-known/openid-configuration"), "discovery")
            if not isinstance(meta, dict) or not meta.get("issuer"):
                raise OidcRefused(503, UNREACHABLE, f"the discovery document of {issuer} names no issuer")
            if self.preset != "microsoft" and meta["issuer"].rstrip("/") != issuer:
                raise OidcRefused(503, UNREACHABLE, f"discovery names issuer {meta['issuer']!r}, not {issuer!r}")
        discovered = {
            "authorize_url": "authorization_endpoint",
            "token_url": "token_endpoint",
            "jwks_url": "jwks_uri",
            "end_session_endpoint": "end_session_endpoint",
        }
        for trait, field in discovered.items():
            if not getattr(self, trait):
                setattr(self, trait, str(meta.get(field) or ""))
        if not all(getattr(self, trait) for trait in ("authorize_url", "token_url", "jwks_url")):
            raise OidcRefused(503, UNREACHABLE, f"{issuer} names no authorization, token or keys address")
        self._metadata = {"issuer": meta.get("issuer", issuer).rstrip("/")}
        return self._metadata

    async def _key_for(self, kid: str | None) -> Any:
        """The provider's signing key `kid`; the key set is read again once when the key is new to us."""
        for fresh in (False, True):
            if fresh or not self._keys or time.monotonic() - self._keys_at > self.jwks_cache_seconds:
                data = await self._get_json(self.jwks_url, "signing keys")
                try:
                    keys = jwt.PyJWKSet.from_dict(data).keys
                except (jwt.PyJWTError, KeyError, TypeError) as e:
                    raise OidcRefused(503, UNREACHABLE, f"the keys at {self.jwks_url} cannot be read: {e}") from None
                self._keys = {key.key_id or "": key for key in keys}
                self._keys_at = time.monotonic()
            if kid in self._keys or (kid is None and len(self._keys) == 1):
                return self._keys[kid] if kid in self._keys else next(iter(self._keys.values()))
        raise OidcRefused(
            403, REFUSED, f"the ID token is signed with key {str(kid)[:60]!r}, which the provider does not publish"
        )

    async def verify_id_token(self, id_token: str, nonce: str, started: float) -> dict[str, Any]:
        """The ID token's claims once signature, issuer, audience, expiry, nonce and freshness hold.

        Raises:
            OidcRefused: naming (for the log) what did not hold.
        """
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError as e:
            raise OidcRefused(403, REFUSED, f"the ID token is not a JWT: {e}") from None
        if header.get("alg") not in ALGORITHMS:
            raise OidcRefused(403, REFUSED, f"the ID token's algorithm {header.get('alg')!r} is not allowed")
        key = await self._key_for(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.client_id,
                issuer=self._metadata["issuer"],
                leeway=FRESH_LOGIN_MARGIN_SECONDS,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise OidcRefused(403, EXPIRED, "the ID token has expired") from None
        except jwt.PyJWTError as e:
            raise OidcRefused(403, REFUSED, f"the ID token does not hold: {e}") from None
        if not nonce or claims.get("nonce") != nonce:
            raise OidcRefused(403, REFUSED, "the ID token's nonce is not this log-in's (a replayed token?)")
        auth_time = claims.get("auth_time")
        if auth_time is None and self.preset == "generic":
            raise OidcRefused(403, NOT_FRESH, "the ID token has no auth_time, which max_age=0 asks for")
        if auth_time is not None and (
            not isinstance(auth_time, int | float) or auth_time < started - FRESH_LOGIN_MARGIN_SECONDS
        ):
            raise OidcRefused(403, NOT_FRESH, f"auth_time {auth_time!r} is before this log-in began ({started:.0f})")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise OidcRefused(403, REFUSED, "the ID token has no subject")
        return claims

    def check_school(self, claims: dict[str, Any]) -> None:
        """Refuse an account of another school (Google: hd; Microsoft: tid)."""
        if self.preset == "google" and claims.get("hd") not in self.allowed_domains:
            raise OidcRefused(403, NOT_SCHOOL, f"hd {str(claims.get('hd'))[:80]!r} is not an allowed domain")
        if self.preset == "microsoft":
            tid = str(claims.get("tid", ""))
            if self._is_guid(self.tenant) and tid != self.tenant:
                raise OidcRefused(403, NOT_SCHOOL, f"tid {tid[:60]!r} is not the school's tenant")

    @staticmethod
    def _is_guid(value: str) -> bool:
        return len(value) == 36 and value.count("-") == 4

    def hub_groups(self, claims: dict[str, Any]) -> dict[str, str]:
        """{hub group: role} from the groups claim through the two maps; {} without a groups claim."""
        if not self.groups_claim:
            return {}
        given = claims.get(self.groups_claim, [])
        school = {g for g in given if isinstance(g, str)} if isinstance(given, list) else set()
        groups = {hub: "student" for school_group, hub in self.learner_groups.items() if school_group in school}
        groups.update({hub: "teacher" for school_group, hub in self.teacher_groups.items() if school_group in school})
        return groups

    # ----------------------------------------------------------- JupyterHub's side

    async def authenticate(self, handler: Any, data: Any = None, **kwargs: Any) -> dict[str, Any]:
        await self.discover()
        state = _state(handler)
        params = self.build_access_tokens_request_params(handler, data)
        params.pop("data", None)
        try:
            token_info = await self.get_token_info(handler, params)
        except (TimeoutError, HTTPClientError, OSError) as e:
            code = getattr(e, "code", 0)
            if isinstance(e, HTTPClientError) and code and code < 500 and code != 599:
                raise OidcRefused(403, EXPIRED, f"the token endpoint refused the code: {code}") from None
            raise OidcRefused(503, UNREACHABLE, f"token endpoint {self.token_url}: {e}") from None
        except web.HTTPError as e:
            raise OidcRefused(403, REFUSED, f"the token endpoint answered: {e.log_message}") from None
        id_token = token_info.get("id_token")
        if not isinstance(id_token, str):
            raise OidcRefused(403, REFUSED, "the provider sent no ID token")
        claims = await self.verify_id_token(id_token, str(state.get("nonce", "")), float(state.get("started", 0)))
        self.check_school(claims)
        person = ExternalPerson(
            "oidc",
            self._metadata["issuer"],
            claims["sub"],
            given_name=str(claims.get("given_name") or ""),
            family_name=str(claims.get("family_name") or ""),
            groups=self.hub_groups(claims),
        )
        try:
            name = self._external_user(person)
        except (ExternalAccountError, OSError) as e:
            raise OidcRefused(500, REFUSED, f"no account for this person: {e}") from None
        self._id_tokens[name] = id_token
        self.log.info("School account log-in of %s (issuer %s)", name, person.issuer)
        roles_for = getattr(self.parent, "roles_for", None)
        return {"name": name, "roles": roles_for(name, False) if roles_for else [{"name": "user"}]}

    def _external_user(self, person: ExternalPerson) -> str:
        return external_user(self.db, DataLayout(Path(self.data_dir)), person)

    async def check_allowed(self, username: str, auth_model: Any = None) -> bool:
        return True  # who may come in was decided in authenticate (issuer, domain or tenant)

    async def refresh_user(self, user: Any, handler: Any = None, **kwargs: Any) -> Any:
        refresh = getattr(self.parent, "refresh_user", None)
        return await refresh(user, handler) if refresh else True

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [(r"/oauth_login", self.login_handler), (r"/oauth_callback", self.callback_handler)]

    async def end_session_url(self, handler: Any, user_name: str) -> str | None:
        """Where Log Out sends the browser to end the provider's session, or None (not ours, or none)."""
        id_token = self._id_tokens.pop(user_name, None)
        if id_token is None and not user_name.startswith("s-"):
            return None
        try:
            await self.discover()
        except OidcRefused as refused:
            self.log.warning("Not ending the school account's session: %s", refused.log_message)
            return None
        if not self.end_session_endpoint:
            return None
        back = f"{handler.request.protocol}://{handler.request.host}{handler.settings['login_url']}"
        params = {"client_id": self.client_id, "post_logout_redirect_uri": back}
        if id_token:
            params["id_token_hint"] = id_token
        endpoint = self.end_session_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"


def configure_oidc(c: Any, settings: Any, data_dir: str) -> None:
    """`c.OidcAuthenticator.*` from the settings' [login.oidc] (the client secret read now).

    Raises:
        OidcSettingsError: the client secret cannot be read (file and reason named).
    """
    oidc = c.OidcAuthenticator
    oidc.preset = settings.oidc_preset
    oidc.issuer = settings.oidc_issuer
    oidc.authorize_url = settings.oidc_authorize_url
    oidc.token_url = settings.oidc_token_url
    oidc.jwks_url = settings.oidc_jwks_url
    oidc.end_session_endpoint = settings.oidc_end_session_url
    oidc.client_id = settings.oidc_client_id
    secret_file = settings.oidc_client_secret_file
    oidc.client_secret = read_client_secret(str(settings.source.parent / secret_file) if secret_file else "")
    oidc.allowed_domains = list(settings.oidc_allowed_domains)
    oidc.tenant = settings.oidc_tenant
    oidc.groups_claim = settings.oidc_groups_claim
    oidc.learner_groups = dict(settings.oidc_learner_groups)
    oidc.teacher_groups = dict(settings.oidc_teacher_groups)
    oidc.button_label = settings.oidc_button_label
    oidc.timeout_seconds = float(settings.oidc_timeout_seconds)
    oidc.data_dir = data_dir
    # Only what names a person: never "email" (its address would reach the hub).
    oidc.scope = ["openid", "profile"]
    oidc.allow_all = True  # who may come in: the provider, the domain or tenant (check_school)
    oidc.manage_roles = True  # teacher roles from the site's roles file, as for passwords
    oidc.enable_auth_state = False
    oidc.login_service = settings.oidc_button_label
    if settings.public_url:
        oidc.oauth_callback_url = settings.public_url + "/hub/oauth_callback"
