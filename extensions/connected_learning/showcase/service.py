"""The showcase service at /services/showcase/: published pieces for families, no account needed.

A JupyterHub-managed service without the hub's OAuth: a parent opens a link or scans a QR
code on a phone. It serves only what `publish.approve` wrote, by token, and nothing
else: the token must match a strict pattern before the disk is touched, the page is opened
without following symlinks, and any other path gets the same friendly 404. On a real site it
runs as the system user `clhub-showcase`, which can read the published pages and nobody's
home, the hub's files or the group folders.

    GET /services/showcase/p/<token>        the page (Content-Security-Policy: sandbox)
    GET /services/showcase/p/<token>/card   a printable card with the link and its QR code

    python -m connected_learning.showcase.service     (started by the hub; see hub/config.py)
"""

from __future__ import annotations

import gzip
import html
import json
import logging
import os
import re
import stat
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.ioloop import IOLoop

from .card import CARD_FILE, render_card
from .messages import message
from .publish import PAGE, TOKEN, family_link

log = logging.getLogger("clhub.showcase")
MAX_PAGE_BYTES = 30_000_000
# Stored by browsers and proxies, but asked again each time (a 304 when unchanged, from
# tornado's ETag): a withdrawn page must not live on in a phone's cache.
CACHE_CONTROL = "public, no-cache"
# No scripts, no same-origin: a page cannot read the hub's cookies or call its API.
PAGE_CSP = "sandbox"
CARD_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
TOKEN_PART = r"([A-Za-z0-9_-]{32})"

MAX_CARD_BYTES = 1_000_000


NOT_FOUND_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1d1d1f}h2{font-size:1.5rem}"
)


def not_found_page(title_key: str = "not_found_title") -> str:
    """The page for a link that leads nowhere, in every language the pages speak."""
    from .messages import page_in_every_language

    def part(code: str, heading: str) -> str:
        return (
            f"<{heading}>{html.escape(message(title_key, code))}</{heading}>\n"
            f"<p>{html.escape(message('not_found_text', code))}</p>"
        )

    return page_in_every_language(title_key, part, NOT_FOUND_STYLE)


@dataclass(frozen=True)
class Page:
    data: bytes
    gzipped: bytes
    key: tuple[int, int, int, int]

    def etag(self, gzipped: bool) -> str:
        return '"{}-{}-{}-{}{}"'.format(*self.key, "-gz" if gzipped else "")


class PageCache:
    """The most recently served pages, each with its gzip, checked against the file's identity."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.pages: OrderedDict[str, Page] = OrderedDict()

    def get(self, token: str, key: tuple[int, int, int, int]) -> Page | None:
        page = self.pages.get(token)
        if page is None or page.key != key:
            return None
        self.pages.move_to_end(token)
        return page

    def put(self, token: str, key: tuple[int, int, int, int], data: bytes) -> Page:
        page = Page(data, gzip.compress(data, compresslevel=6, mtime=0), key)
        self.pages[token] = page
        self.pages.move_to_end(token)
        while len(self.pages) > self.size:
            self.pages.popitem(last=False)
        return page


class Base(web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Content-Security-Policy", PAGE_CSP)
        self.set_header("X-Frame-Options", "DENY")
        self.clear_header("Server")

    @property
    def pages(self) -> Path:
        return self.settings["pages"]

    def page(self, token: str) -> Page:
        """The stored page of `token`, never through a symlink; 404 when there is none.

        Every request looks at the file (so a withdrawn page is gone at once); its bytes and
        their gzip are kept in memory while the file is the same one.
        """
        if not TOKEN.match(token):
            raise web.HTTPError(404)
        try:
            dir_fd = os.open(self.pages / token, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            raise web.HTTPError(404) from None
        try:
            info = os.stat(PAGE, dir_fd=dir_fd, follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                raise web.HTTPError(404)
            key = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
            cache: PageCache = self.settings["page_cache"]
            found = cache.get(token, key)
            if found is None:
                from ..peer_review.pieces import read_bytes

                found = cache.put(token, key, read_bytes(dir_fd, PAGE, MAX_PAGE_BYTES))
            return found
        except OSError:
            raise web.HTTPError(404) from None
        finally:
            os.close(dir_fd)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Visitors never see a traceback; the log has it (tornado logs 5xx with exc_info).
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(not_found_page("not_found_title" if status_code == 404 else "error_title"))


class PageHandler(Base):
    def get(self, token: str) -> None:
        self.send(self.page(token), body=True)

    def head(self, token: str) -> None:
        self.send(self.page(token), body=False)

    def send(self, page: Page, body: bool) -> None:
        gzipped = "gzip" in self.request.headers.get("Accept-Encoding", "")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", CACHE_CONTROL)
        self.set_header("Etag", page.etag(gzipped))
        if self.check_etag_header():
            self.set_status(304)
            self.finish()
            return
        data = page.gzipped if gzipped else page.data
        if gzipped:
            self.set_header("Content-Encoding", "gzip")  # tornado's own gzip then leaves it alone
        self.set_header("Content-Length", len(data))  # tornado adds "Vary: Accept-Encoding"
        self.finish(data if body else None)


class CardHandler(Base):
    def get(self, token: str) -> None:
        self.page(token)  # only a published piece has a card
        site = self.settings["public_url"] or f"{self.request.protocol}://{self.request.host}"
        link = site.rstrip("/") + family_link(token)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", CARD_CSP)
        self.set_header("Cache-Control", "private, no-store")
        self.finish(render_card(self.card_facts(token), link))

    def card_facts(self, token: str) -> dict[str, Any]:
        """The stored facts of the card (`card.json`), never through a symlink; {} for a piece
        published before cards had them, or a file that cannot be read (the card still has its link)."""
        from ..peer_review.pieces import read_bytes

        try:
            dir_fd = os.open(self.pages / token, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            return {}
        try:
            facts = json.loads(read_bytes(dir_fd, CARD_FILE, MAX_CARD_BYTES))
        except (OSError, ValueError):
            return {}
        finally:
            os.close(dir_fd)
        return facts if isinstance(facts, dict) else {}


class NotFoundHandler(Base):
    def prepare(self) -> None:
        raise web.HTTPError(404)


def log_request(handler: web.RequestHandler) -> None:
    """Errors only: a family opening a page is not worth a log line (nor is its link's token)."""
    status = handler.get_status()
    if status >= 400:
        path = re.sub(r"/p/([A-Za-z0-9_-]{6})[A-Za-z0-9_-]{26}", r"/p/\1…", handler.request.path)
        level = log.warning if status < 500 else log.error
        level("%d %s %s %.1f ms", status, handler.request.method, path[:200], 1000 * handler.request.request_time())


def make_app(pages: Path, prefix: str, public_url: str) -> web.Application:
    prefix = "/" + prefix.strip("/") + "/"
    return web.Application(
        [
            (prefix + "p/" + TOKEN_PART, PageHandler),
            (prefix + "p/" + TOKEN_PART + "/card", CardHandler),
            (r".*", NotFoundHandler),
        ],
        pages=pages,
        page_cache=PageCache(),
        public_url=public_url,
        default_handler_class=NotFoundHandler,
        compress_response=True,
        log_function=log_request,
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s showcase] %(message)s")
    pages = Path(os.environ["CLHUB_SHOWCASE_PAGES"])
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/showcase/")
    url = urlparse(os.environ["JUPYTERHUB_SERVICE_URL"])
    app = make_app(pages, prefix, os.environ.get("CLHUB_PUBLIC_URL", ""))
    HTTPServer(app, xheaders=True).listen(url.port or 80, url.hostname or "127.0.0.1")
    log.info("Showcase service on %s as uid %d, serving %s", url.geturl(), os.getuid(), pages)
    IOLoop.current().start()


if __name__ == "__main__":
    main()
