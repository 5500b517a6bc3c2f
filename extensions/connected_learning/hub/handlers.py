"""Hub pages of our own: /hub/interests, where a learner changes their interests, and
where each person lands after logging in (`landing_url`).

The new choice of interests and language is remembered at once and takes effect at the
learner's next start (new workbooks are added; nothing already in their home is removed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jupyterhub.handlers import BaseHandler
from jupyterhub.utils import url_path_join
from tornado import web

from . import interests as interests_store

if TYPE_CHECKING:
    from .spawner import WorkbookSpawnerMixin


def teaches(user: Any) -> bool:
    """Whether `user` (a hub user) is a teacher of some group or an admin: staff, not a learner."""
    return bool(getattr(user, "admin", False)) or any(r.name.startswith("teacher-") for r in user.roles)


def landing_url(classroom_prefix: str, handler: BaseHandler) -> str:
    """JupyterHub's `default_url`: where a person lands after logging in (or at the hub's root).

    Teachers and admins land on the classroom; everyone else gets "" and so JupyterHub's
    own way: the interest form on a learner's first visit, their JupyterLab afterwards.

    Args:
        classroom_prefix: the classroom service's path, e.g. "/services/classroom/".
        handler: the hub's request handler (its `current_user` has just logged in).
    Returns:
        The URL to send the person to, or "" for JupyterHub's default.
    """
    user = handler.current_user
    if user is None or not teaches(user):
        return ""
    return url_path_join(handler.base_url, classroom_prefix.lstrip("/"))


class InterestsHandler(BaseHandler):
    def _spawner(self) -> WorkbookSpawnerMixin:
        from .spawner import WorkbookSpawnerMixin

        spawner = self.current_user.spawner
        if not isinstance(spawner, WorkbookSpawnerMixin):
            raise web.HTTPError(404, "This hub does not use the workbook spawner.")
        return spawner

    async def _render(
        self, spawner: WorkbookSpawnerMixin, chosen: list[str], message: str = "", error: str = ""
    ) -> None:
        html = await self.render_template(
            "interests.html",
            form=spawner.interest_form_html(checked=chosen, language=spawner.remembered_language()),
            message=message,
            error=error,
            running=bool(spawner.active),
        )
        self.finish(html)

    @web.authenticated
    async def get(self) -> None:
        spawner = self._spawner()
        await self._render(spawner, spawner.remembered_interests() or [])

    @web.authenticated
    async def post(self) -> None:
        spawner = self._spawner()
        values = self.get_body_arguments("interests")
        try:
            chosen = spawner.validate_interests(values)
            language = spawner.validate_language(self.get_body_arguments("language") or None)
        except web.HTTPError as e:
            self.set_status(400)
            await self._render(spawner, spawner.remembered_interests() or [], error=e.log_message or "")
            return
        interests_store.write(spawner.interests_dir, self.current_user.name, chosen, language)
        spawner.orm_spawner.user_options = {"interests": chosen, "language": language}
        self.db.commit()
        note = "Saved. Your new workbooks arrive the next time you open your space."
        await self._render(spawner, chosen, message=note)
