"""Fast tests of starting again after a crash: which leftovers are stopped, the port
message, and saves that a killed server cannot cut in half."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import free_ports
from connected_learning.hub import recovery
from connected_learning.hub.recovery import SITE_MARKER, Process, find_leftovers
from connected_learning.learner.atomic_contents import AtomicContentsManager, replace_atomically
from connected_learning.settings import load_settings


def P(pid: int, ppid: int, argv: str, **env: str) -> Process:  # noqa: N802
    return Process(pid, ppid, tuple(argv.split()), dict(env))


def test_leftovers_are_this_sites_proxy_and_services_with_their_children(tmp_path: Path) -> None:
    data, other = str(tmp_path / "data"), str(tmp_path / "other")
    procs = [
        P(10, 1, "node configurable-http-proxy --port 1", **{SITE_MARKER: data}),
        P(11, 1, "python -m connected_learning.classroom.app", **{SITE_MARKER: data, "JUPYTERHUB_SERVICE_NAME": "c"}),
        P(12, 11, "python -m ipykernel"),  # below a leftover: goes with it
        P(20, 1, "node configurable-http-proxy", **{SITE_MARKER: other}),  # another site's
        P(30, 1, "jupyterhub-singleuser", **{SITE_MARKER: data, "JUPYTERHUB_USER": "ana"}),  # a learner's
        P(40, 1, "python -m connected_learning.showcase.service"),  # no marker
        P(50, 1, "clhub up", **{SITE_MARKER: data}),  # ourselves
    ]
    plan = find_leftovers(procs, data, me=50)
    assert [p.pid for p in plan.stop] == [10, 11, 12]
    assert plan.hubs == []


def test_a_running_hub_of_the_site_is_reported_not_stopped(tmp_path: Path) -> None:
    data = str(tmp_path)
    procs = [
        P(10, 1, "/venv/bin/jupyterhub -f config.py", **{SITE_MARKER: data}),
        P(11, 10, "node configurable-http-proxy", **{SITE_MARKER: data}),
    ]
    plan = find_leftovers(procs, data, me=99)
    assert [h.pid for h in plan.hubs] == [10]
    assert plan.stop == []


def test_stop_leftovers_stops_a_real_leftover_of_this_site_only(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    ours = subprocess.Popen(sleeper, env={**os.environ, SITE_MARKER: str(tmp_path)}, start_new_session=True)
    theirs = subprocess.Popen(sleeper, env={**os.environ, SITE_MARKER: str(tmp_path / "x")}, start_new_session=True)
    try:
        stopped = recovery.stop_leftovers(tmp_path, grace=5)
        assert [p.pid for p in stopped] == [ours.pid]
        assert ours.wait(5) == -signal.SIGTERM
        assert theirs.poll() is None
    finally:
        for p in (ours, theirs):
            p.kill()
            p.wait()


def test_a_taken_port_is_named_with_its_setting_and_holder(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    site = tmp_path / "site.toml"
    # Every other port of the site free too: the fixed defaults (the hub's 8081, ...) may be a
    # demo's that another test worker runs meanwhile.
    keys = ("port", "hub_port", "proxy_api_port", "showcase_port", "showcase_live_port")
    others = "".join(f"{key} = {port}\n" for key, port in zip(keys, free_ports(len(keys)), strict=True))
    site.write_text(f'[site]\nbind_ip = "127.0.0.1"\nclassroom_port = {port}\n{others}data_dir = "{tmp_path}"\n')
    settings = load_settings(site)
    with pytest.raises(recovery.SiteStartError) as e:
        recovery.check_ports(settings)
    message = str(e.value)
    assert f"Port {port} (site.classroom_port in {site})" in message
    assert f"process {os.getpid()} (" in message
    holder.close()
    recovery.check_ports(settings)  # free again: no complaint
    # Right after this site's leftovers were stopped, a port still closing is waited for.
    closing = socket.socket()
    closing.bind(("127.0.0.1", port))
    closing.listen()
    assert recovery._port_taken("127.0.0.1", port)  # the control: taken as the check begins
    import threading

    threading.Timer(1.0, closing.close).start()
    recovery.check_ports(settings, wait=30)
    assert not recovery._port_taken("127.0.0.1", port)


# ------------------------------------------------------------------ atomic saves

WRITER = textwrap.dedent(
    """
    import sys, time
    from connected_learning.learner.atomic_contents import replace_atomically
    with replace_atomically(sys.argv[1], text=False) as f:
        f.write(b"x" * 1_000_000)
        f.flush()
        print("half", flush=True)
        time.sleep(60)
        f.write(b"y" * 1_000_000)
    """
)


def test_a_writer_killed_mid_save_leaves_the_old_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "work.ipynb"
    target.write_text("old")
    os.chmod(target, 0o640)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE)
    assert writer.stdout is not None and writer.stdout.readline() == b"half\n"
    writer.kill()
    writer.wait()
    assert target.read_text() == "old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "work.ipynb"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".~save-work.ipynb-")
    # The next save replaces the file whole, keeps its mode and sweeps the crashed one's rest.
    with replace_atomically(str(target)) as f:
        f.write("new")
    assert target.read_text() == "new"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert [p.name for p in tmp_path.iterdir()] == ["work.ipynb"]


def test_a_failed_save_changes_nothing(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), replace_atomically(str(target)) as f:
        f.write("half")
        raise RuntimeError("disk gone")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_the_contents_manager_saves_notebooks_and_files_through_a_rename(tmp_path: Path) -> None:
    manager = AtomicContentsManager(root_dir=str(tmp_path))
    nb = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "n.ipynb").write_text("{}")
    inode = (tmp_path / "n.ipynb").stat().st_ino

    async def save() -> None:
        await manager.save({"type": "notebook", "content": nb}, "n.ipynb")
        await manager.save({"type": "file", "format": "text", "content": "hi"}, "t.txt")

    asyncio.run(save())
    assert json.loads((tmp_path / "n.ipynb").read_text())["nbformat"] == 4
    assert (tmp_path / "n.ipynb").stat().st_ino != inode  # replaced, not written into
    assert (tmp_path / "t.txt").read_text() == "hi"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["n.ipynb", "t.txt"]  # no temporary left


# SYS_exit, which ends the calling thread alone (exit_group ends them all), by machine.
SYS_EXIT = {"x86_64": 60, "aarch64": 93}


def test_a_leftover_whose_main_thread_ended_first_is_waited_for_and_named() -> None:
    """A killed service winding down: its main thread has ended (a zombie) while its other threads
    still hold its listening socket. It is still running, and it holds the port, so a restart
    waits for it and names it instead of finding the port "taken by another process" (CI, twice,
    test_faults)."""
    import platform

    number = SYS_EXIT.get(platform.machine())
    if number is None:
        pytest.skip(f"no SYS_exit number known for {platform.machine()}")
    code = textwrap.dedent(
        f"""
        import ctypes, socket, threading, time
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        print(s.getsockname()[1], flush=True)
        threading.Thread(target=time.sleep, args=(60,)).start()
        ctypes.CDLL(None).syscall({number}, 0)  # the main thread alone ends
        """
    )
    service = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        port = int(service.stdout.readline())  # type: ignore[union-attr]
        stat = Path(f"/proc/{service.pid}/stat")
        for _ in range(100):
            if stat.read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        assert stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"  # the control: the main thread ended
        assert recovery._port_taken("127.0.0.1", port)  # and its threads still hold the port
        leftover = Process(service.pid, os.getpid(), ("service",))
        assert recovery._same_process_alive(leftover)
        holder = recovery.port_holder(port)
        assert holder is not None and holder.pid == service.pid
        service.kill()
        service.wait()
        assert not recovery._same_process_alive(leftover)
        assert not recovery._port_taken("127.0.0.1", port)
    finally:
        service.kill()
        service.wait()
