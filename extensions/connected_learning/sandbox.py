"""The fence around code a learner wrote: bubblewrap, and a kernel manager that uses it.

Grading runs each submission's kernel in a fence, and so does the live showcase ("Play
with it") for every visitor's kernel. A fenced process sees this machine's system
folders read-only, the Python environment read-only, and nothing else of it: no home, no
data folder, no hub secret, no other kernel. Inside the fence:

    /usr /etc (/bin /lib …)           read-only, from the machine (symlinks stay symlinks)
    <sys.prefix> <this package>       read-only: the Python environment and the widgets
    /fenced (or `inside`)             the piece or the submission copy: read-only or writable
    <kernel folder>                   its own connection file and ZeroMQ sockets, nothing more
    /tmp                              a private tmpfs of `tmp_mb` (HOME points here)
    /proc                             private: the kernel sees its own processes only (none at all
                                      where the host says `fresh_proc` is False: see below)
    /dev                              a minimal one (null, zero, random, tty …)

It has no network at all (its own empty network namespace: 127.0.0.1 is its own loopback,
where nothing listens), no environment but a short allow-list, and limits set by
`prlimit` before the kernel starts: address space, processes, CPU seconds, file size,
no core dumps. Run as root, the fence also drops to an unprivileged system user
(`setpriv`), so the uid behind it owns nothing on the machine.

Where /proc is masked. A container runtime hides parts of /proc from a pod (/proc/kcore,
/proc/sys read-only, …), and the kernel then refuses a fresh proc mount to an unprivileged
process ("bwrap: Can't mount proc on /newroot/proc: Operation not permitted"). There the
fence gives the fenced program no /proc at all (`Fence.fresh_proc` False): it sees no
process, not even its own, and Python, ipykernel, numpy and matplotlib run without it. The
host decides (`Host.fresh_proc`: one machine True, Kubernetes False).

The kernel talks to its client over ZeroMQ `ipc` sockets in its own kernel folder, since a
fence without network cannot reach TCP ports outside it. Interrupts go as messages on the
control channel: a signal to the fence's process group would reach bubblewrap, not the kernel.

`plan` is pure (a `Fence` in, an argument list out) and is tested on its own; the kernel
manager mixin `FencedKernel` applies it to a jupyter_client kernel manager.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Bool, Integer, Unicode
from traitlets.config import LoggingConfigurable

from .errors import ClhubError
from .host.current import current as current_host

BWRAP = "bwrap"
SETPRIV = "setpriv"
PRLIMIT = "prlimit"
# The machine's folders a fenced program may read; missing ones are skipped, symlinks
# (merged /usr) are recreated as symlinks.
SYSTEM_FOLDERS = ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Environment variables a kernel may receive from its manager; everything else is dropped
# (the hub's and services' tokens above all).
PASSED_ENV = (
    "NBGRADER_EXECUTION",
    "JPY_SESSION_NAME",
    "LANG",
    "LC_ALL",
    "TZ",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
)
PASSED_ENV_PREFIXES = ("VOILA_", "SERVER_")
KERNEL_HOME = "/tmp"
# Who fenced code runs as when the manager is root and names nobody else: owns nothing.
FALLBACK_USER = "nobody"


class FenceError(ClhubError):
    """A fence cannot be set up (bubblewrap missing, a user that does not exist)."""

    code = "fence"


@dataclass(frozen=True)
class Limits:
    """What one fenced process tree may use; 0 means no limit of that kind."""

    memory_mb: int = 1024
    processes: int = 64
    cpu_seconds: int = 0
    file_mb: int = 64
    tmp_mb: int = 64


@dataclass(frozen=True)
class Fence:
    """Everything a fenced command sees and may do.

    Attributes:
        work: the host folder bound at `inside` (the piece, or the submission's copy).
        inside: where `work` appears in the fence; the command starts there.
        writable: whether `work` may be written.
        kernel_dir: a host folder bound at the same path, writable (connection file, sockets).
        readable: more host folders bound read-only at the same path (the Python environment).
        run_as: (uid, gid) to drop to before the fence is built; None to stay who we are.
        env: the whole environment of the fenced command.
        system: (path, symlink target or "") for each machine folder to show, from `system_view`.
        fresh_proc: mount a /proc of the fence's own; False: no /proc at all (where /proc is masked).
    """

    work: str
    inside: str
    writable: bool
    kernel_dir: str = ""
    readable: tuple[str, ...] = ()
    run_as: tuple[int, int] | None = None
    limits: Limits = field(default_factory=Limits)
    env: Mapping[str, str] = field(default_factory=dict)
    system: tuple[tuple[str, str], ...] = ()
    fresh_proc: bool = True


def system_view(folders: tuple[str, ...] = SYSTEM_FOLDERS) -> tuple[tuple[str, str], ...]:
    """The machine's system folders as `plan` wants them: (path, link target or "")."""
    view = []
    for folder in folders:
        if os.path.islink(folder):
            view.append((folder, os.readlink(folder)))
        elif os.path.isdir(folder):
            view.append((folder, ""))
    return tuple(view)


def plan(fence: Fence, argv: list[str]) -> list[str]:
    """The command line that runs `argv` inside `fence` (pure: nothing is looked up).

    Raises:
        FenceError: `inside` would hide a folder the fence needs (the Python environment,
            the kernel folder or a system folder), or is not an absolute path.
    """
    inside = os.path.normpath(fence.inside)
    needed = [*fence.readable, fence.kernel_dir, *(path for path, _ in fence.system)]
    if (
        not os.path.isabs(inside)
        or inside == "/"
        or any(p and (p == inside or p.startswith(inside + os.sep)) for p in needed)
    ):
        raise FenceError(
            f"The fence's work folder {fence.inside!r} would hide a folder the fenced program "
            "needs; choose another path, like '/fenced'.",
            code="fence-path",
        )
    command: list[str] = []
    if fence.run_as is not None:
        uid, gid = fence.run_as
        command += [SETPRIV, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--"]
    command += [BWRAP, "--unshare-all", "--die-with-parent", "--clearenv"]
    for path, target in fence.system:
        command += ["--symlink", target, path] if target else ["--ro-bind", path, path]
    if fence.fresh_proc:
        command += ["--proc", "/proc"]
    command += ["--dev", "/dev"]
    if fence.limits.tmp_mb:
        command += ["--size", str(fence.limits.tmp_mb << 20)]
    command += ["--tmpfs", "/tmp"]
    # After /tmp's tmpfs, which would hide an environment or a checkout that lives under /tmp.
    for path in fence.readable:
        command += ["--ro-bind", path, path]
    if fence.kernel_dir:
        command += ["--bind", fence.kernel_dir, fence.kernel_dir]
    command += ["--bind" if fence.writable else "--ro-bind", fence.work, fence.inside, "--chdir", fence.inside]
    for name, value in sorted(fence.env.items()):
        command += ["--setenv", name, value]
    command += ["--", PRLIMIT, "--core=0"]
    limits = fence.limits
    if limits.memory_mb:
        command.append(f"--as={limits.memory_mb << 20}")
    if limits.processes:
        command.append(f"--nproc={limits.processes}")
    if limits.cpu_seconds:
        command.append(f"--cpu={limits.cpu_seconds}")
    if limits.file_mb:
        command.append(f"--fsize={limits.file_mb << 20}")
    return [*command, "--", *argv]


def kernel_env(given: Mapping[str, str], *, python_bin: str) -> dict[str, str]:
    """The environment of a fenced kernel: the allow-listed part of `given`, and a few of ours."""
    env = {k: v for k, v in given.items() if k in PASSED_ENV or k.startswith(PASSED_ENV_PREFIXES)}
    env.update(
        HOME=KERNEL_HOME,
        PATH=f"{python_bin}:/usr/local/bin:/usr/bin:/bin",
        MPLCONFIGDIR=f"{KERNEL_HOME}/matplotlib",
        PYTHONDONTWRITEBYTECODE="1",
        # glibc reserves 64 MB of address space per thread arena; a kernel's dozen threads
        # would eat the address-space limit before the learner's code runs.
        MALLOC_ARENA_MAX="2",
        # "No parent to watch" to ipykernel (the fence's --die-with-parent ends the kernel
        # with its manager; in the fence's own /proc the real parent is not visible).
        JPY_PARENT_PID="1",
    )
    env.setdefault("LANG", "C.UTF-8")
    return env


def python_folders() -> tuple[str, ...]:
    """The Python environment and this package, for read-only binds (nested ones left out)."""
    folders = {os.path.realpath(sys.prefix), os.path.realpath(sys.base_prefix), str(Path(__file__).resolve().parent)}
    keep = sorted(f for f in folders if not f.startswith("/usr/") and f != "/usr")
    return tuple(f for f in keep if not any(f != o and f.startswith(o + os.sep) for o in keep))


def require_tools() -> None:
    """Raise FenceError unless bubblewrap, setpriv and prlimit are installed."""
    missing = [tool for tool in (BWRAP, SETPRIV, PRLIMIT) if shutil.which(tool) is None]
    if missing:
        raise FenceError(
            f"{', '.join(missing)} not found: learners' code runs only inside a bubblewrap "
            "fence. Install Debian's bubblewrap and util-linux packages "
            "(apt-get install bubblewrap util-linux), then try again.",
            code="no-bwrap",
        )


def identity(user: str) -> tuple[int, int] | None:
    """(uid, gid) of the system user `user` (`nobody` when empty) to drop to, as the host says:
    fenced code never runs as root. None where the host runs everything as one user."""
    user = user or FALLBACK_USER
    host = current_host()
    try:
        entry = host.run_as(user)
    except KeyError:
        raise FenceError(host.missing_user_message(user), code="no-fence-user") from None
    if entry is None:
        return None
    if entry.uid == 0:
        raise FenceError(
            f"The fence's user {user!r} is root: choose an unprivileged system user.", code="fence-user-root"
        )
    return entry.uid, entry.gid


class FencedKernel(LoggingConfigurable):
    """Mixin for a jupyter_client kernel manager: every kernel it starts runs inside a `Fence`.

    Mixed in before the kernel manager class (`class K(FencedKernel, AsyncKernelManager)`).
    The kernel's working folder (`cwd`, from the notebook's folder) becomes the fence's work
    folder: bound read-only, or copied first and the copy bound writable (`copy_work`), so
    that nothing the kernel does reaches the original.
    """

    fence_user = Unicode(
        "",
        config=True,
        help=(
            "System user the fenced kernel runs as when the manager runs as root (created by the hub's "
            "preparation); empty for 'nobody'. A manager that is not root stays its own user, fenced all "
            "the same. Example: 'clhub-grader'."
        ),
    )
    copy_work = Bool(
        False,
        config=True,
        help=(
            "Copy the kernel's working folder and let the kernel write the copy (True, grading), or bind the "
            "folder read-only (False, the live showcase). Default False."
        ),
    )
    inside = Unicode(
        "/fenced",
        config=True,
        help=(
            "Where the working folder appears inside the fence; it must not contain the Python environment. "
            "Default '/fenced'."
        ),
    )
    memory_mb = Integer(1024, config=True, help="Address-space limit of the kernel in MB; 0 for none. Default 1024.")
    processes = Integer(
        64, config=True, help=("Most processes (threads included) in the fence; stops a fork flood. Default 64.")
    )
    cpu_seconds = Integer(0, config=True, help="CPU seconds the kernel may use in all; 0 for no limit. Default 0.")
    file_mb = Integer(64, config=True, help="Largest file the kernel may write, in MB. Default 64.")
    tmp_mb = Integer(64, config=True, help="Size of the fence's private /tmp in MB. Default 64.")

    _fence_dir: str = ""

    async def _async_pre_start_kernel(self, **kw: Any) -> tuple[list[str], dict[str, Any]]:
        if not self._fence_dir or not os.path.isdir(self._fence_dir):  # a restart keeps its folder
            self._fence_dir = tempfile.mkdtemp(prefix="clhub-kernel-")
            # The connection file and the ipc sockets in a folder of this kernel alone.
            self.connection_file = os.path.join(self._fence_dir, "kernel.json")
            self.transport = "ipc"
            self.cache_ports = False
            self.ip = os.path.join(self._fence_dir, "kernel")
        cwd = kw.get("cwd") or os.getcwd()
        env = kw.get("env") or os.environ
        cmd, kw = await super()._async_pre_start_kernel(**kw)  # type: ignore[misc]
        fence = self._fence(cwd, env)
        self.kernel_spec.interrupt_mode = "message"  # type: ignore[attr-defined]
        kw["env"] = dict(fence.env)
        kw["cwd"] = "/"  # where setpriv and bwrap start: the fenced user may not enter `cwd`
        return plan(fence, cmd), kw

    pre_start_kernel = _async_pre_start_kernel

    def _fence(self, cwd: str, env: Mapping[str, str]) -> Fence:
        """The fence of this kernel; copies the working folder the first time (`copy_work`)."""
        require_tools()
        run_as = identity(self.fence_user)
        work = cwd
        if self.copy_work:
            work = os.path.join(self._fence_dir, "work")
            if not os.path.isdir(work):
                shutil.copytree(cwd, work, symlinks=True)
        if run_as is not None:
            for root, dirs, files in os.walk(self._fence_dir):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.chown(name, *run_as, follow_symlinks=False)
        return Fence(
            work=work,
            inside=self.inside,
            writable=self.copy_work,
            kernel_dir=self._fence_dir,
            readable=python_folders(),
            run_as=run_as,
            limits=Limits(
                memory_mb=self.memory_mb,
                processes=self.processes,
                cpu_seconds=self.cpu_seconds,
                file_mb=self.file_mb,
                tmp_mb=self.tmp_mb,
            ),
            env=kernel_env(env, python_bin=str(Path(sys.executable).parent)),
            system=system_view(),
            fresh_proc=current_host().fresh_proc,
        )

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)  # type: ignore[misc]
        if not restart and self._fence_dir:
            shutil.rmtree(self._fence_dir, ignore_errors=True)
            self._fence_dir = ""

    cleanup_resources = _async_cleanup_resources


# What `check` runs in the fence: it writes in its work folder and says who it is.
CHECK_PROGRAM = (
    "import os; open('written', 'w').write('ok'); "
    "print('uid', os.getuid(), 'proc', os.path.isdir('/proc/self'), 'home', os.environ.get('HOME'))"
)


def check(fence_user: str = "") -> str:
    """Build the fence a kernel would get here and run a tiny Python program in it.

    Returns:
        a line starting with "ok" that says as whom the program ran and whether it had a /proc.
    Raises:
        FenceError: the fence cannot be built here, with bubblewrap's own words.
    """
    require_tools()
    run_as = identity(fence_user)
    fresh_proc = current_host().fresh_proc
    folder = tempfile.mkdtemp(prefix="clhub-fence-check-")
    try:
        work = os.path.join(folder, "work")
        os.mkdir(work)
        if run_as is not None:
            for name in (folder, work):
                os.chown(name, *run_as)
        fence = Fence(
            work=work,
            inside="/fenced",
            writable=True,
            readable=python_folders(),
            run_as=run_as,
            env=kernel_env({}, python_bin=str(Path(sys.executable).parent)),
            system=system_view(),
            fresh_proc=fresh_proc,
        )
        argv = plan(fence, [sys.executable, "-I", "-c", CHECK_PROGRAM])
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/", env=dict(fence.env))
        except subprocess.TimeoutExpired:
            raise FenceError("The fenced check program did not end within 60 s.", code="fence-check") from None
        written = os.path.join(work, "written")
        if done.returncode != 0 or not os.path.isfile(written) or os.path.islink(written):
            said = (done.stderr.strip() or done.stdout.strip() or f"exit status {done.returncode}")[-600:]
            raise FenceError(
                f"The fence cannot be built here: {said}. On Kubernetes, see the README's "
                '"The fence on Kubernetes" for what a node needs.',
                code="fence-check",
            )
        return f"ok: fenced code ran ({done.stdout.strip()}; /proc of its own: {fresh_proc}; no network)"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@functools.cache
def fenced_kernel_manager() -> type:
    """jupyter_client's AsyncKernelManager with `FencedKernel` mixed in (grading's kernels)."""
    from jupyter_client.manager import AsyncKernelManager

    class FencedKernelManager(FencedKernel, AsyncKernelManager):  # type: ignore[misc]
        pass

    return FencedKernelManager
