# JupyterHub configuration of Connected Learning Hub.
#
# Everything a site may change lives in one settings file: hub_config/site.toml by
# default, another one through the CLHUB_SITE environment variable. It is validated with
# messages that name the bad key; the package applies it (connected_learning.hubconfig).
from connected_learning.hubconfig import configure

configure(get_config())  # noqa: F821 (get_config is provided by JupyterHub)
