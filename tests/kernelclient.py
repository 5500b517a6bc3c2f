"""Run code in a learner's real kernel, through the proxy, the way JupyterLab does.

Asks the hub where the learner's server is (with per-user subdomains, its own host),
starts a kernel with the REST API, sends one `execute_request` over the kernel's
websocket and returns what the code printed (stdout and stderr) and any error name, ending
in "[kernel restarting]" when the kernel died meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from hubclient import http_session, loopback


def _message(code: str) -> dict[str, Any]:
    msg_id = uuid.uuid4().hex
    return {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": uuid.uuid4().hex,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": "",
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "buffers": [],
        "content": {
            "code": code,
            "silent": False,
            "store_history": False,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    }


async def _run(ws_url: str, token: str, code: str, timeout: float) -> str:
    connect_to, host = loopback(ws_url)
    request = HTTPRequest(connect_to, headers={"Authorization": f"token {token}", **host})
    conn = await websocket_connect(request)
    msg = _message(code)
    await conn.write_message(json.dumps(msg))
    output: list[str] = []
    deadline = asyncio.get_running_loop().time() + timeout
    try:
        while True:
            left = deadline - asyncio.get_running_loop().time()
            raw = await asyncio.wait_for(conn.read_message(), max(left, 0.1))
            if raw is None:
                raise ConnectionError("the kernel websocket closed")
            reply = json.loads(raw)
            state = reply["content"].get("execution_state") if reply["header"]["msg_type"] == "status" else None
            if state in ("restarting", "dead"):  # the kernel died (the server's status, no parent)
                output.append(f"[kernel {state}]")
                return "".join(output)
            if reply.get("parent_header", {}).get("msg_id") != msg["header"]["msg_id"]:
                continue
            kind = reply["header"]["msg_type"]
            if kind == "stream":
                output.append(reply["content"]["text"])
            elif kind == "error":
                output.append(f"{reply['content']['ename']}: {reply['content']['evalue']}")
            elif kind == "status" and reply["content"]["execution_state"] == "idle":
                return "".join(output)
    finally:
        conn.close()


def run_code(base_url: str, username: str, token: str, code: str, timeout: float = 60) -> str:
    """Start a kernel in `username`'s server, run `code`, shut the kernel down, return output.

    `base_url` is the hub's; `token` one of `username`'s API tokens.
    """
    http = http_session()
    http.headers["Authorization"] = f"token {token}"
    model = http.get(f"{base_url.rstrip('/')}/hub/api/users/{username}", timeout=60)
    model.raise_for_status()
    # A full URL on the server's own host with subdomains, else a path on the hub's.
    api = urljoin(base_url, model.json()["servers"][""]["url"]) + "api"
    r = http.post(f"{api}/kernels", json={"name": "python3"}, timeout=60)
    r.raise_for_status()
    kernel_id = r.json()["id"]
    try:
        ws_url = api.replace("http://", "ws://", 1) + f"/kernels/{kernel_id}/channels"
        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, _run(ws_url, token, code, timeout)).result()
    finally:
        http.delete(f"{api}/kernels/{kernel_id}", timeout=30)
