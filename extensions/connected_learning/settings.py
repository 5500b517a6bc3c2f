"""The site settings file: one TOML file a site administrator edits.

`load_settings` reads it, checks every key against `SCHEMA` and returns a frozen
`SiteSettings`. A bad file raises `SettingsError` whose message names the file, the key,
the bad value and what is allowed, so that the hub refuses to start with a message a
library's IT person can act on. Nothing here touches JupyterHub; `hub.config` applies the
result.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .errors import ClhubError

SPAWNERS = ("auto", "local", "demo")

# (section, key) -> (type, default, help). The help text is the settings reference that
# the README shows (`clhub settings`), so it states units, the default and an example.
SCHEMA: dict[str, dict[str, tuple[type | tuple[type, ...], Any, str]]] = {
    "site": {
        "name": (
            str,
            "Connected Learning Hub",
            'Name shown on every page. Example: "Riverside Library Lab".',
        ),
        "public_url": (
            str,
            "",
            'Address people type, e.g. "https://lab.riverside.org"; learners\' servers get '
            "subdomains of its host. Empty: http://<bind_ip>:<port>, with localhost for 127.0.0.1 "
            "(a real site with user_subdomains must set it).",
        ),
        "bind_ip": (
            str,
            "127.0.0.1",
            'Address the proxy listens on. "0.0.0.0" for every network interface.',
        ),
        "port": (
            int,
            8000,
            "Port the proxy listens on, 1-65535. Default 8000.",
        ),
        "hub_port": (
            int,
            8081,
            "Port of the hub itself on 127.0.0.1, used by servers and services. Default 8081.",
        ),
        "proxy_api_port": (
            int,
            8001,
            "Port of the proxy's control API on 127.0.0.1. Default 8001.",
        ),
        "classroom_port": (
            int,
            8082,
            "Port of the classroom service on 127.0.0.1 (teachers' pages, moderation); people "
            "reach it through the proxy at /services/classroom/. Default 8082.",
        ),
        "showcase_port": (
            int,
            8083,
            "Port of the showcase service on 127.0.0.1 (published pieces for families, no log-in); "
            "people reach it through the proxy at /services/showcase/. Default 8083.",
        ),
        "showcase_live_port": (
            int,
            8084,
            'Port of the live showcase ("Play with it", Voila) on 127.0.0.1; people reach it '
            "through the proxy at /services/showcase-live/. Default 8084.",
        ),
        "data_dir": (
            str,
            "/var/lib/clhub",
            "Folder for the hub database, secrets, group folders and showcase. Relative paths count from this file.",
        ),
        "admin_users": (
            list,
            ["admin"],
            'Hub accounts with full admin rights. Example: ["admin", "it-desk"].',
        ),
        "user_subdomains": (
            bool,
            True,
            "Give each learner's server its own address, <name>.<site host> (e.g. "
            "https://ana.hub.example.org/user/ana/), so that a page served by a learner's code "
            "cannot act with the log-in of whoever opens it. Needs a wildcard DNS name "
            "(*.hub.example.org) and, with https, a wildcard certificate; the demo uses "
            "*.localhost. Default true. false puts every server under the hub's own address "
            '(see "Learners\' own addresses" in the README for what that risks).',
        ),
        "spawner": (
            str,
            "auto",
            'How servers start: "local" (a real system user each, needs root), "demo" '
            '(all as the invoking user, not isolated), "auto" (local when run as root, '
            "else demo).",
        ),
    },
    "workbooks": {
        "catalog_dir": (
            str,
            "../workbooks",
            "Folder of the workbook catalog. Relative paths count from this file.",
        ),
        "interests": (
            list,
            [],
            "Interests offered in the form, keys of the catalog's interests.toml. Empty: "
            "every interest that has a workbook.",
        ),
        "everyone": (
            list,
            ["start-here"],
            "Workbook ids every learner gets, whatever their interests.",
        ),
    },
    "limits": {
        "memory_mb": (
            int,
            1024,
            "Memory limit of each learner's server in MB (0: none). Default 1024. Enforced where the "
            "spawner can (Kubernetes); on one machine it is passed to the server as MEM_LIMIT.",
        ),
        "cpu": (
            (int, float),
            1.0,
            "CPU cores each learner's server may use (0: no limit). Default 1.0. Enforced where the "
            "spawner can (Kubernetes); on one machine it is passed to the server as CPU_LIMIT.",
        ),
        "max_processes": (
            int,
            256,
            "Most processes one learner may run at once (0: no limit), stops fork bombs. Default 256.",
        ),
        "idle_timeout_minutes": (
            int,
            30,
            "Stop a server after this many idle minutes (0: never). Default 30.",
        ),
        "start_timeout_seconds": (
            int,
            120,
            "Give up on a server that is not ready after this many seconds. Default 120.",
        ),
    },
    "peer_review": {
        "enabled": (
            bool,
            True,
            "Peer-review folders for every group. Default true.",
        ),
        "off_for_groups": (
            list,
            [],
            'Groups without peer review (their folder is kept but closed). Example: ["year7-maths"].',
        ),
        "anonymous_feedback": (
            bool,
            False,
            "Hide reviewers' names from authors in every group (teachers still see them). Default false.",
        ),
        "anonymous_for_groups": (
            list,
            [],
            'Groups with anonymous feedback even when anonymous_feedback is false. Example: ["library-club"].',
        ),
        "max_piece_mb": (
            (int, float),
            10,
            "Largest piece a learner may share, all its files together, in MB (0.1-500). Default 10.",
        ),
        "allowed_types": (
            list,
            [".ipynb", ".png", ".jpg", ".jpeg", ".gif", ".wav", ".md", ".txt", ".csv", ".html", ".json"],
            "File types a piece may hold, as name endings.",
        ),
    },
    "showcase": {
        "live": (
            bool,
            True,
            'Offer "Play with it", the live version of published notebooks (Voila, no '
            "log-in, run as the system user clhub-live). Default true.",
        ),
        "live_kernels": (
            int,
            8,
            "Most live kernels at once, preheated ones included (1-200); visitors beyond it "
            "see the saved version with a note. Default 8.",
        ),
        "live_kernel_memory_mb": (
            int,
            768,
            "Address-space limit of each live kernel in MB (512-8192); a bare kernel reserves about 350. Default 768.",
        ),
        "live_idle_minutes": (
            (int, float),
            5,
            "Stop a live kernel nobody has used for this many minutes (0.1-240). Default 5.",
        ),
        "live_preheat": (
            int,
            2,
            "Live kernels kept started and run for the most recently opened pieces, so the "
            "next visitor gets the page at once (0: none; less than live_kernels). Default 2.",
        ),
    },
    "login": {
        "cookie_lifetime_hours": (
            (int, float),
            4,
            "How long a log-in lasts on a computer, in hours (0 < h <= 720). Default 4: "
            "short, for shared library computers.",
        ),
        "min_password_length": (
            int,
            8,
            "Shortest password accepted, 4-128 characters. Default 8.",
        ),
        "failed_logins_before_lockout": (
            int,
            5,
            "Failed log-ins in a row before an account is locked for a while. Default 5.",
        ),
        "lockout_seconds": (
            int,
            600,
            "How long a locked account waits, in seconds. Default 600.",
        ),
        "self_signup": (
            bool,
            False,
            "Let visitors create their own accounts (an admin still approves them). Default "
            "false: accounts come from `clhub` and class lists.",
        ),
    },
}

# Keys whose SiteSettings field has another name ([peer_review] enabled -> peer_review).
FIELD_NAMES = {"enabled": "peer_review", "live": "showcase_live"}
USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{0,30}\Z"  # \Z: "$" lets "ana\n" through
_USERNAME = re.compile(USERNAME_PATTERN)


@dataclass(frozen=True)
class SiteSettings:
    """Validated site settings; paths are absolute."""

    source: Path
    name: str
    public_url: str
    bind_ip: str
    port: int
    hub_port: int
    proxy_api_port: int
    data_dir: Path
    admin_users: tuple[str, ...]
    spawner: str
    catalog_dir: Path
    interests: tuple[str, ...]
    everyone: tuple[str, ...]
    memory_mb: int
    cpu: float
    max_processes: int
    idle_timeout_minutes: int
    start_timeout_seconds: int
    cookie_lifetime_hours: float
    min_password_length: int
    failed_logins_before_lockout: int
    lockout_seconds: int
    self_signup: bool
    classroom_port: int = 8082
    showcase_port: int = 8083
    showcase_live_port: int = 8084
    showcase_live: bool = True
    live_kernels: int = 8
    live_kernel_memory_mb: int = 768
    live_idle_minutes: float = 5.0
    live_preheat: int = 2
    peer_review: bool = True
    off_for_groups: tuple[str, ...] = ()
    anonymous_feedback: bool = False
    anonymous_for_groups: tuple[str, ...] = ()
    max_piece_mb: float = 10.0
    allowed_types: tuple[str, ...] = ()
    user_subdomains: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

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
    def subdomain_host(self) -> str:
        """JupyterHub's `subdomain_host`: the origin of `url` with user_subdomains on, else ""."""
        if not self.user_subdomains:
            return ""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


class SettingsError(ClhubError):
    code = "bad-settings"


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


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        int: "a whole number",
        float: "a number",
        str: "text in quotes",
        bool: "true or false",
        list: 'a list like ["a", "b"]',
    }
    if isinstance(expected, tuple):
        return " or ".join(names[t] for t in expected)
    return names[expected]


def _check_type(where: str, value: Any, expected: type | tuple[type, ...]) -> None:
    types = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int in Python; a port of `true` is still a mistake.
    ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
    if not ok:
        raise SettingsError(f"{where} must be {_type_name(expected)}, not {value!r}.")


def _str_list(where: str, value: list[Any]) -> tuple[str, ...]:
    for item in value:
        if not isinstance(item, str):
            raise SettingsError(f"{where} must be a list of text values; {item!r} is not text.")
    return tuple(value)


def validate_username(name: str) -> str:
    """Return `name` if it is a safe account name, else raise SettingsError.

    Account names become system user names and folder names, so only lowercase
    letters, digits, '-' and '_' are accepted, starting with a letter, at most 31
    characters: no path characters, no spaces, no dots.
    """
    if not isinstance(name, str) or not _USERNAME.match(name):
        raise SettingsError(
            f"{name!r} is not a valid user name: use 1-31 lowercase letters, digits, '-' or "
            "'_', starting with a letter (no spaces, dots or slashes)."
        )
    return name


def parse_settings(raw: dict[str, Any], source: Path) -> SiteSettings:
    """Validate the parsed TOML `raw` (read from `source`) and return SiteSettings.

    Raises:
        SettingsError: naming the file, the key and the allowed values.
    """
    where_file = str(source)
    values: dict[str, Any] = {}
    for section in raw:
        if section not in SCHEMA:
            raise SettingsError(
                f"{where_file}: unknown section [{section}]; allowed: " + ", ".join(f"[{s}]" for s in SCHEMA) + "."
            )
        if not isinstance(raw[section], dict):
            raise SettingsError(f"{where_file}: {section} must be a section like [{section}].")
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        for key in given:
            if key not in keys:
                raise SettingsError(
                    f"{where_file}: unknown key {section}.{key}; allowed in [{section}]: " + ", ".join(keys) + "."
                )
        for key, (expected, default, _help) in keys.items():
            value = given.get(key, default)
            _check_type(f"{where_file}: {section}.{key}", value, expected)
            values[key] = value

    def bad(key: str, why: str) -> SettingsError:
        section = next(s for s, k in SCHEMA.items() if key in k)
        return SettingsError(f"{where_file}: {section}.{key} = {values[key]!r} {why}")

    if values["spawner"] not in SPAWNERS:
        raise bad("spawner", "is not allowed; use one of: " + ", ".join(SPAWNERS) + ".")
    ports = ("port", "hub_port", "proxy_api_port", "classroom_port", "showcase_port", "showcase_live_port")
    for key in ports:
        if not 1 <= values[key] <= 65535:
            raise bad(key, "is out of range; use 1-65535.")
    if len({values[key] for key in ports}) < len(ports):
        raise SettingsError(
            f"{where_file}: site.port, site.hub_port, site.proxy_api_port, site.classroom_port, "
            "site.showcase_port and site.showcase_live_port must be six different ports."
        )
    if not 0.1 <= values["max_piece_mb"] <= 500:
        raise bad("max_piece_mb", "is out of range; use 0.1-500.")
    allowed_types = _str_list(f"{where_file}: peer_review.allowed_types", values["allowed_types"])
    for suffix in allowed_types:
        if not re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
            raise SettingsError(
                f"{where_file}: peer_review.allowed_types: {suffix!r} is not a file ending "
                'like ".png" (a dot, then lowercase letters or digits).'
            )
    group_lists = {}
    for key in ("off_for_groups", "anonymous_for_groups"):
        group_lists[key] = _str_list(f"{where_file}: peer_review.{key}", values[key])
        for group in group_lists[key]:
            try:
                validate_username(group)
            except SettingsError as e:
                raise SettingsError(f"{where_file}: peer_review.{key}: {e}") from None
    if values["public_url"] and not re.match(r"^https?://[^\s/]+(/[^\s]*)?\Z", values["public_url"]):
        raise bad("public_url", 'is not a web address; example: "https://lab.example.org".')
    for key in ("memory_mb", "max_processes", "idle_timeout_minutes", "lockout_seconds"):
        if values[key] < 0:
            raise bad(key, "must be 0 or more.")
    if values["cpu"] < 0:
        raise bad("cpu", "must be 0 or more.")
    if values["start_timeout_seconds"] < 10:
        raise bad("start_timeout_seconds", "is too short; use 10 or more.")
    if not 0 < values["cookie_lifetime_hours"] <= 720:
        raise bad("cookie_lifetime_hours", "must be more than 0 and at most 720 (30 days).")
    if not 4 <= values["min_password_length"] <= 128:
        raise bad("min_password_length", "must be between 4 and 128.")
    if not 1 <= values["live_kernels"] <= 200:
        raise bad("live_kernels", "must be between 1 and 200.")
    if not 512 <= values["live_kernel_memory_mb"] <= 8192:
        raise bad("live_kernel_memory_mb", "must be between 512 and 8192.")
    if not 0.1 <= values["live_idle_minutes"] <= 240:
        raise bad("live_idle_minutes", "must be between 0.1 and 240.")
    if not 0 <= values["live_preheat"] < values["live_kernels"]:
        raise bad("live_preheat", "must be 0 or more and less than live_kernels.")
    if values["failed_logins_before_lockout"] < 1:
        raise bad("failed_logins_before_lockout", "must be 1 or more.")
    admins = _str_list(f"{where_file}: site.admin_users", values["admin_users"])
    for admin in admins:
        try:
            validate_username(admin)
        except SettingsError as e:
            raise SettingsError(f"{where_file}: site.admin_users: {e}") from None

    base = source.parent
    return SiteSettings(
        source=source,
        name=values["name"],
        public_url=values["public_url"].rstrip("/"),
        bind_ip=values["bind_ip"],
        port=values["port"],
        hub_port=values["hub_port"],
        proxy_api_port=values["proxy_api_port"],
        data_dir=(base / values["data_dir"]).resolve(),
        admin_users=admins,
        spawner=values["spawner"],
        catalog_dir=(base / values["catalog_dir"]).resolve(),
        interests=_str_list(f"{where_file}: workbooks.interests", values["interests"]),
        everyone=_str_list(f"{where_file}: workbooks.everyone", values["everyone"]),
        memory_mb=values["memory_mb"],
        cpu=float(values["cpu"]),
        max_processes=values["max_processes"],
        idle_timeout_minutes=values["idle_timeout_minutes"],
        start_timeout_seconds=values["start_timeout_seconds"],
        cookie_lifetime_hours=float(values["cookie_lifetime_hours"]),
        min_password_length=values["min_password_length"],
        failed_logins_before_lockout=values["failed_logins_before_lockout"],
        lockout_seconds=values["lockout_seconds"],
        self_signup=values["self_signup"],
        classroom_port=values["classroom_port"],
        showcase_port=values["showcase_port"],
        showcase_live_port=values["showcase_live_port"],
        showcase_live=values["live"],
        live_kernels=values["live_kernels"],
        live_kernel_memory_mb=values["live_kernel_memory_mb"],
        live_idle_minutes=float(values["live_idle_minutes"]),
        live_preheat=values["live_preheat"],
        peer_review=values["enabled"],
        off_for_groups=group_lists["off_for_groups"],
        anonymous_feedback=values["anonymous_feedback"],
        anonymous_for_groups=group_lists["anonymous_for_groups"],
        max_piece_mb=float(values["max_piece_mb"]),
        allowed_types=allowed_types,
        user_subdomains=values["user_subdomains"],
    )


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """Overrides from CLHUB_PORT and CLHUB_DATA_DIR, for `load_settings`.

    Raises:
        SettingsError: CLHUB_PORT is not a whole number.
    """
    env = os.environ if environ is None else environ
    overrides: dict[str, Any] = {}
    if env.get("CLHUB_PORT"):
        try:
            overrides["site.port"] = int(env["CLHUB_PORT"])
        except ValueError:
            raise SettingsError(f"CLHUB_PORT={env['CLHUB_PORT']!r} is not a port number.") from None
    if env.get("CLHUB_DATA_DIR"):
        overrides["site.data_dir"] = os.path.abspath(env["CLHUB_DATA_DIR"])
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


def settings_reference() -> str:
    """The settings reference in Markdown, generated from SCHEMA's help texts."""
    lines = []
    for section, keys in SCHEMA.items():
        lines.append(f"\n### [{section}]\n\n| key | default | meaning |\n| --- | --- | --- |")
        for key, (_t, default, help_text) in keys.items():
            shown = repr(default).replace("'", '"') if not isinstance(default, bool) else str(default).lower()
            lines.append(f"| `{key}` | `{shown}` | {help_text} |")
    return "\n".join(lines).strip() + "\n"
