"""Jupyter Server configuration for every learner's server.

The workbook spawner passes this file with --config. It switches off server extensions a
learner does not need (the list comes from the spawner in CLHUB_DISABLED_EXTENSIONS) and
points JupyterLab at settings overrides that silence the news and update checks, which
fail on a closed library network and pop up a question.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 (provided by traitlets when the file is loaded)

c.ServerApp.jpserver_extensions = json.loads(os.environ.get("CLHUB_DISABLED_EXTENSIONS", "{}"))
c.LabApp.app_settings_dir = str(Path(__file__).parent / "lab_settings")
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
# Pages must not be kept by the browser: after logging out on a shared computer, Back has
# to ask the server again (and land on the log-in page), not show the learner's work.
c.ServerApp.tornado_settings = {"headers": {"Cache-Control": "no-store"}}
