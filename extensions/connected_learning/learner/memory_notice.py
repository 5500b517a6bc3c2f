"""Tell the learner, in their notebook, when the memory limit stopped their kernel.

Each learner's server runs in a control group with a memory limit (`host/limits.py`). A
kernel that asks for more is killed by the operating system, and JupyterLab would only
say "The kernel appears to have died". This kernel websocket connection (set as
`ServerApp.kernel_websocket_connection_class` by `singleuser_config.py`) notices, when
the server restarts a dead kernel, that the group's OOM-kill counter went up, and writes
a plain explanation into the output of the cell that was running, just before the
"restarting" status. The server's log gets the same words.
"""

from __future__ import annotations

import json
import os
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_server.services.kernels.connection.base import deserialize_msg_from_ws_v1, serialize_msg_to_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from ..host import cgroups, limits
from ..host.limits import memory_message

V1 = "v1.kernel.websocket.jupyter.org"


def own_memory_folders() -> dict[str, str]:
    """The folders of this server's own control group when it is a learner's group (else {})."""
    layout = cgroups.read_machine()
    folders: dict[str, str] = {}
    if layout.kind == "v1" and "memory" in layout.mounts:
        folders = {"memory": os.path.join(layout.mounts["memory"], layout.own["memory"].lstrip("/"))}
    elif layout.kind == "v2":
        folders = {"": os.path.join(layout.mounts[""], layout.own[""].lstrip("/"))}
    elif layout.kind == "systemd":
        own = limits.parse_own_cgroup(_read("/proc/self/cgroup")).get("", "/")
        folders = {"": os.path.join("/sys/fs/cgroup", own.lstrip("/"))}
    # Only a group the hub made for a learner counts: the demo's server shares the hub's.
    mine = all(os.path.basename(os.path.dirname(f)) in (limits.PARENT, limits.SLICE) for f in folders.values())
    return folders if mine else {}


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class OomCounter:
    """The learner's OOM kills, shared by every kernel of this server: each kill is told once."""

    def __init__(self, folders: dict[str, str]) -> None:
        self.folders = folders
        self.seen = cgroups.oom_kills(folders)

    def new_kills(self) -> int:
        now = cgroups.oom_kills(self.folders)
        fresh, self.seen = max(0, now - self.seen), max(now, self.seen)
        return fresh


_counter: OomCounter | None = None


def counter() -> OomCounter:
    global _counter
    if _counter is None:
        _counter = OomCounter(own_memory_folders())
    return _counter


def memory_limit_mb() -> int:
    """The limit the hub gave this server (JupyterHub's MEM_LIMIT, in bytes)."""
    value = os.environ.get("MEM_LIMIT", "")
    return int(value) // (1024 * 1024) if value.isdigit() else 0


class MemoryNoticeConnection(ZMQChannelsWebsocketConnection):
    """The stock kernel connection, plus the memory notice on a restart after an OOM kill."""

    _running: dict[str, Any] | None = None  # header of the last execute_request sent to the kernel

    def connect(self) -> Any:
        counter()  # the count to compare with is the one before this kernel could die
        return super().connect()

    def handle_incoming_message(self, incoming_msg: str) -> None:
        try:
            if self.subprotocol == V1:
                _, parts = deserialize_msg_from_ws_v1(incoming_msg)
                header = self.session.unpack(parts[0])
            else:
                header = json.loads(incoming_msg)["header"]
            if header.get("msg_type") == "execute_request":
                self._running = header
        except Exception:  # noqa: BLE001 (a message we cannot read is the stock code's business)
            pass
        super().handle_incoming_message(incoming_msg)

    def tell_if_out_of_memory(self) -> None:
        if not counter().new_kills():
            return
        text = memory_message(memory_limit_mb())
        self.log.warning("Kernel %s: %s", self.kernel_id, text)
        msg = self.session.msg("stream", {"name": "stderr", "text": text + "\n"}, parent=self._running or {})
        if self.subprotocol == V1:
            self.write_message(serialize_msg_to_ws_v1(msg, "iopub", self.session.pack), binary=True)
        else:
            msg["channel"] = "iopub"
            self.write_message(json.dumps(msg, default=json_default))

    def on_kernel_restarted(self) -> None:
        self.tell_if_out_of_memory()  # before "restarting": JupyterLab still shows the running cell
        super().on_kernel_restarted()

    def on_restart_failed(self) -> None:
        self.tell_if_out_of_memory()
        super().on_restart_failed()
