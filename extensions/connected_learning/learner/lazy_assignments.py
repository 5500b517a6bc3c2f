"""nbgrader's assignment list in a learner's server, loaded on first use.

nbgrader's `assignment_list` server extension imports all of nbgrader when the server
starts: about 2 s of CPU and 20 MB in every learner's server, although most sessions
never open the Assignments panel. This extension registers the same URLs with small
stand-ins; the first request imports nbgrader, makes its `AssignmentList` manager as
nbgrader's own extension does, and from then on each stand-in runs the method of
nbgrader's handler for its URL. nbgrader's code answers every request; only the moment
it is imported changes.
"""

from __future__ import annotations

import importlib
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join

HANDLERS_MODULE = "nbgrader.server_extensions.assignment_list.handlers"


def _nbgrader(settings: dict[str, Any]) -> Any:
    """nbgrader's handlers module, imported (and its manager made) on first use."""
    module = importlib.import_module(HANDLERS_MODULE)
    if "assignment_list_manager" not in settings:
        app = settings["clhub_serverapp"]
        manager = module.AssignmentList(parent=app)
        manager.root_dir = app.root_dir
        settings["assignment_list_manager"] = manager
    return module


class _StandIn(JupyterHandler):
    real = ""  # the name of nbgrader's handler class for this URL

    @property
    def manager(self) -> Any:  # what nbgrader's BaseAssignmentHandler provides
        return self.settings["assignment_list_manager"]

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        handler = getattr(_nbgrader(self.settings), self.real)
        return getattr(handler, method)(self, *args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._run("get", *args, **kwargs)

    def post(self, *args: Any, **kwargs: Any) -> Any:
        return self._run("post", *args, **kwargs)


class AssignmentList(_StandIn):
    real = "AssignmentListHandler"


class AssignmentAction(_StandIn):
    real = "AssignmentActionHandler"


class CourseList(_StandIn):
    real = "CourseListHandler"


class NbGraderVersion(_StandIn):
    real = "NbGraderVersionHandler"


ROUTES = [
    (r"/assignments", AssignmentList),
    (r"/assignments/(?P<action>fetch|submit|fetch_feedback)", AssignmentAction),
    (r"/courses", CourseList),
    (r"/nbgrader_version", NbGraderVersion),
]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "connected_learning.learner.lazy_assignments"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    webapp = serverapp.web_app
    webapp.settings["clhub_serverapp"] = serverapp
    base_url = webapp.settings["base_url"]
    webapp.add_handlers(".*$", [(url_path_join(base_url, pattern), handler) for pattern, handler in ROUTES])
