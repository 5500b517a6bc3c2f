"""`[login] method` and the frame that holds the methods: settings refused by name, the hub's
configuration on a bare traitlets `Config()`, and the frame's routes (no hub runs here; the
running hubs are in test_login_oidc.py and the SIP2 and LTI tests)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from traitlets.config import Config

from connected_learning.hub.config import configure
from connected_learning.hub.login_methods import (
    LoginMethodsAuthenticator,
    MethodsLoginHandler,
    MethodsLogoutHandler,
)
from connected_learning.hub.login_oidc import SECRET_ENV, OidcCallbackHandler, OidcLoginHandler, read_client_secret
from connected_learning.settings import SettingsError, load_settings

REPO = Path(__file__).resolve().parents[1]
GOOD_OIDC = '[login.oidc]\nissuer = "https://id.riverside.example/realms/pupils"\nclient_id = "hub"\n'


def site(tmp_path: Path, login: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\ndata_dir = "{tmp_path / "data"}"\nspawner = "demo"\n'
        f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n[login]\n{login}'
    )
    return path


def refused(tmp_path: Path, login: str) -> str:
    with pytest.raises(SettingsError) as raised:
        load_settings(site(tmp_path, login))
    return str(raised.value)


@pytest.mark.parametrize(
    ("login", "words"),
    [
        ('method = "saml"\n', ["login.method", "'saml'", "native, oidc, lti13, sip2"]),
        ('method = ["native", "native"]\n', ["login.method", "twice"]),
        ("method = []\n", ["login.method", "empty list"]),
        ("method = 3\n", ["login.method must be text in quotes or a list"]),
        ('method = ["oidc"]\n[login.oidc]\nissuer = "https://id.example.org"\n', ["login.oidc.client_id is empty"]),
        ('method = "oidc"\n[login.oidc]\nclient_id = "x"\n', ['preset "generic"', "login.oidc.issuer is empty"]),
        (
            'method = "oidc"\n[login.oidc]\npreset = "google"\nclient_id = "x"\n',
            ["login.oidc.allowed_domains is empty", "any Google account"],
        ),
        ('method = "oidc"\n[login.oidc]\npreset = "microsoft"\nclient_id = "x"\n', ["login.oidc.tenant is empty"]),
        ('[login.oidc]\npreset = "microsoft"\ntenant = "common"\n', ["login.oidc.tenant", "any Microsoft account"]),
        ('[login.oidc]\nissuer = "http://id.example.org"\n', ["login.oidc.issuer", "not an https address"]),
        ('[login.oidc]\nallowed_domains = ["Riverside School"]\n', ["login.oidc.allowed_domains", "domain name"]),
        ('[login.oidc]\nlearner_groups = { "y7" = "../etc" }\n', ["login.oidc.learner_groups.y7", "valid user name"]),
        ('[login.oidc]\nteacher_groups = { "staff" = 5 }\n', ["login.oidc.teacher_groups must map text to text"]),
        ('[login.oidc]\nclient_secret = "s3cret"\n', ["unknown key login.oidc.client_secret", "client_secret_file"]),
        ("[login.saml]\nx = 1\n", ["unknown key login.saml", "[login.oidc]"]),
        (
            f'method = "oidc"\n{GOOD_OIDC}learner_groups = {{ "y7" = "art" }}\n',
            ["groups_claim is empty"],
        ),
        (
            f'method = "oidc"\n{GOOD_OIDC}token_url = "https://id.riverside.example/token"\n',
            ["authorize_url, token_url and jwks_url together"],
        ),
    ],
)
def test_a_wrong_login_setting_is_refused_naming_the_key(tmp_path: Path, login: str, words: list[str]) -> None:
    message = refused(tmp_path, login)
    for w in words:
        assert w in message, (w, message)


def test_method_takes_a_name_or_a_list_and_defaults_to_native(tmp_path: Path) -> None:
    assert load_settings(site(tmp_path, "")).login_methods == ("native",)
    assert load_settings(site(tmp_path, f'method = "oidc"\n{GOOD_OIDC}')).login_methods == ("oidc",)
    both = load_settings(site(tmp_path, f'method = ["oidc", "native"]\n{GOOD_OIDC}'))
    assert both.login_methods == ("oidc", "native")
    assert both.oidc_learner_groups == () and both.oidc_button_label == "Sign in with your school account"


def secret_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "client-secret"
    path.write_text("the-real-secret\n")
    os.chmod(path, mode)
    return path


def configured(tmp_path: Path, login: str) -> Config:
    c = Config()
    configure(c, str(site(tmp_path, login)), mode="demo")
    return c


def test_only_native_keeps_todays_authenticator(tmp_path: Path) -> None:
    c = configured(tmp_path, "")
    assert c.JupyterHub.authenticator_class == "connected_learning.hub.authenticator.ClhubAuthenticator"
    assert "LoginMethodsAuthenticator" not in c and "OidcAuthenticator" not in c


def test_school_accounts_configure_the_frame_and_read_the_secret_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret = secret_file(tmp_path, 0o600)
    c = configured(tmp_path, f'method = ["native", "oidc"]\n{GOOD_OIDC}client_secret_file = "{secret}"\n')
    assert c.JupyterHub.authenticator_class == "connected_learning.hub.login_methods.LoginMethodsAuthenticator"
    assert c.LoginMethodsAuthenticator.login_methods == ["native", "oidc"]
    assert c.OidcAuthenticator.client_secret == "the-real-secret"
    assert c.OidcAuthenticator.scope == ["openid", "profile"]  # never "email"
    assert c.OidcAuthenticator.allow_all is True and c.OidcAuthenticator.manage_roles is True
    # The class lists' settings still reach the frame (it is a ClhubAuthenticator).
    assert c.ClhubAuthenticator.roles_file.endswith("site-roles.json")


def test_a_secret_file_others_can_read_stops_the_hub_without_showing_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    secret = secret_file(tmp_path, 0o644)
    with pytest.raises(SettingsError) as raised:
        configured(tmp_path, f'method = "oidc"\n{GOOD_OIDC}client_secret_file = "{secret}"\n')
    message = str(raised.value)
    assert str(secret) in message and "chmod 600" in message and "the-real-secret" not in message
    # Control: the same file made private is read.
    os.chmod(secret, 0o600)
    assert read_client_secret(str(secret), {}) == "the-real-secret"


def test_the_environment_variable_wins_and_a_missing_secret_is_named(tmp_path: Path) -> None:
    assert read_client_secret(str(tmp_path / "nowhere"), {SECRET_ENV: "from-env"}) == "from-env"
    with pytest.raises(Exception, match="cannot be read"):
        read_client_secret(str(tmp_path / "nowhere"), {})
    with pytest.raises(Exception, match=SECRET_ENV):
        read_client_secret("", {})
    link = tmp_path / "link"
    link.symlink_to(secret_file(tmp_path, 0o600))
    with pytest.raises(Exception, match="cannot be read"):  # a symlink is not followed
        read_client_secret(str(link), {})


def frame_of(methods: list[str]) -> LoginMethodsAuthenticator:
    """The frame as the hub makes it: with the hub's database session (here a fresh one in memory)."""
    from jupyterhub import orm

    c = Config()
    c.LoginMethodsAuthenticator.login_methods = methods
    return LoginMethodsAuthenticator(config=c, _deprecated_db_session=orm.new_session_factory("sqlite://")())


def routes(methods: list[str]) -> dict[str, type]:
    return dict(frame_of(methods).get_handlers(None))


def test_the_frame_routes_each_method_and_keeps_passwords_only_when_native_is_on() -> None:
    both = routes(["native", "oidc"])
    assert both["/login"] is MethodsLoginHandler and both["/logout"] is MethodsLogoutHandler
    assert both["/oauth_login"] is OidcLoginHandler and both["/oauth_callback"] is OidcCallbackHandler
    assert "/change-password" in both
    school_only = routes(["oidc"])
    assert school_only["/login"] is MethodsLoginHandler
    assert "/change-password" not in school_only and "/signup" not in school_only


def test_the_frame_checks_no_password_when_native_is_off() -> None:
    frame = frame_of(["oidc"])
    assert list(frame.methods) == ["oidc"] and frame.methods["oidc"].parent is frame
    assert frame.methods["oidc"]._deprecated_db_session is frame._deprecated_db_session  # the hub's session
    # Without "native" the password form's check answers no, before it looks at any account.
    assert asyncio.run(frame.authenticate(None, {"username": "anyone", "password": "whatever"})) is None


def test_an_unknown_method_is_refused_by_the_frame_too() -> None:
    with pytest.raises(ValueError, match="kerberos"):
        frame_of(["native", "kerberos"])
