"""Launches from the learning platform (LTI 1.3): a click on a link in a course logs the learner in.

Built on `jupyterhub-ltiauthenticator`'s LTI 1.3 authenticator (`ltiauthenticator.lti13`),
whose handlers and validator do the protocol: the platform's third-party-initiated log-in
(`/hub/lti13/oauth_login`), the hub's authorization redirect back to the platform with a
`state` and a `nonce` (both kept in encrypted cookies), and the callback
(`/hub/lti13/oauth_callback`) that takes the posted id_token, checks the state, verifies the
token's signature against the platform's JWKS, its issuer, audience, `exp`/`iat` and the LTI
claims, and compares its nonce with the cookie. What it lacks, added here:

- the deployment is checked (`deployment_ids`): a platform's other deployments are refused;
- a nonce is taken once only (`clhub_lti_nonces` in the hub's database): a captured id_token
  posted again with the same cookies is refused, across hub restarts too;
- the JWKS is fetched with a timeout (`jwks_timeout_seconds`) and off the hub's event loop,
  so a platform that does not answer keeps nobody else waiting;
- every refusal is a plain message for a learner (`PlainError`), the reason in the log;
- cookies cross sites over https (SameSite=None), as an LMS on another domain posts back;
- the user is named by `external_accounts` (never the e-mail, which the library used), nothing
  of the token is kept (no auth_state), and the tool configuration asks for no e-mail.

A launch from a course puts the learner in the course's hub group with a role from the LMS
roles (Instructor -> teacher, TeachingAssistant -> mentor, anyone else -> student), and makes
the group's system group and peer-review folder at once (`group_folder`), as a class-list
import does. A link naming a workbook or the course's assignment of one (custom parameter
`workbook` / `assignment`, or the same in the link's query) opens it in the learner's
JupyterLab. What a launch means is decided in `lti_launch.py`; this module runs the protocol.
"""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import jwt
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import ValidationError
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler, LTI13ConfigHandler, LTI13LoginInitHandler
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict
from tornado import web
from traitlets import Callable, Float, Unicode
from traitlets import Set as SetTrait

from ..paths import DataLayout
from . import interests as interests_store
from .authenticator import site_roles
from .external_accounts import ExternalPerson, external_user, site_secret, subject_code
from .lti_launch import (
    CLAIM,
    EXPIRED,
    FROM_COURSE,
    GROUP_CODE_LENGTH,
    INSTRUCTOR,
    NO_ANSWER,
    NO_COOKIE,
    NO_WORKBOOK,
    NOT_CHECKED,
    NOT_GIVEN_OUT,
    REPLAYED,
    TEACHING_ASSISTANT,
    Destination,
    assignment_destination,
    course_group,
    course_role,
    display_parts,
    named_target,
    take_nonce,
    tool_configuration,
    workbook_destination,
)
from .plain_errors import PlainError
from .sessions import ClhubLogoutHandler

# ------------------------------------------------------------------ the authenticator


class LtiAuthenticator(LTI13Authenticator):
    """ltiauthenticator's LTI 1.3 authenticator with the hub's names, groups, roles and checks."""

    login_service = "your course"
    login_method_name = "lti13"
    login_fragment = "lti-note.html"  # the log-in page's words for someone who came without a launch
    deployment_ids = SetTrait(
        Unicode(),
        config=True,
        help="The platform's deployment ids of this tool (the id_token's deployment_id claim) that may launch; "
        "a launch from any other deployment is refused. Example: {'1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb'}.",
    )
    jwks_timeout_seconds = Float(
        10.0,
        config=True,
        help="How long to wait, in seconds, for the platform's JWKS (its public keys) at each launch before "
        "telling the learner that their course did not answer. Default 10.",
    )
    teacher_roles = SetTrait(
        Unicode(),
        default_value={INSTRUCTOR},
        config=True,
        help="LMS roles (LIS role URIs) that make someone a teacher of the course's group. "
        f"Default {{'{INSTRUCTOR}'}}.",
    )
    mentor_roles = SetTrait(
        Unicode(),
        default_value={TEACHING_ASSISTANT},
        config=True,
        help=f"LMS roles that make someone a mentor of the course's group. Default {{'{TEACHING_ASSISTANT}'}}.",
    )
    data_dir = Unicode("", config=True, help="The site's data folder (for names, roles and display names).")
    catalog_dir = Unicode("", config=True, help="The workbook catalog, whose workbooks a link may name.")
    group_folder = Callable(
        None,
        allow_none=True,
        config=True,
        help="async (group) -> None: make a course group's system group and peer-review folder at its "
        "launch (`prepare_group_folder`), so a teacher can give out an assignment before any learner has "
        "started. None: the first start and the classroom's sweep make them.",
    )
    site_url = Unicode(
        "",
        config=True,
        help="The address people type (the site's public_url), e.g. 'https://hub.example.org': the tool's "
        "URLs are built from it, and a launch whose target_link_uri names another address is refused.",
    )

    def lti_routes(self) -> list[tuple[str, Any]]:
        """The three LTI pages, for the log-in frame that holds this method (`login_methods`)."""
        return [
            (self.login_url(""), LtiLoginHandler),
            (self.callback_url(""), LtiCallbackHandler),
            (self.config_json_url(""), LtiConfigHandler),
        ]

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        return [*self.lti_routes(), (r"/logout", ClhubLogoutHandler)]

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir))

    def check_allowed(self, username: str, authentication: Any = None) -> bool:
        # Called only with the model of a launch whose token was verified: the platform vouches.
        return authentication is not None

    def roles_for(self, name: str) -> list[dict[str, Any]]:
        """The default role plus the teacher/mentor roles the site's roles file gives `name`."""
        found = site_roles(self.layout.roles_file) if self.data_dir else []
        held = [{k: r[k] for k in ("name", "description", "scopes")} for r in found if name in r["users"]]
        return [{"name": "user"}, *held]

    async def load_managed_roles(self) -> list[dict[str, Any]]:
        return site_roles(self.layout.roles_file) if self.data_dir else []

    async def refresh_user(self, user: Any, handler: Any = None) -> dict[str, Any]:
        return {"name": user.name, "roles": self.roles_for(user.name)}

    def course_of(self, db: Any, claims: dict[str, Any]) -> tuple[str, str] | None:
        """(hub group, role) of the launch's course, or None when it came from no course."""
        from jupyterhub import orm

        context = claims.get(CLAIM + "context")
        if not isinstance(context, dict) or not isinstance(context.get("id"), str) or not context["id"]:
            return None
        code = subject_code(site_secret(self.layout), str(claims["iss"]), "course\0" + context["id"])
        suffix = "-" + code[:GROUP_CODE_LENGTH]
        existing = {g.name for g in db.query(orm.Group).filter(orm.Group.name.endswith(suffix))}
        label = context.get("label") or context.get("title") or ""
        group = course_group(code, label if isinstance(label, str) else "", existing)
        return group, course_role(claims.get(CLAIM + "roles"), set(self.teacher_roles), set(self.mentor_roles))

    async def authenticate(self, handler: Any, data: dict[str, Any] | None = None) -> dict[str, Any] | None:
        """Log in the person of a verified launch (`data`: the id_token's claims, checked by the handler).

        Returns:
            {"name", "roles"}: the hub user `external_accounts` gives (issuer, sub), now in the
            course's group with its role; None when the token names nobody (no `sub`).
        """
        claims = data or {}
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            return None
        db = handler.db
        course = self.course_of(db, claims)
        given, family = display_parts(claims)
        person = ExternalPerson(
            method="lti13",
            issuer=str(claims["iss"]),
            subject=subject,
            given_name=given,
            family_name=family,
            groups=dict([course]) if course else {},
        )
        name = external_user(db, self.layout, person)
        return {"name": name, "roles": self.roles_for(name)}


def lti_authenticator(authenticator: Any) -> LtiAuthenticator:
    """The LTI method's authenticator: the hub's own, or the one the log-in frame holds (`methods`)."""
    if isinstance(authenticator, LtiAuthenticator):
        return authenticator
    held = getattr(authenticator, "methods", {}).get("lti13")
    if not isinstance(held, LtiAuthenticator):
        raise web.HTTPError(404, "Launches from a learning platform are not switched on here.")
    return held


class _LtiPage:
    """What the LTI pages share: their authenticator is the LTI method's, wherever it is held."""

    settings: dict[str, Any]

    @property
    def authenticator(self) -> LtiAuthenticator:
        return lti_authenticator(self.settings["authenticator"])


class LtiLoginHandler(_LtiPage, LTI13LoginInitHandler):
    """The platform's log-in initiation; without one (someone typing the address), a plain page."""

    def post(self) -> None:
        lti = self.authenticator
        if not self.get_argument("iss", ""):
            raise PlainError(400, FROM_COURSE)
        client_id = self.get_argument("client_id", "")
        deployment = self.get_argument("lti_deployment_id", "")
        if (
            self.get_argument("iss") != lti.issuer
            or (client_id and client_id not in lti.client_id)
            or (deployment and deployment not in lti.deployment_ids)
        ):
            self.log.warning("LTI log-in initiation refused: another platform, client or deployment than this hub's")
            raise PlainError(403, NOT_CHECKED)
        if not client_id and len(lti.client_id) == 1:
            # Optional in the initiation, needed in the authorization request: the one this hub has.
            self.request.arguments["client_id"] = [next(iter(lti.client_id)).encode()]
        elif not client_id:
            raise PlainError(400, NOT_CHECKED)
        super().post()

    get = post

    def get_redirect_uri(self) -> str:
        lti = self.authenticator
        if lti.site_url:
            return lti.site_url + lti.callback_url(self.hub.server.base_url)
        return str(super().get_redirect_uri())

    def _set_oauth_cookie(self, key: str, value: Any) -> None:
        # The platform posts the id_token back from its own site: over https the state and nonce
        # cookies must be allowed on that cross-site POST. Over plain http (this computer's own
        # tests and demos) browsers refuse SameSite=None, and the platform is the same site anyway.
        extra: dict[str, Any] = {}
        if self.authenticator.site_url.startswith("https://") or self.request.protocol == "https":
            extra = {"samesite": "None", "secure": True}
        self._set_cookie(key, value, expires_days=1, httponly=True, encrypted=True, **extra)


class LtiCallbackHandler(_LtiPage, LTI13CallbackHandler):
    """The id_token's arrival: ltiauthenticator's checks, ours, then the log-in and where it leads."""

    async def post(self) -> None:
        lti = self.authenticator
        claims = await self.checked_claims()
        course = lti.course_of(self.db, claims)
        destination = self.destination(claims, course[0] if course else None)
        if not take_nonce(self.db, str(claims["iss"]), str(claims["nonce"]), int(claims["exp"])):
            self.log.warning("LTI launch refused: its nonce was used before (a replay)")
            raise PlainError(403, REPLAYED)
        user = await self.login_user(claims)
        if user is None:
            raise PlainError(403, NOT_CHECKED)
        if course is not None and lti.group_folder is not None:
            try:
                await lti.group_folder(course[0])
            except Exception:  # the learner's start and the classroom's sweep try again
                self.log.exception("The folder of course group %s could not be made at its launch", course[0])
        if destination is not None and (course is None or course[1] == "student"):
            self.make_deliverable(user.name, destination)
            self.redirect(destination.url(self.hub.base_url))
            return
        self.redirect(self.get_next_url(user))

    def get_next_url(self, user: Any = None, default: Any = None) -> str:
        # Never the state's next_url (it came from the unsigned log-in initiation): the hub's own landing.
        return str(super(LTI13CallbackHandler, self).get_next_url(user, default))

    async def checked_claims(self) -> dict[str, Any]:
        """The posted id_token's claims, checked as ltiauthenticator does plus deployment, with plain refusals."""
        lti = self.authenticator
        validator = LTI13LaunchValidator(parent=self.app)
        args = convert_request_to_dict(self.request.arguments)
        try:
            validator.validate_auth_response(args)
        except ValidationError as e:
            self.log.warning("LTI launch refused: %s", e)
            raise PlainError(400, NOT_CHECKED) from None
        try:
            self.check_state()
        except web.HTTPError as e:
            self.log.warning("LTI launch refused: %s", e.log_message)
            raise PlainError(400, NO_COOKIE) from None
        try:
            claims = await asyncio.to_thread(self._verified, args["id_token"])
            validator.validate_id_token(claims)
            validator.validate_azp_claim(claims, lti.client_id)
        except jwt.PyJWKClientConnectionError as e:
            self.log.warning("LTI launch refused: the platform's JWKS did not answer: %s", e)
            raise PlainError(503, NO_ANSWER) from None
        except jwt.ExpiredSignatureError:
            self.log.warning("LTI launch refused: the id_token has expired")
            raise PlainError(403, EXPIRED) from None
        except (jwt.PyJWTError, ValidationError) as e:
            self.log.warning("LTI launch refused: %s", e)
            raise PlainError(403, NOT_CHECKED) from None
        try:
            self.check_nonce(claims)
        except web.HTTPError as e:
            self.log.warning("LTI launch refused: %s", e.log_message)
            raise PlainError(400, NO_COOKIE if "cookie" in str(e.log_message) else NOT_CHECKED) from None
        if claims.get(CLAIM + "deployment_id") not in lti.deployment_ids:
            self.log.warning(
                "LTI launch refused: deployment %r is not one of this hub's", claims.get(CLAIM + "deployment_id")
            )
            raise PlainError(403, NOT_CHECKED)
        return claims

    def _verified(self, token: str) -> dict[str, Any]:
        """Signature (the platform's JWKS, fetched with a timeout), issuer, audience, exp and iat: in a thread."""
        lti = self.authenticator
        client = jwt.PyJWKClient(
            lti.jwks_endpoint, cache_keys=False, cache_jwk_set=False, timeout=lti.jwks_timeout_seconds
        )
        key = client.get_signing_key_from_jwt(token).key
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=list(lti.jwks_algorithms),
            audience=list(lti.client_id),
            issuer=lti.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
        return claims

    def destination(self, claims: dict[str, Any], group: str | None) -> Destination | None:
        """The workbook or assignment the launch opens, or None; refused when the link names anything
        else, or an assignment the course's group (`group`) has not been given."""
        from ..assignments.course import Course, released
        from .spawner import cached_catalog

        lti = self.authenticator
        named = named_target(claims, lti.site_url or f"{self.request.protocol}://{self.request.host}")
        if named is None:
            return None
        kind, name = named
        workbook = cached_catalog(lti.catalog_dir).workbooks.get(name) if lti.catalog_dir else None
        if workbook is None:
            self.log.warning("LTI launch refused: it names %r, which is not a workbook of the catalog", name)
            raise PlainError(400, NO_WORKBOOK)
        if kind == "workbook":
            return workbook_destination(workbook)
        course = Course(Path(lti.data_dir), group) if group else None
        if course is None or name not in released(course):
            self.log.warning("LTI launch refused: assignment %r is not released in the course's group", name)
            raise PlainError(400, NOT_GIVEN_OUT)
        return assignment_destination(workbook, course.group, course.exchange / "outbound" / name)

    def make_deliverable(self, name: str, destination: Destination) -> None:
        """Make sure the learner's start goes straight to `destination` and delivers it.

        A learner new to the hub gets the workbook's interests (and its language) as theirs, so
        their first start skips the interest form; they can change them afterwards. For a workbook
        link, a learner whose interests miss the workbook's gets its first interest added; an
        assignment is delivered by the course's group, whatever the interests.
        """
        from .spawner import cached_catalog

        lti = self.authenticator
        workbook = cached_catalog(lti.catalog_dir).workbooks[destination.workbook]
        folder = str(lti.layout.interests)
        chosen = interests_store.read_choice(folder, name)
        if chosen.interests is None:
            interests_store.write(folder, name, list(workbook.interests), workbook.language)
        elif not destination.assignment and workbook.interests and not set(chosen.interests) & set(workbook.interests):
            interests_store.write(folder, name, [*chosen.interests, workbook.interests[0]], chosen.language)


class LtiConfigHandler(_LtiPage, LTI13ConfigHandler):
    """The tool's LTI 1.3 configuration (JSON) for the LMS administrator: our URLs, no e-mail asked for."""

    async def get(self) -> None:
        lti = self.authenticator
        site_url = lti.site_url or f"{lti.get_uri_scheme(self.request)}://{self.request.host}"
        self.set_header("Content-Type", "application/json")
        self.write(tool_configuration(lti.tool_name, site_url, self.hub.base_url))


async def prepare_group_folder(settings: Any, group: str, prefix: str = "clhub-") -> None:
    """The course group's system group (`<prefix><group>`) and peer-review folder, as a class-list import makes them."""
    from ..host.current import for_settings
    from ..host.system_users import system_group_name
    from ..peer_review import folders

    gid = await for_settings(settings).ensure_group(system_group_name(prefix, group))
    await asyncio.to_thread(folders.apply_group, settings.data_dir, folders.policy_for(settings, group), gid)


def configure_lti13(c: Any, settings: Any, layout: DataLayout) -> None:
    """The LTI method's traits from the site's [login.lti13] table (the frame calls it when "lti13" is on)."""
    c.LtiAuthenticator.issuer = settings.lti13_issuer
    c.LtiAuthenticator.client_id = set(settings.lti13_client_ids)
    c.LtiAuthenticator.deployment_ids = set(settings.lti13_deployment_ids)
    c.LtiAuthenticator.authorize_url = settings.lti13_authorize_url
    c.LtiAuthenticator.jwks_endpoint = settings.lti13_jwks_url
    c.LtiAuthenticator.jwks_timeout_seconds = float(settings.lti13_jwks_timeout_seconds)
    c.LtiAuthenticator.teacher_roles = set(settings.lti13_teacher_roles)
    c.LtiAuthenticator.mentor_roles = set(settings.lti13_mentor_roles)
    c.LtiAuthenticator.username_key = "sub"
    # Its handlers log in through it (not the frame): it gives the teacher and mentor roles itself.
    c.LtiAuthenticator.manage_roles = True
    c.LtiAuthenticator.data_dir = str(layout.root)
    c.LtiAuthenticator.catalog_dir = str(Path(settings.catalog_dir))
    c.LtiAuthenticator.site_url = settings.url
    c.LtiAuthenticator.tool_name = settings.name
    c.LtiAuthenticator.group_folder = functools.partial(prepare_group_folder, settings)
    c.LTI13LaunchValidator.max_age = 600
