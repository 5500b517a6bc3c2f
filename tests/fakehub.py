"""A stand-in for JupyterHub's REST API and a thread that serves it beside the classroom service.

The fast tests of the classroom's rules need the hub's answers, not the hub: who a token
belongs to (what `HubAuth` asks) and the users' roles and groups (what the classroom's
`Hub` client asks, with the service's own token). `FakeHub` answers exactly those, from a
table of people, the way the hub does:

    GET  /hub/api/user                a token's owner: name, kind, admin, roles, groups, scopes
    GET  /hub/api/users               every user (the service's token only)
    GET  /hub/api/users/<name>        one user, 404 if there is none
    GET  /hub/api/groups              every group with its members
    GET  /hub/api/groups/<name>       one group, 404 if there is none

A token the hub does not know gets 403, as from the hub. Anything else answers 404, so a
classroom handler that asks the hub something new fails its test loudly.

`Servers` runs this API and the classroom service (`classroom.app.make_app`) on free ports
in one background event loop, so tests can call both with a plain HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.testing import bind_unused_port

ACCESS = "access:services!service=classroom"


@dataclass(frozen=True)
class Person:
    name: str
    groups: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    admin: bool = False
    kind: str = "user"
    scopes: tuple[str, ...] = (ACCESS,)

    def model(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "admin": self.admin,
            "roles": ["user", *self.roles] if self.kind == "user" else list(self.roles),
            "groups": list(self.groups),
            "scopes": list(self.scopes),
        }


@dataclass
class FakeHub:
    """The hub's answers about `people` (keyed by their token) for a service with `service_token`."""

    people: dict[str, Person]
    service_token: str
    sessions_ended: list[str] = field(default_factory=list)  # names, in the order the service ended them

    def users(self) -> list[Person]:
        return [p for p in self.people.values() if p.kind == "user"]

    def groups(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for person in self.users():
            for group in person.groups:
                found.setdefault(group, []).append(person.name)
        return {g: sorted(names) for g, names in sorted(found.items())}

    def app(self) -> web.Application:
        return web.Application(
            [
                (r"/hub/api/user", _Whoami, {"hub": self}),
                (r"/hub/api/users", _Users, {"hub": self}),
                (r"/hub/api/users/([^/]+)", _User, {"hub": self}),
                (r"/hub/api/groups", _Groups, {"hub": self}),
                (r"/hub/api/groups/([^/]+)", _Group, {"hub": self}),
                (r"/hub/api/clhub/users/([^/]+)/sessions", _Sessions, {"hub": self}),
            ]
        )


class _HubAPI(web.RequestHandler):
    def initialize(self, hub: FakeHub) -> None:
        self.hub = hub

    def token(self) -> str:
        return self.request.headers.get("Authorization", "").removeprefix("token ").strip()

    def service_only(self) -> None:
        if self.token() != self.hub.service_token:
            raise web.HTTPError(403)

    def check_xsrf_cookie(self) -> None:
        return None


class _Whoami(_HubAPI):
    def get(self) -> None:
        person = self.hub.people.get(self.token())
        if person is None:
            raise web.HTTPError(403)
        self.finish(person.model())


class _Users(_HubAPI):
    def get(self) -> None:
        self.service_only()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps([p.model() for p in self.hub.users()]))


class _User(_HubAPI):
    def get(self, name: str) -> None:
        self.service_only()
        found = [p for p in self.hub.users() if p.name == name]
        if not found:
            raise web.HTTPError(404)
        self.finish(found[0].model())


class _Groups(_HubAPI):
    def get(self) -> None:
        self.service_only()
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps([{"name": g, "users": users} for g, users in self.hub.groups().items()]))


class _Group(_HubAPI):
    def get(self, name: str) -> None:
        self.service_only()
        groups = self.hub.groups()
        if name not in groups:
            raise web.HTTPError(404)
        self.finish({"name": name, "users": groups[name]})


class _Sessions(_HubAPI):
    def delete(self, name: str) -> None:
        self.service_only()
        if not any(p.name == name for p in self.hub.users()):
            raise web.HTTPError(404)
        self.hub.sessions_ended.append(name)
        self.set_status(204)


class Servers:
    """The fake hub API and the app `make_classroom()` returns, served from one background loop.

    `make_classroom` runs in that loop (tornado's HTTP clients belong to the loop they are
    made in), after the hub's port is known: `hub_port` is set before it is called.
    """

    def __init__(self, hub: FakeHub, make_classroom: Callable[[], web.Application]) -> None:
        self.hub = hub
        self.make_classroom = make_classroom
        self.hub_socket, self.hub_port = bind_unused_port()
        self.classroom_socket, self.classroom_port = bind_unused_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._serve, name="fake-hub-and-classroom", daemon=True)
        self._ready = threading.Event()
        self._failed: BaseException | None = None
        self._servers: list[HTTPServer] = []

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self._servers = [HTTPServer(self.hub.app()), HTTPServer(self.make_classroom())]
            self._servers[0].add_sockets([self.hub_socket])
            self._servers[1].add_sockets([self.classroom_socket])

        try:
            self.loop.run_until_complete(start())
        except BaseException as e:  # reported to the test that started the servers
            self._failed = e
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()
        self._ready.wait(30)
        if self._failed is not None:
            raise self._failed

    def stop(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.stop()
                await server.close_all_connections()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
