"""The start-up template (hub/template.py), attacked: what a forked server holds and reaches.

Two parts. First a template of our own whose servers run `template_probe.main` (the same
fork, drop and clean-up, then a report instead of jupyterhub-singleuser): what one forked
process holds (ids, descriptors, environment, random state) and who may talk to the template.
Then a real hub with `site.start_template` on and two learners with limits: each learner's
server comes from the template, runs as the learner in their control group, cannot read the
other's environment or home, nor reach the template; the template's environment holds no
secret; killing it leaves servers running and stoppable; without it servers still start.
Needs root. In file order.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import RunningHub
from connected_learning.host import cgroups, start_template
from connected_learning.hub import template
from kernelclient import run_code

pytestmark = pytest.mark.integration

TESTS = Path(__file__).parent
NOBODY = pwd.getpwnam("nobody")
PROBE_COMMAND = "/clhub-probe"
MEMORY_MB, CPU, PROCESSES = 400, 1.0, 80
MACHINE = cgroups.read_machine()
# How the process was started, not what it imported: the command line, and the flags Python took from
# it and from the environment it started with (UTF-8 mode: a template started without LANG has it on).
CODE_STAMP = "from connected_learning.host.start_template import code_stamp; print(code_stamp())"
INVOCATION = {"sys.argv", "sys.orig_argv", "sys.path", "sys.flags"}


def _needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("the start-up template runs as root")


# ------------------------------------------------------------------ a template of our own


@pytest.fixture(scope="module")
def probe() -> Iterator[str]:
    """A template whose servers run template_probe.main; its socket path."""
    _needs_root()
    folder = Path(tempfile.mkdtemp(prefix="clhub-probe-"))
    folder.chmod(0o711)  # others may pass, so that only the template's own folder and socket keep them out
    path = str(folder / "template" / template.SOCKET_NAME)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(TESTS), "HOME": "/nonexistent"}
    command = [*template.template_command(path, PROBE_COMMAND), "--entry", "template_probe:main"]
    proc = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 90
    while not (os.path.exists(path) and template.is_running(path)):
        assert proc.poll() is None and time.monotonic() < deadline, "the probe template did not start"
        time.sleep(0.1)
    yield path
    proc.terminate()
    proc.wait(10)
    shutil.rmtree(folder, ignore_errors=True)


def _request(**changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "argv": [PROBE_COMMAND],
        "env": {"PATH": "/usr/bin:/bin", "JUPYTERHUB_API_TOKEN": "token-of-nobody", "HOME": "/"},
        "cwd": "/",
        "uid": NOBODY.pw_uid,
        "gid": NOBODY.pw_gid,
        "groups": [NOBODY.pw_gid],
        "cgroup_procs": [],
        "nproc": 0,
        "umask": 0o027,
    }
    request.update(changes)
    return request


def _fork(path: str, **changes: Any) -> dict[str, Any]:
    """Ask the probe template for a process; its report."""
    read_end, write_end = os.pipe()
    try:
        pid = template.start_server(path, _request(**changes), stdio=(write_end, write_end))
    finally:
        os.close(write_end)
    with os.fdopen(read_end) as out:
        line = out.readline()
    assert line, "the forked process printed nothing"
    report: dict[str, Any] = json.loads(line)
    assert report["pid"] == pid
    return report


def test_a_forked_process_is_the_learner_with_nothing_inherited(probe: str) -> None:
    report = _fork(probe)
    assert report["uid"] == [NOBODY.pw_uid] * 3 and report["gid"] == [NOBODY.pw_gid] * 3
    assert report["groups"] == [NOBODY.pw_gid]
    assert report["no_new_privs"] == "1"
    assert report["dumpable"] == 1  # the learner may inspect their own server, as one started with exec
    assert report["fds"] == [0, 1, 2, 3]  # 3: the listing's own; the template's socket is not there
    assert report["env"] == _request()["env"]  # only the request's: nothing of the template's
    assert report["umask"] == 0o027 and report["cwd"] == "/"
    assert report["sid"] not in (report["ppid"], os.getsid(template.template_pid(probe) or 0))  # its own session


def test_siblings_have_different_random_state(probe: str) -> None:
    draws = {_fork(probe)["random"] for _ in range(4)}
    assert len(draws) == 4


def test_the_template_refuses_bad_requests(probe: str) -> None:
    bad: list[dict[str, Any]] = [
        {"uid": 0},
        {"gid": 0},
        {"groups": [NOBODY.pw_gid, 0]},
        {"uid": "65534"},
        {"argv": ["/bin/sh", "-c", "id"]},
        {"argv": []},
        {"env": {"A=B": "x"}},
        {"env": {"JUPYTERHUB_SINGLEUSER_APP": "notebook"}},
        {"cwd": "relative/home"},
        {"cwd": "/home/../etc"},
        {"cgroup_procs": ["/etc/passwd"]},
        {"cgroup_procs": ["/sys/fs/cgroup/../../etc/cgroup.procs"]},
        {"umask": 0o7777},
        {"nproc": -1},
        {"extra": 1},
    ]
    for changes in bad:
        with pytest.raises(template.TemplateUnavailable, match="refused"):
            template.start_server(probe, _request(**changes), stdio=(1, 2))
    # Control: the template still answers a good one after all of those.
    assert _fork(probe)["uid"][0] == NOBODY.pw_uid


def _connect_as(uid: int, gid: int, path: str) -> str:
    """Connect to `path` as `uid` in a child process; what it got."""
    code = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1]); print(s.recv(200).decode().strip() or 'closed')\n"
        "except OSError as e:\n"
        "    print(type(e).__name__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, path], user=uid, group=gid, extra_groups=[], capture_output=True, text=True
    )
    return out.stdout.strip() + out.stderr.strip()


def test_only_root_reaches_the_template(probe: str) -> None:
    assert template.is_running(probe)  # control: root may
    assert _connect_as(NOBODY.pw_uid, NOBODY.pw_gid, probe) == "PermissionError"
    # Even with the folder and socket opened to everyone, the template answers no one but root.
    folder = os.path.dirname(probe)
    os.chmod(folder, 0o777)
    os.chmod(probe, 0o777)
    try:
        answer = _connect_as(NOBODY.pw_uid, NOBODY.pw_gid, probe)
    finally:
        os.chmod(folder, 0o700)
        os.chmod(probe, 0o600)
    assert "only root may ask" in answer and "pong" not in answer, answer


def test_the_template_holds_one_socket_no_thread_and_no_secret(probe: str) -> None:
    pid = template.template_pid(probe)
    assert pid is not None
    tasks = os.listdir(f"/proc/{pid}/task")
    assert tasks == [str(pid)]
    sockets = [fd for fd in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")]
    assert len(sockets) == 1


# What a learner's server takes from its environment; a fresh server sees these values as it imports.
SENTINEL_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": "/sentinel-home",
    "USER": "sentinel-user",
    "LOGNAME": "sentinel-user",
    "XDG_DATA_HOME": "/sentinel-data-home",
    "XDG_CONFIG_HOME": "/sentinel-config-home",
    "XDG_CACHE_HOME": "/sentinel-cache-home",
    "XDG_RUNTIME_DIR": "/sentinel-runtime",
    "JUPYTER_CONFIG_DIR": "/sentinel-jupyter-config",
    "JUPYTER_DATA_DIR": "/sentinel-jupyter-data",
    "JUPYTER_RUNTIME_DIR": "/sentinel-jupyter-runtime",
    "JUPYTER_PATH": "/sentinel-jupyter-path",
    "JUPYTER_CONFIG_PATH": "/sentinel-jupyter-config-path",
    "JUPYTERLAB_SETTINGS_DIR": "/sentinel-lab-settings",
    "JUPYTERLAB_WORKSPACES_DIR": "/sentinel-lab-workspaces",
    "JUPYTERHUB_API_URL": "http://127.0.0.1:1/sentinel/hub/api",
    "JUPYTERHUB_SERVICE_PREFIX": "/user/sentinel/",
    "JUPYTERHUB_BASE_URL": "/sentinel/",
    "JUPYTERHUB_USER": "sentinel",
    "LANG": "C.UTF-8",
}


def _fresh_scan() -> dict[str, object]:
    """`template_probe.scan` in a fresh Python that imported what the template imports, as nobody."""
    run = subprocess.run(
        [sys.executable, "-c", "import template_probe; template_probe.fresh_scan()"],
        env={**SENTINEL_ENV, "PYTHONPATH": str(TESTS), "PATH": os.environ["PATH"]},
        cwd="/",
        user=NOBODY.pw_uid,
        group=NOBODY.pw_gid,
        extra_groups=[NOBODY.pw_gid],
        umask=0o027,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    scan: dict[str, object] = json.loads(run.stdout)
    return scan


def test_a_forked_server_sees_what_a_fresh_one_imports_from_its_environment(probe: str) -> None:
    """Modules and trait defaults computed at import from the environment or the uid (jupyterlab's
    workspaces folder, the trash folder, the session's user name) are the learner's, not the template's."""
    forked = _fork(probe, argv=[PROBE_COMMAND, "--scan"], env=SENTINEL_ENV)["scan"]
    fresh, again = _fresh_scan(), _fresh_scan()
    # The control: the fresh import really took the environment (and the comparison has teeth).
    assert fresh["jupyterlab.labapp.LabApp.workspaces_dir"] == "/sentinel-lab-workspaces"
    assert fresh["send2trash.plat_other.uid"] == NOBODY.pw_uid
    # Values that differ between two fresh imports too are no import of the environment: addresses
    # (each process's own layout), set orders (its own hash seed), clocks.
    noise = {key for key, value in fresh.items() if repr(again.get(key)) != repr(value)}
    assert "logging._startTime" in noise
    differ = {
        key: (forked.get(key), value)
        for key, value in fresh.items()
        if key in forked and repr(forked[key]) != repr(value) and key not in noise and key not in INVOCATION
    }
    assert differ == {}, "\n".join(f"{k}: forked {v[0]!r}, fresh {v[1]!r}" for k, v in sorted(differ.items()))
    assert not [key for key, value in forked.items() if "/nonexistent" in repr(value)]


def _templates_at(path: str) -> list[int]:
    """Pids of every template serving `path`: processes with its command line whose parent has another
    (a template's forks, the middle processes and servers, share its command line)."""
    found = {}
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, IndexError):
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            if b"connected_learning.host.start_template" in argv and path.encode() in argv:
                found[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rpartition(")")[2].split()[1])
    return sorted(pid for pid, parent in found.items() if parent not in found)


def test_one_interpreter_by_two_names_has_one_code_stamp() -> None:
    """`clhub` (python) and the hub (its script's python3) must agree, or each would replace the other's
    template at every hub start, leaving the servers it started to init."""
    stamps = set()
    for name in ("python", "python3"):
        run = subprocess.run(
            [str(Path(sys.executable).parent / name), "-c", CODE_STAMP], capture_output=True, text=True, timeout=60
        )
        assert run.returncode == 0 and len(run.stdout.strip()) == 16, run.stderr  # the control: a stamp came back
        stamps.add(run.stdout.strip())
    assert len(stamps) == 1


def test_a_stop_right_after_the_hub_starts_leaves_no_template() -> None:
    """`clhub up` starts the template in the background; a stop at once (a hub that fails to start, a
    short test) must not let it come up afterwards as a root process nobody stops."""
    _needs_root()
    folder = Path(tempfile.mkdtemp(prefix="clhub-early-"))
    path = str(folder / "template" / template.SOCKET_NAME)
    try:
        template.start_early(path, PROBE_COMMAND)
        template.stop(path)
        for thread in threading.enumerate():
            if thread.name == "start-up template":
                thread.join(90)
        assert (folder / "template" / template.LOG_NAME).exists()  # the control: the launch did happen
        time.sleep(0.5)
        assert _templates_at(path) == []
    finally:
        for pid in _templates_at(path):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_template_whose_socket_is_gone_or_replaced_ends_itself() -> None:
    """A stop that came while the template was still starting found no pid to end, and a test's
    data folder is deleted after its hub: a template nobody can reach must not stay behind as a
    root process. Nor may two templates serve one path."""
    _needs_root()
    folder = Path(tempfile.mkdtemp(prefix="clhub-gone-"))
    path = str(folder / "template" / template.SOCKET_NAME)
    try:
        assert template.ensure_running(path, PROBE_COMMAND)
        first = template.template_pid(path)
        assert first is not None and _templates_at(path) == [first]  # the control: it runs and answers
        # Another template takes the path (a second `clhub up`): the first one can no longer be asked.
        second = template.launch(path, PROBE_COMMAND)
        deadline = time.monotonic() + 90
        while first in _templates_at(path) or template.template_pid(path) != second.pid:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert _templates_at(path) == [second.pid] and template.is_running(path)
        # The folder is deleted (a test's teardown, a removed site): the last one ends too.
        shutil.rmtree(folder)
        assert second.wait(start_template.SOCKET_CHECK_SECONDS + 30) == 0
        assert _templates_at(path) == []
    finally:
        for pid in _templates_at(path):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_rush_starts_one_template_and_new_code_replaces_it() -> None:
    _needs_root()
    folder = Path(tempfile.mkdtemp(prefix="clhub-rush-"))
    path = str(folder / "template" / template.SOCKET_NAME)
    source = Path(start_template.__file__)
    before = source.stat()
    try:
        # Eight first starts at once (the hub's threads, or `clhub up` beside the hub): one template.
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: template.ensure_running(path, PROBE_COMMAND), range(8)))
        assert answers == [True] * 8
        first = template.template_pid(path)
        assert first is not None and _templates_at(path) == [first]  # control: the launch really happened
        assert template.ensure_running(path, PROBE_COMMAND) and template.template_pid(path) == first
        # The package changes under a running template (an upgrade, a `git pull`): the next start
        # replaces the template, so no server is forked from code that is no longer installed.
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        start_template.code_stamp.cache_clear()
        assert template.running_stamp(path) not in (None, start_template.code_stamp())
        assert template.ensure_running(path, PROBE_COMMAND)
        second = template.template_pid(path)
        assert second not in (None, first)
        assert template.running_stamp(path) == start_template.code_stamp()
        deadline = time.monotonic() + 10
        while first in _templates_at(path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _templates_at(path) == [second]
    finally:
        os.utime(source, ns=(before.st_atime_ns, before.st_mtime_ns))
        start_template.code_stamp.cache_clear()
        template.stop(path)
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ a real hub


@pytest.fixture(scope="module")
def hub(make_hub) -> Iterator[RunningHub]:
    _needs_root()
    if MACHINE.kind not in ("v1", "v2"):
        pytest.skip(f"needs the cgroup file system; this machine has {MACHINE.describe()}")
    old = os.environ.get("CLHUB_TEST_TEMPLATES")
    os.environ["CLHUB_TEST_TEMPLATES"] = "true"
    try:
        hub = make_hub(
            {"ana": ("student", []), "ben": ("student", [])},
            limits=f"memory_mb = {MEMORY_MB}\ncpu = {CPU}\nmax_processes = {PROCESSES}\n",
        )
    finally:
        if old is None:
            os.environ.pop("CLHUB_TEST_TEMPLATES")
        else:
            os.environ["CLHUB_TEST_TEMPLATES"] = old
    for short in ("ana", "ben"):
        _start(hub, short)
    yield hub


def _start(hub: RunningHub, short: str) -> int:
    r = hub.api.post(f"/users/{hub.name(short)}/server", json={"interests": ["music"]})
    assert r.status_code in (201, 202), r.text
    hub.api.wait_for_server(hub.name(short), timeout=120)
    return _pid(hub, short)


def _pid(hub: RunningHub, short: str) -> int:
    model = hub.api.get(f"/users/{hub.name(short)}").json()
    return int(model["servers"][""]["state"]["pid"])


def _run(hub: RunningHub, short: str, code: str, timeout: float = 60) -> str:
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json={"note": "test", "expires_in": 600})
    assert r.status_code == 201, r.text
    return run_code(hub.url, hub.name(short), r.json()["token"], code, timeout=timeout)


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def _socket(hub: RunningHub) -> str:
    return template.socket_path(hub.data_dir)


def test_servers_come_from_the_template_and_run_as_the_learner(hub: RunningHub) -> None:
    log = hub.log()
    for short in ("ana", "ben"):
        assert f"Started {hub.name(short)}'s server from the start-up template" in log, log[-3000:]
        pid = _pid(hub, short)
        account = pwd.getpwnam(hub.name(short))
        status = _status(pid)
        assert status["Uid"].split() == [str(account.pw_uid)] * 4
        assert status["Gid"].split() == [str(account.pw_gid)] * 4
        assert sorted(map(int, status["Groups"].split())) == sorted(
            set(os.getgrouplist(account.pw_name, account.pw_gid))
        )
        assert status["NoNewPrivs"] == "1"
        assert os.getsid(pid) != os.getsid(template.template_pid(_socket(hub)) or 0)
        assert f"/clhub/{hub.name(short)}" in Path(f"/proc/{pid}/cgroup").read_text()
        used = cgroups.usage(hub.name(short), cgroups.find_groups(MACHINE)[hub.name(short)])
        assert used.memory_limit_bytes == MEMORY_MB * 2**20


def test_no_inherited_socket_in_a_server(hub: RunningHub) -> None:
    """A server from the template holds no socket of the template's (its listening one above all)."""
    pid = _pid(hub, "ana")
    inode_of = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    listening = {
        line.split()[6]
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]
        if line.endswith(template.SOCKET_NAME)
    }
    assert listening, "control: the template's socket is listed"
    assert not any(f"socket:[{inode}]" in inode_of for inode in listening)
    with socket.socket(socket.AF_UNIX) as s:  # control: the check sees sockets at all
        s.bind("\0clhub-test-probe")
        assert any(line.endswith("@clhub-test-probe") for line in Path("/proc/net/unix").read_text().splitlines())


def _kernel_env(hub: RunningHub, short: str) -> dict[str, str]:
    """The environment a learner's server gives its kernels (its own, the request's)."""
    out = _run(hub, short, "import json, os; print(json.dumps(dict(os.environ)))")
    env: dict[str, str] = json.loads(out.strip().splitlines()[-1])
    return env


def _memory_holds(pid: int, needles: list[bytes]) -> set[bytes]:
    """Which of `needles` appear anywhere in the readable memory of process `pid` (read as root)."""
    found: set[bytes] = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
        for line in maps:
            addresses, perms = line.split()[:2]
            if not perms.startswith("r") or line.rstrip().endswith("[vvar]"):
                continue
            start, end = (int(a, 16) for a in addresses.split("-"))
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(n for n in needles if n in chunk)
    return found


def test_a_server_holds_none_of_the_other_learners_token_or_env(hub: RunningHub) -> None:
    ana, ben = _kernel_env(hub, "ana"), _kernel_env(hub, "ben")
    assert ana["JUPYTERHUB_USER"] == hub.name("ana") and ben["JUPYTERHUB_USER"] == hub.name("ben")
    assert ana["JUPYTERHUB_API_TOKEN"] != ben["JUPYTERHUB_API_TOKEN"]
    ana_token, ben_token = ana["JUPYTERHUB_API_TOKEN"].encode(), ben["JUPYTERHUB_API_TOKEN"].encode()
    # Ana's server memory, all of it: her token is there (control), ben's is not.
    assert _memory_holds(_pid(hub, "ana"), [ana_token, ben_token]) == {ana_token}
    assert _memory_holds(_pid(hub, "ben"), [ana_token, ben_token]) == {ben_token}
    # Nor does the template hold either (it never reads a request itself).
    held = _memory_holds(template.template_pid(_socket(hub)) or 0, [ana_token, ben_token])
    assert held == set()


def test_a_learner_cannot_read_the_other_servers_environ_or_home(hub: RunningHub) -> None:
    ben_pid = _pid(hub, "ben")
    ben_home = pwd.getpwnam(hub.name("ben")).pw_dir
    code = (
        "import os\n"
        "def tryread(what, f):\n"
        "    try:\n"
        "        f(); print(what, 'READ')\n"
        "    except OSError as e:\n"
        "        print(what, type(e).__name__)\n"
        f"tryread('environ', lambda: open('/proc/{ben_pid}/environ', 'rb').read())\n"
        f"tryread('home', lambda: os.listdir({ben_home!r}))\n"
        "tryread('own', lambda: open('/proc/self/environ', 'rb').read())\n"
        "tryread('ownhome', lambda: os.listdir(os.path.expanduser('~')))\n"
    )
    out = _run(hub, "ana", code)
    assert "environ PermissionError" in out and "home PermissionError" in out, out
    assert "own READ" in out and "ownhome READ" in out, out  # control: the same reads on ana's own


def test_a_learners_server_cannot_reach_the_template(hub: RunningHub) -> None:
    path = _socket(hub)
    assert template.is_running(path)  # control: root can
    code = (
        "import socket\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({path!r}); s.sendall(b'ping\\n'); print('ANSWER', s.recv(100))\n"
        "except OSError as e:\n"
        "    print('REFUSED', type(e).__name__)\n"
    )
    out = _run(hub, "ana", code)
    assert "REFUSED PermissionError" in out, out


def test_the_templates_environment_holds_no_secret(hub: RunningHub) -> None:
    assert hub.proc is not None
    pid = template.template_pid(_socket(hub))
    assert pid is not None
    held = Path(f"/proc/{pid}/environ").read_bytes()
    hubs = _environ(hub.proc.pid)
    secrets = [v for k, v in hubs.items() if any(w in k for w in ("TOKEN", "SECRET", "KEY")) and len(v) >= 16]
    secrets += [v for k, v in _kernel_env(hub, "ana").items() if "TOKEN" in k]
    assert secrets, "control: the hub and the server hold secrets to look for"
    for secret in secrets:
        assert secret.encode() not in held
    assert b"JUPYTERHUB" not in held and b"TOKEN" not in held and b"SECRET" not in held
    assert os.listdir(f"/proc/{pid}/task") == [str(pid)]  # no thread


def test_killing_the_template_leaves_servers_running_and_stoppable(hub: RunningHub) -> None:
    path = _socket(hub)
    pid = template.template_pid(path)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while template.template_pid(path) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    ana, ben = _pid(hub, "ana"), _pid(hub, "ben")
    assert _run(hub, "ana", "print(6 * 7)").strip() == "42"  # ana's server still works
    os.kill(ana, 0)
    # The hub still polls and stops ben's server by its pid.
    assert hub.api.delete(f"/users/{hub.name('ben')}/server").status_code in (202, 204)
    hub.api.wait_for_server(hub.name("ben"), ready=False, timeout=60)
    time.sleep(0.5)
    with contextlib.suppress(FileNotFoundError):
        assert "Z" in Path(f"/proc/{ben}/stat").read_text().rpartition(")")[2].split()[0]  # gone or a zombie
    # The next start brings the template back.
    _start(hub, "ben")
    assert template.template_pid(path) not in (None, pid)
    assert hub.log().count(f"Started {hub.name('ben')}'s server from the start-up template") == 2


def test_without_the_template_a_server_starts_as_usual(hub: RunningHub) -> None:
    path = _socket(hub)
    template.stop(path)
    folder = os.path.dirname(path)
    deadline = time.monotonic() + 10
    while template.template_pid(path) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    for name in os.listdir(folder):
        os.unlink(os.path.join(folder, name))
    os.rmdir(folder)
    Path(folder).write_text("not a folder: the template cannot come back\n")
    try:
        assert hub.api.delete(f"/users/{hub.name('ana')}/server").status_code in (202, 204)
        hub.api.wait_for_server(hub.name("ana"), ready=False, timeout=60)
        pid = _start(hub, "ana")
        assert f"Starting {hub.name('ana')}'s server without the start-up template" in hub.log()
        assert _run(hub, "ana", "print(6 * 7)").strip() == "42"
        assert _status(pid)["Uid"].split()[0] == str(pwd.getpwnam(hub.name("ana")).pw_uid)
    finally:
        os.unlink(folder)
