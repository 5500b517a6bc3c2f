# JupyterHub configuration of Connected Learning Hub.
#
# Shipped in the package and run by `clhub up` and `clhub demo` (hub/launch.py): everything
# a site may change lives in one settings file, the one CLHUB_SITE names. It is validated with
# messages that name the bad key; the package applies it (connected_learning.hub.config).
from connected_learning.errors import ClhubError
from connected_learning.hub.config import configure

try:
    configure(get_config())  # type: ignore[name-defined]  # noqa: F821 (JupyterHub provides get_config)
except ClhubError as e:
    raise SystemExit(f"Connected Learning Hub cannot start: {e}") from None
