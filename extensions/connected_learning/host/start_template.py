"""The start-up template: one root process that has imported a learner's server, forked per learner.

Started by the hub's client (`hub/template.py`) with a clean environment, the template imports
`PRELOAD` (JupyterLab, jupyter-server, JupyterHub's single-user server, nbgrader's learner
extensions, our learner modules), freezes its heap (`gc.freeze()`, so the forked servers keep
sharing those pages) and waits on a unix socket only root can reach
(`<data>/hub/template/start.sock`, 0600 in a 0700 folder). It holds no secret, no user data,
no thread and no socket but that one; it reads nothing a learner controls.

One request per connection, a JSON object (see `Request`), answered with {"pid": n} or
{"error": "..."}; the hub's stdout and stderr come along as file descriptors (SCM_RIGHTS),
so the server logs where a server started by Popen would. "ping" is answered with the code
stamp the template started with (`code_stamp`). For each request:

    template ── fork ──> middle: new session, joins the learner's control group, RLIMIT_NPROC,
                         setgroups/setgid/setuid, no_new_privs, then fork ──> server, and exit
    server: dumpable again, closes every inherited descriptor, takes the request's environment,
            umask and folder, reseeds `random`, takes again what modules read from the
            environment as they were imported, and runs jupyterhub-singleuser's main

The server is thus no child the template forked: it is in a session of its own, and when the
middle process exits it is adopted by the template, a child subreaper that reaps every ended
server (and what learners' kernels leave behind) at once. Killing the template hands the
servers to init and kills none of them; the hub polls and stops servers by pid, as
LocalProcessSpawner does for a server that outlived a hub restart.

    python -m connected_learning.host.start_template --socket PATH --command PATH/jupyterhub-singleuser
"""

from __future__ import annotations

import argparse
import array
import contextlib
import ctypes
import functools
import gc
import hashlib
import importlib
import importlib.metadata
import json
import os
import random
import resource
import signal
import socket
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STAMP = ""  # the template's code_stamp(), taken as it starts
PID_NAME = "template.pid"
SOCKET_CHECK_SECONDS = 5.0  # how often an idle template checks that its socket file is still its own
MAX_REQUEST = 256 * 1024  # bytes: a learner's environment is a few KB
CGROUP_ROOT = "/sys/fs/cgroup/"
PR_SET_NO_NEW_PRIVS = 38
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
ENTRY = "jupyterhub.singleuser:main"  # what jupyterhub-singleuser runs
# Read by jupyterhub.singleuser at import time: a request may not change what was imported.
IMPORT_TIME_ENV = ("JUPYTERHUB_SINGLEUSER_APP", "JUPYTERHUB_SINGLEUSER_EXTENSION")
# Their values when the template imported (taken before, since importing sets some of them).
IMPORTED_WITH = {key: os.environ.get(key, "") for key in IMPORT_TIME_ENV}

PRELOAD = (
    "jupyterhub.singleuser",
    "jupyterhub.singleuser.extension",
    "jupyterhub.services.auth",
    "jupyter_server.serverapp",
    "jupyter_server.services.contents.largefilemanager",
    "jupyter_server.services.kernels.kernelmanager",
    "jupyter_server.services.sessions.sessionmanager",
    "jupyter_server.services.kernels.websocket",
    "jupyter_server.gateway.managers",
    "jupyter_client.provisioning.local_provisioner",
    "jupyterlab",  # not jupyterlab.labhubapp: importing it patches the server for the older app mode
    "jupyterlab_server",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "terminado",
    "notebook",
    "notebook_shim",
    "nbformat",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
    # What the server imports as it starts (measured with PYTHONPROFILEIMPORTTIME on a real start):
    "jupyterlab.labapp",
    "jupyterlab.extensions",
    "jupyterlab.commands",
    "ipykernel.kernelspec",  # jupyter_client asks it for the native kernel's spec
    "httpx",
    "httpcore",
    "psutil",
    "async_lru",
    "jinja2.ext",
    "packaging.specifiers",
    "connected_learning.learner.full_disk",
    "connected_learning.learner.atomic_contents",
    "connected_learning.learner.lazy_assignments",
    "connected_learning.learner.memory_notice",
)


# Distributions whose upgrade changes what a template has imported (with this package's own files).
STAMPED = (
    "jupyterhub",
    "jupyter_server",
    "jupyterlab",
    "notebook",
    "nbgrader",
    "ipykernel",
    "jupyter_client",
    "tornado",
)


@functools.cache
def code_stamp() -> str:
    """What the code a template imports looks like now: this package's files and its neighbours' versions.

    A template started before an upgrade (or a `git pull` into an editable install) answers the
    ping with its own stamp; `ensure_running` then replaces it, so no learner's server is forked
    from code that is no longer installed. Cached: the hub computes it once.
    """
    # The interpreter and its environment, not the name it was started by (python, python3: one stamp).
    digest = hashlib.sha256(f"{os.path.realpath(sys.executable)}\n{sys.version}\n{sys.prefix}\n".encode())
    package = Path(__file__).resolve().parent.parent
    for path in sorted(package.rglob("*.py")):
        info = path.stat()
        digest.update(f"{path.relative_to(package)}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    for name in STAMPED:
        try:
            digest.update(f"{name}={importlib.metadata.version(name)}\n".encode())
        except importlib.metadata.PackageNotFoundError:
            digest.update(f"{name}=none\n".encode())
    return digest.hexdigest()[:16]


class BadRequest(ValueError):
    """A request the template refuses (the reason is sent back to the hub)."""


# ------------------------------------------------------------------ the request


@dataclass(frozen=True)
class Request:
    """What the hub asks for: one learner's server.

    `cgroup_procs`: the `cgroup.procs` files of the learner's control group (limits.Plan.procs),
    joined before the drop; `nproc`: RLIMIT_NPROC where no control group counts processes (0: none).
    """

    argv: tuple[str, ...]
    env: dict[str, str]
    cwd: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    cgroup_procs: tuple[str, ...]
    nproc: int
    umask: int


def _id(value: Any, what: str) -> int:
    if type(value) is not int or not 0 < value < 2**32 - 1:
        raise BadRequest(f"{what} must be a number above 0 (never root's), not {value!r}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise BadRequest(f"{what} must be text without NUL characters")
    return value


def parse_request(data: Any, command: str) -> Request:
    """Check every field of a request; `command`: the only argv[0] the template runs."""
    if not isinstance(data, dict):
        raise BadRequest("a request is a JSON object")
    expected = {"argv", "env", "cwd", "uid", "gid", "groups", "cgroup_procs", "nproc", "umask"}
    if set(data) != expected:
        raise BadRequest(f"a request has exactly the fields {sorted(expected)}")
    argv = data["argv"]
    if not isinstance(argv, list) or not argv or len(argv) > 200:
        raise BadRequest("argv must be a list of 1 to 200 strings")
    argv = tuple(_text(a, "each argument") for a in argv)
    if argv[0] != command:
        raise BadRequest(f"argv[0] must be {command!r}")
    env = data["env"]
    if not isinstance(env, dict) or len(env) > 500:
        raise BadRequest("env must be an object of at most 500 entries")
    for key, value in env.items():
        if not key or "=" in _text(key, "each env key") or not key.isprintable():
            raise BadRequest(f"env key {key!r} is not a variable name")
        _text(value, f"env {key}")
    for key in IMPORT_TIME_ENV:
        if env.get(key, "") != IMPORTED_WITH[key]:
            raise BadRequest(f"{key} differs from the template's; start this server as usual")
    cwd = _text(data["cwd"], "cwd")
    if not os.path.isabs(cwd) or os.path.normpath(cwd) != cwd:
        raise BadRequest("cwd must be an absolute, normalised path")
    groups = data["groups"]
    if not isinstance(groups, list) or len(groups) > 64:
        raise BadRequest("groups must be a list of at most 64 ids")
    procs = data["cgroup_procs"]
    if not isinstance(procs, list) or len(procs) > 16:
        raise BadRequest("cgroup_procs must be a list of at most 16 paths")
    for path in procs:
        _text(path, "each cgroup.procs path")
        if not path.startswith(CGROUP_ROOT) or os.path.basename(path) != "cgroup.procs" or ".." in path.split("/"):
            raise BadRequest(f"{path!r} is not a cgroup.procs file under {CGROUP_ROOT}")
    nproc, umask = data["nproc"], data["umask"]
    if type(nproc) is not int or not 0 <= nproc <= 1_000_000:
        raise BadRequest("nproc must be a number from 0 to 1000000")
    if type(umask) is not int or not 0 <= umask <= 0o777:
        raise BadRequest("umask must be a number from 0 to 0o777")
    return Request(
        argv=argv,
        env=dict(env),
        cwd=cwd,
        uid=_id(data["uid"], "uid"),
        gid=_id(data["gid"], "gid"),
        groups=tuple(_id(g, "each group") for g in groups),
        cgroup_procs=tuple(procs),
        nproc=nproc,
        umask=umask,
    )


# ------------------------------------------------------------------ the template


def preload(modules: tuple[str, ...] = PRELOAD) -> list[str]:
    """Import `modules`; the names that failed (the server then imports them itself)."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as e:  # an optional extension missing costs time, not correctness
            failed.append(f"{name} ({type(e).__name__}: {e})")
    return failed


def listen(path: str) -> socket.socket:
    """The root-only listening socket: 0600 in a 0700 folder owned by root."""
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise SystemExit(f"{folder} is not a folder of this user's")
    os.chmod(folder, 0o700)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(path)
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.listen(64)
    return server


def _receive(conn: socket.socket) -> tuple[bytes, list[int]]:
    data, fds = b"", list[int]()
    fd_size = array.array("i").itemsize
    while not data.endswith(b"\n"):
        chunk, ancdata, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fd_size))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(array.array("i", payload[: len(payload) - len(payload) % fd_size]))
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise BadRequest("the request is too long")
    return data, fds


def serve(server: socket.socket, command: str, entry: str = ENTRY) -> None:
    """Answer connections one at a time, until SIGTERM or until its socket file is gone.

    The template itself reads no request: a middle process forked per connection does, so no
    learner's environment or token ever sits in the template's memory for a later fork to inherit.

    A template whose socket file was removed or replaced can never be asked again: a stop that
    came while it was still starting (it found no pid to end), or a data folder deleted. It then
    ends itself rather than stay behind as a root process nobody stops; its servers go to init,
    as when it is killed.
    """
    path = server.getsockname()
    bound = os.lstat(path).st_ino
    server.settimeout(SOCKET_CHECK_SECONDS)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            if not _socket_is(path, bound):
                print(f"{path} is gone or replaced: nobody can reach this template; it ends", file=sys.stderr)
                return
            continue
        try:
            if _peer_uid(conn) != 0:
                with contextlib.suppress(OSError):
                    conn.sendall(b'{"error": "only root may ask"}\n')
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            middle = os.fork()
            if middle == 0:
                answer_in_middle(server, conn, command, entry)  # never returns
            conn.close()
            with contextlib.suppress(ChildProcessError):  # reaped already by reap_children
                os.waitpid(middle, 0)  # it exits as soon as the server is forked
        except OSError as e:
            print(f"A request failed: {e}", file=sys.stderr, flush=True)
        finally:
            conn.close()


def _socket_is(path: str, inode: int) -> bool:
    try:
        return os.lstat(path).st_ino == inode
    except OSError:
        return False


def reap_children(signum: int = 0, frame: Any = None) -> None:
    """SIGCHLD: reap every ended child at once (servers, and the orphans of learners' processes)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _peer_uid(conn: socket.socket) -> int:
    cred = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)  # pid, uid, gid
    return int.from_bytes(cred[4:8], sys.byteorder)


def answer_in_middle(server: socket.socket, conn: socket.socket, command: str, entry: str) -> None:
    """In the middle process: read and check the request, become the learner, fork the server."""
    code = 1
    try:
        server.close()
        conn.settimeout(10)
        data, fds = _receive(conn)
        if data.strip() == b"ping":
            conn.sendall(json.dumps({"pong": True, "stamp": STAMP}).encode() + b"\n")
            code = 0
            return
        request = parse_request(json.loads(data), command)
        become_learner(request)
        pid = os.fork()
        if pid == 0:
            run_server(request, [conn], fds[:2], entry)  # never returns
        conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        code = 0
    except BaseException as e:
        with contextlib.suppress(BaseException):
            conn.sendall(json.dumps({"error": f"{type(e).__name__}: {e}"}).encode() + b"\n")
    finally:
        os._exit(code)


def become_learner(request: Request) -> None:
    """In the middle process, still root: new session, the learner's group and limits, then the drop."""
    os.setsid()
    for path in request.cgroup_procs:  # before the drop: every process the server forks stays inside
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
    if request.nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (request.nproc, request.nproc))
    os.setgroups(list(request.groups))
    os.setgid(request.gid)
    os.setuid(request.uid)
    if os.getuid() != request.uid or os.geteuid() != request.uid or os.getegid() != request.gid:
        raise OSError("the drop to the learner did not take")
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def run_server(request: Request, sockets: list[socket.socket], stdio: list[int], entry: str = ENTRY) -> None:
    """In the server process, already the learner: a clean process, then jupyterhub-singleuser."""
    code = 1
    try:
        os.setpgid(0, 0)
        # The kernel marks a process that changed uid without exec not dumpable: the learner could not
        # read their own server's /proc (its descriptors, its memory), as they can a server started
        # with exec. It is the learner's through and through by now, so it is theirs to inspect.
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
        for sock in sockets:
            sock.detach()  # closed below by number, never again by a stray object
        null = os.open(os.devnull, os.O_RDWR)
        out = stdio[0] if stdio else null
        err = stdio[1] if len(stdio) > 1 else out
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
        for number in (signal.SIGTERM, signal.SIGCHLD):  # SIGPIPE stays ignored, as in any Python
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.environ.clear()
        os.environ.update(request.env)
        os.umask(request.umask)
        random.seed()  # fork reseeds it already (os.register_at_fork); once more costs nothing
        os.chdir(request.cwd)
        refresh_import_time_values()
        sys.argv = list(request.argv)
        module, _, function = entry.partition(":")
        code = getattr(importlib.import_module(module), function)() or 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def refresh_import_time_values() -> None:
    """Take again what preloaded modules took from the template's environment or ids as they were imported.

    A fresh jupyterhub-singleuser computes these from the learner's environment; a fork keeps the
    template's (HOME=/nonexistent, root's uid), so they are computed again here, as the learner,
    before the server reads them. tests/test_start_template.py compares every module's values and
    every trait's default in a forked server with a fresh import's, so a new one shows up there.
    The learner's own ~/.local site-packages are not added to the server's sys.path (a fresh
    server would add them if they exist); their kernels, fresh processes, still get them.
    """
    import site

    site.USER_BASE = site.USER_SITE = None
    site.getusersitepackages()  # recomputed from HOME (sets both)
    install = sys.modules.get("distutils.command.install") or sys.modules.get("setuptools._distutils.command.install")
    if install is not None:
        install.USER_BASE, install.USER_SITE = site.USER_BASE, site.USER_SITE  # type: ignore[attr-defined]
    trash = sys.modules.get("send2trash.plat_other")
    if trash is not None:  # the trash folder and uid of jupyter-server's "delete to trash"
        importlib.reload(trash)
    labapp, commands = sys.modules.get("jupyterlab.labapp"), sys.modules.get("jupyterlab.commands")
    if labapp is not None and commands is not None:  # labapp imports commands
        _set_default(labapp.LabApp, "user_settings_dir", commands.get_user_settings_dir())
        _set_default(labapp.LabApp, "workspaces_dir", commands.get_workspaces_dir())
    session = sys.modules.get("jupyter_client.session")
    if session is not None:
        _set_default(session.Session, "username", os.environ.get("USER", "username"))
    auth = sys.modules.get("jupyterhub.services.auth")
    if auth is not None:
        _set_default(auth.HubAuth, "base_url", os.getenv("JUPYTERHUB_SERVICE_PREFIX") or "/")
        _set_default(auth.HubAuth, "api_url", os.getenv("JUPYTERHUB_API_URL") or "http://127.0.0.1:8081/hub/api")
    processes = sys.modules.get("multiprocessing.process")
    if processes is not None:
        processes.ORIGINAL_DIR = os.getcwd()  # type: ignore[attr-defined]


def _set_default(cls: Any, name: str, value: Any) -> None:
    """Give trait `name` of `cls` (and of its subclasses that share it) a new static default.

    traitlets copies a static default into each class's `_static_immutable_initial_values` when
    the class is made; both places are set, before any instance exists in this process.
    """
    trait = cls.class_traits()[name]
    trait.default_value = value
    classes = [cls]
    while classes:
        klass = classes.pop()
        classes.extend(klass.__subclasses__())
        initial = klass.__dict__.get("_static_immutable_initial_values")
        if initial is not None and name in initial and klass.class_traits().get(name) is trait:
            initial[name] = value


def wanted(enabled: bool, host_name: str) -> bool:
    """Whether this hub forks learners' servers from a template: the setting, on the system host, as root."""
    return enabled and host_name == "system" and os.geteuid() == 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--socket", required=True, help="path of the listening socket")
    parser.add_argument("--command", required=True, help="the jupyterhub-singleuser every request must name")
    parser.add_argument("--entry", default=ENTRY, help=f"module:function each server runs (default {ENTRY})")
    args = parser.parse_args(argv)
    if os.getuid() != 0:
        raise SystemExit("The start-up template runs as root (it drops to each learner).")
    started = time.monotonic()
    global STAMP
    STAMP = code_stamp()  # before importing: the files as they were when this template loaded them
    failed = preload()
    for line in failed:
        print(f"Not preloaded: {line}", file=sys.stderr)
    server = listen(args.socket)
    # Servers (and processes their kernels leave behind) are adopted by the template when the
    # middle process exits, and reaped at once, so no ended server lingers as a zombie that
    # the hub's pid-based poll would take for running. Killing the template hands them to init.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise SystemExit(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")
    signal.signal(signal.SIGCHLD, reap_children)
    Path(args.socket).with_name(PID_NAME).write_text(f"{os.getpid()}\n")
    gc.collect()
    gc.freeze()  # from here on the shared pages stay untouched by the collector
    print(f"Start-up template ready in {time.monotonic() - started:.1f}s on {args.socket}", file=sys.stderr, flush=True)
    serve(server, args.command, args.entry)


if __name__ == "__main__":
    main()
