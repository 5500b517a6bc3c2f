"""Run code in a learner's real kernel, through the proxy, the way JupyterLab does.

Starts a kernel with the REST API, sends one `execute_request` over the kernel's
websocket and returns what the code printed (stdout and stderr) and any error name.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def _message(code: str) -> dict[str, Any]:
    msg_id = uuid.uuid4().hex
    return {
        "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": ""},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False,
                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True},
    }


async def _run(ws_url: str, token: str, code: str, timeout: float) -> str:
    request = HTTPRequest(ws_url, headers={"Authorization": f"token {token}"})
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
    """Start a kernel in `username`'s server, run `code`, shut the kernel down, return output."""
    api = f"{base_url.rstrip('/')}/user/{username}/api"
    headers = {"Authorization": f"token {token}"}
    r = requests.post(f"{api}/kernels", json={"name": "python3"}, headers=headers, timeout=60)
    r.raise_for_status()
    kernel_id = r.json()["id"]
    try:
        ws_url = api.replace("http://", "ws://", 1) + f"/kernels/{kernel_id}/channels"
        return asyncio.run(_run(ws_url, token, code, timeout))
    finally:
        requests.delete(f"{api}/kernels/{kernel_id}", headers=headers, timeout=30)
