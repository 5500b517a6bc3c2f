"""`configure` only sets configuration; `prepare_site` makes what it needs, once, before the hub.

Run on a bare traitlets `Config()`: the hub's configuration is a value a test can read, for
a site that does not exist yet, without root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from traitlets.config import Config

from connected_learning.host.same_user import SameUserHost
from connected_learning.hub.config import configure
from connected_learning.hub.prepare import PROXY_TOKEN, prepare_site
from connected_learning.settings import load_settings

REPO = Path(__file__).resolve().parents[1]


def site(tmp_path: Path, data: Path, spawner: str) -> Path:
    path = tmp_path / "site.toml"
    path.write_text(
        f'[site]\ndata_dir = "{data}"\nspawner = "{spawner}"\nport = 8123\n'
        f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n'
    )
    path.chmod(0o644)
    return path


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


@pytest.mark.parametrize("spawner", ["local", "demo"])
def test_configure_makes_nothing(tmp_path: Path, spawner: str) -> None:
    data = tmp_path / "data"
    c = Config()
    configure(c, str(site(tmp_path, data, spawner)), mode="demo")
    assert not data.exists(), "configure created the data folder"
    assert c.JupyterHub.spawner_class == ("workbook-local" if spawner == "local" else "workbook-demo")
    assert c.JupyterHub.db_url == f"sqlite:///{data / 'hub' / 'jupyterhub.sqlite'}"
    services = {s["name"]: s for s in c.JupyterHub.services}
    host = "system" if spawner == "local" else "same-user"
    assert services["classroom"]["environment"]["CLHUB_HOST"] == host
    assert services["showcase"]["environment"]["CLHUB_HOST"] == host
    assert services["showcase"].get("user") == ("clhub-showcase" if spawner == "local" else None)
    assert "auth_token" not in c.ConfigurableHTTPProxy  # no secret yet: prepare_site makes it


def test_configure_runs_without_root(tmp_path: Path) -> None:
    """As `nobody`, a system host's configuration is still complete (names, not accounts)."""
    folder = Path(tempfile.mkdtemp(prefix="clhub-configure-"))  # pytest's own is root's only
    folder.chmod(0o755)
    data = folder / "nowhere" / "data"
    code = (
        "import json; from traitlets.config import Config; from connected_learning.hub.config import configure\n"
        f"c = Config(); configure(c, {str(site(folder, data, 'local'))!r}, mode='site')\n"
        "print(json.dumps([c.JupyterHub.spawner_class, [s.get('user') for s in c.JupyterHub.services]]))\n"
    )
    done = subprocess.run(
        [
            *(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if os.geteuid() == 0 else []),
            sys.executable,
        ]
        + ["-c", code],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    spawner, users = json.loads(done.stdout.splitlines()[-1])
    assert spawner == "workbook-local" and "clhub-showcase" in users
    assert not (folder / "nowhere").exists()
    shutil.rmtree(folder)


def test_prepare_site_makes_the_folders_and_the_secret_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings(site(tmp_path, data, "demo"))
    prepare_site(settings, SameUserHost(data))
    made = tree(data)
    assert {"hub", "homes", "releases", "showcase/pages", "showcase/snapshots"} <= set(made)
    token = (data / "hub" / PROXY_TOKEN).read_text()
    assert (data / "hub" / PROXY_TOKEN).stat().st_mode & 0o777 == 0o600
    assert (data / "hub").stat().st_mode & 0o777 == 0o700
    prepare_site(settings, SameUserHost(data))  # again: nothing new, the same secret
    assert tree(data) == made and (data / "hub" / PROXY_TOKEN).read_text() == token
    c = Config()
    configure(c, str(settings.source), mode="demo")
    assert c.ConfigurableHTTPProxy.auth_token == token
    assert tree(data) == made
