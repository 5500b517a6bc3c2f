"""Learners' code on Kubernetes runs in the same fence as on one machine: the real fence, as a pod runs it.

A pod's /proc is masked by its container runtime, and the kernel then refuses a fresh proc
mount to an unprivileged process; a pod's processes have no capabilities (the live showcase)
or, as root, only the classroom's six (grading). Both are reproduced here for real: a mount
namespace of the test's own with /proc/sys bound read-only over itself (as runc does), and
setpriv for the pod's uid, empty capability sets and no_new_privs. In it:

- a live kernel (the live showcase's kernel manager, as uid 991) whose code attacks: /proc/1's
  environment, the list of processes, the network, files outside its work folder; each fails,
  and a file it wrote in its work folder and a value it printed show that it ran;
- a real autograde through the grading pool on the Kubernetes host's settings (no /proc of the
  fence's own, the drop to clhub-grader's uid 992 from SERVICE_IDS, as root like the classroom):
  right answers score, a forged result scores 0, an attack gets nowhere;
- the node profiles: the seccomp profile names real system calls only, lets bubblewrap make its
  namespaces and mounts, and refuses the dangerous calls; the AppArmor profile is clhub-fence.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import REPO
from connected_learning.host.current import current
from connected_learning.host.kubernetes import SERVICE_IDS, KubernetesHost
from connected_learning.host.same_user import SameUserHost
from connected_learning.host.system import SystemHost
from connected_learning.hub.kube_services import CLASSROOM_CAPABILITIES
from connected_learning.sandbox import (
    Fence,
    FenceError,
    check,
    identity,
    kernel_env,
    plan,
    python_folders,
    system_view,
)
from realhub import listener
from syscall_names import ARM64, KNOWN, X86_64
from test_grading import (  # noqa: F401  (module fixtures, used by name)
    CELL_TIMEOUT,
    FORGE,
    PUZZLES,
    _check_cell,
    _processes_in,
    _puzzle_course,
    _submit_answers,
    environment,
)

NODE = REPO / "hub_config" / "kubernetes" / "node"
LIVE_UID = SERVICE_IDS["clhub-live"]
GRADER_UID = SERVICE_IDS["clhub-grader"]
# What runc does to a pod's /proc, the part of it that makes the kernel refuse a fresh proc mount.
MASK_PROC = "mount --bind -o ro /proc/sys /proc/sys"


def as_a_pod(argv: list[str], uid: int | None) -> list[str]:
    """`argv` in a mount namespace whose /proc is masked, as `uid` with no capabilities (None: root
    with the classroom's capabilities, as its pod runs it)."""
    if uid is None:
        caps = "-all," + ",".join(f"+{cap.lower()}" for cap in CLASSROOM_CAPABILITIES)
        become = ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]
    else:
        become = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--no-new-privs",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--",
        ]
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        f'{MASK_PROC} && exec "$@"',
        "pod",
        *become,
        *argv,
    ]


@pytest.fixture
def pod_folder() -> Iterator[Path]:
    """A folder the pod's uid owns (its /tmp): the kernel manager's home and the piece it serves."""
    folder = Path(tempfile.mkdtemp(prefix="clhub-pod-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ which host fences how


def test_only_kubernetes_fences_without_a_proc_of_their_own() -> None:
    assert SystemHost.fresh_proc is True and SameUserHost.fresh_proc is True
    assert KubernetesHost.fresh_proc is False
    assert current(environ={"CLHUB_HOST": "kubernetes"}).fresh_proc is False


def test_the_plan_mounts_proc_only_where_the_host_allows_it() -> None:
    fence = Fence(work="/w", inside="/fenced", writable=False, system=(("/usr", ""),))
    with_proc = plan(fence, ["k"])
    without = plan(Fence(work="/w", inside="/fenced", writable=False, system=(("/usr", ""),), fresh_proc=False), ["k"])
    assert with_proc[with_proc.index("--proc") + 1] == "/proc"
    assert "--proc" not in without and "/proc" not in without
    # Nothing else changes: the same fence less the two words.
    i = with_proc.index("--proc")
    assert with_proc[:i] + with_proc[i + 2 :] == without
    assert without[without.index("--dev") + 1] == "/dev" and "--unshare-all" in without


def test_the_kubernetes_host_drops_only_to_the_services_users_and_only_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = KubernetesHost(tmp_path)
    entry = host.run_as("clhub-grader")  # the tests run as root, as the classroom's pod does
    assert entry is not None and (entry.uid, entry.gid) == (GRADER_UID, GRADER_UID) and entry.groups == ()
    for learner in ("ana", "root", "nobody"):  # never a learner, never anyone unknown
        with pytest.raises(KeyError):
            host.run_as(learner)
    monkeypatch.setenv("CLHUB_HOST", "kubernetes")
    assert identity("clhub-grader") == (GRADER_UID, GRADER_UID)
    with pytest.raises(FenceError, match="never as a learner or root"):  # refused rather than stay root
        identity("ana")
    with pytest.raises(FenceError, match="'ana' that runs fenced code does not exist here"):
        check("ana")
    done = subprocess.run(
        ["setpriv", f"--reuid={LIVE_UID}", f"--regid={LIVE_UID}", "--clear-groups", sys.executable, "-c",
         "from pathlib import Path; from connected_learning.host.kubernetes import KubernetesHost; "
         "print(KubernetesHost(Path('/')).run_as('clhub-grader'))"],
        capture_output=True, text=True, cwd="/",
    )  # fmt: skip
    assert done.stdout.strip() == "None", done.stderr  # not root: it stays who it is


# ------------------------------------------------------------------ the real fence, as a pod runs it

# The code a visitor's kernel runs in the live showcase's pod.
ATTACK = """
import json, os, socket
record = {{"uid": os.getuid(), "proc": os.path.exists("/proc")}}
def attempt(name, action):
    try:
        record[name] = "succeeded: " + repr(action())[:80]
    except Exception as e:
        record[name] = "failed: " + type(e).__name__
attempt("environ", lambda: open("/proc/1/environ", "rb").read())
attempt("self", lambda: open("/proc/self/status").read())
attempt("processes", lambda: [p for p in os.listdir("/proc") if p.isdigit()])
attempt("signal", lambda: os.kill({manager}, 0))
attempt("hub", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close())
attempt("other", lambda: socket.create_connection(("127.0.0.2", {other_port}), timeout=3).close())
attempt("outside", lambda: open({outside!r}, "w").write("x"))
attempt("usr", lambda: open("/usr/clhub-attack", "w").write("x"))
attempt("python", lambda: open({python!r}, "w").write("x"))
attempt("mine", lambda: open("mine.txt", "w").write("mine"))
print("ATTACK " + json.dumps(record))
"""

# The live showcase's own kernel manager (sandbox.FencedKernel), run in the pod by the pod's uid.
DRIVER = """
import asyncio, json, os, sys
from connected_learning.sandbox import fenced_kernel_manager

async def main(work, code):
    manager = fenced_kernel_manager()(kernel_name="python3")
    manager.copy_work = True  # a copy the kernel may write, kept to show what it wrote
    await manager.start_kernel(cwd=work)
    client = manager.client()
    client.start_channels()
    out = []
    try:
        await client.wait_for_ready(timeout=90)
        hook = lambda msg: out.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None
        await client.execute_interactive(code, timeout=90, output_hook=hook)
        wrote = os.path.join(manager._fence_dir, "work", "mine.txt")
        print(json.dumps({"out": "".join(out), "wrote": open(wrote).read() if os.path.exists(wrote) else None}))
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


@pytest.mark.integration
def test_a_live_kernel_in_a_pod_reaches_no_process_no_network_and_no_file_outside(pod_folder: Path) -> None:
    work = pod_folder / "piece"
    work.mkdir()
    outside = pod_folder / "outside"  # the pod's uid may write here, outside the fence
    outside.mkdir(mode=0o777)
    outside.chmod(0o777)
    for path in (pod_folder, work):
        os.chown(path, LIVE_UID, LIVE_UID)
    hub, other = listener("127.0.0.1"), listener("127.0.0.2")
    code = ATTACK.format(
        manager=os.getpid(),
        port=hub.getsockname()[1],
        other_port=other.getsockname()[1],
        outside=str(outside / "escaped.txt"),
        python=str(Path(sys.executable).parent / "clhub-attack"),
    )
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": str(pod_folder),
        "TMPDIR": str(pod_folder),
        "JUPYTER_RUNTIME_DIR": str(pod_folder / "runtime"),
        "CLHUB_HOST": "kubernetes",  # as kube_services gives the live showcase's pod
        "LANG": "C.UTF-8",
    }

    done = subprocess.run(
        as_a_pod([sys.executable, "-c", DRIVER, str(work), code], LIVE_UID),
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd="/",
    )

    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"the kernel did not run (exit {done.returncode}): {done.stderr[-3000:]}"
    report = json.loads(lines[-1])
    assert report["out"].startswith("ATTACK "), report
    record = json.loads(report["out"].split(" ", 1)[1])
    # Controls: the code ran, as the pod's uid, and wrote where it may.
    assert record["uid"] == LIVE_UID and record["mine"].startswith("succeeded"), record
    assert report["wrote"] == "mine"
    assert record["proc"] is False
    for target in ("environ", "self", "processes", "signal", "hub", "other", "outside", "usr", "python"):
        assert record[target].startswith("failed"), (target, record)
    for aimed_at in (hub, other):
        with pytest.raises(BlockingIOError):  # nothing arrived
            aimed_at.accept()
        aimed_at.close()
    assert not (outside / "escaped.txt").exists()
    assert not Path("/usr/clhub-attack").exists()
    assert not (Path(sys.executable).parent / "clhub-attack").exists()


def _fence_in_a_pod(work: Path, fresh_proc: bool, uid: int) -> subprocess.CompletedProcess[str]:
    fence = Fence(
        work=str(work),
        inside="/fenced",
        writable=True,
        readable=python_folders(),
        env=kernel_env({}, python_bin=str(Path(sys.executable).parent)),
        system=system_view(),
        fresh_proc=fresh_proc,
    )
    code = "import os; open('mine.txt', 'w').write('mine'); print('ran as', os.getuid())"
    argv = as_a_pod(plan(fence, [sys.executable, "-I", "-c", code]), uid)
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd="/", env=dict(fence.env))


@pytest.mark.integration
def test_where_proc_is_masked_only_the_fence_without_its_own_proc_can_be_built(pod_folder: Path) -> None:
    """Why Kubernetes fences without /proc: with it, bubblewrap fails exactly as in a pod."""
    os.chown(pod_folder, LIVE_UID, LIVE_UID)
    refused = _fence_in_a_pod(pod_folder, True, LIVE_UID)
    assert refused.returncode != 0 and "Can't mount proc" in refused.stderr, refused.stderr
    assert not (pod_folder / "mine.txt").exists()

    built = _fence_in_a_pod(pod_folder, False, LIVE_UID)
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == f"ran as {LIVE_UID}"
    assert (pod_folder / "mine.txt").read_text() == "mine"


@pytest.mark.integration
def test_clhub_fence_check_says_ok_in_a_pod_and_names_the_failure_where_it_cannot_build(pod_folder: Path) -> None:
    env = {**os.environ, "CLHUB_HOST": "kubernetes", "TMPDIR": str(pod_folder)}
    clhub = str(Path(sys.executable).parent / "clhub")
    # The classroom's pod: root with its six capabilities, dropping to clhub-grader.
    done = subprocess.run(as_a_pod([clhub, "fence", "check"], None), capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"ok: fenced code ran (uid {GRADER_UID} proc False") and "no network" in done.stdout
    # A pod whose runtime keeps a fresh /proc from the fence, on a host that would mount one.
    env["CLHUB_HOST"] = "system"
    os.chown(pod_folder, LIVE_UID, LIVE_UID)
    failed = subprocess.run(as_a_pod([clhub, "fence", "check"], LIVE_UID), capture_output=True, text=True, env=env)
    assert failed.returncode != 0 and failed.stdout == ""
    assert "The fence cannot be built here: bwrap: Can't mount proc on /newroot/proc" in failed.stderr


# ------------------------------------------------------------------ grading on the Kubernetes host

GRADE = """
import json, sys
from connected_learning.assignments.grading import autograde_all
from connected_learning.assignments.grading_errors import GradeError
results = autograde_all(sys.argv[1], sys.argv[2], workers=2, timeout=int(sys.argv[3]))
print(json.dumps({k: (v.code if isinstance(v, GradeError) else v) for k, v in results.items()}))
"""

GRADE_ATTACK = """import json, os, socket
record = {{"uid": os.getuid(), "proc": os.path.exists("/proc")}}
def attempt(name, action):
    try:
        record[name] = "succeeded: " + repr(action())[:80]
    except Exception as e:
        record[name] = "failed: " + type(e).__name__
attempt("environ", lambda: open("/proc/1/environ", "rb").read())
attempt("gradebook", lambda: open({gradebook!r}, "ab").write(b"100"))
attempt("hub", lambda: socket.create_connection(("127.0.0.1", {port}), timeout=3).close())
attempt("mine", lambda: open("mine.txt", "w").write("mine"))
print("ATTACK " + json.dumps(record))
bonus = 7
"""


@pytest.mark.integration
def test_grading_on_kubernetes_scores_right_answers_and_gives_a_forged_result_nothing(environment: Path) -> None:  # noqa: F811
    course = environment / "kubernetes-puzzles"
    solutions = _puzzle_course(course)
    hub = listener("127.0.0.1")
    _submit_answers(course, "ana", solutions)
    _submit_answers(course, "fox", {"bonus": FORGE + "bonus = 6"})
    attack = GRADE_ATTACK.format(gradebook=str(course / "gradebook.db"), port=hub.getsockname()[1])
    _submit_answers(course, "mal", {"bonus": attack})
    env = {**os.environ, "CLHUB_HOST": "kubernetes"}  # what kube_services gives the classroom's pod

    done = subprocess.run(
        as_a_pod([sys.executable, "-c", GRADE, str(course), PUZZLES, str(CELL_TIMEOUT * 5)], None),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd="/",
    )

    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"grading did not report (exit {done.returncode}): {done.stderr[-3000:]}"
    assert json.loads(lines[-1]) == {"ana": 4.0, "fox": 0.0, "mal": 1.0}
    from connected_learning.widgets.puzzles import results

    assert results(_check_cell(course, "fox", "bonus")) == [{"puzzle": "bonus", "solved": True}]  # it forged
    record: dict[str, Any] = {}
    for output in _check_cell(course, "mal", "bonus").outputs:
        if output.get("name") == "stdout" and output["text"].startswith("ATTACK "):
            record = json.loads(output["text"].split(" ", 1)[1])
    assert record, "mal's code did not run"
    assert record["uid"] == GRADER_UID and record["proc"] is False and record["mine"].startswith("succeeded")
    for target in ("environ", "gradebook", "hub"):
        assert record[target].startswith("failed"), (target, record)
    with pytest.raises(BlockingIOError):
        hub.accept()
    hub.close()
    assert _processes_in(course) == []  # every kernel was stopped, though the classroom is root without all its power


# ------------------------------------------------------------------ the node profiles

BUBBLEWRAP_CALLS = ("clone", "unshare", "mount", "umount2", "pivot_root", "chroot")
DANGEROUS = (
    "kexec_load kexec_file_load bpf perf_event_open keyctl add_key request_key init_module finit_module "
    "delete_module open_by_handle_at userfaultfd ptrace process_vm_readv process_vm_writev reboot swapon "
    "swapoff acct clock_settime settimeofday iopl ioperm kcmp pidfd_getfd setns syslog quotactl "
    "io_uring_setup fsopen fsmount open_tree move_mount"
).split()


@pytest.fixture(scope="module")
def seccomp() -> dict[str, Any]:
    return json.loads((NODE / "clhub-fence.json").read_text())


def allowed(profile: dict[str, Any], *, unconditionally: bool = True) -> set[str]:
    return {
        name
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and (not unconditionally or not rule.get("args"))
        for name in rule["names"]
    }


def test_the_seccomp_profile_denies_by_default_in_the_kubelets_format(seccomp: dict[str, Any]) -> None:
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO" and seccomp["defaultErrnoRet"] == 1
    keys = {"names", "action", "args", "errnoRet"}
    for rule in seccomp["syscalls"]:
        assert set(rule) <= keys and rule["names"] and rule["action"] in ("SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO")
        # No Docker-only "includes"/"excludes": containerd would read such a rule as unconditional.
        for arg in rule.get("args", []):
            assert set(arg) == {"index", "value", "op"} and arg["op"].startswith("SCMP_CMP_")


def test_every_call_the_seccomp_profile_names_is_a_real_system_call(seccomp: dict[str, Any]) -> None:
    named = {name for rule in seccomp["syscalls"] for name in rule["names"]}
    assert named <= KNOWN, sorted(named - KNOWN)
    assert {"read", "openat", "execve", "mmap", "futex", "epoll_pwait", "clone3"} <= allowed(seccomp)
    assert "newfstatat" in ARM64 and "arch_prctl" in X86_64 and "arch_prctl" not in ARM64  # control: the tables
    assert "kexec_lode" not in KNOWN  # control: a misspelt call would be caught


def test_the_seccomp_profile_lets_bubblewrap_build_its_fence_and_refuses_the_dangerous_calls(
    seccomp: dict[str, Any],
) -> None:
    assert set(BUBBLEWRAP_CALLS) <= allowed(seccomp)
    everything_allowed = allowed(seccomp, unconditionally=False)
    assert not set(DANGEROUS) & everything_allowed, sorted(set(DANGEROUS) & everything_allowed)
    [denied] = [rule for rule in seccomp["syscalls"] if rule["action"] == "SCMP_ACT_ERRNO"]
    assert set(DANGEROUS) <= set(denied["names"])
    # socket and personality only with the runtime default's arguments (no AF_VSOCK).
    assert "socket" not in allowed(seccomp) and "socket" in everything_allowed
    # What a kernel needs is there: nothing of the ordinary x86_64 or arm64 table is left out by accident.
    ordinary = (X86_64 | ARM64) - set(denied["names"]) - {"socket", "personality"}
    assert ordinary <= allowed(seccomp), sorted(ordinary - allowed(seccomp))


def test_the_apparmor_profile_is_clhub_fence_and_allows_the_fences_mounts() -> None:
    text = (NODE / "clhub-fence.apparmor").read_text()
    rules = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert rules[0] == "profile clhub-fence flags=(attach_disconnected,mediate_deleted) {" and rules[-1] == "}"
    assert text.count("{") == text.count("}")
    for rule in ("mount,", "umount,", "pivot_root,", "userns,", "file,", "network,"):
        assert rule in rules, rule
    assert "deny mount," not in rules  # the runtime default's rule that stops bubblewrap
    assert "deny @{PROC}/kcore rwklx," in rules and "deny /sys/firmware/** rwklx," in rules


def test_grading_uses_as_many_workers_as_the_pods_cpu_limit_allows(tmp_path: Path) -> None:
    from connected_learning.assignments.grading import default_workers

    cpus = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    cpu_max.write_text("150000 100000\n")  # a pod limited to 1.5 CPUs: 2 workers at most
    assert default_workers(str(cpu_max)) == min(cpus, 2)
    cpu_max.write_text("50000 100000\n")
    assert default_workers(str(cpu_max)) == 1
    for unlimited in ("max 100000\n", "garbage\n", ""):
        cpu_max.write_text(unlimited)
        assert default_workers(str(cpu_max)) == cpus
    assert default_workers(str(tmp_path / "missing")) == cpus  # one machine's root cgroup has none
