# The baseline of benchmarks/spawn.py: the same hub, but JupyterHub's stock
# LocalProcessSpawner instead of the workbook spawner (no interests, no delivery, every
# server extension on), as a site that has just installed JupyterHub would run it.
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

load_subconfig(str(Path(__file__).resolve().parents[1] / "hub_config" / "jupyterhub_config.py"))  # noqa: F821

c = get_config()  # noqa: F821
c.JupyterHub.spawner_class = LocalProcessSpawner
c.Spawner.default_url = "/lab"
