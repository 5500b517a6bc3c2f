"""The keys of the log-in methods: `[login] method` and one sub-table per method.

    [login]
    method = ["native", "oidc"]          # class lists' passwords, and school accounts
    [login.oidc]                         # school accounts (hub/login_oidc.py)
    [login.sip2]                         # the library card (hub/login_sip2.py)
    [login.lti13]                        # the learning platform (hub/login_lti.py)

`settings_schema` adds `LOGIN_SETTINGS` to the site's declarations; `method_problems` is the
check across keys that `settings` runs: a method that is on must have what it needs.
Secrets (the OIDC client secret, the SIP2 password) are never keys here: a key names the
file that holds one (mode 0600), or an environment variable gives it.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

from .settings_types import NUMBER, Setting, _rule, between, one_of, user_name_problem

LOGIN_METHODS = ("native", "oidc", "lti13", "sip2")
OIDC_PRESETS = ("generic", "google", "microsoft")
# Microsoft's tenants that stand for "any organisation" or "any personal account": never one school.
OPEN_TENANTS = ("common", "organizations", "consumers")
_DOMAIN = re.compile(r"^(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\Z")
_TENANT = re.compile(r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z0-9.-]{1,253})\Z")
_HTTPS = re.compile(r"^https://[^\s/?#]+(/[^\s#]*)?\Z")
_LOCAL = re.compile(r"^http://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(/[^\s#]*)?\Z")


def _methods_problem(value: Any) -> str | None:
    names = [value] if isinstance(value, str) else value
    if not names:
        return 'is an empty list; name at least one way in, e.g. "native".'
    for name in names:
        if not isinstance(name, str) or name not in LOGIN_METHODS:
            return f"names {name!r}, which is not a log-in method; use any of: {', '.join(LOGIN_METHODS)}."
    if len(set(names)) != len(names):
        return "names a method twice; name each once."
    return None


def _tidy_methods(value: str | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _secure_url(url: str) -> str | None:
    """An address the hub fetches tokens or keys from: https (plain http only on this computer, for tests)."""
    if not url or _HTTPS.match(url) or _LOCAL.match(url):
        return None
    return 'is not an https address; example: "https://login.example.org/oauth2/token".'


def _domain(name: str) -> str | None:
    if _DOMAIN.match(name):
        return None
    return f'{name!r} is not a domain name in lower case like "riverside-school.org".'


def _tenant(value: str) -> str | None:
    if value in OPEN_TENANTS:
        return "lets in any Microsoft account, not only your school's; use your tenant's id (a GUID) or domain."
    if not value or _TENANT.match(value):
        return None
    return 'is not a tenant id (a GUID like "0b5f...-...") or a domain like "riverside.onmicrosoft.com".'


def _group_or_empty(name: str) -> str | None:
    return user_name_problem(name) if name else None


def _oidc(key: str, kind: Any, default: Any, help: str, **kw: Any) -> Setting:
    return Setting("login.oidc", key, kind, default, help, field=f"oidc_{key}", **kw)


METHOD_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "login",
        "method",
        (str, list),
        ["native"],
        'How people log in: "native" (names and passwords from class lists, as without this key), "oidc" (school '
        'accounts: Google, Microsoft or another OpenID Connect provider, [login.oidc]), "sip2" (a library card and '
        'PIN, [login.sip2]), "lti13" (launched from the learning platform, [login.lti13]); or a list of them, '
        'e.g. ["native", "oidc"]: the log-in page then offers each. Default ["native"].',
        check=_methods_problem,
        field="login_methods",
        tidy=_tidy_methods,
    ),
)

OIDC_SETTINGS: tuple[Setting, ...] = (
    _oidc(
        "preset",
        str,
        "generic",
        '"google" (Google Workspace for Education: set allowed_domains), "microsoft" (Microsoft Entra ID: set '
        'tenant) or "generic" (any OpenID Connect provider: set issuer). Default "generic".',
        check=one_of(OIDC_PRESETS),
    ),
    _oidc(
        "issuer",
        str,
        "",
        "The provider's issuer address: the hub reads <issuer>/.well-known/openid-configuration at the first "
        'log-in. Set by the presets (Google: "https://accounts.google.com", Microsoft: '
        '"https://login.microsoftonline.com/<tenant>/v2.0"); needed for "generic" unless the four endpoint '
        'addresses below are set. Example: "https://id.riverside-school.org/realms/pupils".',
        check=_secure_url,
    ),
    _oidc(
        "authorize_url",
        str,
        "",
        "The provider's authorization endpoint, where the provider's address is not enough (no discovery). "
        'Empty: from the issuer\'s discovery document. Example: "https://id.example.org/oauth2/authorize".',
        check=_secure_url,
    ),
    _oidc(
        "token_url", str, "", "The provider's token endpoint (as authorize_url). Empty: discovered.", check=_secure_url
    ),
    _oidc(
        "jwks_url",
        str,
        "",
        "Where the provider publishes the keys that sign its ID tokens (as authorize_url). Empty: discovered.",
        check=_secure_url,
    ),
    _oidc(
        "end_session_url",
        str,
        "",
        "The provider's end_session_endpoint: Log Out in the hub also signs the person out there (a shared "
        "computer). Empty: discovered, if the provider has one.",
        check=_secure_url,
    ),
    _oidc(
        "client_id",
        str,
        "",
        'The hub\'s client id, from registering the hub with the provider (needed with method "oidc"). '
        'Example: "1234567890-abc.apps.googleusercontent.com".',
    ),
    _oidc(
        "client_secret_file",
        str,
        "",
        "A file (mode 0600, readable by the hub's user only; relative to this file) holding the client secret on one "
        "line; the "
        "environment variable CLHUB_OIDC_CLIENT_SECRET, when set, is used instead. Never write the secret itself "
        'in this file. Example: "/etc/clhub/oidc-client-secret".',
    ),
    _oidc(
        "allowed_domains",
        list,
        [],
        "Google: the school's Google Workspace domains (the `hd` claim); an account from any other domain, a "
        'personal Gmail account included, is refused (needed with preset "google"). Example: '
        '["riverside-school.org"].',
        check=_domain,
    ),
    _oidc(
        "tenant",
        str,
        "",
        "Microsoft: the school's Entra tenant id (a GUID) or its domain; an account of any other tenant is "
        'refused (needed with preset "microsoft"; "common" and "organizations" are refused). Example: '
        '"0b5f9a1c-2d3e-4f50-8a9b-0c1d2e3f4a5b".',
        check=_tenant,
    ),
    _oidc(
        "groups_claim",
        str,
        "",
        "The ID token's claim that lists the person's groups at the school (Microsoft: \"groups\", ids of "
        "security groups; other providers: as configured). Empty: groups are not read; learners join their "
        'groups through class lists, as with passwords. Example: "groups".',
    ),
    _oidc(
        "learner_groups",
        dict,
        {},
        "Which school group makes a person a learner of which hub group (read only with groups_claim). Example: "
        '{ "7a1c...-year7-art" = "art-club" }. A person in none of them joins no group.',
        check=user_name_problem,
    ),
    _oidc(
        "teacher_groups",
        dict,
        {},
        "Which school group makes a person a teacher of which hub group (read only with groups_claim). Example: "
        '{ "staff-art" = "art-club" }.',
        check=user_name_problem,
    ),
    _oidc(
        "button_label",
        str,
        "Sign in with your school account",
        'The words on the log-in page\'s button. Example: "Sign in with Google". '
        'Default "Sign in with your school account".',
        check=_rule(lambda label: 0 < len(label) <= 60, "must be 1-60 characters."),
    ),
    _oidc(
        "timeout_seconds",
        int,
        10,
        "The longest the hub waits for the provider, in seconds (1-60); after it the learner reads that school "
        "accounts cannot be checked right now. Default 10.",
        check=between(1, 60),
    ),
)

# [login.sip2]: the library card (hub/login_sip2.py), checked by the catalogue over SIP2.
# The 14 patron status flags of SIP2 2.00's patron answers, in order ("Y": the patron is denied it / it is so).
SIP2_STATUS_FLAGS = (
    "charge_denied",
    "renewal_denied",
    "recall_denied",
    "hold_denied",
    "card_lost",
    "too_many_charged",
    "too_many_overdue",
    "too_many_renewals",
    "too_many_claims",
    "too_many_lost",
    "excessive_fines",
    "excessive_fees",
    "recall_overdue",
    "too_many_billed",
)


def _known_encoding(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


SIP2_SETTINGS: tuple[Setting, ...] = (
    Setting(
        "login.sip2",
        "host",
        str,
        "",
        'The host name or address of the library system\'s SIP2 service (needed with method "sip2"). '
        'Example: "sip.riverside-library.org".',
        field="sip2_host",
    ),
    Setting(
        "login.sip2",
        "port",
        int,
        6001,
        "The SIP2 service's port, 1-65535 (on the library system's machine). Default 6001.",
        check=_rule(lambda port: 1 <= port <= 65535, "is out of range; use 1-65535."),  # not PORT: not ours
        field="sip2_port",
    ),
    Setting(
        "login.sip2",
        "tls",
        bool,
        False,
        "Talk to the SIP2 service over TLS, checking its certificate and host name (use it whenever the system "
        "offers it: without TLS card numbers and PINs cross the network readable). Default false.",
        field="sip2_tls",
    ),
    Setting(
        "login.sip2",
        "ca_file",
        str,
        "",
        "A PEM file of the CA that signed the SIP2 service's certificate, for a library's own CA (relative to this "
        'file). Empty: the system\'s trusted CAs. Example: "/etc/clhub/library-ca.pem".',
        field="sip2_ca_file",
    ),
    Setting(
        "login.sip2",
        "login_user",
        str,
        "",
        "The SIP2 account the library made for the hub, sent in the log-in message (93, CN). Empty: no 93 is sent. "
        'Example: "clhub".',
        field="sip2_login_user",
    ),
    Setting(
        "login.sip2",
        "password_file",
        str,
        "",
        "A file (mode 0600, root's; relative to this file) holding that account's password on one line; the "
        "environment variable CLHUB_SIP2_PASSWORD, when set, is used instead. Never write the password in this file. "
        'Example: "/etc/clhub/sip2-password".',
        field="sip2_password_file",
    ),
    Setting(
        "login.sip2",
        "institution_id",
        str,
        "",
        'The library\'s institution id (AO), as the SIP2 service expects it. Example: "RIVERSIDE". It also keeps '
        "card holders' accounts apart: changing it later gives every card a new account.",
        field="sip2_institution_id",
    ),
    Setting(
        "login.sip2",
        "location_code",
        str,
        "",
        'The location code sent with the hub\'s log-in (93, CP), if the system wants one. Example: "LAB".',
        field="sip2_location_code",
    ),
    Setting(
        "login.sip2",
        "timeout_seconds",
        NUMBER,
        10,
        "The longest a card check may take, in seconds (1-60): connecting, the hub's log-in and the patron "
        "question together. After it the learner reads that cards cannot be checked right now. Default 10.",
        check=between(1, 60),
        field="sip2_timeout_seconds",
    ),
    Setting(
        "login.sip2",
        "checksums",
        bool,
        False,
        "Send sequence numbers and checksums (AY/AZ) and check the system's, for a SIP2 service set up to want "
        "them (error detection). Default false.",
        field="sip2_checksums",
    ),
    Setting(
        "login.sip2",
        "encoding",
        str,
        "utf-8",
        'The character set of the SIP2 service (Koha and Evergreen: "utf-8"; older systems: "cp850"). Default "utf-8".',
        check=_rule(_known_encoding, 'is not a character set Python knows; example: "utf-8" or "cp850".'),
        field="sip2_encoding",
    ),
    Setting(
        "login.sip2",
        "blocked_when",
        list,
        ["charge_denied", "card_lost"],
        "Patron status flags that keep a card out, from: " + ", ".join(SIP2_STATUS_FLAGS) + ". Default "
        '["charge_denied", "card_lost"]: Koha and Evergreen deny charge privileges to a barred, expired or '
        "over-the-limit card.",
        check=one_of(SIP2_STATUS_FLAGS),
        field="sip2_blocked_when",
    ),
    Setting(
        "login.sip2",
        "staff_patron_types",
        list,
        [],
        "Patron types whose cards log in as teachers of the walk-in group, as the system sends them in the patron "
        'class field (PC: Koha\'s patron category, Evergreen\'s profile). Example: ["STAFF", "LIBRARIAN"].',
        field="sip2_staff_patron_types",
    ),
    Setting(
        "login.sip2",
        "staff_card_prefixes",
        list,
        [],
        "Card-number prefixes of staff cards, for a system that sends no patron class (staff cards are often a "
        'barcode range of their own). Example: ["29999"].',
        check=_rule(lambda prefix: re.fullmatch(r"[A-Za-z0-9-]{1,40}", prefix) is not None, "is not a card prefix."),
        field="sip2_staff_card_prefixes",
    ),
    Setting(
        "login.sip2",
        "group",
        str,
        "walk-in",
        "The hub group every card holder joins at their first log-in: its peer-review folder is where they share, "
        'and staff cards teach it. Empty: no group. Default "walk-in".',
        check=lambda name: user_name_problem(name) if name else None,
        field="sip2_group",
    ),
)

# [login.lti13]: launches from the learning platform (hub/login_lti.py); `lti13_problem` checks them together.
LIS_INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LIS_TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


def _lti13(key: str, kind: Any, default: Any, help: str, **kw: Any) -> Setting:
    return Setting("login.lti13", key, kind, default, help, field=f"lti13_{key}", **kw)


def _lms_id(value: str) -> str | None:
    if 0 < len(value) <= 255 and value.isprintable():
        return None
    return "is not an id as the learning platform shows it (1-255 printable characters)."


LTI13_SETTINGS: tuple[Setting, ...] = (
    _lti13(
        "issuer",
        str,
        "",
        'The platform\'s issuer (Canvas: "Issuer", "https://canvas.instructure.com" for Instructure\'s cloud; '
        'Moodle: "Platform ID", the site\'s own address); a launch from any other issuer is refused (needed with '
        'method "lti13"). Example: "https://moodle.riverside-school.org".',
        check=_secure_url,
    ),
    _lti13(
        "client_ids",
        list,
        [],
        "The client ids the platform gave the hub when you registered it (Canvas: the developer key's id; Moodle: "
        '"Client ID"); a token for any other client is refused. Example: ["10000000000123"].',
        check=_lms_id,
    ),
    _lti13(
        "deployment_ids",
        list,
        [],
        'The deployment ids of the hub in the platform (Canvas: shown on the installed app, "Deployment Id"; '
        'Moodle: "Deployment ID"); a launch from another deployment is refused. Example: '
        '["123:4c8e1f0a9b7d6e5c4b3a29180706f5e4d3c2b1a0"].',
        check=_lms_id,
    ),
    _lti13(
        "authorize_url",
        str,
        "",
        "The platform's authentication request URL, where the hub sends the browser back during a launch "
        '(Canvas cloud: "https://sso.canvaslms.com/api/lti/authorize_redirect"; Moodle: "<site>/mod/lti/auth.php").',
        check=_secure_url,
    ),
    _lti13(
        "jwks_url",
        str,
        "",
        "The platform's public keyset URL (JWKS), fetched at every launch to check the launch's signature "
        '(Canvas cloud: "https://sso.canvaslms.com/api/lti/security/jwks"; Moodle: "<site>/mod/lti/certs.php").',
        check=_secure_url,
    ),
    _lti13(
        "jwks_timeout_seconds",
        int,
        10,
        "The longest the hub waits for the platform's keyset at a launch, in seconds (1-60); after it the learner "
        "reads that their course's website did not answer. Default 10.",
        check=between(1, 60),
    ),
    _lti13(
        "teacher_roles",
        list,
        [LIS_INSTRUCTOR],
        "LMS roles (LIS role URIs of the launch's roles claim) that make someone a teacher of the course's hub "
        f'group. Default ["{LIS_INSTRUCTOR}"].',
    ),
    _lti13(
        "mentor_roles",
        list,
        [LIS_TEACHING_ASSISTANT],
        "LMS roles that make someone a mentor of the course's group (looked for before teacher_roles: a "
        f'teaching assistant is an Instructor too). Default ["{LIS_TEACHING_ASSISTANT}"]. Anyone else is a learner.',
    ),
)


def lti13_problem(settings: Any) -> str | None:
    """What "lti13" lacks in [login.lti13], or None."""
    for key in ("issuer", "authorize_url", "jwks_url"):
        if not getattr(settings, f"lti13_{key}"):
            return f"login.lti13.{key} is empty; copy it from the tool's registration in your learning platform."
    for key in ("client_ids", "deployment_ids"):
        if not getattr(settings, f"lti13_{key}"):
            return f"login.lti13.{key} is empty; copy it from the tool's registration in your learning platform."
    return None


LOGIN_SETTINGS = METHOD_SETTINGS + OIDC_SETTINGS + SIP2_SETTINGS + LTI13_SETTINGS


def oidc_problem(settings: Any) -> str | None:
    """What "oidc" lacks in [login.oidc], or None."""
    if not settings.oidc_client_id:
        return "login.oidc.client_id is empty; copy the client id the provider gave when you registered the hub."
    preset = settings.oidc_preset
    if preset == "google" and not settings.oidc_allowed_domains:
        return (
            'login.oidc.allowed_domains is empty with preset "google": any Google account could log in. Name your '
            'school\'s Google Workspace domains, e.g. ["riverside-school.org"].'
        )
    if preset == "microsoft" and not settings.oidc_tenant:
        return 'login.oidc.tenant is empty with preset "microsoft"; give your school\'s Entra tenant id (a GUID).'
    endpoints = (settings.oidc_authorize_url, settings.oidc_token_url, settings.oidc_jwks_url)
    if preset == "generic" and not settings.oidc_issuer:
        return (
            'login.oidc.issuer is empty with preset "generic"; give the provider\'s issuer address, e.g. '
            '"https://id.riverside-school.org/realms/pupils".'
        )
    if preset == "generic" and any(endpoints) and not all(endpoints):
        return "login.oidc: set authorize_url, token_url and jwks_url together, or none of them (discovery)."
    mapped = settings.oidc_learner_groups or settings.oidc_teacher_groups
    if mapped and not settings.oidc_groups_claim:
        return "login.oidc.learner_groups or teacher_groups is set, but groups_claim is empty: name the claim."
    return None


def sip2_problem(settings: Any) -> str | None:
    """What "sip2" lacks in [login.sip2], or None (the password file is checked when the hub starts)."""
    if not settings.sip2_host:
        return 'login.sip2.host is empty; give the library system\'s SIP2 host, e.g. "sip.riverside-library.org".'
    if settings.sip2_ca_file and not settings.sip2_tls:
        return "login.sip2.ca_file is set but tls is false: set tls = true, or leave ca_file empty."
    return None


def method_problems(settings: Any) -> str | None:
    """What an enabled method lacks in its sub-table, naming the key; None when every one has what it needs."""
    for method in settings.login_methods:
        check = _METHOD_CHECKS.get(method)
        problem = check(settings) if check else None
        if problem:
            return f'login.method names "{method}": {problem}'
    return None


# Each method's check of its sub-table (H and I add "sip2" and "lti13" here with their functions).
_METHOD_CHECKS: dict[str, Any] = {"oidc": oidc_problem, "sip2": sip2_problem, "lti13": lti13_problem}
