"""The hub's side of the start-up template (`host/start_template.py`): start it, ask it, stop it.

`ensure_running` starts a template where none of today's code answers (one at a time, under a
lock file beside the socket, so a rush of first starts launches one template), replacing one of
older code; `start_early` does so in the background as the hub starts. `start_server` asks for a
learner's server; it raises `TemplateUnavailable` where the template does not answer, and the
spawner then starts the server as usual.
"""

from __future__ import annotations

import array
import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import ClhubError
from ..host.start_template import PID_NAME, code_stamp

SOCKET_NAME = "start.sock"
SINGLEUSER = "jupyterhub-singleuser"  # beside the hub's Python, as the hub's configuration names it
LOG_NAME = "template.log"
LOCK_NAME = "start.lock"
# The template's own environment: nothing of the hub's (no tokens, no cookie secret).
_checked: set[str] = set()  # sockets whose template this process has found running today's code
_early: dict[str, threading.Thread] = {}  # start_early's threads, by socket path, for `stop` to wait on
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "VIRTUAL_ENV")


class TemplateUnavailable(ClhubError):
    """The template did not answer; the server starts as usual."""


def socket_path(data_dir: str | Path) -> str:
    return str(Path(data_dir) / "hub" / "template" / SOCKET_NAME)


def _ask(path: str, payload: bytes, timeout: float, stdio: tuple[int, ...] = ()) -> dict[str, Any]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(path)
            if stdio:
                sock.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", stdio))])
            else:
                sock.sendall(payload)
            answer = b""
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except OSError as e:
            raise TemplateUnavailable(f"the start-up template at {path} does not answer ({e})") from e
    finally:
        sock.close()
    try:
        reply = json.loads(answer)
    except ValueError as e:
        raise TemplateUnavailable(f"the start-up template at {path} gave no answer") from e
    if not isinstance(reply, dict):
        raise TemplateUnavailable(f"the start-up template at {path} gave an odd answer")
    return reply


def template_pid(path: str) -> int | None:
    """The pid the template at `path` wrote when it started, if that process still runs."""
    try:
        pid = int(Path(path).with_name(PID_NAME).read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop(path: str, wait: float = 10) -> None:
    """End the template at `path` (servers it started keep running); waits up to `wait` s for it to end,
    and reaps it where this process started it (`clhub demo`), so no zombie outlives the demo."""
    early = _early.pop(path, None)
    if early is not None:  # a template this process is starting right now would come up after the stop
        early.join(wait)
    pid = template_pid(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return  # ours, and reaped
        except ChildProcessError:  # another's child: wait until it is gone (or a zombie its parent reaps)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rpartition(")")[2].split()[0] == "Z":
                        return
            except OSError:
                return
        time.sleep(0.05)


def running_stamp(path: str) -> str | None:
    """The code stamp of the template answering at `path`, or None where none answers."""
    try:
        reply = _ask(path, b"ping\n", 2)
    except TemplateUnavailable:
        return None
    return str(reply.get("stamp", "")) if reply.get("pong") is True else None


def is_running(path: str) -> bool:
    return running_stamp(path) is not None


def start_server(path: str, request: dict[str, Any], timeout: float = 30, stdio: tuple[int, ...] = ()) -> int:
    """Ask the template at `path` for a server; its pid. Raises TemplateUnavailable.

    `stdio`: the server's stdout and stderr (default: this process's, as Popen would give).
    """
    payload = json.dumps(request).encode() + b"\n"
    reply = _ask(path, payload, timeout, stdio=stdio or (sys.stdout.fileno(), sys.stderr.fileno()))
    if "pid" not in reply or type(reply["pid"]) is not int:
        raise TemplateUnavailable(f"the start-up template refused: {reply.get('error', reply)}")
    return int(reply["pid"])


def template_command(path: str, command: str) -> list[str]:
    return [sys.executable, "-m", "connected_learning.host.start_template", "--socket", path, "--command", command]


def launch(path: str, command: str) -> subprocess.Popen[bytes]:
    """Start the template in a session of its own, with a clean environment; it outlives the hub."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env["HOME"] = "/nonexistent"  # nothing it imports may cache root's home for a learner
    log = os.open(os.path.join(folder, LOG_NAME), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            template_command(path, command),
            env=env,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
        )
    finally:
        os.close(log)


@contextlib.contextmanager
def _starting(path: str) -> Any:
    """Held while a template is checked or started: a rush of first starts, in the hub's threads or in
    `clhub up` as it starts the hub, launches one template, not thirty (flock, across processes)."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(folder, LOCK_NAME), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def ensure_running(path: str, command: str, wait: float = 60) -> bool:
    """True once a template of today's code answers at `path` (waits up to `wait` s).

    One that does not answer is started; one of older code (`code_stamp`) is stopped first,
    leaving the servers it started running.
    """
    with _starting(path):
        stamp = running_stamp(path)
        if stamp == code_stamp():
            return True
        if stamp is not None:
            print(f"The start-up template at {path} runs older code; starting a new one", file=sys.stderr, flush=True)
            stop(path)
        proc = launch(path, command)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            if os.path.exists(path) and running_stamp(path) == code_stamp():
                return True
            time.sleep(0.1)
        return False


def known_running(path: str, command: str, wait: float = 60) -> bool:
    """`ensure_running`, once per process and socket: a hub's later starts ask the template straight
    away (no ping, no lock on the spawn path); `forget` makes the next start check again."""
    if path in _checked:
        return True
    if not ensure_running(path, command, wait):
        return False
    _checked.add(path)
    return True


def forget(path: str) -> None:
    """The template at `path` did not answer: the next start checks it (and starts one) again."""
    _checked.discard(path)


def start_early(path: str, command: str) -> None:
    """Start the template as the hub starts (in the background), so the first learner does not wait for it."""
    thread = threading.Thread(target=ensure_running, args=(path, command), name="start-up template", daemon=True)
    _early[path] = thread
    thread.start()
