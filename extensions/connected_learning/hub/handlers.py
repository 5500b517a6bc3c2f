"""Hub pages of our own: /hub/interests, where a learner changes their interests.

The new choice is remembered at once and takes effect at the learner's next start
(new workbooks are added; nothing already in their home is removed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jupyterhub.handlers import BaseHandler
from tornado import web

from . import interests as interests_store

if TYPE_CHECKING:
    from .spawner import WorkbookSpawnerMixin


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
            form=spawner.interest_form_html(checked=chosen),
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
        except web.HTTPError as e:
            self.set_status(400)
            await self._render(spawner, spawner.remembered_interests() or [], error=e.log_message or "")
            return
        interests_store.write(spawner.interests_dir, self.current_user.name, chosen)
        spawner.orm_spawner.user_options = {"interests": chosen}
        self.db.commit()
        note = "Saved. Your new workbooks arrive the next time your server starts."
        await self._render(spawner, chosen, message=note)
