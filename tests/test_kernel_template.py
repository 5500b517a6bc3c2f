"""Kernels forked from the kernel template (learner/kernel_template.py), with real kernels.

Each test starts real ipykernel kernels through jupyter_client with the template's provisioner,
as a learner's server would, and checks them from inside (their pid, environment, state)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.provisioning import KernelProvisionerFactory
from nbclient import NotebookClient

from connected_learning.catalog.load import load_catalog
from connected_learning.learner import kernel_template
from connected_learning.learner.kernel_template import ForkedKernel
from realhub import free_port

REPO = Path(__file__).resolve().parent.parent
SECRET = "clhub-test-secret-token-5d1f"


@pytest.fixture
def templated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Kernels of this test come from a template of their own; yields a working folder."""
    # A runtime folder others may pass through, as a home's is: only the template's own 0700
    # folder should keep another user out of its socket.
    runtime = Path(tempfile.mkdtemp(prefix="clhub-kt-test-"))
    runtime.chmod(0o755)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", SECRET)
    factory = KernelProvisionerFactory.instance()
    monkeypatch.setattr(factory, "default_provisioner_name", "clhub-kernel-template")
    monkeypatch.setattr(kernel_template, "_template", None)
    work = tmp_path / "work"
    work.mkdir()
    wait_for_template()
    yield work
    kernel_template.server_template().preload = list(kernel_template.PRELOAD)
    kernel_template.server_template().stop()
    shutil.rmtree(runtime)


def wait_for_template() -> None:
    """Start this server's template and wait until it is ready (kernels meanwhile start as usual)."""
    deadline = time.monotonic() + 120
    while not kernel_template.server_template().ready():
        assert time.monotonic() < deadline, "the kernel template did not get ready"
        time.sleep(0.1)


class Kernel:
    """One running kernel and a client to run code in it."""

    def __init__(self, cwd: Path, env: dict[str, str] | None = None) -> None:
        self.manager = KernelManager(kernel_name="python3")
        kwargs = {} if env is None else {"env": env}
        self.manager.start_kernel(cwd=str(cwd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kwargs)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    @property
    def forked(self) -> bool:
        return isinstance(self.manager.provisioner.process, ForkedKernel)  # type: ignore[union-attr]

    def run(self, code: str, timeout: float = 60) -> tuple[str, str | None]:
        """(what the code printed, the name of the error it raised or None)."""
        printed: list[str] = []
        error: list[str] = []

        def output(msg: dict) -> None:
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            elif msg["msg_type"] == "error":
                error.append(msg["content"]["ename"])

        self.client.execute_interactive(code, timeout=timeout, output_hook=output)
        return "".join(printed).strip(), error[0] if error else None

    def value(self, code: str) -> str:
        printed, error = self.run(f"print({code})")
        assert error is None, error
        return printed

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def template_pid() -> int:
    process = kernel_template.server_template().process
    assert process is not None
    return process.pid


def test_a_forked_kernel_runs_the_learners_code_in_their_folder_with_their_env(templated: Path) -> None:
    (templated / "helper.py").write_text("ANSWER = 42\n")
    kernel = Kernel(templated)
    try:
        assert kernel.forked
        assert kernel.value("__import__('os').getppid()") == str(template_pid())
        assert kernel.value("__import__('os').getcwd()") == str(templated)
        assert kernel.value("__import__('helper').ANSWER") == "42"  # the folder is on sys.path, as usual
        assert kernel.value("__import__('os').environ['JUPYTERHUB_API_TOKEN']") == SECRET
        assert kernel.value("'ipywidgets' in __import__('sys').modules") == "True"
        printed, error = kernel.run("import matplotlib.pyplot as plt\nplt.plot([1, 2]); plt.show()")
        assert error is None
        msgs = kernel.client.execute("import matplotlib.pyplot as plt\nplt.plot([3, 1]); plt.show()")
        images = []
        while True:
            msg = kernel.client.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") != msgs:
                continue
            if msg["msg_type"] == "display_data":
                images.append(msg["content"]["data"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert any("image/png" in data for data in images), "a plot shows inline, as in any kernel"
    finally:
        kernel.stop()


def test_the_template_holds_no_secret_and_no_learner_state(templated: Path) -> None:
    kernel = Kernel(templated)
    try:
        assert kernel.forked
        environ = Path(f"/proc/{template_pid()}/environ").read_bytes()
        assert SECRET.encode() not in environ
        assert b"JUPYTERHUB" not in environ
        # Control: the server's environment has it, and the kernel gets it after the fork.
        assert kernel.value("__import__('os').environ['JUPYTERHUB_API_TOKEN']") == SECRET
        assert len(os.listdir(f"/proc/{template_pid()}/task")) == 1, "the template has one thread"
        # The kernel inherited no descriptor beyond its own: every one it has, it opened itself
        # (its sockets, its history database), none is the template's listening socket.
        fds = kernel.value("sorted(int(f) for f in __import__('os').listdir('/proc/self/fd'))")
        assert fds.startswith("[0, 1, 2, ")
        kernel.run("import os\nfd = '/proc/self/fd/'")
        targets = kernel.value("[os.readlink(fd + f) for f in os.listdir(fd) if os.path.lexists(fd + f)]")
        assert "clhub-kt-" not in targets
    finally:
        kernel.stop()


def test_siblings_have_their_own_random_state_and_variables_and_survive_each_other(templated: Path) -> None:
    first, second = Kernel(templated), Kernel(templated)
    try:
        assert first.forked and second.forked
        draw = "__import__('random').random(), __import__('numpy').random.random()"
        assert first.value(draw) != second.value(draw)
        first.run("secret_word = 'banana'")
        assert first.value("secret_word") == "banana"
        assert second.run("print(secret_word)")[1] == "NameError"
        first_pid = first.manager.provisioner.pid  # type: ignore[union-attr]
        first.client.execute("import os; os.kill(os.getpid(), 9)")
        deadline = time.monotonic() + 30
        while first.manager.is_alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not first.manager.is_alive()
        assert first.manager.provisioner.process.returncode == -signal.SIGKILL  # type: ignore[union-attr]
        assert second.value("1 + 1") == "2"
        second.run("x = 5")
        assert second.run("%reset -f")[1] is None
        assert second.run("print(x)")[1] == "NameError"
        assert second.value("'after reset'") == "after reset"
        assert not Path(f"/proc/{first_pid}").exists() or "Z" in Path(f"/proc/{first_pid}/stat").read_text().split()[2]
    finally:
        first.stop()
        second.stop()


def test_interrupt_and_restart_work_on_a_forked_kernel(templated: Path) -> None:
    kernel = Kernel(templated)
    try:
        assert kernel.forked
        msg_id = kernel.client.execute("import time; time.sleep(60)")
        time.sleep(1)
        kernel.manager.interrupt_kernel()
        while True:
            msg = kernel.client.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "error":
                assert msg["content"]["ename"] == "KeyboardInterrupt"
                break
        old = kernel.manager.provisioner.pid  # type: ignore[union-attr]
        kernel.run("kept = 1")
        kernel.manager.restart_kernel(now=True)
        kernel.client.wait_for_ready(timeout=60)
        assert kernel.forked
        assert kernel.manager.provisioner.pid != old  # type: ignore[union-attr]
        assert kernel.run("print(kept)")[1] == "NameError"
        assert kernel.value("6 * 7") == "42"
    finally:
        kernel.stop()
    assert not kernel.manager.is_alive()


def test_another_user_cannot_reach_the_templates_socket(templated: Path) -> None:
    kernel = Kernel(templated)
    kernel.stop()
    path = kernel_template.server_template().socket_path
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
        "try:\n    s.connect(sys.argv[1]); print('connected')\n"
        "except OSError as e:\n    print(type(e).__name__)\n"
    )
    # As `nobody`: the folder (0700, this server's user) keeps another user out before the template sees it.
    assert os.access(path.parent.parent, os.X_OK)
    other = subprocess.run(
        ["/usr/bin/python3", "-c", probe, str(path)], user="nobody", capture_output=True, text=True, check=True
    )
    assert other.stdout.strip() == "PermissionError"
    # Control: the server's own user reaches it (the attack above used the right path).
    same = subprocess.run(["/usr/bin/python3", "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert same.stdout.strip() == "connected"


def test_a_bad_request_to_the_template_is_refused_and_it_keeps_serving(templated: Path) -> None:
    Kernel(templated).stop()
    path = kernel_template.server_template().socket_path
    for junk in (b"", b"not json", b'{"op": "fork"}', b'{"op": "status", "pid": "x"}', b"[" * 100000):
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            sock.send(junk)
            assert b"error" in sock.recv(65536)
    kernel = Kernel(templated)
    try:
        assert kernel.forked
        assert kernel.value("'still serving'") == "still serving"
    finally:
        kernel.stop()


def test_a_kernel_the_template_cannot_serve_starts_as_usual(templated: Path, caplog: pytest.LogCaptureFixture) -> None:
    kernel_template.server_template().stop()
    env = dict(os.environ, PYTHONPATH=str(templated))
    kernel = Kernel(templated, env=env)
    try:
        assert not kernel.forked
        assert kernel.value("'usual'") == "usual"
    finally:
        kernel.stop()
    assert "without the kernel template" in caplog.text and "PYTHONPATH" in caplog.text
    assert kernel_template.server_template().process is None, "no template started for a kernel it cannot serve"


def test_a_dead_template_ends_its_kernels_and_the_next_kernel_still_starts(templated: Path) -> None:
    kernel = Kernel(templated)
    assert kernel.forked
    pid = kernel.manager.provisioner.pid  # type: ignore[union-attr]
    os.kill(template_pid(), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while kernel.manager.is_alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not kernel.manager.is_alive(), f"kernel {pid} outlived its template, as a stock kernel would its server"
    kernel.stop()
    again = Kernel(templated)  # as usual, while a new template gets ready
    try:
        assert not again.forked
        assert again.value("'again'") == "again"
    finally:
        again.stop()
    wait_for_template()
    forked = Kernel(templated)
    try:
        assert forked.forked
        assert forked.value("'forked again'") == "forked again"
    finally:
        forked.stop()


def test_a_servers_first_kernel_starts_as_usual_while_the_template_gets_ready(templated: Path) -> None:
    kernel_template.server_template().stop()
    first = Kernel(templated)
    try:
        assert not first.forked
        assert kernel_template.server_template().process is not None, "the template is getting ready"
        assert first.value("'first'") == "first"
        wait_for_template()
        second = Kernel(templated)
        try:
            assert second.forked
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_workbooks_first_widget_cell_runs_in_a_forked_kernel(templated: Path) -> None:
    workbook = load_catalog(REPO / "workbooks").workbooks["beat-lab"]
    folder = templated / workbook.id
    shutil.copytree(workbook.folder, folder)
    nb = nbformat.read(folder / workbook.notebooks[0], as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    nb.cells = [*code[:2], nbformat.v4.new_code_cell("import os; print(os.getppid())")]
    client = NotebookClient(nb, kernel_name="python3", resources={"metadata": {"path": str(folder)}}, timeout=120)
    client.execute()
    shown = [out for out in nb.cells[1].outputs if out.output_type in ("display_data", "execute_result")]
    assert any("application/vnd.jupyter.widget-view+json" in out.data for out in shown)
    assert nb.cells[2].outputs[0].text.strip() == str(template_pid()), "the kernel was a fork of the template"


def test_a_template_with_numpy_pandas_and_matplotlib_forks_safely(templated: Path) -> None:
    template = kernel_template.server_template()
    template.stop()
    template.preload = [*kernel_template.PRELOAD, *kernel_template.HEAVY]
    wait_for_template()
    first, second = Kernel(templated), Kernel(templated)
    try:
        assert first.forked and second.forked
        assert first.value("'pandas' in __import__('sys').modules") == "True"
        assert len(os.listdir(f"/proc/{template_pid()}/task")) == 1, "numpy's BLAS pool must not add a thread"
        draw = "__import__('numpy').random.random()"
        assert first.value(draw) != second.value(draw)
        # pyplot imported before the fork: plots still show inline (the inline backend hooks in later).
        msg_id = first.client.execute("import matplotlib.pyplot as plt\nplt.plot([3, 1]); plt.show()")
        data = []
        while True:
            msg = first.client.get_iopub_msg(timeout=30)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "display_data":
                data.append(msg["content"]["data"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert any("image/png" in shown for shown in data)
    finally:
        first.stop()
        second.stop()


@pytest.fixture
def learner_server() -> Iterator[tuple[str, str, int]]:
    """A learner's Jupyter server with our singleuser config and the kernel template switched on,
    run as a new system user, as the spawner runs it: (user, base URL, server pid)."""
    if os.geteuid() != 0:
        pytest.skip("creates a real system user: run as root (make test does in CI)")
    user = f"clhub-kt-{uuid.uuid4().hex[:8]}"
    subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    home = Path(f"/home/{user}")
    port = free_port()
    env = {
        "PATH": f"{REPO}/.venv/bin:/usr/bin:/bin",
        "HOME": str(home),
        "USER": user,
        "LANG": "C.UTF-8",
        "JUPYTERHUB_API_TOKEN": SECRET,
        "CLHUB_KERNEL_TEMPLATE": "1",
    }
    config = REPO / "extensions/connected_learning/learner/singleuser_config.py"
    server = subprocess.Popen(
        [f"{REPO}/.venv/bin/jupyter-server", f"--config={config}", f"--port={port}", "--ip=127.0.0.1",
         "--IdentityProvider.token=learner-token", "--ServerApp.open_browser=False"],
        user=user, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token=learner-token", timeout=5)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the learner's server did not start"
                time.sleep(0.3)
        yield user, url, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
        uid = pwd.getpwnam(user).pw_uid
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:  # what this user left (none, normally)
            try:
                if os.stat(f"/proc/{pid}").st_uid == uid:
                    os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        subprocess.run(["userdel", "--remove", user], capture_output=True)


def server_kernel(url: str, user: str) -> BlockingKernelClient:
    """A kernel started through the learner's server's own API, and a client for it."""
    request = urllib.request.Request(f"{url}/api/kernels?token=learner-token", data=b"{}", method="POST")
    kernel_id = json.loads(urllib.request.urlopen(request, timeout=60).read())["id"]
    runtime = Path(f"/home/{user}/.local/share/jupyter/runtime")
    client = BlockingKernelClient(connection_file=str(runtime / f"kernel-{kernel_id}.json"))
    client.load_connection_file()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    return client


def kernel_says(client: BlockingKernelClient, code: str) -> str:
    printed: list[str] = []
    client.execute_interactive(
        f"print({code})",
        timeout=60,
        output_hook=lambda msg: printed.append(msg["content"].get("text", "")) if msg["msg_type"] == "stream" else None,
    )
    return "".join(printed).strip()


def test_a_learners_server_forks_kernels_from_its_own_template_as_the_learner(
    learner_server: tuple[str, str, int],
) -> None:
    user, url, server_pid = learner_server
    uid = pwd.getpwnam(user).pw_uid
    first = server_kernel(url, user)  # the server's first kernel starts as usual; its template starts now
    try:
        assert kernel_says(first, "__import__('os').getppid()") == str(server_pid)
        deadline = time.monotonic() + 60
        while True:  # the template: the server's child, started with the learner's uid
            templates = [
                int(pid)
                for pid in os.listdir("/proc")
                if pid.isdigit()
                and b"kernel_template" in Path(f"/proc/{pid}/cmdline").read_bytes()
                and Path(f"/proc/{pid}/status").read_text().count(f"PPid:\t{server_pid}\n")
            ]
            # Its socket is bound once everything is imported.
            if templates and list(Path("/home", user, ".local/share/jupyter/runtime").glob("clhub-kt-*/sock")):
                break
            assert time.monotonic() < deadline, "the learner's server started no kernel template"
            time.sleep(0.2)
        (template,) = templates
        assert os.stat(f"/proc/{template}").st_uid == uid
        environ = Path(f"/proc/{template}/environ").read_bytes()
        assert SECRET.encode() not in environ and b"JUPYTERHUB" not in environ
        second = server_kernel(url, user)
        try:
            assert kernel_says(second, "__import__('os').getppid()") == str(template)
            assert kernel_says(second, "__import__('os').getuid()") == str(uid)
            assert kernel_says(second, "__import__('os').getcwd()") == f"/home/{user}"
            # The server's token reaches the learner's kernel (as in any JupyterHub kernel), not the template.
            assert kernel_says(second, "__import__('os').environ.get('JUPYTERHUB_API_TOKEN')") == SECRET
        finally:
            second.stop_channels()
    finally:
        first.stop_channels()


def test_the_template_answers_only_its_own_user_even_past_the_folder(templated: Path) -> None:
    Kernel(templated).stop()
    path = kernel_template.server_template().socket_path
    probe = (
        "import socket, sys\n"
        "s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)\n"
        's.connect(sys.argv[1]); s.send(b\'{"op": "status", "pid": 1}\'); print(s.recv(999).decode())\n'
    )
    # Another user who can pass any folder (CAP_DAC_OVERRIDE) reaches the socket: the template
    # checks who is calling (SO_PEERCRED) and refuses.
    other = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=+dac_override",
         "--ambient-caps=+dac_override", "/usr/bin/python3", "-c", probe, str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "not this learner's" in other.stdout
    # Control: the template's own user gets an answer to the same request.
    same = subprocess.run(["/usr/bin/python3", "-c", probe, str(path)], capture_output=True, text=True, check=True)
    assert json.loads(same.stdout) == {"exit": None}


def test_a_learners_server_killed_outright_takes_its_template_and_kernels_with_it(
    learner_server: tuple[str, str, int],
) -> None:
    user, url, server_pid = learner_server
    server_kernel(url, user).stop_channels()
    deadline = time.monotonic() + 60
    while not list(Path("/home", user, ".local/share/jupyter/runtime").glob("clhub-kt-*/sock")):
        assert time.monotonic() < deadline, "the learner's server started no kernel template"
        time.sleep(0.2)
    forked = server_kernel(url, user)
    kernel_pid = int(kernel_says(forked, "__import__('os').getpid()"))
    template_pid = int(kernel_says(forked, "__import__('os').getppid()"))
    forked.stop_channels()
    assert b"kernel_template" in Path(f"/proc/{template_pid}/cmdline").read_bytes()
    os.kill(server_pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        left = [
            pid
            for pid in (template_pid, kernel_pid)
            if Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]
        ]
        if not left:
            break
        assert time.monotonic() < deadline, f"still running after their server was killed: {left}"
        time.sleep(0.2)
