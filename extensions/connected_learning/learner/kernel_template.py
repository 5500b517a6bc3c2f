"""Kernels forked from a template that has already imported what workbooks use.

A learner's server starts a fresh Python kernel for every notebook it opens; most of that
start is importing ipykernel (and debugpy), and then the first widget cell imports
ipywidgets and our widgets. `TemplateProvisioner` (a jupyter_client kernel provisioner,
entry point ``clhub-kernel-template``) keeps one template process per learner's server that
has imported them once (`PRELOAD`), frozen its heap (`gc.freeze()`) and waits; each kernel
is a fork of it. The template starts in the background when the server asks for its first
kernel; kernels asked for before it is ready start as usual.

pandas, numpy and matplotlib are left out of `PRELOAD` on purpose (`HEAVY` adds them, through
`TemplateProvisioner.preload`): a kernel that never imports them (Beat Lab's) would carry the
template's copy anyway, about 45 MB of PSS more per learner (benchmarks/widgets.py).
Importing them before a fork is safe with the care taken here: numpy's BLAS pool is kept to
one thread, and matplotlib's inline backend is not imported (it hooks into IPython only when
imported inside a running kernel; imported in the template, plots would not show).

    learner's server (the learner's uid and cgroup)
      └─ template: python -m connected_learning.learner.kernel_template SOCKET
           └─ kernel (fork): own session, the server's env/cwd/fds, ipykernel's app

    <runtime dir>/clhub-kt-XXXXXXXX/   0700, the learner's   (or the temp dir if too long)
        sock                           SOCK_SEQPACKET, the template listens, peers checked by uid

The template is the learner's own process (a child of their server), so it has no more
reach than their kernels: it starts with an environment of only the names in
`TEMPLATE_ENV` (never the server's token) and answers only its own uid. A kernel gets its
environment, working folder and stdout/stderr only after the fork, closes every other
inherited descriptor, and reseeds `random` and numpy. The template refuses to fork while
it has more than one thread (BLAS pools are kept to one: `OPENBLAS_NUM_THREADS=1`, so
forked kernels do linear algebra on one thread). Anything the template cannot serve (another
command, other PYTHON* variables) or any failure of the template starts the kernel as
jupyter_client always does, with a log line.
"""

from __future__ import annotations

import array
import gc
import importlib.util
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from jupyter_client.provisioning import LocalProvisioner
from traitlets import List, Unicode

#: The only variables the template is started with (everything else, tokens included, stays out).
#: (plus LC_* and PYTHON*, which act on how Python starts and hold nothing secret).
TEMPLATE_ENV = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "VIRTUAL_ENV")
#: Set in the template before importing: one BLAS thread (a fork must have one thread), and
#: matplotlib's backend as ipykernel would set it (matplotlib reads it when first imported).
TEMPLATE_FIXED_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
}
#: What the template imports once, for every kernel forked from it: what every kernel imports.
PRELOAD = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",  # imports debugpy when a kernel starts: a sixth of its start
    "ipywidgets",
    "connected_learning.widgets.beat_maker",
    "connected_learning.widgets.reflection_box",
    "connected_learning.widgets.puzzles",
)
#: What a site whose workbooks mostly chart may add (more memory per learner, faster charts).
HEAVY = ("numpy", "pandas", "matplotlib.pyplot")
READY_TIMEOUT = 60.0  # seconds the template may take to import everything before we give up on it
MAX_FAILURES = 3  # templates that did not get ready before this server stops starting them
REQUEST_TIMEOUT = 10.0  # seconds one fork or status request may take
MAX_MESSAGE = 1 << 20  # bytes of one request (a kernel's environment)
SOCKET_PATH_MAX = 100  # bytes; sockaddr_un holds 108
EXITS_KEPT = 1000  # exit codes of reaped kernels the template remembers

log = logging.getLogger(__name__)


class TemplateUnavailable(Exception):
    """The template cannot start this kernel; the caller starts it as usual."""


# ---------------------------------------------------------------- the server's side


class Template:
    """The server's handle on its template process: started on first use, asked to fork."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.folder: Path | None = None
        self.started = 0.0
        self.is_ready = False
        self.failures = 0
        self.preload = list(PRELOAD)

    @property
    def socket_path(self) -> Path:
        assert self.folder is not None
        return self.folder / "sock"

    def ready(self) -> bool:
        """Whether the template can fork a kernel now. If it does not run, it is started in the
        background: the kernels asked for meanwhile start as usual, so that a learner's first
        notebook never waits for the template's imports (about 1.5 s of CPU)."""
        if self.process is not None and self.process.poll() is not None:
            self.stop()  # it died; a new one is started below
        if self.process is None:
            if self.failures < MAX_FAILURES:
                self.start()
            return False
        if not self.is_ready:
            assert self.process.stdout is not None
            if select.select([self.process.stdout], [], [], 0)[0]:
                line = self.process.stdout.readline()  # written whole, in one write
                self.is_ready = line.strip() == b"ready"
                if not self.is_ready:
                    self.fail(f"it said {line!r}")
            elif time.monotonic() - self.started > READY_TIMEOUT:
                self.fail(f"it took over {READY_TIMEOUT:.0f} s")
        return self.is_ready

    def start(self) -> None:
        self.folder = socket_folder()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", __name__, str(self.socket_path), str(os.getpid()), *self.preload],
            env=template_env(os.environ),
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
        )

    def fail(self, why: str) -> None:
        self.failures += 1
        later = "trying again later" if self.failures < MAX_FAILURES else "not trying again"
        log.warning("The kernel template did not get ready (%s); %s", why, later)
        self.stop()

    def stop(self) -> None:
        """End the template (its kernels end with it: they watch their parent)."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            assert self.process.stdout is not None
            self.process.stdout.close()
        self.process = None
        self.is_ready = False

    def request(self, message: dict[str, Any], fds: list[int] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        """One request to the template and its answer (blocking, a few milliseconds)."""
        if self.folder is None:
            raise TemplateUnavailable("the kernel template was never started")
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
            sock.settimeout(REQUEST_TIMEOUT)
            try:
                sock.connect(str(self.socket_path))
                socket.send_fds(sock, [json.dumps(message).encode()], list(fds))
                answer = json.loads(sock.recv(MAX_MESSAGE) or b"null")
            except (OSError, ValueError) as error:
                raise TemplateUnavailable(f"the kernel template did not answer: {error}") from error
        if not isinstance(answer, dict) or "error" in answer:
            raise TemplateUnavailable(f"the kernel template refused: {answer}")
        return answer

    def fork(self, argv: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> ForkedKernel:
        """A kernel forked with ipykernel's `argv` (see `servable`), `env`, `cwd` and stdin/out/err `fds`."""
        answer = self.request({"op": "fork", "argv": argv, "env": env, "cwd": cwd}, fds)
        return ForkedKernel(int(answer["pid"]), self)

    def exit_code(self, pid: int) -> int:
        try:
            code = self.request({"op": "status", "pid": pid}).get("exit")
        except TemplateUnavailable:
            code = None
        # A kernel whose template is gone was reaped by someone else: its code is lost.
        return 1 if code is None else int(code)


def socket_folder() -> Path:
    """A new 0700 folder for the template's socket, in the learner's Jupyter runtime dir."""
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = Path(jupyter_runtime_dir())
    runtime.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="clhub-kt-", dir=runtime))
    if len(str(folder / "sock").encode()) > SOCKET_PATH_MAX:
        folder.rmdir()
        folder = Path(tempfile.mkdtemp(prefix="clhub-kt-"))
    return folder


def template_env(server_env: Mapping[str, str]) -> dict[str, str]:
    """The template's whole environment: a few plain names, Python's own switches, ours."""
    kept = {
        name: value for name, value in server_env.items() if name in TEMPLATE_ENV or name.startswith(("LC_", "PYTHON"))
    }
    return kept | TEMPLATE_FIXED_ENV


def servable(cmd: list[str], env: dict[str, str]) -> list[str]:
    """The arguments for ipykernel's app in `cmd` (connection file, --options) if the template
    can start it, else TemplateUnavailable.

    Only this Python's own ipykernel, with a connection file and options, and only when the
    kernel's PYTHON* and BLAS variables are the template's (they act at import time)."""
    options = cmd[5:]  # e.g. nbclient's --HistoryManager.hist_file=:memory:
    if cmd[:4] != [sys.executable, "-m", "ipykernel_launcher", "-f"] or len(cmd) < 5:
        raise TemplateUnavailable(f"not the template's kind of kernel: {cmd}")
    if not all(option.startswith("--") and "=" in option for option in options):
        raise TemplateUnavailable(f"not the template's kind of kernel options: {options}")
    template = template_env(os.environ)
    for name in set(env) | set(template):
        acting = name.startswith("PYTHON") or name in TEMPLATE_FIXED_ENV
        if acting and env.get(name, template.get(name)) != template.get(name):
            raise TemplateUnavailable(f"the kernel's {name} differs from the template's")
    return cmd[4:]


class ForkedKernel:
    """What LocalProvisioner expects of a Popen, for a kernel that is the template's child.

    It is not our child, so it is watched through a pidfd (signals cannot reach a recycled
    pid) and its exit code comes from the template, which reaps it."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int, template: Template) -> None:
        self.pid = pid
        self.template = template
        self.pidfd: int | None = os.pidfd_open(pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None and self.pidfd is not None:
            ready, _, _ = select.select([self.pidfd], [], [], 0)
            if ready:
                os.close(self.pidfd)
                self.pidfd = None
                self.returncode = self.template.exit_code(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.05)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None and self.pidfd is not None:  # as Popen: an ended kernel is left be
            signal.pidfd_send_signal(self.pidfd, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


_template: Template | None = None


def server_template() -> Template:
    """This server's one template (one per process: one per learner's server)."""
    global _template
    if _template is None:
        _template = Template()
    return _template


def kernel_fds(kwargs: dict[str, Any]) -> tuple[list[int], list[int]]:
    """(stdin, stdout, stderr descriptors to hand the kernel, those we opened and must close),
    as jupyter_client's launcher would give them: stdin never inherited, the rest as asked."""
    opened: list[int] = []

    def fd(value: Any, default: int) -> int:
        if value is None:
            return default
        if value == subprocess.DEVNULL:
            opened.append(os.open(os.devnull, os.O_RDWR))
            return opened[-1]
        return int(value if isinstance(value, int) else value.fileno())

    stdin = fd(subprocess.DEVNULL, 0)
    return [stdin, fd(kwargs.get("stdout"), 1), fd(kwargs.get("stderr"), 2)], opened


class TemplateProvisioner(LocalProvisioner):
    """LocalProvisioner whose kernels are forks of the server's template process."""

    preload = List(
        Unicode(),
        default_value=list(PRELOAD),
        help="""Modules the kernel template imports once for every kernel forked from it.
        Default: ipykernel, debugpy, ipywidgets and the widgets of the first workbooks. A site
        whose workbooks chart may add kernel_template.HEAVY (numpy, pandas, matplotlib.pyplot):
        faster charts, about 45 MB more per learner. Read when the template starts.""",
    ).tag(config=True)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        env = dict(kwargs.get("env") or os.environ)
        try:
            argv = servable(cmd, env)  # before starting a template for a kernel it could not serve
        except TemplateUnavailable as error:
            log.warning("Starting the kernel without the kernel template: %s", error)
            return await super().launch_kernel(cmd, **kwargs)
        template = server_template()
        template.preload = list(self.preload)
        if not template.ready():
            log.info("Starting the kernel as usual while the kernel template gets ready")
            return await super().launch_kernel(cmd, **kwargs)
        fds, opened = kernel_fds(kwargs)
        try:
            process = template.fork(argv, env, str(kwargs.get("cwd") or os.getcwd()), fds)
        except TemplateUnavailable as error:
            log.warning("Starting the kernel without the kernel template: %s", error)
            return await super().launch_kernel(cmd, **kwargs)
        finally:
            for number in opened:
                os.close(number)
        self.process = process  # type: ignore[assignment]  # Popen in all that LocalProvisioner uses
        self.pid = self.pgid = process.pid  # the kernel leads a session of its own
        self.cwd = kwargs.get("cwd", Path.cwd())
        return self.connection_info


# ---------------------------------------------------------------- the template's side


def serve(path: Path, server: int, preload: list[str]) -> None:
    """The template: import `preload`, freeze, then fork kernels on request until killed."""
    libc_prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: end with the learner's server
    if os.getppid() != server:  # it ended before the line above
        sys.exit(1)
    for module in preload:
        __import__(module)
    gc.collect()
    gc.freeze()
    exits: dict[int, int] = {}

    def reap(*_: object) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            exits[pid] = os.waitstatus_to_exitcode(status)
            while len(exits) > EXITS_KEPT:
                del exits[next(iter(exits))]

    signal.signal(signal.SIGCHLD, reap)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(path))
    os.chmod(path, 0o600)
    listener.listen(16)
    print("ready", flush=True)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    while True:
        conn, _ = listener.accept()
        with conn:
            try:
                answer = handle(conn, listener, exits, reap)
            except Exception as error:  # noqa: BLE001 (the template outlives a bad request)
                answer = {"error": f"{type(error).__name__}: {error}"}
            try:
                conn.send(json.dumps(answer).encode())
            except OSError:
                pass


def handle(
    conn: socket.socket, listener: socket.socket, exits: dict[int, int], reap: Callable[[], None]
) -> dict[str, Any]:
    uid = array.array("i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
    data, fds, _, _ = socket.recv_fds(conn, MAX_MESSAGE, 3)
    try:
        if uid != os.getuid():
            return {"error": "not this learner's"}
        request = json.loads(data)
        if request.get("op") == "status":
            reap()
            return {"exit": exits.get(int(request["pid"]))}
        if request.get("op") != "fork" or len(fds) != 3:
            return {"error": "unknown request"}
        threads = len(os.listdir("/proc/self/task"))
        if threads != 1:
            return {"error": f"the template has {threads} threads; forking it would be unsafe"}
        started, ended = os.pipe()
        pid = os.fork()
        if pid == 0:
            become_kernel(request, fds, ended, [conn, listener])
        os.close(ended)
        os.read(started, 1)  # returns at the child's setsid(): signals to its group then reach it
        os.close(started)
        return {"pid": pid}
    finally:
        for number in fds:
            os.close(number)


def become_kernel(request: dict[str, Any], fds: list[int], ended: int, sockets: list[socket.socket]) -> None:
    """In the forked child: take the kernel's session, descriptors, env and folder, and run it."""
    code = 1
    try:
        os.setsid()
        os.close(ended)
        for sock in sockets:
            sock.detach()  # their numbers are closed below; the objects must never close them again
        for target, number in enumerate(fds):
            os.dup2(number, target)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        for signum in (signal.SIGCHLD, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        reseed()
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        # ipykernel reads JPY_PARENT_PID when imported, which was before this kernel's env: the
        # kernel watches its parent, the template, which ends with the learner's server.
        parent = f"--IPKernelApp.parent_handle={os.getppid()}"
        launcher = importlib.util.find_spec("ipykernel_launcher")
        sys.argv = [launcher.origin if launcher and launcher.origin else "ipykernel_launcher"]
        sys.argv += ["-f", *(str(arg) for arg in request["argv"]), parent]
        from ipykernel import kernelapp

        kernelapp.launch_new_instance()
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def reseed() -> None:
    """Fresh random state: a fork copies the template's."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def libc_prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


if __name__ == "__main__":
    # As ipykernel_launcher does: the folder we started in is not the kernel's.
    del sys.path[0]
    serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
