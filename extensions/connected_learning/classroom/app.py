"""The classroom service assembled: every feature module's handlers in one tornado app.

Shaped like JupyterHub's `apihandlers/`: `base` holds the hub client, the handler bases,
the one XSRF policy and the one error mapping; `rules` the authorization each handler
method declares; each feature module (`home`, `moderation`, `accounts`, `assignments`,
`progress`, `showcase`) ends with its `default_handlers`, URL patterns below the service's
prefix, and this module collects them. `folders` keeps the groups' folders in shape.
Imports run one way: this app -> the features -> rules -> base -> the domain modules.

    python -m connected_learning.classroom.app     (started by the hub; see hub/config.py)
"""

from __future__ import annotations

import logging
import os
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler
from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from ..host.base import Host
from ..host.current import current as current_host
from ..settings import SiteSettings, env_overrides, load_settings
from . import accounts, assignments, home, moderation, progress, showcase
from .base import Hub, jinja_environment, log
from .folders import sweep

FEATURES = (home, moderation, accounts, assignments, progress, showcase)


def routes(prefix: str) -> list[tuple[str, type]]:
    """Every URL of the classroom and its handler, each feature module's in turn (first match wins)."""
    found: list[tuple[str, type]] = [(prefix + "oauth_callback", HubOAuthCallbackHandler)]
    for feature in FEATURES:
        found.extend((prefix + pattern, handler) for pattern, handler in feature.default_handlers)
    return found


def make_app(site: SiteSettings, prefix: str, host: Host | None = None) -> web.Application:
    """The service's tornado app; `host` defaults to the one the hub chose (CLHUB_HOST)."""
    jinja = jinja_environment()
    return web.Application(
        routes(prefix),
        cookie_secret=os.urandom(32),
        xsrf_cookies=True,
        hub=Hub(),
        site=site,
        host=host or current_host(site.data_dir),
        prefix=prefix,
        jinja=jinja,
        sweep_seconds=float(os.environ.get("CLHUB_SWEEP_SECONDS", "60")),
        group_prefix=os.environ.get("CLHUB_GROUP_PREFIX", "clhub-"),
    )


def main() -> None:
    # Files the service writes in a course are shared with the group's teachers (formgrader).
    os.umask(0o007)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s classroom] %(message)s")
    site = load_settings(os.environ["CLHUB_SITE"], env_overrides())
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/classroom/")
    app = make_app(site, prefix)
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    HTTPServer(app, xheaders=True).listen(url.port or 80, url.hostname or "127.0.0.1")
    log.info("Classroom service on %s", url.geturl())
    loop = IOLoop.current()
    loop.add_callback(sweep, app)
    loop.add_callback(accounts.removal_sweep, app)
    loop.start()


if __name__ == "__main__":
    main()
