"""The fence around learners' code: the planned command line, and the real fence's limits.

`plan` is pure and checked argument by argument; the limits are checked by running a small
attacker in a real bubblewrap fence: a fork flood and an allocation past the memory limit,
each with a control that shows the attacker ran.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from connected_learning.sandbox import (
    Fence,
    FenceError,
    Limits,
    identity,
    kernel_env,
    plan,
    python_folders,
    system_view,
)


def _pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, a in enumerate(argv) if a == option]


def test_the_plan_shows_only_what_the_fence_names() -> None:
    fence = Fence(
        work="/data/sub",
        inside="/submission",
        writable=True,
        kernel_dir="/tmp/k",
        readable=("/opt/venv",),
        run_as=(999, 998),
        env={"HOME": "/tmp"},
        system=(("/usr", ""), ("/lib", "usr/lib")),
    )
    argv = plan(fence, ["python", "-m", "ipykernel_launcher"])

    assert argv[:7] == ["setpriv", "--reuid=999", "--regid=998", "--clear-groups", "--no-new-privs", "--", "bwrap"]
    assert "--unshare-all" in argv and "--share-net" not in argv and "--die-with-parent" in argv
    assert "--clearenv" in argv
    assert _pairs(argv, "--ro-bind") == [("/usr", "/usr"), ("/opt/venv", "/opt/venv")]
    assert _pairs(argv, "--bind") == [("/tmp/k", "/tmp/k"), ("/data/sub", "/submission")]
    assert _pairs(argv, "--symlink") == [("usr/lib", "/lib")]
    assert argv[argv.index("--chdir") + 1] == "/submission"
    # Binds come after /tmp's tmpfs, or an environment under /tmp would be hidden by it.
    assert argv.index("--tmpfs") < argv.index("/opt/venv") < argv.index("/tmp/k") < argv.index("/data/sub")
    assert argv[argv.index("--proc") + 1] == "/proc"
    assert argv[argv.index("--size") + 1] == str(64 << 20) and argv[argv.index("--size") + 2] == "--tmpfs"
    tail = argv[argv.index("prlimit") :]
    assert tail[:2] == ["prlimit", "--core=0"]
    assert f"--as={1024 << 20}" in tail and "--nproc=64" in tail and f"--fsize={64 << 20}" in tail
    assert tail[-4:] == ["--", "python", "-m", "ipykernel_launcher"]


def test_a_read_only_work_folder_and_no_user_change() -> None:
    argv = plan(Fence(work="/live/tok", inside="/fenced", writable=False, limits=Limits(cpu_seconds=60)), ["k"])
    assert argv[0] == "bwrap"
    assert ("/live/tok", "/fenced") in _pairs(argv, "--ro-bind")
    assert not _pairs(argv, "--bind")
    assert "--cpu=60" in argv


@pytest.mark.parametrize("inside", ["/opt", "/opt/venv", "/", "fenced", "/tmp/k/..", "/usr"])
def test_a_work_folder_that_would_hide_what_the_fence_needs_is_refused(inside: str) -> None:
    fence = Fence(
        work="/data/sub",
        inside=inside,
        writable=True,
        kernel_dir="/tmp/k",
        readable=("/opt/venv",),
        system=(("/usr", ""),),
    )
    with pytest.raises(FenceError, match="would hide"):
        plan(fence, ["k"])


def test_the_kernel_environment_keeps_no_secret() -> None:
    env = kernel_env(
        {
            "JUPYTERHUB_API_TOKEN": "t",
            "CLHUB_SHOWCASE_LIVE": "/x",
            "NBGRADER_EXECUTION": "autograde",
            "VOILA_KERNEL_ID": "k",
            "LANG": "es_ES.UTF-8",
            "AWS_SECRET": "s",
        },
        python_bin="/venv/bin",
    )
    assert env["NBGRADER_EXECUTION"] == "autograde" and env["VOILA_KERNEL_ID"] == "k"
    assert env["LANG"] == "es_ES.UTF-8" and env["HOME"] == "/tmp" and env["PATH"].startswith("/venv/bin:")
    assert not {"JUPYTERHUB_API_TOKEN", "CLHUB_SHOWCASE_LIVE", "AWS_SECRET"} & set(env)


def test_the_python_folders_are_not_nested_and_leave_usr_to_the_system_view() -> None:
    folders = python_folders()
    assert all(not f.startswith("/usr/") for f in folders)
    assert not any(a != b and a.startswith(b + os.sep) for a in folders for b in folders)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root drops to another user")
def test_the_fence_user_must_exist_and_not_be_root() -> None:
    with pytest.raises(FenceError, match="does not exist"):
        identity("clhub-no-such-user")
    with pytest.raises(FenceError, match="is root"):
        identity("root")


# A real fence.

PROBE = """
import json, os, sys
what = sys.argv[1]
if what == "fork":
    children = 0
    try:
        for _ in range(10000):
            pid = os.fork()
            if pid == 0:
                import time; time.sleep(30); os._exit(0)
            children += 1
        print(json.dumps({"children": children, "stopped": False}))
    except OSError as e:
        print(json.dumps({"children": children, "stopped": True, "error": e.errno}))
    sys.stdout.flush()
    os._exit(0)  # the children end with the fence
if what == "memory":
    held = []
    try:
        for _ in range(3 * 256):
            held.append(bytearray(1 << 20))  # 1 MB at a time, to three times the limit
        print(json.dumps({"mb": len(held), "stopped": False}))
    except MemoryError:
        print(json.dumps({"mb": len(held), "stopped": True}))
"""


@pytest.fixture
def work() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="clhub-fence-test-"))
    folder.chmod(0o755)
    (folder / "probe.py").write_text(PROBE)
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=False)


def _run_fenced(work: Path, what: str, limits: Limits) -> dict:
    from connected_learning.sandbox import require_tools

    require_tools()
    fence = Fence(
        work=str(work),
        inside="/fenced",
        writable=False,
        readable=python_folders(),
        run_as=identity("nobody") if os.geteuid() == 0 else None,
        limits=limits,
        env=kernel_env({}, python_bin=str(Path(sys.executable).parent)),
        system=system_view(),
    )
    done = subprocess.run(plan(fence, [sys.executable, "probe.py", what]), capture_output=True, text=True, timeout=120)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the probe did not report (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(lines[-1])


@pytest.mark.integration
def test_a_fork_flood_stops_at_the_process_limit(work: Path) -> None:
    report = _run_fenced(work, "fork", Limits(processes=40, memory_mb=0))
    assert report["stopped"], report
    assert 10 <= report["children"] < 40, report  # control: it did fork, up to the limit


@pytest.mark.integration
def test_an_allocation_past_the_memory_limit_fails_inside(work: Path) -> None:
    report = _run_fenced(work, "memory", Limits(memory_mb=256, processes=0))
    assert report["stopped"], report
    assert 20 <= report["mb"] < 256, report  # control: it did allocate, up to the limit
