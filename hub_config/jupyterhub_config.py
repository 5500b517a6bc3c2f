# JupyterHub configuration of Connected Learning Hub.
#
# Everything a site may change lives in one settings file: hub_config/site.toml by
# default, another one through the CLHUB_SITE environment variable. It is validated with
# messages that name the bad key; the package applies it (connected_learning.hub.config).
from connected_learning.errors import ClhubError
from connected_learning.hub.config import configure

try:
    configure(get_config())  # noqa: F821 (get_config is provided by JupyterHub)
except ClhubError as e:
    raise SystemExit(f"Connected Learning Hub cannot start: {e}") from None
