"""The live showcase at /services/showcase-live/: "Play with it", through Voila, for anybody.

A published notebook's static page (`render.py`) shows what the maker saved; this service
runs its live copy (`live_copy.py`: the piece's code, opening with the maker's saved creation,
without learner-only controls or the workbook's text) so that a visitor can press its buttons. It is a JupyterHub
service without log-in, started by the hub as the system user `clhub-live`, which can read
the live copies (`<data>/showcase/live/<token>/`, root-owned, readable by its group only, not
listable) and nothing else: no home, no group folder, no hub file.

    GET /services/showcase-live/p/<token>   the live page (Voila, sources stripped)
    GET /services/showcase-live/            "ok", without starting a kernel (the hub's check)

What Voila does, and what this module changes:

- Voila serves a folder with a tree page, a contents API and a renderer for any path. Here
  only `p/<token>` renders, the token checked against a strict pattern and the notebook
  opened without following a symlink; tree, contents, log-in and every other path: 404.
- Visitors cannot run code: Voila's kernel manager passes only widget (comm) and
  kernel-info messages from a page's websocket; an `execute_request` is dropped.
- Sources are stripped and tracebacks never shown (Voila's defaults, set explicitly);
  the files route serves images only.
- Every kernel runs in a fence (`sandbox.FencedKernel`, bubblewrap): it sees its own piece
  read-only and the Python environment, nothing else of the machine (no other kernel's
  process, folder or environment: its /proc is its own), has no network at all, a private
  /tmp, and limits on memory, processes, CPU seconds and file size. The published code is
  the learner's, so nothing but the teacher's informed approval stands behind it: the
  teacher's preview shows that code.
- Kernels are limited in number (`LiveKernels.max_kernels`, preheated ones included), in
  memory (the fence's address-space limit) and in idle time (culled after
  `idle_seconds` without messages, connected or not: a phone's forgotten tab holds
  nothing for long). A visitor beyond the limit gets a friendly page with the saved version.
- The hub checks the service's URL every minute; that URL answers without a kernel.
- Preheating: Voila's pools run a notebook ahead of the next visitor. Here a pool is filled
  only for the pieces opened most recently (`preheat` kernels in all), so a class event's
  cards get their pages at once without a kernel per published piece waiting all year.
  Voila protects a pooled kernel from the culler only while it is in the pool: the moment
  it is handed to a visitor, its last activity is that of its pre-rendering, possibly many
  minutes ago, and the next cull would stop it while the page loads (the page hangs, then
  shows no widget). `LiveHandler` marks a kernel active when it hands it out, and never
  waits for a pool longer than `wait_seconds`.
- A withdrawn piece: the copy is removed by the publishing side; `sweep` (every few
  seconds) shuts down the pool and the kernels of any notebook whose copy is gone.

    python -m connected_learning.showcase.live     (started by the hub; see hub/config.py)
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager, ServerKernelManager
from tornado import web
from traitlets import Float, Integer
from voila.app import Voila
from voila.tornado.handler import TornadoVoilaHandler

from ..sandbox import FencedKernel, FenceError, require_tools
from .live_copy import LIVE_NOTEBOOK as NOTEBOOK
from .messages import languages, message, page_in_every_language
from .publish import TOKEN, family_link
from .service import not_found_page

log = logging.getLogger("clhub.showcase-live")
KERNEL_NAME = "python3"
MEMORY_ENV = "CLHUB_LIVE_MEMORY_MB"
DEFAULT_MEMORY_MB = 768
# A live kernel's fence: CPU seconds in all (a piece whose button loops for ever is stopped,
# where the idle culler would wait for it to be idle), files of at most 1 MB, a small /tmp.
LIVE_CPU_SECONDS = 300
LIVE_FILE_MB = 1
LIVE_TMP_MB = 16
LIVE_PROCESSES = 48
SWEEP_SECONDS = 2.0
# Voila's own routes a live page needs; every other route of Voila's app is left out.
KEPT_ROUTES = (
    "/api/kernels/",
    "/voila/static/",
    "/voila/templates/",
    "/voila/api/themes/",
    "/voila/api/shutdown/",
    "/voila/labextensions/",
    "/voila/files/",
    "/voila/query/",
)
# The page runs Voila's scripts in an opaque origin: whatever an output of the piece holds
# cannot read the hub's cookies or call the hub's API with the visitor's session.
# Stylesheets and fonts only from here: Voila's template would fetch Font Awesome from a CDN,
# telling a third party about every family's visit.
LIVE_CSP = (
    "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox; "
    "style-src 'self' 'unsafe-inline'; font-src 'self' data:"
)
NOT_FOR_VISITORS = ["@jupyter/nbgrader", "@jupyter-notebook/lab-extension", "@voila-dashboards/jupyterlab-preview"]
IMAGES_ONLY = [r".*\.(png|jpg|jpeg|gif|svg|webp)"]

BUSY_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5;"
    "color:#1a1a1a} a{display:inline-block;padding:12px 20px;border-radius:24px;background:#0b4f8a;color:#fff;"
    "text-decoration:none;min-height:24px} h2{font-size:1.5rem}"
)


def busy_page(token: str) -> str:
    """The page for a visitor beyond the kernel limit, in every language the pages speak (the live
    service does not know the page's): the saved version's link, and a word to come back later."""
    saved = html.escape(family_link(token))

    def part(code: str, heading: str) -> str:
        return (
            f"<{heading}>{html.escape(message('busy_title', code))}</{heading}>"
            f"<p>{html.escape(message('busy_text', code))}</p>"
            f'<p><a href="{saved}">{html.escape(message("busy_link", code))}</a></p>'
        )

    return page_in_every_language("busy_page_title", part, BUSY_STYLE)


def in_every_language(key: str) -> str:
    """A text of `messages` in each language, one after the other (for a page whose language is not known)."""
    return " / ".join(dict.fromkeys(message(key, code) for code in languages()))


class Full(Exception):
    """Every live kernel is taken."""


class LiveKernelSpecs(KernelSpecManager):
    """One kernel, whatever a notebook asks for: this environment's Python (fenced by `FencedLiveKernel`)."""

    def _spec(self) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python 3",
            language="python",
            resource_dir="",
            metadata={},
            interrupt_mode="message",
        )

    def find_kernel_specs(self) -> dict[str, str]:
        return {KERNEL_NAME: ""}

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec()

    def get_all_specs(self) -> dict[str, Any]:
        return {KERNEL_NAME: {"resource_dir": "", "spec": self._spec().to_dict()}}


class FencedLiveKernel(FencedKernel, ServerKernelManager):  # type: ignore[misc]
    """jupyter_server's kernel manager, each kernel in a fence that sees its own piece, read-only."""


class LiveKernels(AsyncMappingKernelManager):
    """Voila's kernel manager with a ceiling: `start_kernel` raises Full at `max_kernels`.

    The count includes kernels still starting, and the check and the reservation happen
    before the first await, so a burst of visitors cannot all slip under the ceiling.
    When the ceiling is reached and a pool holds a kernel nobody asked for yet, that
    kernel is given up for the visitor who is here.
    """

    max_kernels = Integer(8, config=True, help="Most kernels at once, pooled ones included.")
    wait_seconds = Float(30.0, config=True, help="Longest a visitor waits for a pooled kernel.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._starting = 0

    def in_use(self) -> int:
        return len(self.list_kernel_ids()) + self._starting

    # jupyter_client types start_kernel as the sync method; the async managers replace it with a coroutine.
    async def start_kernel(self, *args: Any, **kwargs: Any) -> str:  # type: ignore[override]
        if self.in_use() >= self.max_kernels and not await self._give_up_a_pooled_kernel():
            raise Full(f"{self.max_kernels} live kernels are running")
        self._starting += 1
        try:
            return await super().start_kernel(*args, **kwargs)
        finally:
            self._starting -= 1

    async def _give_up_a_pooled_kernel(self) -> bool:
        for pool in getattr(self, "_pools", {}).values():
            for task in list(pool):
                if task.done() and not task.cancelled() and task.exception() is None:
                    pool.remove(task)
                    kernel_id = task.result()["kernel_id"]
                    task.result()["task"].cancel()
                    if kernel_id in self:
                        await self.shutdown_kernel(kernel_id, now=True)
                    return self.in_use() < self.max_kernels
        return False

    def mark_active(self, kernel_id: str) -> None:
        """The kernel was just handed to a visitor: its idle time starts now, not at its pre-run."""
        if kernel_id in self:
            # An attribute jupyter_server adds to every kernel it manages.
            self.get_kernel(kernel_id).last_activity = utcnow()  # type: ignore[attr-defined]


class Preheat:
    """Which pieces keep a pooled kernel: the `size` most recently opened ones."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.recent: OrderedDict[str, None] = OrderedDict()

    def opened(self, notebook: str) -> list[str]:
        """Note a visit; returns the notebooks that fell out of the warm set."""
        if self.size <= 0:
            return []
        self.recent[notebook] = None
        self.recent.move_to_end(notebook)
        dropped = []
        while len(self.recent) > self.size:
            dropped.append(self.recent.popitem(last=False)[0])
        return dropped

    def forget(self, notebook: str) -> None:
        self.recent.pop(notebook, None)


def notebook_path(root: Path, token: str) -> str | None:
    """`<token>/piece.ipynb` when the token is well formed and its copy a regular file, else None."""
    if not TOKEN.match(token):
        return None
    try:
        dir_fd = os.open(root / token, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        mode = os.stat(NOTEBOOK, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except OSError:
        return None
    finally:
        os.close(dir_fd)
    return f"{token}/{NOTEBOOK}" if stat.S_ISREG(mode) else None


class Plain(web.RequestHandler):
    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")
        self.clear_header("Server")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(not_found_page())


class HealthHandler(Plain):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class NotFoundHandler(Plain):
    def prepare(self) -> None:
        raise web.HTTPError(404)


class LiveHandler(TornadoVoilaHandler):
    """Voila's page handler for `p/<token>`, within the kernel ceiling and the preheat policy."""

    def set_default_headers(self) -> None:
        super().set_default_headers()
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Content-Security-Policy", LIVE_CSP)

    @property
    def live(self) -> LiveKernels:
        return self.settings["kernel_manager"]

    async def get(self, token: str) -> None:
        path = notebook_path(Path(self.settings["live_root"]), token)
        if path is None:
            self.set_status(404)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(not_found_page())
            return
        self.hand_out_pooled_kernel(path)
        try:
            await asyncio.wait_for(super().get(path), self.live.wait_seconds)
        except Full:
            self.friendly(token, "full")
        except TimeoutError:
            self.friendly(token, "slow")
        else:
            self.keep_warm(path)

    def hand_out_pooled_kernel(self, path: str) -> None:
        """Drop broken pool entries, and mark the kernel Voila is about to hand out as active."""
        pool = getattr(self.live, "_pools", {}).get(path, [])
        for task in list(pool):
            if task.done() and (
                task.cancelled() or task.exception() is not None or task.result()["kernel_id"] not in self.live
            ):
                pool.remove(task)
        if pool and pool[0].done():
            self.live.mark_active(pool[0].result()["kernel_id"])

    def keep_warm(self, path: str) -> None:
        preheat: Preheat = self.settings["preheat"]
        for dropped in preheat.opened(path):
            asyncio.ensure_future(shutdown_pool(self.live, dropped))
        if path in preheat.recent:
            fill_pool(self.live, path)

    def friendly(self, token: str, why: str) -> None:
        log.warning("Live page %s… not served (%s): %d kernels in use", token[:6], why, self.live.in_use())
        if self._headers_written:
            self.finish()
            return
        self.clear()
        self.set_status(200)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(busy_page(token))


def fill_pool(manager: LiveKernels, notebook: str) -> None:
    """Start a pooled kernel for `notebook` when its pool is empty and the ceiling allows."""
    if (
        hasattr(manager, "fill_if_needed")
        and not getattr(manager, "_pools", {}).get(notebook)
        and manager.in_use() < manager.max_kernels
    ):
        manager.fill_if_needed(delay=0, notebook_name=notebook)


async def shutdown_pool(manager: LiveKernels, notebook: str) -> None:
    """Stop the pooled kernels of `notebook`, waiting ones included."""
    pool = getattr(manager, "_pools", {}).pop(notebook, [])
    for task in pool:
        try:
            result = await task
        except Exception:
            continue
        result["task"].cancel()
        if result["kernel_id"] in manager:
            await manager.shutdown_kernel(result["kernel_id"], now=True)


async def sweep(manager: LiveKernels, root: Path, preheat: Preheat) -> None:
    """Shut down everything of notebooks whose live copy is gone (withdrawn or declined), and
    fill the pool of a recently opened piece that had to go without while kernels were taken."""
    data = getattr(manager, "notebook_data", {})
    for notebook in list(preheat.recent):
        if notebook_path(root, notebook.split("/", 1)[0]) is not None:
            fill_pool(manager, notebook)
    notebooks = set(getattr(manager, "_pools", {})) | set(data)
    for notebook in notebooks:
        token = notebook.split("/", 1)[0]
        if notebook_path(root, token) is not None:
            continue
        preheat.forget(notebook)
        await shutdown_pool(manager, notebook)
        for kernel_id in list(data.get(notebook, {}).get("kernel_ids", ())):
            if kernel_id in manager:
                await manager.shutdown_kernel(kernel_id, now=True)
        data.pop(notebook, None)
        log.info("Live copy %s… is gone: its kernels are stopped", token[:6])


def open_to_sandbox(handler: type) -> type:
    """`handler`, answering the sandboxed page's requests (origin "null"): fonts, for one, are
    fetched in CORS mode. Everything these routes serve is public, and no cookie is used."""

    class Open(handler):
        def set_default_headers(self) -> None:
            super().set_default_headers()
            self.set_header("Access-Control-Allow-Origin", "*")

    Open.__name__ = Open.__qualname__ = f"OpenToSandbox{handler.__name__}"
    return Open


class LiveVoila(Voila):
    """Voila serving `p/<token>` only; see the module's docstring."""

    name = "clhub-showcase-live"

    def init_handlers(self) -> list[Any]:
        kept = [
            (h[0], open_to_sandbox(h[1]), *h[2:])
            for h in super().init_handlers()
            if any(part in h[0] for part in KEPT_ROUTES)
        ]
        prefix = self.base_url
        return [
            (
                prefix + r"p/([^/]+)/?",
                LiveHandler,
                {
                    "template_paths": self.template_paths,
                    "config": self.config,
                    "voila_configuration": self.voila_configuration,
                },
            ),
            (prefix.rstrip("/") + "/?", HealthHandler),
            *kept,
            (r".*", NotFoundHandler),
        ]


def voila_argv(
    root: Path,
    prefix: str,
    port: int,
    *,
    max_kernels: int,
    idle_seconds: float,
    preheat: int,
    memory_mb: int = DEFAULT_MEMORY_MB,
    ip: str = "127.0.0.1",
) -> list[str]:
    """Voila's settings for the live service, as command-line options (the configurable way).

    `ip`: the address to listen on, the host of the service's URL (0.0.0.0 in a Kubernetes pod).
    """
    return [
        str(root),
        "--no-browser",
        f"--port={port}",
        f"--Voila.ip={ip}",
        f"--Voila.base_url={prefix}",
        "--Voila.open_browser=False",
        # Requests of a sandboxed page come from origin "null"; nothing here uses cookies.
        "--Voila.tornado_settings={'xsrf_cookies': False, 'allow_origin': '*'}",
        "--VoilaConfiguration.strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        # What a visitor reads where a part of the piece failed: for a family, not a developer.
        f"--VoilaExecutor.cell_error_instruction={in_every_language('live_error')}",
        f"--VoilaExecutor.cell_timeout_instruction={in_every_language('live_timeout')}",
        "--VoilaConfiguration.allow_template_override=NO",
        "--VoilaConfiguration.allow_theme_override=NO",
        f"--VoilaConfiguration.file_allowlist={IMAGES_ONLY!r}",
        # Front-end extensions installed for learners that fail in Voila and cost a phone 215 KB.
        f"--VoilaConfiguration.extension_denylist={NOT_FOR_VISITORS!r}",
        "--VoilaConfiguration.file_denylist=['.*\\\\.(ipynb|py|json|wav|csv|md|txt|html)', '.*/\\\\..*']",
        "--VoilaConfiguration.multi_kernel_manager_class=connected_learning.showcase.live.LiveKernels",
        "--VoilaConfiguration.kernel_spec_manager_class=connected_learning.showcase.live.LiveKernelSpecs",
        f"--VoilaConfiguration.preheat_kernel={preheat > 0}",
        "--VoilaConfiguration.default_pool_size=1",
        # No pool at start (Voila would start one for every notebook it finds): `keep_warm` fills.
        "--VoilaKernelManager.preheat_denylist=['.*']",
        f"--LiveKernels.max_kernels={max_kernels}",
        f"--LiveKernels.cull_idle_timeout={max(int(idle_seconds), 1)}",
        f"--LiveKernels.cull_interval={max(min(int(idle_seconds) // 2, 30), 1)}",
        "--LiveKernels.cull_connected=True",
        "--LiveKernels.cull_busy=False",
        "--VoilaKernelManager.fill_delay=0",
        "--LiveKernels.kernel_manager_class=connected_learning.showcase.live.FencedLiveKernel",
        f"--FencedKernel.memory_mb={memory_mb}",
        f"--FencedKernel.cpu_seconds={LIVE_CPU_SECONDS}",
        f"--FencedKernel.file_mb={LIVE_FILE_MB}",
        f"--FencedKernel.tmp_mb={LIVE_TMP_MB}",
        f"--FencedKernel.processes={LIVE_PROCESSES}",
    ]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="[%(levelname)1.1s %(asctime)s showcase-live] %(message)s")
    # A kernel inherits this environment: the hub's token for this service must not be in it.
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/showcase-live/")
    url = os.environ.get("JUPYTERHUB_SERVICE_URL", "http://127.0.0.1:8084")
    for name in [n for n in os.environ if n.startswith("JUPYTERHUB_")]:
        del os.environ[name]
    root = Path(os.environ["CLHUB_SHOWCASE_LIVE"])
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    preheat = int(os.environ.get("CLHUB_LIVE_PREHEAT", "2"))
    try:
        memory_mb = max(int(os.environ.get(MEMORY_ENV, DEFAULT_MEMORY_MB)), 512)
    except ValueError:
        memory_mb = DEFAULT_MEMORY_MB
    try:
        require_tools()
    except FenceError as e:
        raise SystemExit(f"The live showcase cannot start: {e.message}") from None
    # A home of its own for Jupyter's runtime files and the kernels' fence folders: private,
    # gone with the machine's /tmp.
    os.environ["HOME"] = os.environ["TMPDIR"] = tempfile.mkdtemp(prefix="clhub-live-home-")
    tempfile.tempdir = None  # read TMPDIR again
    argv = voila_argv(
        root,
        prefix,
        port,
        max_kernels=int(os.environ.get("CLHUB_LIVE_KERNELS", "8")),
        idle_seconds=float(os.environ.get("CLHUB_LIVE_IDLE_SECONDS", "300")),
        preheat=preheat,
        memory_mb=memory_mb,
        ip=urlsplit(url).hostname or "127.0.0.1",
    )
    app = LiveVoila.instance()
    app.initialize(argv)
    warm = Preheat(preheat)
    app.tornado_settings.update(live_root=str(root), preheat=warm)
    from tornado.ioloop import IOLoop, PeriodicCallback

    def start_sweeping() -> None:
        PeriodicCallback(
            lambda: asyncio.ensure_future(sweep(app.kernel_manager, root, warm)), SWEEP_SECONDS * 1000
        ).start()

    IOLoop.current().add_callback(start_sweeping)
    log.info("Live showcase on %s as uid %d, serving %s", url, os.getuid(), root)
    try:
        app.start()
    finally:  # the private home and the kernels' fence folders in it
        shutil.rmtree(os.environ["HOME"], ignore_errors=True)


if __name__ == "__main__":
    # Voila's configuration names this module's classes by their import path: run `main` of
    # that same module, not of `__main__`, so that there is one `Full` and one `LiveKernels`.
    from connected_learning.showcase import live as showcase_live

    showcase_live.main()
