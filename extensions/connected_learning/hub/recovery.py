"""Starting again after a crash: leftovers of THIS site are stopped, foreign ports named.

A hub killed with SIGKILL leaves its proxy and its managed services running (JupyterHub
starts each in a session of its own). Started again, the new services would find their
ports taken and fail in a loop. So `launch.start_hub`, before the hub starts:

1. `stop_leftovers` finds the processes of this site by a marker in their environment,
   `CLHUB_SITE_DATA=<data folder>`: the hub sets it for itself (the proxy inherits it) and
   `config.configure` gives it to every service. Another site's processes carry another
   folder and are never touched; learners' servers never carry it (they survive a hub
   restart by design, and the restarted hub finds them in its database). Each leftover
   proxy or service is stopped with everything below it (live kernels included).
2. `check_ports` then binds every port of the settings once; a port something else holds
   stops the start with a message naming the port, its setting and the holding process.

`find_leftovers` is the pure part (a list of processes in, a plan out), tested on its own.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ClhubError
from ..settings import SiteSettings
from ..settings_schema import PORT, SETTINGS
from .socket_owner import tcp_sockets

SITE_MARKER = "CLHUB_SITE_DATA"  # environment variable: the data folder of the site a process serves


class SiteStartError(ClhubError):
    code = "cannot-start"


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    argv: tuple[str, ...]
    environ: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return " ".join(self.argv)[:200]


@dataclass(frozen=True)
class Leftovers:
    hubs: list[Process]  # a hub of this site that still runs: not ours to stop
    stop: list[Process]  # proxies, services and everything below them


def site_marker(data_dir: str | os.PathLike[str]) -> str:
    """The marker's value for a data folder: its real path, so two spellings agree."""
    return os.path.realpath(data_dir)


def _is_hub(p: Process) -> bool:
    return any(Path(a).name == "jupyterhub" for a in p.argv[:2]) and SITE_MARKER in p.environ


def find_leftovers(processes: Iterable[Process], data_dir: str, me: int) -> Leftovers:
    """Which processes belong to the site at `data_dir` and must go before its hub starts.

    A process is the site's when its environment names the folder; a learner's server is
    never (JUPYTERHUB_USER without JUPYTERHUB_SERVICE_NAME), nor is `me` or an ancestor
    chain member that started us. Descendants of a leftover go with it.
    """
    procs = list(processes)
    marker = site_marker(data_dir)
    children: dict[int, list[Process]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p)
    hubs: list[Process] = []
    roots: list[Process] = []
    for p in procs:
        if p.pid == me or p.environ.get(SITE_MARKER) != marker:
            continue
        if "JUPYTERHUB_USER" in p.environ and "JUPYTERHUB_SERVICE_NAME" not in p.environ:
            continue
        (hubs if _is_hub(p) else roots).append(p)
    hub_pids = {h.pid for h in hubs}
    stop: dict[int, Process] = {}
    todo = [p for p in roots if p.ppid not in hub_pids]  # a live hub's own children are its business
    while todo:
        p = todo.pop()
        if p.pid in stop or p.pid == me:
            continue
        stop[p.pid] = p
        todo.extend(children.get(p.pid, []))
    return Leftovers(hubs=hubs, stop=sorted(stop.values(), key=lambda p: p.pid))


def _read_process(pid: int) -> Process | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return None
    environ = {}
    for entry in raw.split(b"\0"):
        key, sep, value = entry.partition(b"=")
        if sep:
            environ[key.decode(errors="replace")] = value.decode(errors="replace")
    ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name in parentheses may hold spaces
    return Process(pid, ppid, tuple(a.decode(errors="replace") for a in argv if a), environ)


def processes() -> list[Process]:
    """Every process this user may inspect (all of them, as root)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            p = _read_process(int(entry))
            if p is not None:
                found.append(p)
    return found


def stop_leftovers(data_dir: str | os.PathLike[str], grace: float = 10) -> list[Process]:
    """Stop the leftover proxy and services of the site at `data_dir`; return them.

    Raises:
        SiteStartError: a hub of this site is still running.
    """
    plan = find_leftovers(processes(), str(data_dir), os.getpid())
    if plan.hubs:
        hub = plan.hubs[0]
        raise SiteStartError(
            f"The hub of the site at {data_dir} is already running (process {hub.pid}: {hub.command}). "
            "Stop it first (or open the site it serves); a site runs one hub at a time."
        )
    for p in plan.stop:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    alive = list(plan.stop)
    while alive and time.monotonic() < deadline:
        time.sleep(0.1)
        alive = [p for p in alive if _same_process_alive(p)]
    for p in alive:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(_same_process_alive(p) for p in alive) and time.monotonic() < deadline:
        time.sleep(0.1)
    return plan.stop


def _same_process_alive(p: Process) -> bool:
    """Whether any thread of `p` still runs. A zombie has closed its sockets, and its parent reaps
    it; but a main thread that ended first is a zombie while the process's other threads still
    hold every socket (a killed service winding down its threads): that process is alive."""
    try:  # (a zombie's environment cannot be read: `_read_process` would call it gone)
        threads = os.listdir(f"/proc/{p.pid}/task")
    except OSError:
        return False
    for thread in threads:
        try:
            state = Path(f"/proc/{p.pid}/task/{thread}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            return True
    return False


# ------------------------------------------------------------------ ports


def _listening_inodes(port: int) -> set[str]:
    # local address "ADDR:PORT" in hex; state 0A is LISTEN
    return {c[9] for c in tcp_sockets() if c[3] == "0A" and int(c[1].rsplit(":", 1)[1], 16) == port}


def port_holder(port: int) -> Process | None:
    """The process listening on TCP `port`, if this user may see it."""
    inodes = {f"socket:[{i}]" for i in _listening_inodes(port)}
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _holds(entry, inodes):
            return _read_process(int(entry)) or Process(int(entry), 0, ("(its main thread has ended)",))
    return None


def _holds(pid: str, inodes: set[str]) -> bool:
    """Whether process `pid` has one of `inodes` open: its own descriptors, or, where its main
    thread has ended (a zombie shows none), those of its threads (they share one table)."""
    folders = [f"/proc/{pid}/fd"]
    with contextlib.suppress(OSError):
        folders += [f"/proc/{pid}/task/{t}/fd" for t in os.listdir(f"/proc/{pid}/task") if t != pid]
    for folder in folders:
        try:
            fds = os.listdir(folder)
        except OSError:
            continue
        for fd in fds:
            with contextlib.suppress(OSError):
                if os.readlink(f"{folder}/{fd}") in inodes:
                    return True
        if fds:
            return False  # the table was readable and holds none of them
    return False


def _port_taken(ip: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the proxy and tornado do
        try:
            s.bind((ip, port))
        except OSError as e:
            return e.errno == errno.EADDRINUSE
    return False


def site_ports(settings: SiteSettings) -> list[tuple[str, str, int]]:
    """(setting name, address, port) of everything the site will listen on."""
    found = []
    for setting in SETTINGS:
        if setting.check is not PORT:
            continue
        if setting.attr == "showcase_live_port" and not settings.showcase_live:
            continue
        ip = settings.bind_ip if setting.attr == "port" else "127.0.0.1"
        found.append((setting.name, ip or "0.0.0.0", int(getattr(settings, setting.attr))))
    return found


def check_ports(settings: SiteSettings, wait: float = 0) -> None:
    """Raise SiteStartError naming the port, its setting and its holder if one is taken.

    `wait`: seconds a taken port may take to come free, after leftovers of this site were just
    stopped (a process's sockets close as its last thread ends, a moment after it is seen ending).
    """
    deadline = time.monotonic() + wait
    for name, ip, port in site_ports(settings):
        while _port_taken(ip, port) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _port_taken(ip, port):
            continue
        holder = port_holder(port)
        who = f"process {holder.pid} ({holder.command})" if holder else "another process"
        raise SiteStartError(
            f"Port {port} ({name} in {settings.source}) is taken by {who}. "
            f"Stop that process, or choose another port for {name}, then start again."
        )
