"""The host seam: which host a site is, and what each answers to "where, and as whom"."""

from __future__ import annotations

import os
import pwd
import re
from pathlib import Path

import pytest

from connected_learning.host.current import HostError, current, for_site
from connected_learning.host.kubernetes import KubernetesHost
from connected_learning.host.same_user import SameUserHost
from connected_learning.host.system import SystemHost

PACKAGE = Path(__file__).resolve().parents[1] / "extensions" / "connected_learning"


def test_the_settings_choose_the_host_and_auto_follows_root(tmp_path: Path) -> None:
    assert isinstance(for_site("local", tmp_path), SystemHost)
    assert isinstance(for_site("demo", tmp_path), SameUserHost)
    assert type(for_site("auto", tmp_path)) is (SystemHost if os.geteuid() == 0 else SameUserHost)
    assert isinstance(for_site("kubernetes", tmp_path), KubernetesHost)
    with pytest.raises(HostError, match="'cloud' is not known"):
        for_site("cloud", tmp_path)


def test_a_process_finds_the_hosts_choice_in_its_environment(tmp_path: Path) -> None:
    for host in (SystemHost(tmp_path), SameUserHost(tmp_path), KubernetesHost(tmp_path)):
        again = current(environ={**host.environment(), "CLHUB_DATA_DIR": str(tmp_path)})
        assert again == host
    with pytest.raises(HostError, match="CLHUB_HOST='root' is not a host"):
        current(tmp_path, environ={"CLHUB_HOST": "root"})


def test_on_a_system_host_the_operating_system_says_who_you_are(tmp_path: Path) -> None:
    """A learner who sets JUPYTERHUB_USER to a classmate's name is still themself."""
    me = pwd.getpwuid(os.getuid()).pw_name
    assert SystemHost(tmp_path).whoami(os.getuid(), "ben") == me
    assert SameUserHost(tmp_path).whoami(os.getuid(), "ben") == "ben"


def test_the_same_user_host_has_no_system_accounts(tmp_path: Path) -> None:
    host = SameUserHost(tmp_path)
    assert host.demo and not host.isolated
    assert host.group_gid("root") is None and host.service_user("clhub-grader") is None
    assert host.run_as("nobody") is None and host.home("ana") is None
    (tmp_path / "homes" / "ana").mkdir(parents=True)
    assert host.home("ana") == str(tmp_path / "homes" / "ana")


def test_the_system_host_reads_real_accounts(tmp_path: Path) -> None:
    host = SystemHost(tmp_path)
    assert host.isolated and not host.demo
    assert host.group_gid("root") == 0 and host.group_gid("no-such-group-x") is None
    assert host.home("root") == pwd.getpwnam("root").pw_dir and host.home("no-such-user-x") is None
    if os.geteuid() == 0:
        nobody = host.run_as("nobody")
        assert nobody is not None and nobody.uid == pwd.getpwnam("nobody").pw_uid


def test_only_the_host_asks_whether_it_runs_as_root() -> None:
    """Privilege decisions (`geteuid() == 0` and the like) live in host/ and nowhere else."""
    asking = re.compile(r"get(e)?uid\(\)\s*[!=]=\s*0")
    allowed = {"hub/local_spawners.py"}  # the demo spawner passes --allow-root to a server it starts as root
    found = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "host" and asking.search(path.read_text())
    ]
    assert sorted(set(found) - allowed) == []
    assert not [p for p in PACKAGE.rglob("*.py") if "CLHUB_DEMO_MODE" in p.read_text()]
