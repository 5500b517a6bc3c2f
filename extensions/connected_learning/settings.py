"""The site settings file: one TOML file a site administrator edits.

`load_settings` reads it, checks every key against its declaration in `settings_schema`
and returns a frozen `SiteSettings`. A bad file raises `SettingsError` whose message names
the file, the key, the bad value and what is allowed, so that the hub refuses to start
with a message a library's IT person can act on. The checks that involve more than one key
(the ports differ, the site's address suits user_subdomains) live here. Nothing here
touches JupyterHub; `hub.config` applies the result.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .paths import DataLayout
from .settings_login import method_problems
from .settings_schema import (
    PORT,
    SECTIONS,
    SETTINGS,
    SPAWNERS,
    USERNAME_PATTERN,
    Setting,
    SettingsError,
    settings_reference,
    validate_username,
)

__all__ = [
    "SETTINGS",
    "SPAWNERS",
    "USERNAME_PATTERN",
    "Setting",
    "SettingsError",
    "SiteSettings",
    "address_problem",
    "env_overrides",
    "load_settings",
    "parse_settings",
    "settings_reference",
    "settings_warnings",
    "validate_username",
]

# Where `clhub` looks without --site or CLHUB_SITE: the current folder, as JupyterHub looks for
# its jupyterhub_config.py (the README's commands run in the checkout). Never a path taken
# from the installed package, which may live far from any checkout.
DEFAULT_SITE = Path("hub_config") / "site.toml"
DEFAULT_DEMO = Path("hub_config") / "demo.toml"


@dataclass(frozen=True)
class SiteSettings:
    """Validated site settings; paths are absolute.

    One field per declaration in `SETTINGS` (named by its `attr`), plus `source`; the
    defaults live in the declarations only.
    """

    source: Path
    # [site]
    name: str
    public_url: str
    bind_ip: str
    port: int
    hub_port: int
    proxy_api_port: int
    classroom_port: int
    showcase_port: int
    showcase_live_port: int
    data_dir: Path
    admin_users: tuple[str, ...]
    user_subdomains: bool
    spawner: str
    start_template: bool
    kernel_template: bool
    db_url: str
    # [workbooks]
    catalog_dir: Path
    interests: tuple[str, ...]
    everyone: tuple[str, ...]
    # [limits]
    memory_mb: int
    cpu: float
    max_processes: int
    disk_mb: int
    idle_timeout_minutes: int
    start_timeout_seconds: int
    # [peer_review]
    peer_review: bool
    off_for_groups: tuple[str, ...]
    anonymous_feedback: bool
    anonymous_for_groups: tuple[str, ...]
    max_piece_mb: float
    allowed_types: tuple[str, ...]
    # [showcase]
    showcase_live: bool
    live_kernels: int
    live_kernel_memory_mb: int
    live_idle_minutes: float
    live_preheat: int
    # [login]
    cookie_lifetime_hours: float
    min_password_length: int
    failed_logins_before_lockout: int
    lockout_seconds: int
    failed_logins_from_one_address: int
    trusted_proxies: tuple[str, ...]
    self_signup: bool
    login_methods: tuple[str, ...]
    # [login.oidc] (settings_login.py)
    oidc_preset: str
    oidc_issuer: str
    oidc_authorize_url: str
    oidc_token_url: str
    oidc_jwks_url: str
    oidc_end_session_url: str
    oidc_client_id: str
    oidc_client_secret_file: str
    oidc_allowed_domains: tuple[str, ...]
    oidc_tenant: str
    oidc_groups_claim: str
    oidc_learner_groups: tuple[tuple[str, str], ...]
    oidc_teacher_groups: tuple[tuple[str, str], ...]
    oidc_button_label: str
    oidc_timeout_seconds: int
    # [login.sip2] (settings_login.py)
    sip2_host: str
    sip2_port: int
    sip2_tls: bool
    sip2_ca_file: str
    sip2_login_user: str
    sip2_password_file: str
    sip2_institution_id: str
    sip2_location_code: str
    sip2_timeout_seconds: float
    sip2_checksums: bool
    sip2_encoding: str
    sip2_blocked_when: tuple[str, ...]
    sip2_staff_patron_types: tuple[str, ...]
    sip2_staff_card_prefixes: tuple[str, ...]
    sip2_group: str
    # [login.lti13] (settings_login.py)
    lti13_issuer: str
    lti13_client_ids: tuple[str, ...]
    lti13_deployment_ids: tuple[str, ...]
    lti13_authorize_url: str
    lti13_jwks_url: str
    lti13_jwks_timeout_seconds: int
    lti13_teacher_roles: tuple[str, ...]
    lti13_mentor_roles: tuple[str, ...]
    # [kubernetes]
    namespace: str
    learner_image: str
    homes_claim: str
    shared_claim: str
    memory_request_mb: int
    cpu_request: float
    first_uid: int
    first_gid: int

    @property
    def url(self) -> str:
        """The address people type: public_url; else http://<bind_ip>:<port>, where a loopback
        address becomes `localhost` when servers get subdomains (an IP address has none, and
        browsers resolve every *.localhost to this computer)."""
        if self.public_url:
            return self.public_url
        if self.user_subdomains and _is_loopback(self.bind_ip):
            return f"http://localhost:{self.port}"
        return f"http://{self.bind_ip}:{self.port}"

    @property
    def database_url(self) -> str:
        """The hub database: db_url, else SQLite in the data folder."""
        return self.db_url or f"sqlite:///{DataLayout(self.data_dir).db}"

    @property
    def subdomain_host(self) -> str:
        """JupyterHub's `subdomain_host`: the origin of `url` with user_subdomains on, else ""."""
        if not self.user_subdomains:
            return ""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        return False


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


# ------------------------------------------------------------------ checks across keys

_PORTS = tuple(setting for setting in SETTINGS if setting.check is PORT)


def _ports_differ(settings: SiteSettings) -> str | None:
    """The proxy, the hub and every service listen on one machine, so no two may share a port."""
    taken: dict[int, Setting] = {}
    for setting in _PORTS:
        port = getattr(settings, setting.attr)
        if port in taken:
            names = [s.name for s in _PORTS]
            return (
                f"{setting.name} = {port} is also {taken[port].name}; "
                f"{', '.join(names[:-1])} and {names[-1]} must be different ports."
            )
        taken[port] = setting
    return None


def _preheat_fits(settings: SiteSettings) -> str | None:
    """Preheated kernels count among live_kernels, and a visitor must be able to get one."""
    if settings.live_preheat < settings.live_kernels:
        return None
    return (
        f"showcase.live_preheat = {settings.live_preheat} must be less than live_kernels "
        f"({settings.live_kernels}): preheated kernels count among them."
    )


def _requests_fit(settings: SiteSettings) -> str | None:
    """On Kubernetes a pod cannot request more than its limit (the API server refuses the pod)."""
    if settings.spawner != "kubernetes":
        return None
    if settings.memory_mb and settings.memory_request_mb > settings.memory_mb:
        return (
            f"kubernetes.memory_request_mb = {settings.memory_request_mb} is more than limits.memory_mb "
            f"({settings.memory_mb}); a learner's pod cannot set aside more than it may use."
        )
    if settings.cpu and settings.cpu_request > settings.cpu:
        return (
            f"kubernetes.cpu_request = {settings.cpu_request:g} is more than limits.cpu ({settings.cpu:g}); "
            "a learner's pod cannot set aside more than it may use."
        )
    return None


CROSS_CHECKS: tuple[Callable[[SiteSettings], str | None], ...] = (
    _ports_differ,
    _preheat_fits,
    _requests_fit,
    method_problems,
)


def address_problem(settings: SiteSettings) -> str | None:
    """Why the site cannot give each learner's server its own address, or None if it can.

    With user_subdomains a server lives at <name>.<site host>, so the site host must be a
    name that can have sub-names (wildcard DNS), not an IP address.
    """
    if not settings.user_subdomains:
        return None
    host = urlsplit(settings.url).hostname or ""
    if not _is_ip_address(host):
        return None
    given = (
        f"site.public_url = {settings.public_url!r}"
        if settings.public_url
        else f"site.public_url is empty and site.bind_ip = {settings.bind_ip!r}"
    )
    return (
        f"{settings.source}: site.user_subdomains is on, so every learner's server gets its own address, "
        f"<name>.<site host>; that needs a host name, not an IP address ({given}). Set site.public_url to "
        'the site\'s address, e.g. "https://hub.example.org", with a wildcard DNS name *.hub.example.org '
        "for this server; or set site.user_subdomains = false (the README's \"Learners' own addresses\" "
        "says what that risks)."
    )


def settings_warnings(settings: SiteSettings) -> list[str]:
    """Settings that are valid but put people at risk, in words for the site administrator."""
    if settings.user_subdomains:
        return []
    return [
        f"{settings.source}: site.user_subdomains = false: every learner's server answers under the hub's "
        "own address, so a page a learner's code serves there runs with the log-in of whoever opens it, a "
        "teacher or an admin included; it can make API tokens in their name and, with them, reset "
        "passwords or read other learners' work. Keep it on unless every account belongs to someone you "
        'trust (README: "Learners\' own addresses").'
    ]


# ------------------------------------------------------------------ reading


def _tables(raw: dict[str, Any], source: Path) -> dict[str, dict[str, Any]]:
    """The file's sections by name ("login", "login.oidc": a sub-table [login.oidc] is its own section),
    each checked to hold only its declared keys."""
    tables: dict[str, dict[str, Any]] = {}
    pending = [(section, given) for section, given in raw.items()]
    while pending:
        section, given = pending.pop(0)
        if section not in SECTIONS:
            allowed = ", ".join(f"[{s}]" for s in SECTIONS)
            raise SettingsError(f"{source}: unknown section [{section}]; allowed: {allowed}.")
        if not isinstance(given, dict):
            raise SettingsError(f"{source}: {section} must be a section like [{section}].")
        keys = [setting.key for setting in SETTINGS if setting.section == section]
        tables[section] = {}
        for key, value in given.items():
            if f"{section}.{key}" in SECTIONS and isinstance(value, dict):
                pending.append((f"{section}.{key}", value))
            elif key in keys:
                tables[section][key] = value
            else:
                subtables = [s.rpartition(".")[2] for s in SECTIONS if s.startswith(section + ".")]
                allowed = ", ".join(keys + [f"[{section}.{sub}]" for sub in subtables])
                raise SettingsError(f"{source}: unknown key {section}.{key}; allowed in [{section}]: {allowed}.")
    return tables


def parse_settings(raw: dict[str, Any], source: Path) -> SiteSettings:
    """Validate the parsed TOML `raw` (read from `source`) and return SiteSettings.

    Raises:
        SettingsError: naming the file, the key, the bad value and the allowed values.
    """
    tables = _tables(raw, source)
    values = {}
    for setting in SETTINGS:
        value = tables.get(setting.section, {}).get(setting.key, setting.default)
        problem = setting.problem(value)
        if problem:
            raise SettingsError(f"{source}: {problem}")
        values[setting.attr] = setting.kept(value, source.parent)
    settings = SiteSettings(source=source, **values)
    for check in CROSS_CHECKS:
        problem = check(settings)
        if problem:
            raise SettingsError(f"{source}: {problem}")
    return settings


# Environment variables are read where they are set, so a relative folder counts from the
# current directory, not from the settings file.
_FROM_ENVIRONMENT: dict[Any, Callable[[str], Any]] = {int: int, str: str, Path: os.path.abspath}


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Overrides for `load_settings` from the declared variables (CLHUB_PORT, CLHUB_DATA_DIR).

    Raises:
        SettingsError: a variable's value cannot be its setting's type (CLHUB_PORT=abc).
    """
    env = os.environ if environ is None else environ
    overrides: dict[str, Any] = {}
    for setting in SETTINGS:
        given = env.get(setting.env) if setting.env else None
        if not given:
            continue
        try:
            overrides[setting.name] = _FROM_ENVIRONMENT[setting.type](given)
        except ValueError:
            raise SettingsError(
                f"{setting.env}={given!r} is not {setting.type_name()}; it sets {setting.name}."
            ) from None
    return overrides


def load_settings(path: str | os.PathLike[str], overrides: dict[str, Any] | None = None) -> SiteSettings:
    """Read, validate and return the settings file at `path`.

    `overrides` maps "section.key" to a value that replaces the file's (used by
    `clhub demo` for CLHUB_PORT and CLHUB_DATA_DIR); it is validated like the file.

    Raises:
        SettingsError: the file is missing, is not TOML, or a key is wrong.
    """
    source = Path(path).resolve()
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(
            f"The settings file {source} does not exist. Copy hub_config/site.toml and edit it, "
            "or point CLHUB_SITE at yours."
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{source} is not valid TOML: {e}.") from None
    for dotted, value in (overrides or {}).items():
        section, _, key = dotted.partition(".")
        if not key or not isinstance(raw.setdefault(section, {}), dict):
            raise SettingsError(f'{source}: cannot override {dotted!r}; use "section.key" of a [section].')
        raw[section][key] = value
    return parse_settings(raw, source)
