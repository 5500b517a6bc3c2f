"""The site settings file: the shipped ones load, and every mistake is named precisely.

A site administrator reads these messages, so each one must name the file, the key, the
bad value and what is allowed. Settings files are written to tmp_path.
"""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from pathlib import Path

import pytest

from connected_learning.cli import main
from connected_learning.settings import (
    SETTINGS,
    Setting,
    SettingsError,
    SiteSettings,
    address_problem,
    env_overrides,
    load_settings,
    settings_reference,
    settings_warnings,
    validate_username,
)
from connected_learning.settings_schema import SECTIONS, toml_value

REPO = Path(__file__).resolve().parents[1]
SITE = REPO / "hub_config" / "site.toml"
DEMO = REPO / "hub_config" / "demo.toml"


def settings_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(text)
    return path


def error_for(path: Path, overrides: dict[str, object] | None = None) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(path, overrides)
    assert raised.value.code == "bad-settings"
    return str(raised.value)


# ------------------------------------------------------------------ the shipped files


def test_the_shipped_site_settings_load() -> None:
    s = load_settings(SITE)
    assert s.source == SITE
    assert (s.bind_ip, s.port, s.spawner, s.admin_users) == ("0.0.0.0", 8000, "auto", ("admin",))
    assert s.catalog_dir == REPO / "workbooks"
    assert s.data_dir == Path("/var/lib/clhub")
    assert s.everyone == ("start-here",) and s.interests == ()
    assert s.url == "http://0.0.0.0:8000"
    assert s.user_subdomains


def test_the_shipped_demo_settings_load() -> None:
    s = load_settings(DEMO)
    assert (s.bind_ip, s.port) == ("127.0.0.1", 8000)
    assert s.data_dir == (REPO / ".clhub-demo").resolve()
    assert s.catalog_dir == REPO / "workbooks"
    assert s.idle_timeout_minutes == 60
    # Learners' servers on *.localhost, which browsers resolve to this computer.
    assert s.user_subdomains and s.url == s.subdomain_host == "http://localhost:8000"


def test_clhub_settings_check_passes_on_the_shipped_demo_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "check", str(DEMO)]) == 0
    out, err = capsys.readouterr()
    assert "is fine." in out and err == ""


def test_the_shipped_site_file_asks_for_the_sites_address(capsys: pytest.CaptureFixture[str]) -> None:
    # A real site must say where people reach it: servers get <name>.<that host> (step 2 of the README).
    assert main(["settings", "check", str(SITE)]) == 2
    err = capsys.readouterr().err
    for words in (
        str(SITE),
        "site.public_url is empty and site.bind_ip = '0.0.0.0'",
        "not an IP address",
        '"https://hub.example.org"',
        "*.hub.example.org",
        "site.user_subdomains = false",
    ):
        assert words in err, f"{words!r} not in {err!r}"


def test_defaults_apply_to_an_empty_file(tmp_path: Path) -> None:
    s = load_settings(settings_file(tmp_path, ""))
    for setting in SETTINGS:
        value = getattr(s, setting.attr)
        if setting.type is Path:
            assert value == (tmp_path / setting.default).resolve(), setting.name
        elif isinstance(setting.default, list):
            assert value == tuple(setting.default), setting.name
        elif isinstance(setting.default, dict):
            assert value == tuple(sorted(setting.default.items())), setting.name
        else:
            assert value == setting.default, setting.name
    assert s.url == "http://localhost:8000"  # 127.0.0.1 has no subdomains; localhost does


def test_relative_paths_count_from_the_settings_file(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "clhub"
    folder.mkdir(parents=True)
    path = folder / "site.toml"
    path.write_text('[site]\ndata_dir = "data"\n[workbooks]\ncatalog_dir = "../catalog"\n')
    s = load_settings(path)
    assert s.data_dir == folder / "data"
    assert s.catalog_dir == tmp_path / "etc" / "catalog"
    assert s.source == path


def test_absolute_paths_are_kept(tmp_path: Path) -> None:
    s = load_settings(settings_file(tmp_path, f'[site]\ndata_dir = "{tmp_path / "d"}"\n'))
    assert s.data_dir == tmp_path / "d"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://lab.example.org", "https://lab.example.org"),
        ("https://lab.example.org/", "https://lab.example.org"),
        ("http://10.0.0.5:8000/hub", "http://10.0.0.5:8000/hub"),
    ],
)
def test_public_url_is_kept_without_a_trailing_slash(tmp_path: Path, given: str, expected: str) -> None:
    s = load_settings(settings_file(tmp_path, f'[site]\npublic_url = "{given}"\n'))
    assert s.public_url == expected and s.url == expected


@pytest.mark.parametrize(
    ("text", "attr", "value"),
    [
        ("[limits]\ncpu = 2\n", "cpu", 2.0),
        ("[limits]\ncpu = 0.5\n", "cpu", 0.5),
        ("[login]\ncookie_lifetime_hours = 0.5\n", "cookie_lifetime_hours", 0.5),
        ("[login]\ncookie_lifetime_hours = 720\n", "cookie_lifetime_hours", 720.0),
        ("[site]\nport = 1\n", "port", 1),
        ("[site]\nport = 65535\n", "port", 65535),
        ("[login]\nself_signup = true\n", "self_signup", True),
        ("[site]\nuser_subdomains = false\n", "user_subdomains", False),
        ('[site]\nadmin_users = ["admin", "it-desk", "c_ai"]\n', "admin_users", ("admin", "it-desk", "c_ai")),
    ],
)
def test_good_values_are_accepted(tmp_path: Path, text: str, attr: str, value: object) -> None:
    assert getattr(load_settings(settings_file(tmp_path, text)), attr) == value


# ------------------------------------------------------------------ mistakes

BAD: list[tuple[str, str, list[str]]] = [
    # (what, file text, words the message must contain besides the file's path)
    (
        "unknown-section",
        "[sitee]\nport = 80\n",
        ["unknown section [sitee]", "[site], [workbooks], [limits], [peer_review], [showcase], [login]"],
    ),
    ("section-not-a-table", "site = 3\n", ["site must be a section like [site]"]),
    ("unknown-key", "[site]\nprot = 80\n", ["unknown key site.prot", "allowed in [site]:", "port", "public_url"]),
    ("key-in-wrong-section", "[limits]\nport = 80\n", ["unknown key limits.port", "memory_mb"]),
    ("port-as-text", '[site]\nport = "80"\n', ["site.port", "a whole number", "'80'"]),
    ("port-as-bool", "[site]\nport = true\n", ["site.port", "a whole number", "True"]),
    ("port-as-float", "[site]\nport = 80.0\n", ["site.port", "a whole number", "80.0"]),
    ("cpu-as-text", '[limits]\ncpu = "1"\n', ["limits.cpu", "a whole number or a number", "'1'"]),
    ("cpu-as-bool", "[limits]\ncpu = true\n", ["limits.cpu", "True"]),
    ("signup-as-number", "[login]\nself_signup = 1\n", ["login.self_signup", "true or false", "1"]),
    ("name-as-number", "[site]\nname = 5\n", ["site.name", "text in quotes", "5"]),
    ("admins-as-text", '[site]\nadmin_users = "admin"\n', ["site.admin_users", "a list", "'admin'"]),
    ("admins-with-number", "[site]\nadmin_users = [1]\n", ["site.admin_users", "list of text", "1 is not text"]),
    ("interests-with-number", "[workbooks]\ninterests = [1]\n", ["workbooks.interests", "1"]),
    ("port-zero", "[site]\nport = 0\n", ["site.port = 0", "out of range", "1-65535"]),
    ("classroom-port-clash", "[site]\nclassroom_port = 8000\n", ["site.classroom_port", "must be different ports"]),
    ("showcase-port-clash", "[site]\nshowcase_port = 8082\n", ["site.showcase_port", "must be different ports"]),
    ("live-port-clash", "[site]\nshowcase_live_port = 8083\n", ["site.showcase_live_port", "must be different ports"]),
    ("live-kernels-zero", "[showcase]\nlive_kernels = 0\n", ["showcase.live_kernels = 0", "between 1 and 200"]),
    ("live-memory-tiny", "[showcase]\nlive_kernel_memory_mb = 64\n", ["showcase.live_kernel_memory_mb = 64"]),
    ("live-idle-zero", "[showcase]\nlive_idle_minutes = 0\n", ["showcase.live_idle_minutes = 0", "0.1 and 240"]),
    (
        "live-preheat-all",
        "[showcase]\nlive_kernels = 2\nlive_preheat = 2\n",
        ["showcase.live_preheat = 2", "less than live_kernels"],
    ),
    ("live-as-text", '[showcase]\nlive = "yes"\n', ["showcase.live", "true or false"]),
    ("piece-mb-zero", "[peer_review]\nmax_piece_mb = 0\n", ["peer_review.max_piece_mb = 0", "0.1-500"]),
    ("type-without-dot", '[peer_review]\nallowed_types = ["png"]\n', ["peer_review.allowed_types", "'png'"]),
    ("off-group-path", '[peer_review]\noff_for_groups = ["../x"]\n', ["peer_review.off_for_groups", "'../x'"]),
    (
        "anonymous-as-text",
        '[peer_review]\nanonymous_feedback = "yes"\n',
        ["peer_review.anonymous_feedback", "true or false"],
    ),
    ("port-too-big", "[site]\nport = 65536\n", ["site.port = 65536", "1-65535"]),
    ("hub-port-negative", "[site]\nhub_port = -1\n", ["site.hub_port = -1", "1-65535"]),
    ("api-port-too-big", "[site]\nproxy_api_port = 70000\n", ["site.proxy_api_port = 70000"]),
    (
        "same-port-twice",
        "[site]\nport = 8081\n",
        [
            "site.port, site.hub_port, site.proxy_api_port, site.classroom_port, site.showcase_port and "
            "site.showcase_live_port",
            "must be different ports",
        ],
    ),
    ("same-port-api", "[site]\nproxy_api_port = 8000\n", ["site.proxy_api_port = 8000 is also site.port"]),
    ("subdomains-as-text", '[site]\nuser_subdomains = "yes"\n', ["site.user_subdomains", "true or false"]),
    ("bad-spawner", '[site]\nspawner = "cloud"\n', ["site.spawner = 'cloud'", "auto, local, demo, kubernetes"]),
    (
        "public-url-no-scheme",
        '[site]\npublic_url = "lab.example.org"\n',
        ["site.public_url = 'lab.example.org'", "not a web address", "https://"],
    ),
    ("public-url-ftp", '[site]\npublic_url = "ftp://lab.example.org"\n', ["site.public_url"]),
    ("public-url-space", '[site]\npublic_url = "https://lab example.org"\n', ["site.public_url"]),
    ("public-url-javascript", '[site]\npublic_url = "javascript:alert(1)"\n', ["site.public_url"]),
    (
        "public-url-newline",
        '[site]\npublic_url = "https://lab.example.org\\n"\n',
        ["site.public_url", "not a web address"],
    ),
    ("cookie-zero", "[login]\ncookie_lifetime_hours = 0\n", ["login.cookie_lifetime_hours = 0", "more than 0", "720"]),
    ("cookie-too-long", "[login]\ncookie_lifetime_hours = 721\n", ["login.cookie_lifetime_hours = 721", "at most 720"]),
    ("memory-negative", "[limits]\nmemory_mb = -1\n", ["limits.memory_mb = -1", "0 or more"]),
    ("cpu-negative", "[limits]\ncpu = -0.5\n", ["limits.cpu = -0.5", "0 or more"]),
    (
        "start-timeout-short",
        "[limits]\nstart_timeout_seconds = 9\n",
        ["limits.start_timeout_seconds = 9", "10 or more"],
    ),
    (
        "password-too-short",
        "[login]\nmin_password_length = 3\n",
        ["login.min_password_length = 3", "between 4 and 128"],
    ),
    (
        "lockout-after-zero",
        "[login]\nfailed_logins_before_lockout = 0\n",
        ["login.failed_logins_before_lockout = 0", "1 or more"],
    ),
    (
        "address-brake-zero",
        "[login]\nfailed_logins_from_one_address = 0\n",
        ["login.failed_logins_from_one_address = 0", "1 or more"],
    ),
    (
        "trusted-proxy-host-name",
        '[login]\ntrusted_proxies = ["127.0.0.1", "proxy.example.org"]\n',
        ["login.trusted_proxies", "'proxy.example.org' is not an address or a network", "10.0.0.0/8"],
    ),
    ("trusted-proxy-not-text", "[login]\ntrusted_proxies = [10]\n", ["login.trusted_proxies", "10"]),
    (
        "admin-path",
        '[site]\nadmin_users = ["admin", "../root"]\n',
        ["site.admin_users", "'../root'", "not a valid user name", "lowercase"],
    ),
    ("admin-capital", '[site]\nadmin_users = ["Admin"]\n', ["site.admin_users", "'Admin'"]),
    ("admin-newline", '[site]\nadmin_users = ["ana\\n"]\n', ["site.admin_users", "'ana\\n'"]),
    ("invalid-toml", "[site]\nport = \n", ["is not valid TOML", "line 2"]),
    ("duplicate-key", "[site]\nport = 1\nport = 2\n", ["is not valid TOML"]),
]


@pytest.mark.parametrize(("text", "words"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_each_mistake_names_the_file_key_and_what_is_allowed(tmp_path: Path, text: str, words: list[str]) -> None:
    path = settings_file(tmp_path, text)
    message = error_for(path)
    assert message.startswith(str(path)), message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_a_missing_file_says_what_to_do(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "site.toml"
    message = error_for(missing)
    assert str(missing) in message and "does not exist" in message
    assert "hub_config/site.toml" in message and "CLHUB_SITE" in message


@pytest.mark.parametrize("what", ["unknown-key", "port-as-text", "admin-path", "invalid-toml"])
def test_clhub_settings_check_fails_with_one_clear_line(
    tmp_path: Path, what: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = next(b[1] for b in BAD if b[0] == what)
    path = settings_file(tmp_path, text)
    assert main(["settings", "check", str(path)]) != 0
    err = capsys.readouterr().err
    assert err.startswith("clhub: ") and str(path) in err and "Traceback" not in err


def test_clhub_settings_check_knows_the_catalog(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = settings_file(
        tmp_path, f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\ninterests = ["music", "zz-unknown"]\n'
    )
    assert main(["settings", "check", str(path)]) != 0
    err = capsys.readouterr().err
    assert "workbooks.interests" in err and "'zz-unknown'" in err and "music" in err
    path.write_text(f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\neveryone = ["nope"]\n')
    assert main(["settings", "check", str(path)]) != 0
    err = capsys.readouterr().err
    assert "workbooks.everyone" in err and "'nope'" in err and "start-here" in err


# ------------------------------------------------------------------ overrides


def test_overrides_replace_the_files_values(tmp_path: Path) -> None:
    path = settings_file(tmp_path, "[site]\nport = 8000\n")
    s = load_settings(path, {"site.port": 9000, "site.data_dir": str(tmp_path / "demo-data")})
    assert s.port == 9000 and s.data_dir == tmp_path / "demo-data"
    assert path.read_text() == "[site]\nport = 8000\n"
    assert load_settings(path).port == 8000


def test_overrides_reach_a_section_the_file_lacks(tmp_path: Path) -> None:
    s = load_settings(settings_file(tmp_path, ""), {"limits.memory_mb": 512})
    assert s.memory_mb == 512


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"site.port": "9000"}, ["site.port", "a whole number", "'9000'"]),
        ({"site.port": 70000}, ["site.port = 70000", "1-65535"]),
        ({"site.port": 8081}, ["site.hub_port = 8081 is also site.port", "must be different ports"]),
        ({"site.prot": 9000}, ["unknown key site.prot"]),
        ({"sitex.port": 9000}, ["unknown section [sitex]"]),
    ],
)
def test_overrides_are_validated_like_the_file(tmp_path: Path, overrides: dict[str, object], words: list[str]) -> None:
    message = error_for(settings_file(tmp_path, ""), overrides)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


def test_the_shipped_demo_file_takes_a_port_override() -> None:
    assert load_settings(DEMO, {"site.port": 18000}).url == "http://localhost:18000"


# ------------------------------------------------------------------ learners' own addresses


@pytest.mark.parametrize(
    ("text", "url", "subdomain_host"),
    [
        ("", "http://localhost:8000", "http://localhost:8000"),
        ('[site]\nbind_ip = "127.0.0.5"\nport = 9000\n', "http://localhost:9000", "http://localhost:9000"),
        ('[site]\npublic_url = "https://hub.example.org"\n', "https://hub.example.org", "https://hub.example.org"),
        (
            '[site]\npublic_url = "http://lab.library.lan:8000/"\nbind_ip = "0.0.0.0"\n',
            "http://lab.library.lan:8000",
            "http://lab.library.lan:8000",
        ),
        ("[site]\nuser_subdomains = false\n", "http://127.0.0.1:8000", ""),
        ('[site]\nuser_subdomains = false\npublic_url = "https://hub.example.org"\n', "https://hub.example.org", ""),
    ],
)
def test_servers_get_subdomains_of_the_sites_host(tmp_path: Path, text: str, url: str, subdomain_host: str) -> None:
    s = load_settings(settings_file(tmp_path, text))
    assert (s.url, s.subdomain_host) == (url, subdomain_host)
    assert address_problem(s) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[site]\nbind_ip = "0.0.0.0"\n', ["site.public_url is empty and site.bind_ip = '0.0.0.0'"]),
        ('[site]\nbind_ip = "192.168.1.20"\n', ["site.bind_ip = '192.168.1.20'"]),
        ('[site]\npublic_url = "http://10.0.0.5:8000"\n', ["site.public_url = 'http://10.0.0.5:8000'"]),
        ('[site]\npublic_url = "http://[::1]:8000"\n', ["site.public_url = 'http://[::1]:8000'"]),
    ],
)
def test_subdomains_need_a_host_name(
    tmp_path: Path, text: str, words: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = settings_file(tmp_path, f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n' + text)
    problem = address_problem(load_settings(path)) or ""
    for word in [str(path), "not an IP address", "*.hub.example.org", "site.user_subdomains = false", *words]:
        assert word in problem, f"{word!r} not in {problem!r}"
    assert main(["settings", "check", str(path)]) == 2
    assert capsys.readouterr().err == f"clhub: {problem}\n"
    # The same site without subdomains is valid (with a warning).
    path.write_text(path.read_text().replace("[site]\n", "[site]\nuser_subdomains = false\n"))
    assert main(["settings", "check", str(path)]) == 0


def test_settings_check_warns_when_servers_share_the_hubs_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = settings_file(
        tmp_path, f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n[site]\nuser_subdomains = false\n'
    )
    assert settings_warnings(load_settings(DEMO)) == []
    assert main(["settings", "check", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "is fine, with 1 warning(s)." in out
    assert err.startswith(f"clhub: warning: {path}: site.user_subdomains = false")
    for words in ("log-in of whoever opens it", "a teacher or an admin", "make API tokens", "reset passwords"):
        assert words in err


def test_the_hub_puts_servers_on_subdomains_and_services_on_its_own_host(tmp_path: Path) -> None:
    from traitlets.config import Config

    from connected_learning.hub.config import configure

    text = (
        f'[site]\ndata_dir = "data"\nspawner = "demo"\nport = 8123\n[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n'
    )
    c = Config()
    configure(c, str(settings_file(tmp_path, text)), mode="demo")
    assert c.JupyterHub.subdomain_host == "http://localhost:8123"
    hook = c.JupyterHub.subdomain_hook
    assert hook("ana", "localhost", "user") == "ana.localhost"
    assert hook("c_ai", "localhost", "user").endswith(".localhost")  # JupyterHub's IDNA escape for "_"
    for service in c.JupyterHub.services:
        assert hook(service["name"], "localhost", "service") == "localhost"

    off = Config()
    configure(
        off, str(settings_file(tmp_path, text.replace("[site]\n", "[site]\nuser_subdomains = false\n"))), mode="demo"
    )
    assert "subdomain_host" not in off.JupyterHub and "subdomain_hook" not in off.JupyterHub
    assert c.JupyterHub.cookie_host_prefix_enabled is False  # plain http: browsers would drop them

    secure = Config()
    configure(
        secure,
        str(settings_file(tmp_path, text.replace("[site]\n", '[site]\npublic_url = "https://hub.example.org"\n'))),
        mode="demo",
    )
    assert secure.JupyterHub.subdomain_host == "https://hub.example.org"
    assert secure.JupyterHub.cookie_host_prefix_enabled is True


# ------------------------------------------------------------------ user names


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "a/b",
        "Ana",
        "a b",
        "",
        "x" * 40,
        "ana.smith",
        "-ana",
        "1ana",
        "_ana",
        "ana\n",
        "ana\x00",
        "ana\\b",
        "x" * 32,
        None,
        7,
    ],
)
def test_validate_username_refuses_unsafe_names(name: object) -> None:
    with pytest.raises(SettingsError) as raised:
        validate_username(name)  # type: ignore[arg-type]
    message = str(raised.value)
    assert repr(name) in message and "lowercase letters" in message


@pytest.mark.parametrize("name", ["ana", "ben-2", "c_ai", "a", "x" * 31])
def test_validate_username_accepts_safe_names(name: str) -> None:
    assert validate_username(name) == name


# ------------------------------------------------------------------ the declarations
# Generated from SETTINGS, so that a new setting is covered without a new test.


def setting_id(setting: Setting) -> str:
    return setting.name


def test_each_declaration_is_one_key_and_one_field() -> None:
    names = [setting.name for setting in SETTINGS]
    attrs = [setting.attr for setting in SETTINGS]
    assert len(set(names)) == len(names) and len(set(attrs)) == len(attrs)
    assert sorted(f.name for f in dataclasses.fields(SiteSettings)) == sorted(["source", *attrs])
    assert not [f.name for f in dataclasses.fields(SiteSettings) if f.default is not dataclasses.MISSING], (
        "defaults live in the declarations only"
    )


def test_each_field_holds_what_its_annotation_says(tmp_path: Path) -> None:
    s = load_settings(settings_file(tmp_path, ""))
    hints = typing.get_type_hints(SiteSettings)
    for setting in SETTINGS:
        hint = hints[setting.attr]
        value = getattr(s, setting.attr)
        assert isinstance(value, typing.get_origin(hint) or hint), setting.name
        assert not isinstance(value, bool) or hint is bool, setting.name
        if hint == tuple[str, ...]:
            assert all(isinstance(item, str) for item in value), setting.name


@pytest.mark.parametrize("setting", SETTINGS, ids=setting_id)
def test_each_default_passes_its_own_check(setting: Setting) -> None:
    assert setting.problem(setting.default) is None


@pytest.mark.parametrize("setting", SETTINGS, ids=setting_id)
def test_a_wrong_type_is_refused_for_each_key(tmp_path: Path, setting: Setting) -> None:
    takes_text = setting.type in (str, Path) or (isinstance(setting.type, tuple) and str in setting.type)
    wrong = 5 if takes_text else "5"
    path = settings_file(tmp_path, f"[{setting.section}]\n{setting.key} = {toml_value(wrong)}\n")
    message = error_for(path)
    for words in (str(path), setting.name, f"must be {setting.type_name()}", repr(wrong)):
        assert words in message, f"{words!r} not in {message!r}"


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.type is list], ids=setting_id)
def test_a_list_of_something_other_than_text_is_refused(tmp_path: Path, setting: Setting) -> None:
    message = error_for(settings_file(tmp_path, f"[{setting.section}]\n{setting.key} = [5]\n"))
    assert f"{setting.name} must be a list of text values; 5 is not text." in message


@pytest.mark.parametrize("section", SECTIONS)
def test_an_unknown_key_is_refused_naming_every_known_one(tmp_path: Path, section: str) -> None:
    path = settings_file(tmp_path, f"[{section}]\nno_such_key = 1\n")
    subtables = [f"[{s}]" for s in SECTIONS if s.startswith(section + ".")]  # [login.oidc] in [login]
    known = ", ".join([setting.key for setting in SETTINGS if setting.section == section] + subtables)
    assert error_for(path) == f"{path}: unknown key {section}.no_such_key; allowed in [{section}]: {known}."


def test_a_help_text_that_states_the_default_states_the_declared_one() -> None:
    for setting in SETTINGS:
        if "Default " in setting.help:
            assert re.search(rf"Default {re.escape(toml_value(setting.default))}[.:]", setting.help), setting.name


EXAMPLE_VALUES = {"site.db_url": "postgresql://clhub@db.example.org/clhub"}  # settings whose default is empty


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.env], ids=setting_id)
def test_each_environment_override_reaches_its_setting(tmp_path: Path, setting: Setting) -> None:
    given = str(setting.default) or EXAMPLE_VALUES[setting.name]
    overrides = env_overrides({setting.env: given, "CLHUB_UNRELATED": "x"})
    assert list(overrides) == [setting.name]
    s = load_settings(settings_file(tmp_path, ""), overrides)
    assert getattr(s, setting.attr) == setting.kept(overrides[setting.name], tmp_path)
    assert env_overrides({setting.env: ""}) == {}


def test_environment_overrides_are_read_from_the_current_folder_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert env_overrides({"CLHUB_PORT": "9000", "CLHUB_DATA_DIR": "data"}) == {
        "site.port": 9000,
        "site.data_dir": os.path.join(tmp_path, "data"),
    }
    with pytest.raises(SettingsError) as raised:
        env_overrides({"CLHUB_PORT": "eighty"})
    for words in ("CLHUB_PORT='eighty'", "a whole number", "site.port"):
        assert words in str(raised.value)


# ------------------------------------------------------------------ reference


def test_the_reference_mentions_every_section_key_and_help_text() -> None:
    reference = settings_reference()
    for section in SECTIONS:
        assert f"### [{section}]" in reference
    for setting in SETTINGS:
        section = reference.split(f"### [{setting.section}]")[1].split("### [")[0]
        assert f"| `{setting.key}` | `{toml_value(setting.default)}` | {setting.help} |" in section, setting.name


def test_the_reference_shows_defaults_as_toml() -> None:
    reference = settings_reference()
    assert "| `port` | `8000` |" in reference
    assert '| `admin_users` | `["admin"]` |' in reference
    assert "| `self_signup` | `false` |" in reference
    rows = [line for line in reference.splitlines() if re.match(r"\| `\w+` \|", line)]
    assert len(rows) == len(SETTINGS)


def test_clhub_settings_reference_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["settings", "reference"]) == 0
    assert capsys.readouterr().out == settings_reference()


def test_the_spawners_are_registered_for_jupyterhub() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep.load().__name__ for ep in entry_points(group="jupyterhub.spawners")}
    assert found["workbook-local"] == "LocalWorkbookSpawner"
    assert found["workbook-demo"] == "DemoWorkbookSpawner"


def test_the_hubs_own_user_name_pattern_refuses_a_trailing_newline() -> None:
    """JupyterHub checks `username_pattern` with re.match: "$" would let "ana\\n" through."""
    import re

    from connected_learning.hub.config import USERNAME_PATTERN

    assert re.match(USERNAME_PATTERN, "ana") and re.match(USERNAME_PATTERN, "a" * 31)
    for bad in ("ana\n", "Ana", "a" * 32, "ana/x", "-ana"):
        assert not re.match(USERNAME_PATTERN, bad), bad
