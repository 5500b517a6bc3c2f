"""Jupyter Server configuration for every learner's server.

The workbook spawner passes this file with --config. It switches off server extensions a
learner does not need (the list comes from the spawner in CLHUB_DISABLED_EXTENSIONS),
points JupyterLab at settings overrides that silence the news and update checks (they
fail on a closed library network and pop up a question) and turn on a 15 s autosave, and
loads our JupyterLab plug-in.

Front-end plug-ins whose server side is off are off too, so that nothing in JupyterLab
asks for a page that is not there (a 404 on every load, a menu item that fails):
lab_settings/page_config.json for every server (LSP, nbgrader's validate button, Notebook
7's interface switcher, Voila's preview), and learner_labconfig/ on the Jupyter config
path of a server without nbgrader's formgrader (the spawner adds it; nbgrader's
Formgrader, Create Assignment and Course List panels).
"""

import json
import os
from pathlib import Path

c = get_config()  # type: ignore[name-defined]  # noqa: F821 (provided by traitlets when the file is loaded)

c.ServerApp.jpserver_extensions = json.loads(os.environ.get("CLHUB_DISABLED_EXTENSIONS", "{}"))
c.LabApp.app_settings_dir = str(Path(__file__).parent / "lab_settings")
c.LabApp.news_url = None
# Our JupyterLab plug-in (source in extensions/clhub-lab): save every open file before
# "Log Out", so that logging out on a shared computer loses nothing.
c.LabApp.extra_labextensions_path = [str(Path(__file__).parent / "labextensions")]
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# A save replaces the file whole (temporary file, fsync, rename): a server killed mid-save
# leaves the old file, never an empty or half-written one.
c.ServerApp.contents_manager_class = "connected_learning.learner.atomic_contents.AtomicContentsManager"
# Pages must not be kept by the browser: after logging out on a shared computer, Back has
# to ask the server again (and land on the log-in page), not show the learner's work.
headers = {"Cache-Control": "no-store"}
if os.environ.get("CLHUB_FRAME_SELF") == "1":
    # A teacher's server shows nbgrader's formgrader inside JupyterLab, in a frame of the same
    # server. jupyterhub-singleuser forbids every frame ("frame-ancestors 'none'"), which
    # leaves that panel blank; this server's own pages may frame each other, nobody else may.
    headers["Content-Security-Policy"] = "frame-ancestors 'self'"
c.ServerApp.tornado_settings = {"headers": headers}
# nbgrader's formgrader shows a teacher each submission as nbconvert HTML on the teacher's own
# server: a student's Markdown or an output of their code (HTML, JavaScript) would run there
# with the teacher's power over that server (the course, the grades, a terminal). Sanitized,
# it shows the student's work without running any of it. `sanitize_html` covers outputs;
# the formgrade template draws Markdown cells itself, so nbconvert's SanitizeHTML cleans
# their source (and the outputs again) before any template sees them.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.preprocessors = ["nbconvert.preprocessors.sanitize.SanitizeHTML"]
c.SanitizeHTML.enabled = True
# A save into a full disk (each learner's home is a file system of its own) tells the learner
# what happened and what to do, over whichever contents manager is set above.
from connected_learning.learner.full_disk import DEFAULT_MANAGER, learner_contents_manager  # noqa: E402

c.ServerApp.contents_manager_class = learner_contents_manager(
    c.ServerApp.contents_manager_class if "contents_manager_class" in c.ServerApp else DEFAULT_MANAGER
)
# A kernel stopped by the learner's memory limit (their control group) says so in the cell
# that was running, in plain words, instead of only "the kernel appears to have died".
c.ServerApp.kernel_websocket_connection_class = "connected_learning.learner.memory_notice.MemoryNoticeConnection"
# Kernels forked from a template process of this server that has imported ipykernel and the
# widgets once (learner/kernel_template.py): a kernel is ready in about half the time and its
# first widget cell in under half the bare slider's, for about 17 MB more per learner with one
# notebook open. Off unless the spawner sets CLHUB_KERNEL_TEMPLATE=1 (see the module).
if os.environ.get("CLHUB_KERNEL_TEMPLATE") == "1":
    c.KernelProvisionerFactory.default_provisioner_name = "clhub-kernel-template"
