# The baseline of benchmarks/spawn.py: the same hub, but JupyterHub's stock
# LocalProcessSpawner instead of the workbook spawner (no interests, no delivery, every
# server extension on), as a site that has just installed JupyterHub would run it.
from jupyterhub.spawner import LocalProcessSpawner

from connected_learning.hub.launch import HUB_CONFIG

load_subconfig(str(HUB_CONFIG))  # noqa: F821

c = get_config()  # noqa: F821
c.JupyterHub.spawner_class = LocalProcessSpawner
c.Spawner.default_url = "/lab"
