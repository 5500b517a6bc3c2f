"""The workbook spawner: interests, provisioning and a quiet JupyterLab, over any Spawner.

`WorkbookSpawnerMixin` adds to a JupyterHub spawner: the interest form (`options_form`),
validation of `interests` with HTTP 400 naming a bad value, remembering the choice,
delivering workbooks into the home before the server starts (as the learner, in a child
process), progress messages for the spawn page, and the single-user settings every
learner gets. The spawners of one machine (`local_spawners.py`) put it over JupyterHub's
LocalProcessSpawner; the host seam (`host/`) chooses which one a site runs.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tornado import web
from traitlets import Bool, Callable, Dict, Integer, List, Unicode, default
from traitlets.config import Configurable

from ..catalog import release
from ..catalog.load import Catalog, CatalogError, Workbook, load_catalog
from ..errors import ClhubError
from ..host.current import HOSTS
from ..peer_review import folders
from ..settings import validate_username
from ..widgets.i18n import LANGUAGE_ENV, LANGUAGES
from . import interests as interests_store
from .plain_errors import PlainError

LEARNER_DIR = Path(__file__).resolve().parent.parent / "learner"
# Server extensions a learner's server does not need: each costs start-up time and memory.
QUIET_EXTENSIONS = {
    "jupyter_lsp": False,
    "notebook": False,
    "notebook_shim": False,
    "voila.server_extension": False,
    "nbgrader.server_extensions.formgrader": False,
    # nbgrader's assignment list is served by connected_learning.learner.lazy_assignments instead,
    # which imports nbgrader only when a learner opens the Assignments panel.
    "nbgrader.server_extensions.assignment_list": False,
    "connected_learning.learner.lazy_assignments": True,
    "nbgrader.server_extensions.validate_assignment": False,
    "nbgrader.server_extensions.course_list": False,
}

# What a teacher's server runs besides: nbgrader's formgrader and its course list.
TEACHER_EXTENSIONS = ("nbgrader.server_extensions.formgrader", "nbgrader.server_extensions.course_list")

_catalogs: dict[str, tuple[float, Catalog]] = {}
_publish_locks: dict[str, asyncio.Lock] = {}


def cached_catalog(root: str) -> Catalog:
    """The catalog at `root`, read again only when a workbook.toml changed (checked by mtime)."""
    stamp = max((p.stat().st_mtime for p in Path(root).glob("*/*/workbook.toml")), default=0.0)
    stamp = max(stamp, Path(root, "interests.toml").stat().st_mtime)
    cached = _catalogs.get(root)
    if cached is None or cached[0] != stamp:
        _catalogs[root] = (stamp, load_catalog(Path(root)))
    return _catalogs[root][1]


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def delivery_message(summary: dict[str, Any]) -> str:
    """The progress line a learner reads after delivery, e.g. "Your workbooks are ready: 2 new files"."""
    parts = []
    if summary["copied"]:
        parts.append(_count(summary["copied"], "new file", "new files"))
    if summary["updated"]:
        parts.append(_count(summary["updated"], "file updated", "files updated"))
    if summary["beside"]:
        parts.append(
            _count(
                len(summary["beside"]),
                "new version saved beside a file you changed",
                "new versions saved beside files you changed",
            )
        )
    return "Your workbooks are ready" + (": " + ", ".join(parts) if parts else "")


#: The interest form's own words (its legend and the line under it), by language.
_FORM_WORDS = {
    "en": (
        "What are you into? Pick one or more.",
        "We will give you workbooks about the things you pick. You can change this later.",
    ),
    "es": (
        "¿Qué te interesa? Elige una o más cosas.",
        "Te daremos cuadernos sobre lo que elijas. Puedes cambiarlo después.",
    ),
}


class WorkbookSpawnerMixin(Configurable):
    """Interests, workbooks and learner settings for any JupyterHub Spawner class."""

    if TYPE_CHECKING:
        # Provided by jupyterhub's Spawner, which every class using this mixin also inherits.
        log: logging.Logger
        user: Any
        orm_spawner: Any
        db: Any
        server: Any
        active: bool
        _log_name: str

    catalog_dir = Unicode(
        "",
        config=True,
        help="Folder of the workbook catalog (interests.toml and <interest>/<id>/workbook.toml). "
        "Example: '/srv/clhub/workbooks'. Required.",
    )
    everyone_workbooks = List(
        Unicode(),
        config=True,
        help="Workbook ids every learner receives whatever their interests. Example: ['start-here'].",
    )
    offered_interests = List(
        Unicode(),
        config=True,
        help="Interests offered in the form, keys of interests.toml. Default []: every interest "
        "that has at least one workbook.",
    )
    releases_dir = Unicode(
        "",
        config=True,
        help="Folder where the hub publishes the student versions of workbooks (solutions "
        "removed); learners' processes copy from it, so it must be readable by all. "
        "Example: '/var/lib/clhub/releases'. Required.",
    )
    interests_dir = Unicode(
        "",
        config=True,
        help="Folder where the hub remembers each learner's interests (one JSON file each). "
        "Example: '/var/lib/clhub/hub/interests'. Required.",
    )
    provision_timeout = Integer(
        60, config=True, help="Seconds the workbook delivery may take before the start fails. Default 60."
    )
    provision_python = Unicode(
        sys.executable,
        config=True,
        help="Python that runs the delivery step as the learner; it must be readable by every "
        "learner. Default: the hub's own interpreter.",
    )
    singleuser_config = Unicode(
        str(LEARNER_DIR / "singleuser_config.py"),
        config=True,
        help="Jupyter Server config file every learner's server loads (extensions off, lab "
        "settings). Default: the one shipped in the package.",
    )
    disabled_server_extensions = Dict(
        QUIET_EXTENSIONS,
        config=True,
        help="Server extensions switched off in learners' servers, to start faster and use less "
        "memory. Default: LSP, Notebook 7, Voila and nbgrader's extensions.",
    )
    interest_label = Callable(
        default_value=None,
        allow_none=True,
        config=True,
        help="Optional callable (interest key -> label) for the form; default: the catalog title.",
    )
    data_dir = Unicode(
        "",
        config=True,
        help="The site's data folder; the group folders live in <data_dir>/groups/. Example: "
        "'/var/lib/clhub'. Required for peer review.",
    )
    group_policy = Callable(
        default_value=None,
        allow_none=True,
        config=True,
        help="Callable (hub group name -> folders.GroupPolicy): whether the group has peer review, "
        "anonymous feedback, size and type limits. Default: peer review on, with default limits.",
    )
    display_name = Callable(
        default_value=None,
        allow_none=True,
        config=True,
        help="Callable (user name -> the name peers see, e.g. 'Ana B.'). Default: the user name.",
    )
    classroom_url = Unicode(
        "",
        config=True,
        help="Address of the classroom service as learners' servers reach it, e.g. "
        "'http://127.0.0.1:8082/services/classroom/'. Empty: reports are unavailable.",
    )
    kernel_template = Bool(
        True,
        config=True,
        help="Fork kernels from a template in the learner's server (site.kernel_template). Default True.",
    )
    host_name = "system"  # the host (`host.current.HOSTS`) this spawner's servers run on

    _waiting = 0  # servers of this hub being polled by wait_until_answering, shared
    _progress_log: list[dict[str, Any]]
    _progress_done: bool

    @default("options_form")
    def _default_options_form(self) -> Any:
        return type(self).render_interest_form

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Any:
        return type(self).apply_interests

    @default("default_url")
    def _default_default_url(self) -> str:
        return "/lab/tree/workbooks"

    @default("disable_user_config")
    def _default_disable_user_config(self) -> bool:
        return True

    # ----------------------------------------------------------- interests

    @property
    def catalog(self) -> Catalog:
        try:
            return cached_catalog(self.catalog_dir)
        except CatalogError as e:
            # Checked at hub start; this is an edit made while the hub runs.
            self.log.error("The workbook catalog is broken, learners cannot start: %s", e)
            raise PlainError(
                503,
                "The workbooks are being updated. Please try again in a few minutes, or ask a librarian or teacher.",
            ) from e

    def interests_offered(self) -> list[str]:
        catalog = self.catalog
        return list(self.offered_interests) or catalog.interests_with_workbooks(self.everyone_workbooks)

    def remembered_interests(self) -> list[str] | None:
        return interests_store.read(self.interests_dir, self.user.name)

    def validate_interests(self, values: Any) -> list[str]:
        """Return the chosen interests, or raise HTTP 400 naming the first bad value.

        This is the one place where the interests a browser or API client sends are checked.
        """
        offered = self.interests_offered()
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not values:
            raise PlainError(400, "Choose at least one interest: tick its box.")
        chosen: list[str] = []
        for value in values:
            if not isinstance(value, str) or value not in offered:
                shown = value if isinstance(value, str) else repr(value)
                raise PlainError(
                    400, f"{shown[:60]!r} is not an interest offered here. Choose from: " + ", ".join(offered) + "."
                )
            if value not in chosen:
                chosen.append(value)
        return chosen

    def remembered_language(self) -> str:
        return interests_store.read_language(self.interests_dir, self.user.name)

    def languages_offered(self) -> list[str]:
        """The languages a learner may choose: English, and each one some workbook has an edition in."""
        return [code for code in self.catalog.languages() if code in LANGUAGES]

    def validate_language(self, value: Any) -> str:
        """The chosen language code, or raise HTTP 400; English when none was sent."""
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if value is None or value == []:
            return interests_store.DEFAULT_LANGUAGE
        offered = self.languages_offered()
        if not isinstance(value, str) or value not in offered:
            shown = value if isinstance(value, str) else repr(value)
            names = ", ".join(f"{code} ({LANGUAGES[code]})" for code in offered)
            raise PlainError(400, f"{shown[:20]!r} is not a language offered here. Choose from: {names}.")
        return value

    def render_interest_form(self) -> str:
        """The interest form, shown on a learner's first start only (empty afterwards)."""
        if self.remembered_interests():
            return ""
        return self.interest_form_html(checked=[])

    def interest_form_html(self, checked: list[str], language: str = interests_store.DEFAULT_LANGUAGE) -> str:
        """The interests to tick (and the language, when there is a choice), in `language`.

        In English, while another language is offered, each interest also shows its title in
        that language, so a learner who reads Spanish finds their way before choosing it.
        """
        catalog = self.catalog
        others = [code for code in self.languages_offered() if code != "en"]
        rows = []
        for key in self.interests_offered():
            interest = catalog.interests.get(key)
            title, about = interest.said_in(language) if interest else (key, "")
            label = self.interest_label(key) if self.interest_label is not None else title
            also = ""
            if interest and language == "en":
                also = "".join(
                    f' <span lang="{code}">({html.escape(interest.said_in(code)[0])})</span>'
                    for code in others
                    if interest.said_in(code)[0] != interest.title
                )
            mark = " checked" if key in checked else ""
            rows.append(
                f'<div class="checkbox clhub-interest"><label lang="{language}">'
                f'<input type="checkbox" name="interests" value="{html.escape(key)}"{mark}> '
                f"<strong>{html.escape(label)}</strong>{also} "
                f'<span class="text-muted">{html.escape(about)}</span></label></div>'
            )
        legend, intro = _FORM_WORDS.get(language, _FORM_WORDS["en"])
        return (
            self._language_html(language)
            + f'<fieldset class="clhub-interests" lang="{language}"><legend>{legend}</legend><p>{intro}</p>'
            + "".join(rows)
            + "</fieldset>"
        )

    def _language_html(self, chosen: str) -> str:
        """The language choice, in each language's own words (nothing when the catalog is English only)."""
        offered = self.languages_offered()
        if len(offered) < 2:
            return ""
        choices = "".join(
            f'<div class="radio clhub-language"><label lang="{code}">'
            f'<input type="radio" name="language" value="{code}"{" checked" if code == chosen else ""}> '
            f"{html.escape(LANGUAGES[code])}</label></div>"
            for code in offered
        )
        return (
            '<fieldset class="clhub-languages"><legend>'
            'Language of my workbooks <span lang="es">/ Idioma de mis cuadernos</span></legend>'
            f"{choices}</fieldset>"
        )

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, Any]:
        return {
            "interests": self.validate_interests(formdata.get("interests", [])),
            "language": self.validate_language(formdata.get("language")),
        }

    async def apply_interests(self, user_options: dict[str, Any]) -> None:
        """Apply `interests` and `language` from the form or the API; remember them when they are valid."""
        if "interests" not in user_options and "language" not in user_options:
            return
        remembered = interests_store.read_choice(self.interests_dir, self.user.name)
        try:
            chosen = remembered.interests
            if "interests" in user_options:
                chosen = self.validate_interests(user_options["interests"])
            language = remembered.language
            if "language" in user_options:
                language = self.validate_language(user_options["language"])
            if not chosen:
                raise PlainError(400, "Choose at least one interest: tick its box.")
        except web.HTTPError:
            # JupyterHub stored these options as the next default; bad input must change nothing.
            self.orm_spawner.user_options = remembered._asdict() if remembered.interests else {}
            self.db.commit()
            raise
        interests_store.write(self.interests_dir, self.user.name, chosen, language)

    def workbooks_for_learner(self) -> list[Workbook]:
        remembered = interests_store.read_choice(self.interests_dir, self.user.name)
        return self.catalog.for_interests(remembered.interests or [], self.everyone_workbooks, remembered.language)

    async def published_releases(self, workbooks: list[Workbook]) -> list[str]:
        """Publish (once per content) the student versions; return `id=folder` picks."""
        loop = asyncio.get_running_loop()
        picks = []
        for workbook in workbooks:
            lock = _publish_locks.setdefault(workbook.id, asyncio.Lock())
            async with lock:
                folder = await loop.run_in_executor(None, release.publish, workbook, Path(self.releases_dir))
            picks.append(f"{workbook.id}={folder.name}")
        return picks

    # ----------------------------------------------------------- progress

    def report(self, progress: int, message: str) -> None:
        self.log.info("%s: %s", self._log_name, message)
        self._progress_log.append({"progress": progress, "message": message})

    async def progress(self) -> AsyncIterator[dict[str, Any]]:
        sent = 0
        while True:
            log = getattr(self, "_progress_log", [])
            while sent < len(log):
                yield log[sent]
                sent += 1
            if getattr(self, "_progress_done", True):
                return
            await asyncio.sleep(0.1)

    # ----------------------------------------------------------- start

    async def wait_until_answering(self, ip: str, port: int) -> None:
        """Return as soon as the new server answers HTTP, or when it cannot any more.

        The hub checks a new server with growing pauses and notices it up to seconds late;
        polling every 0.1 s here lets the hub's first check succeed. Any HTTP answer
        counts; a server that exits or stays silent is left for the hub to report.
        """
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        url = f"http://{ip or '127.0.0.1'}:{port}{self.server.base_url}api"
        client = AsyncHTTPClient()
        deadline = asyncio.get_running_loop().time() + self.http_timeout  # type: ignore[attr-defined]
        WorkbookSpawnerMixin._waiting += 1
        try:
            while asyncio.get_running_loop().time() < deadline:
                if await self.poll() is not None:  # type: ignore[attr-defined]
                    return
                try:
                    await client.fetch(url, request_timeout=2, follow_redirects=False)
                    return
                except HTTPClientError as e:
                    if e.code != 599:
                        return  # an HTTP error status is an answer; 599 means no answer yet
                except OSError:
                    pass
                # In a rush the hub's own CPU is precious: poll less often the more servers wait.
                await asyncio.sleep(min(0.5, 0.05 * (1 + WorkbookSpawnerMixin._waiting)))
        finally:
            WorkbookSpawnerMixin._waiting -= 1

    def learner_home(self) -> str:
        raise NotImplementedError

    def provision_preexec(self) -> Any:
        """preexec_fn that makes the delivery step run as the learner (None: as the hub)."""
        return None

    async def prepare_learner(self) -> None:
        """Make sure the learner's account and home exist (subclasses)."""

    def group_gid(self, group: str) -> int | None:
        """The system group id that owns `group`'s folder; None: nothing is chowned (demo)."""
        return None

    async def prepare_group_folders(self) -> dict[str, str]:
        """Create or repair the folders of the learner's groups; return those to link.

        A group whose name cannot be a folder name is skipped (and logged); a group with
        peer review switched off gets its folder closed and no link.
        """
        links: dict[str, str] = {}
        if not self.data_dir:
            return links
        loop = asyncio.get_running_loop()
        for group in sorted(g.name for g in self.user.groups):
            try:
                validate_username(group)
                policy = self.group_policy(group) if self.group_policy is not None else folders.GroupPolicy(group)
                folder = await loop.run_in_executor(
                    None, folders.apply_group, self.data_dir, policy, self.group_gid(group)
                )
            except (ClhubError, OSError) as e:
                self.log.error("The folder of group %r cannot be prepared: %s", group, e)
                continue
            if policy.peer_review:
                links[group] = str(folder)
        return links

    async def deliver_workbooks(self) -> dict[str, Any]:
        """Run the delivery step as the learner and return its summary."""
        home = self.learner_home()
        picks = await self.published_releases(self.workbooks_for_learner())
        links = await self.prepare_group_folders()
        cmd = self.provision_command(home, links, picks)
        env = {"HOME": home, "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=home,
            preexec_fn=self.provision_preexec(),
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), self.provision_timeout)
        except TimeoutError:
            proc.kill()
            raise PlainError(500, "Your workbooks took too long to copy. Please try again.") from None
        try:
            summary = json.loads(out.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            summary = {"error": err.decode(errors="replace")[-2000:] or "no output"}
        if proc.returncode != 0 or "error" in summary:
            self.log.error("Delivering workbooks to %s failed: %s", self.user.name, summary.get("error"))
            raise PlainError(500, "Your workbooks could not be copied. Ask a librarian or teacher for help.")
        for problem in summary.get("problems", []):
            self.log.warning("Workbook delivery for %s skipped %s", self.user.name, problem)
        return summary

    def provision_command(self, home: str, links: dict[str, str], picks: list[str]) -> list[str]:
        """The delivery step's command line, run as the learner wherever the host runs it.

        One machine runs it as a child process (`deliver_workbooks`), Kubernetes as an init
        container of the learner's pod: both build it here.

        Args:
            home: the learner's home folder.
            links: {group: its peer-review folder} to link as ~/peer-review/<group>.
            picks: the workbooks to deliver, "id=release folder" (`published_releases`).
        """
        outbound = {g: os.path.join(self.data_dir, "exchange", g, "outbound") for g in links} if self.data_dir else {}
        return [
            self.provision_python,
            "-I",
            "-m",
            "connected_learning.learner.provision",
            "--home",
            home,
            "--releases",
            self.releases_dir,
            *(f"--group-folder={group}={path}" for group, path in links.items()),
            *(f"--assignments={group}={path}" for group, path in outbound.items() if os.path.isdir(path)),
            *(
                f"--course={group}={os.path.join(self.data_dir, 'courses', group)}"
                for group in (self.taught_groups()[:1] if self.data_dir else [])
            ),
            *picks,
        ]

    def taught_groups(self) -> list[str]:
        """The groups this user teaches (hub roles teacher-<group>)."""
        return sorted(r.name[len("teacher-") :] for r in self.user.roles if r.name.startswith("teacher-"))

    def learner_args(self) -> list[str]:
        return [f"--config={self.singleuser_config}", f"--ServerApp.root_dir={self.learner_home()}"]

    def get_args(self) -> list[str]:
        return [*super().get_args(), *self.learner_args()]  # type: ignore[misc]

    def get_env(self) -> dict[str, str]:
        env = super().get_env()  # type: ignore[misc]
        disabled = dict(self.disabled_server_extensions)
        taught = self.taught_groups()
        if taught and self.data_dir:
            # A teacher grades in their own server: nbgrader's formgrader on the first group
            # they teach, whose course folder their system user shares (see assignments.py).
            for name in TEACHER_EXTENSIONS:
                disabled.pop(name, None)
            env["CLHUB_COURSE_ID"] = taught[0]
            # Through ~/courses/<group>: the formgrader wants its course inside the server's root.
            env["CLHUB_COURSE_ROOT"] = os.path.join(self.learner_home(), "courses", taught[0])
            env["CLHUB_FRAME_SELF"] = "1"
        env["CLHUB_DISABLED_EXTENSIONS"] = json.dumps(disabled)
        env["CLHUB_KERNEL_TEMPLATE"] = "1" if self.kernel_template else "0"
        env["HOME"] = self.learner_home()
        env[LANGUAGE_ENV] = self.remembered_language()  # the language the widgets speak by default
        env["CLHUB_DISPLAY_NAME"] = (
            self.display_name(self.user.name) if self.display_name is not None else self.user.name
        )
        if self.classroom_url:
            env["CLHUB_CLASSROOM_URL"] = self.classroom_url
        env.update(HOSTS[self.host_name](Path(self.data_dir)).environment())
        if self.data_dir:
            env["CLHUB_EXCHANGE"] = os.path.join(self.data_dir, "exchange")
        # nbgrader's settings for learners (exchange, private submissions, the hub user as student);
        # where nbgrader's formgrader does not run (a learner's server), JupyterLab leaves out its
        # staff panels too (formgrader, create assignment, course list): no menu leads to a 404.
        formgrader_off = disabled.get("nbgrader.server_extensions.formgrader") is False
        staff_panels_off = [str(LEARNER_DIR / "learner_labconfig")] if formgrader_off else []
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(
            p
            for p in (*staff_panels_off, str(LEARNER_DIR / "nbgrader_learner"), env.get("JUPYTER_CONFIG_PATH", ""))
            if p
        )
        # `clhub share` and friends in the learner's terminal come from the hub's environment.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH") or "/usr/bin:/bin"])
        return env

    async def start(self) -> Any:
        self._progress_log = []
        self._progress_done = False
        try:
            self.report(10, "Getting your space ready")
            await self.prepare_learner()
            self.report(30, "Copying your workbooks")
            summary = await self.deliver_workbooks()
            self.report(60, delivery_message(summary))
            self.report(70, "Starting JupyterLab")
            ip, port = await super().start()  # type: ignore[misc]
            await self.wait_until_answering(ip, port)
            return ip, port
        finally:
            self._progress_done = True
