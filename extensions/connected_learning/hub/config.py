"""Turn validated site settings into JupyterHub configuration.

`hub/jupyterhub_config.py` calls `configure(c)`; everything a site can change
comes from the settings file (see `settings.py`), everything else is decided here once:
NativeAuthenticator with lock-out, the workbook spawner, the data folder layout, the idle
culler service, logout that stops the server, and short cookies for shared computers.

`configure` only reads and sets configuration: folders, secrets and system users are made
by `prepare.prepare_site`, which `launch.start_hub` runs before the hub starts.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..accounts import removal
from ..accounts.store import PASSWORD_CHANGES
from ..catalog.load import Catalog, load_catalog
from ..host.base import Host
from ..host.current import for_site
from ..paths import DataLayout
from ..peer_review import folders
from ..settings import (
    DEFAULT_SITE,
    USERNAME_PATTERN,
    SettingsError,
    SiteSettings,
    address_problem,
    env_overrides,
    load_settings,
)
from . import template
from .database import driver_url, libpq_environment
from .prepare import PROXY_TOKEN
from .recovery import SITE_MARKER, site_marker

CLASSROOM_PREFIX = "/services/classroom/"
GROUP_PREFIX = "clhub-"
TEMPLATES = Path(__file__).parent / "templates"
DEMO_WARNING = (
    "Demo mode: every account runs as the same system user, so accounts are "
    "<strong>not isolated from each other</strong>. Do not use this for real learners."
)


def insecure_site_warning(url: str) -> str:
    """What to tell the administrator when people reach the site over plain http; "" if not.

    The log-in page does not say it: a learner cannot act on it. This computer's own
    addresses (localhost, 127.0.0.1, *.localhost) never leave it, so they need no https.
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or host == "localhost" or host.endswith(".localhost"):
        return ""
    try:
        if ipaddress.ip_address(host).is_loopback:
            return ""
    except ValueError:
        pass
    return (
        f"This site is served over plain http ({url}): passwords and learners' work cross the network "
        "unencrypted. Put it behind https (a reverse proxy with a certificate) and set site.public_url "
        'to the https address, e.g. "https://hub.example.org".'
    )


def proxy_command() -> list[str]:
    """The configurable-http-proxy to run: CLHUB_PROXY, then the one beside this Python (`make`
    links the checkout's npm install there), then PATH."""
    for candidate in (
        os.environ.get("CLHUB_PROXY", ""),
        str(Path(sys.executable).parent / "configurable-http-proxy"),
        shutil.which("configurable-http-proxy") or "",
    ):
        if candidate and os.access(candidate, os.X_OK):
            return [candidate]
    raise SystemExit(
        "configurable-http-proxy was not found. Run `make install` in the checkout (it installs it "
        "from npm beside this Python), or set CLHUB_PROXY to its path."
    )


def display_name(layout: DataLayout, user: str) -> str:
    """The name peers see for `user`: from the class list (display-names.json), else the user name."""
    from ..accounts.store import read_display_names

    return read_display_names(layout).get(user) or user


def display_name_of(layout: DataLayout, user: Any) -> str:
    """`display_name` for the hub's pages (a template variable gets the hub's User, or None)."""
    return display_name(layout, user.name) if user is not None else ""


def subdomain_hook(name: str, domain: str, kind: str) -> str:
    """JupyterHub's `subdomain_hook`: where a user's server or a service lives.

    A user's server gets its own origin, <name>.<hub host> (JupyterHub's own IDNA naming,
    e.g. ana.hub.example.org); services stay on the hub's host itself, so that the classroom
    and the showcase keep their addresses (<hub host>/services/<name>/) and need no DNS name
    of their own. JupyterHub's default would put each at <name>--service.<hub host>.
    """
    from jupyterhub.utils import subdomain_hook_idna

    if kind == "service":
        return domain
    return str(subdomain_hook_idna(name, domain, kind))


def check_site(settings: SiteSettings) -> Catalog:
    """Check the settings against the catalog; return the catalog.

    Raises:
        CatalogError: a workbook.toml or interests.toml is broken (file and key named).
        SettingsError: the settings name an interest or workbook the catalog lacks.
    """
    problem = address_problem(settings)
    if problem:
        raise SettingsError(problem)
    catalog = load_catalog(settings.catalog_dir)
    for key in settings.interests:
        if key not in catalog.interests:
            raise SettingsError(
                f"{settings.source}: workbooks.interests names {key!r}, which the catalog "
                f"does not know; known: {', '.join(catalog.interests)}."
            )
    for wid in settings.everyone:
        if wid not in catalog.workbooks:
            raise SettingsError(
                f"{settings.source}: workbooks.everyone names {wid!r}, which is not a "
                f"workbook of the catalog; known: {', '.join(sorted(catalog.workbooks))}."
            )
    return catalog


def _translations() -> dict[str, str]:
    """The site's extra translation folders for family pages (showcase/messages.py), passed on when set."""
    folders = os.environ.get("CLHUB_SHOWCASE_TRANSLATIONS", "")
    return {"CLHUB_SHOWCASE_TRANSLATIONS": folders} if folders else {}


def _showcase_service(
    name: str, port: int, module: str, user: str, host: Host, environment: dict[str, str]
) -> dict[str, Any]:
    """A showcase service: no log-in, run by its own system user where the host has them."""
    service: dict[str, Any] = {
        "name": name,
        "oauth_no_confirm": True,
        "url": f"http://127.0.0.1:{port}",
        "command": [sys.executable, "-m", module],
        "cwd": "/",
        "environment": {**environment, **host.environment(), **_translations()},
    }
    run_as = host.service_user(user)
    if run_as:
        service["user"] = run_as
    return service


def showcase_service(settings: SiteSettings, host: Host) -> dict[str, Any]:
    """The family-facing showcase service: published pages, by token."""
    from ..showcase.publish import SHOWCASE_USER

    return _showcase_service(
        "showcase",
        settings.showcase_port,
        "connected_learning.showcase.service",
        SHOWCASE_USER,
        host,
        {
            "CLHUB_SHOWCASE_PAGES": str(Path(settings.data_dir) / "showcase" / "pages"),
            "CLHUB_PUBLIC_URL": settings.public_url,
        },
    )


def showcase_live_service(settings: SiteSettings, host: Host) -> dict[str, Any]:
    """The "Play with it" service: Voila for published notebooks."""
    from ..showcase.publish import LIVE_USER

    return _showcase_service(
        "showcase-live",
        settings.showcase_live_port,
        "connected_learning.showcase.live",
        LIVE_USER,
        host,
        {
            "CLHUB_SHOWCASE_LIVE": str(Path(settings.data_dir) / "showcase" / "live"),
            "CLHUB_LIVE_KERNELS": str(settings.live_kernels),
            "CLHUB_LIVE_MEMORY_MB": str(settings.live_kernel_memory_mb),
            "CLHUB_LIVE_IDLE_SECONDS": str(settings.live_idle_minutes * 60),
            "CLHUB_LIVE_PREHEAT": str(settings.live_preheat),
            "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        },
    )


def configure(c: Any, site_file: str | None = None, mode: str | None = None) -> SiteSettings:
    """Apply the site settings to the JupyterHub config object `c` and return them.

    Args:
        c: the `get_config()` object of jupyterhub_config.py.
        site_file: the settings file; default CLHUB_SITE, else `settings.DEFAULT_SITE`.
        mode: "site" (a real site: servers survive a hub restart) or "demo" (stop
            everything on exit); default CLHUB_MODE, else "site".
    """
    site_file = site_file or os.environ.get("CLHUB_SITE") or str(DEFAULT_SITE)
    mode = mode or os.environ.get("CLHUB_MODE", "site")
    settings = load_settings(site_file, env_overrides())
    check_site(settings)
    layout = DataLayout(settings.data_dir)

    # Where things live, and secrets that survive a restart (so servers do too).
    c.JupyterHub.db_url = driver_url(settings.database_url)
    c.JupyterHub.cookie_secret_file = str(layout.hub / "jupyterhub_cookie_secret")
    proxy_token = layout.hub / PROXY_TOKEN  # made by prepare_site; absent: a new token each start
    if proxy_token.is_file():
        c.ConfigurableHTTPProxy.auth_token = proxy_token.read_text().strip()
    c.ConfigurableHTTPProxy.pid_file = str(layout.hub / "proxy.pid")
    c.ConfigurableHTTPProxy.command = proxy_command()
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    configure_addresses(c, settings)
    c.JupyterHub.ip = settings.bind_ip
    c.JupyterHub.port = settings.port
    c.JupyterHub.hub_ip = "127.0.0.1"
    c.JupyterHub.hub_port = settings.hub_port
    c.JupyterHub.cleanup_servers = mode == "demo"
    c.JupyterHub.cleanup_proxy = True

    configure_login(c, settings, layout)

    # The workbook spawner.
    host = for_site(settings.spawner, settings.data_dir)
    c.JupyterHub.spawner_class = host.spawner
    classroom_url = f"http://127.0.0.1:{settings.classroom_port}"
    configure_workbooks(c, settings, layout, classroom_url)
    c.DemoWorkbookSpawner.homes_dir = str(layout.homes)
    c.LocalWorkbookSpawner.max_processes = settings.max_processes
    c.LocalWorkbookSpawner.disk_mb = settings.disk_mb
    c.LocalWorkbookSpawner.disks_dir = str(layout.disks)
    c.LocalWorkbookSpawner.system_group_prefix = GROUP_PREFIX
    c.LocalWorkbookSpawner.start_template = settings.start_template
    c.Spawner.cmd = [str(Path(sys.executable).parent / template.SINGLEUSER)]

    configure_pages(c, settings, host)

    services, roles = services_and_roles(settings, host, layout, classroom_url)
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = roles
    return settings


def configure_addresses(c: Any, settings: SiteSettings) -> None:
    """The site's public address and each learner's server on an origin of its own (one machine and Kubernetes)."""
    if settings.public_url:
        c.JupyterHub.public_url = settings.public_url + "/"
    if settings.subdomain_host:
        # A learner's server runs code the learner controls: on its own origin, what it serves
        # cannot act with a visitor's hub log-in (JupyterHub's answer for untrusted users).
        c.JupyterHub.subdomain_host = settings.subdomain_host
        c.JupyterHub.subdomain_hook = subdomain_hook
        # Domain-locked `__Host-` cookies: a learner's subdomain cannot toss a cookie onto the
        # hub's host (JupyterHub's advisory GHSA-7r3h-4ph8-w38g asks for both together).
        # Browsers take them over https only, so a plain-http demo goes without.
        c.JupyterHub.cookie_host_prefix_enabled = settings.subdomain_host.startswith("https://")


def configure_login(c: Any, settings: SiteSettings, layout: DataLayout) -> None:
    """Log-in, accounts and sessions: the same on one machine and on Kubernetes (`kube_config.py`)."""
    # Log-in: accounts come from clhub and class lists, never from the open internet.
    c.JupyterHub.authenticator_class = "connected_learning.hub.authenticator.ClhubAuthenticator"
    c.Authenticator.allow_all = False
    c.Authenticator.allow_existing_users = True
    c.Authenticator.admin_users = set(settings.admin_users)
    c.Authenticator.username_pattern = USERNAME_PATTERN
    c.NativeAuthenticator.enable_signup = settings.self_signup
    c.NativeAuthenticator.open_signup = False
    c.NativeAuthenticator.minimum_password_length = settings.min_password_length
    c.NativeAuthenticator.check_common_password = True
    # Guessing is braked per browser (ClhubAuthenticator's brake), never by locking the account.
    c.NativeAuthenticator.allowed_failed_logins = 0
    c.ClhubAuthenticator.brake_free_failures = settings.failed_logins_before_lockout
    c.ClhubAuthenticator.brake_longest_wait_seconds = settings.lockout_seconds
    c.ClhubAuthenticator.brake_address_failures = settings.failed_logins_from_one_address
    c.ClhubAuthenticator.trusted_proxies = list(settings.trusted_proxies)
    # Teacher and mentor roles come from the site's roles file, at log-in and every minute.
    c.ClhubAuthenticator.manage_roles = True
    c.ClhubAuthenticator.reset_managed_roles_on_startup = True
    c.ClhubAuthenticator.roles_file = str(layout.roles_file)
    c.ClhubAuthenticator.password_changes_file = str(layout.hub / PASSWORD_CHANGES)
    c.ClhubAuthenticator.pending_removals_file = str(layout.hub / removal.PENDING)
    c.Authenticator.auth_refresh_age = 60
    configure_methods(c, settings, layout)

    # Shared library computers: short log-ins, and logging out stops the server.
    c.JupyterHub.cookie_max_age_days = settings.cookie_lifetime_hours / 24
    c.JupyterHub.shutdown_on_logout = True  # a server still starting too (hub/sessions.py)
    # No hub page or API answer is kept by the browser: Back after logging out shows nothing personal.
    c.JupyterHub.tornado_settings = {"headers": {"Cache-Control": "no-store"}}
    if settings.public_url.startswith("https://"):
        # Behind an https front the hub's proxy speaks plain http to the hub, and JupyterHub marks
        # only its log-in cookies Secure (from public_url): the form token's cookie takes these too.
        c.JupyterHub.tornado_settings["cookie_options"] = {"secure": True}
    c.JupyterHub.redirect_to_server = True


def configure_methods(c: Any, settings: SiteSettings, layout: DataLayout) -> None:
    """`[login] method`: with only "native" the log-in above, as always; otherwise the frame that holds
    every method (`login_methods.LoginMethodsAuthenticator`, a ClhubAuthenticator) and each method's traits."""
    methods = settings.login_methods
    if methods == ("native",):
        return
    c.JupyterHub.authenticator_class = "connected_learning.hub.login_methods.LoginMethodsAuthenticator"
    c.LoginMethodsAuthenticator.login_methods = list(methods)
    if "oidc" in methods:
        from .login_oidc import OidcSettingsError, configure_oidc

        try:
            configure_oidc(c, settings, str(layout.root))
        except OidcSettingsError as e:
            raise SettingsError(f"{settings.source}: {e}") from None
    if "sip2" in methods:
        from .login_sip2 import configure_sip2

        configure_sip2(c, settings, layout)
    if "lti13" in methods:
        from .login_lti import configure_lti13

        configure_lti13(c, settings, layout)


def configure_workbooks(c: Any, settings: SiteSettings, layout: DataLayout, classroom_url: str) -> None:
    """The workbook spawner's traits and the limits every learner's server gets, wherever it runs.

    `classroom_url`: the classroom service's address as learners' servers reach it, without its prefix
    (reports and showcase proposals call it).
    """
    c.WorkbookSpawnerMixin.catalog_dir = str(settings.catalog_dir)
    c.WorkbookSpawnerMixin.everyone_workbooks = list(settings.everyone)
    c.WorkbookSpawnerMixin.offered_interests = list(settings.interests)
    c.WorkbookSpawnerMixin.interests_dir = str(layout.interests)
    c.WorkbookSpawnerMixin.releases_dir = str(layout.releases)
    c.WorkbookSpawnerMixin.data_dir = str(layout.root)
    c.WorkbookSpawnerMixin.group_policy = functools.partial(folders.policy_for, settings)
    c.WorkbookSpawnerMixin.display_name = functools.partial(display_name, layout)
    c.WorkbookSpawnerMixin.classroom_url = classroom_url + CLASSROOM_PREFIX
    c.WorkbookSpawnerMixin.kernel_template = settings.kernel_template
    # The whole address of a family link, which a learner's server shows (showcase/cli.py `site_link`).
    c.Spawner.environment = {"CLHUB_SITE_URL": settings.url}
    # A learner's server token may also call the classroom service (reports from a notebook).
    c.Spawner.server_token_scopes = [
        "users:activity!user",
        "access:servers!server",
        "access:services!service=classroom",
    ]
    c.Spawner.start_timeout = settings.start_timeout_seconds
    c.Spawner.http_timeout = settings.start_timeout_seconds
    if settings.memory_mb:
        c.Spawner.mem_limit = f"{settings.memory_mb}M"
    if settings.cpu:
        c.Spawner.cpu_limit = settings.cpu


def configure_pages(c: Any, settings: SiteSettings, host: Host) -> None:
    """The hub's pages: templates, the interests page, log-out handlers, where people land."""
    # Pages: the site's name everywhere, the interests page, and a plain warning in demo mode.
    c.JupyterHub.template_paths = [str(TEMPLATES)]
    template_vars: dict[str, Any] = {"clhub_site_name": settings.name}
    if settings.login_methods != ("native",):
        from .login_methods import has_password

        template_vars["clhub_has_password"] = has_password
        # Someone without a password here (school account, library card, learning platform) is greeted by
        # their display name ("Grace H."): their user name (c-qw2ufpcuow) means nothing to them.
        template_vars["clhub_display_name"] = functools.partial(display_name_of, DataLayout(settings.data_dir))
    if host.demo:
        template_vars["announcement"] = DEMO_WARNING
    insecure = insecure_site_warning(settings.url)
    if insecure:
        # For the administrator: in the hub's log at every start, and on an admin's Home page.
        logging.getLogger("JupyterHub").warning(insecure)
        template_vars["clhub_insecure_warning"] = insecure
    c.JupyterHub.template_vars = template_vars
    from .handlers import InterestsHandler, landing_url
    from .sessions import default_handlers as session_handlers

    c.JupyterHub.extra_handlers = [(r"/interests", InterestsHandler), *session_handlers]
    # After logging in, teachers and admins land on the classroom, learners on their space.
    c.JupyterHub.default_url = functools.partial(landing_url, CLASSROOM_PREFIX)


def services_and_roles(
    settings: SiteSettings, host: Host, layout: DataLayout, classroom_url: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The hub's services (as the hub starts them on one machine) and the roles they and users get.

    `classroom_url`: where the classroom service listens.
    """
    # Stop idle servers, so a forgotten session on a library computer ends by itself.
    roles: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    if settings.idle_timeout_minutes:
        services.append(
            {
                "name": "idle-culler",
                "command": [
                    sys.executable,
                    "-m",
                    "jupyterhub_idle_culler",
                    f"--timeout={settings.idle_timeout_minutes * 60}",
                    f"--cull-every={max(30, min(300, settings.idle_timeout_minutes * 15))}",
                ],
            }
        )
        roles.append(
            {
                "name": "idle-culler",
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": ["idle-culler"],
            }
        )
    # The classroom service: moderation now, class lists and assignments as they land.
    services.append(
        {
            "name": "classroom",
            "display": True,
            "oauth_no_confirm": True,
            "url": classroom_url,
            "command": [sys.executable, "-m", "connected_learning.classroom.app"],
            "environment": {
                "CLHUB_SITE": str(settings.source),
                "CLHUB_DATA_DIR": str(settings.data_dir),
                "CLHUB_PORT": str(settings.port),
                "CLHUB_GROUP_PREFIX": GROUP_PREFIX,
                # It writes passwords into the hub database: the same one, wherever it was named.
                "CLHUB_DB_URL": settings.database_url,
                **libpq_environment(),
                **host.environment(),
                **_translations(),
                # nbgrader runs `alembic` and `jupyter` from PATH: this environment's first.
                "PATH": os.pathsep.join(
                    [str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
                ),
            },
        }
    )
    roles.append(
        {
            "name": "classroom-service",
            "description": "Reads users, their roles and groups, to decide who may do what; creates the "
            "accounts and groups of imported class lists.",
            "scopes": [
                "list:users",
                "read:users",
                "read:roles:users",
                "list:groups",
                "read:groups",
                "admin:users",
                "admin:groups",
            ],
            "services": ["classroom"],
        }
    )
    services.append(showcase_service(settings, host))
    if settings.showcase_live:
        services.append(showcase_live_service(settings, host))
    # Every user may open the classroom service; what they may do there is its own check.
    roles.append({"name": "user", "scopes": ["self", "access:services!service=classroom"]})
    for service in services:  # so that the next start finds this site's leftovers (recovery.py)
        service.setdefault("environment", {})[SITE_MARKER] = site_marker(layout.root)
    return services, roles
