"""A learner's pod on Kubernetes, offline: `clhub kubernetes pod` prints KubeSpawner's own manifest.

No cluster runs here. What can be checked is the pod the hub would ask for: it validates against
the Kubernetes 1.31-1.34 schemas (kubernetes-validate, strict), runs each learner as their own
non-root uid with every capability dropped, shares a group's gid among its members only, carries
the site's memory limit, mounts the home and group folders, and refuses bad names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from sqlalchemy import create_engine

from conftest import REPO
from connected_learning.hub import uids
from connected_learning.hub.kube_cli import learner_pod
from connected_learning.settings import load_settings

VERSIONS = ("1.31.0", "1.32.0", "1.33.0", "1.34.0")
MIB = 1024 * 1024


@pytest.fixture
def site(tmp_path: Path) -> Path:
    file = tmp_path / "site.toml"
    file.write_text(
        f'[site]\ndata_dir = "{tmp_path / "data"}"\nspawner = "kubernetes"\n'
        f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n'
        "[limits]\nmemory_mb = 768\ncpu = 0.5\n"
        '[kubernetes]\nnamespace = "library"\nlearner_image = "registry.example.org/clhub/learner:1"\n'
    )
    return file


def give_ids(site: Path, users: list[str], groups: list[str]) -> None:
    """What the hub does at each learner's first start: allocate into the site's hub database."""
    settings = load_settings(site)
    (settings.data_dir / "hub").mkdir(parents=True, exist_ok=True)
    engine = create_engine(settings.database_url)
    for user in users:
        uids.learner_uid(engine, user, settings.first_uid)
    uids.group_gids(engine, groups, settings.first_gid)
    engine.dispose()


def pod_of(site: Path, user: str, groups: list[str], teaches: list[str] | None = None) -> dict[str, Any]:
    pod, _ = learner_pod(load_settings(site), user, groups, teaches)
    return pod


def containers(pod: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = pod["spec"]
    return {c["name"]: c for c in [*spec.get("initContainers", []), *spec["containers"]]}


def run_clhub(*args: str) -> subprocess.CompletedProcess[str]:
    clhub = Path(sys.executable).parent / "clhub"
    return subprocess.run([str(clhub), *args], capture_output=True, text=True, timeout=120)


def test_the_command_prints_a_pod_that_validates_on_kubernetes_1_31_to_1_34(site: Path) -> None:
    done = run_clhub("kubernetes", "pod", "--user", "ana", "--group", "class-a", "--site", str(site))
    assert done.returncode == 0, done.stderr
    pod = json.loads(done.stdout)
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "jupyter-ana"
    assert pod["metadata"]["labels"]["component"] == "singleuser-server"  # z2jh's network policies select it
    assert containers(pod)["notebook"]["image"] == "registry.example.org/clhub/learner:1"
    assert "ana has no uid yet" in done.stderr  # read-only: nothing was given in the site's database
    assert not (load_settings(site).data_dir / "hub" / "jupyterhub.sqlite").exists()
    for version in VERSIONS:
        kubernetes_validate.validate(pod, version, strict=True)
    # Control: strict validation refuses what Kubernetes does not know.
    pod["spec"]["containers"][0]["securityContext"]["runAsRoot"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(pod, VERSIONS[-1], strict=True)


def test_two_learners_run_as_distinct_non_root_uids_without_escalation(site: Path) -> None:
    give_ids(site, ["ana", "ben"], ["clhub-class-a"])
    seen = set()
    for user in ("ana", "ben"):
        pod = pod_of(site, user, ["class-a"])
        spec = pod["spec"]
        assert "fsGroup" not in spec["securityContext"]  # it would rewrite the folders' setgid/sticky model
        assert spec["automountServiceAccountToken"] is False
        assert pod["metadata"]["annotations"]["clhub/user"] == user
        uid = int(pod["metadata"]["annotations"]["clhub/uid"])
        seen.add(uid)
        for name, container in containers(pod).items():
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
            if name == "clhub-prepare":
                assert context["runAsUser"] == 0
                assert sorted(context["capabilities"]["add"]) == ["CHOWN", "DAC_OVERRIDE", "FOWNER"]
            else:
                assert context["runAsUser"] == context["runAsGroup"] == uid > 0, name
                assert context["runAsNonRoot"] is True and "add" not in context["capabilities"], name
    assert len(seen) == 2 and min(seen) >= load_settings(site).first_uid


def test_members_of_a_group_share_a_gid_another_groups_member_lacks(site: Path) -> None:
    give_ids(site, ["ana", "ben", "cai"], ["clhub-class-a", "clhub-class-b"])

    def gids(user: str, group: str) -> set[int]:
        return set(pod_of(site, user, [group])["spec"]["securityContext"]["supplementalGroups"])

    ana, ben, cai = gids("ana", "class-a"), gids("ben", "class-a"), gids("cai", "class-b")
    shared = ana & ben
    assert shared and not shared & cai and cai
    # A teacher of class-b also gets its teachers' gid (the course folder's group).
    teacher = pod_of(site, "tess", [], ["class-b"])
    assert len(teacher["spec"]["securityContext"]["supplementalGroups"]) == 1
    assert any(m["subPath"] == "courses/class-b" for m in containers(teacher)["notebook"]["volumeMounts"])


def test_memory_and_cpu_limits_are_the_sites_and_the_requests_what_kubernetes_sets_aside(site: Path) -> None:
    pod = pod_of(site, "ana", ["class-a"])
    resources = containers(pod)["notebook"]["resources"]
    assert int(resources["limits"]["memory"]) == 768 * MIB and float(resources["limits"]["cpu"]) == 0.5
    assert int(resources["requests"]["memory"]) == 256 * MIB and float(resources["requests"]["cpu"]) == 0.1
    for name in ("clhub-prepare", "clhub-deliver"):
        assert containers(pod)[name]["resources"] == {
            "limits": {"memory": "768Mi", "cpu": "0.5"},
            "requests": {"memory": "256Mi", "cpu": "0.1"},
        }
    # A site that keeps every learner's memory for them (Guaranteed) says so with equal values.
    site.write_text(site.read_text() + "memory_request_mb = 768\ncpu_request = 0.5\n")
    resources = containers(pod_of(site, "ana", ["class-a"]))["notebook"]["resources"]
    assert int(resources["requests"]["memory"]) == 768 * MIB and float(resources["requests"]["cpu"]) == 0.5


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ("memory_request_mb = 2048\n", "kubernetes.memory_request_mb = 2048 is more than limits.memory_mb (768)"),
        ("cpu_request = 2\n", "kubernetes.cpu_request = 2 is more than limits.cpu (0.5)"),
        ("memory_request_mb = 4\n", "kubernetes.memory_request_mb = 4 must be 16 or more"),
    ],
)
def test_a_request_above_its_limit_is_refused_with_a_clear_message(site: Path, extra: str, said: str) -> None:
    site.write_text(site.read_text() + extra)
    done = run_clhub("kubernetes", "pod", "--site", str(site), "--user", "ana")
    assert done.returncode != 0 and said in done.stderr and "Traceback" not in done.stderr


def test_the_home_and_group_folders_are_mounted_and_releases_are_read_only(site: Path) -> None:
    data = load_settings(site).data_dir
    pod = pod_of(site, "ana", ["class-a", "class-b"])
    claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName") for v in pod["spec"]["volumes"]}
    assert claims["clhub-home"] == "clhub-homes" and claims["clhub-shared"] == "clhub-shared"
    mounts = {m["mountPath"]: m for m in containers(pod)["notebook"]["volumeMounts"]}
    assert mounts["/home/ana"] == {"name": "clhub-home", "mountPath": "/home/ana", "subPath": "ana"}
    for group in ("class-a", "class-b"):
        assert mounts[str(data / "groups" / group)]["subPath"] == f"groups/{group}"
    assert mounts[str(data / "releases")]["readOnly"] is True
    assert not mounts[str(data / "exchange")].get("readOnly")
    assert mounts["/etc/clhub/learner"]["readOnly"] is True
    # The delivery step sees what the server sees, and is the one machine's command.
    deliver = containers(pod)["clhub-deliver"]
    assert deliver["volumeMounts"] == containers(pod)["notebook"]["volumeMounts"]
    assert deliver["command"][1:4] == ["-I", "-m", "connected_learning.learner.provision"]
    assert f"--group-folder=class-a={data / 'groups' / 'class-a' / 'peer-review'}" in deliver["command"]
    # The root step mounts only the home and the group folders, and is told the learner's uid.
    prepare = containers(pod)["clhub-prepare"]
    assert {m["mountPath"] for m in prepare["volumeMounts"]} == {
        "/home/ana",
        str(data / "groups" / "class-a"),
        str(data / "groups" / "class-b"),
        "/clhub-etc",  # the pod's own passwd and group, which the others mount read-only
    }
    assert mounts["/etc/passwd"] == {
        "name": "clhub-etc",
        "mountPath": "/etc/passwd",
        "subPath": "passwd",
        "readOnly": True,
    }
    assert mounts["/etc/group"]["readOnly"] is True
    plan = json.loads(prepare["command"][-1])
    assert plan["home"] == "/home/ana" and plan["uid"] == int(pod["metadata"]["annotations"]["clhub/uid"])


@pytest.mark.parametrize(
    "args, said",
    [
        (["--user", "../x", "--group", "class-a"], "'../x' is not a valid user name"),
        (["--user", "Root", "--group", "class-a"], "'Root' is not a valid user name"),
        (["--user", "ana", "--group", "class/a"], "'class/a' is not a valid group name"),
        (["--user", "ana", "--group", "../../etc"], "'../../etc' is not a valid group name"),
        (["--user", "a" * 5000, "--group", "class-a"], "is not a valid user name"),
        (["--user", "ana", "--teacher-of", "b" * 5000], "is not a valid group name"),
    ],
)
def test_bad_names_are_refused_with_a_clear_message(site: Path, args: list[str], said: str) -> None:
    done = run_clhub("kubernetes", "pod", *args, "--site", str(site))
    assert done.returncode in (1, 2) and done.stdout == ""
    assert said in done.stderr and "Traceback" not in done.stderr and len(done.stderr) < 400


def test_the_control_a_good_name_next_to_the_bad_ones_is_accepted(site: Path) -> None:
    done = run_clhub("kubernetes", "pod", "--user", "a" * 31, "--group", "b" * 26, "--site", str(site))
    assert done.returncode == 0, done.stderr
    done = run_clhub("kubernetes", "pod", "--user", "ana", "--group", "b" * 27, "--site", str(site))
    assert done.returncode == 2 and "too long for a system group" in done.stderr


def test_the_hubs_spawner_allocates_into_jupyterhubs_own_database(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the hub: the spawner's `db` is JupyterHub's session, and the ids go into that database."""
    import asyncio

    from jupyterhub import orm
    from traitlets.config import Config

    from connected_learning.hub.kube_cli import StandInHub, StandInUser, dummy_kubeconfig

    monkeypatch.setenv("KUBECONFIG", dummy_kubeconfig())  # before kubernetes_asyncio is imported, as in the hub
    from connected_learning.hub.kube_spawner import KubeWorkbookSpawner, apply_settings

    settings = load_settings(site)
    url = f"sqlite:///{tmp_path / 'jupyterhub.sqlite'}"
    session = orm.new_session_factory(url)()
    c = Config()
    # What a z2jh chart may configure: a privileged iptables step and an fsGroup. Neither reaches the pod.
    c.KubeSpawner.init_containers = [{"name": "block-metadata", "image": "x", "securityContext": {"privileged": True}}]
    c.KubeSpawner.fs_gid = 100
    apply_settings(c, settings)

    # JupyterHub's own group, whose members the pod names in its /etc/passwd.
    class_a = orm.Group(name="class-a")
    session.add(class_a)
    for name in ("ana", "ben", "x" * 40):  # a name no pod account can have is left out
        class_a.users.append(orm.User(name=name))
    session.commit()
    plans = {}

    async def pod_uid(name: str) -> tuple[int, KubeWorkbookSpawner]:
        user = StandInUser(name, groups=[class_a])
        spawner = KubeWorkbookSpawner(config=c, user=user, hub=StandInHub(), db=session)
        pod = await spawner.get_pod_manifest()
        await spawner.api.api_client.close()
        plans[name] = json.loads(pod.spec.init_containers[0].command[-1])
        assert [c.name for c in pod.spec.init_containers] == ["clhub-prepare", "clhub-deliver"]
        assert pod.spec.security_context.get("fsGroup") is None
        return pod.spec.containers[0].security_context["runAsUser"], spawner

    ana, spawner = asyncio.run(pod_uid("ana"))
    ben, _ = asyncio.run(pod_uid("ben"))
    assert asyncio.run(pod_uid("ana"))[0] == ana != ben  # stable, and apart
    engine = create_engine(url)
    assert uids.known(engine, uids.USER, ["ana", "ben"]) == {"ana": ana, "ben": ben}
    assert uids.known(engine, uids.GROUP, ["clhub-class-a"]) == {"clhub-class-a": settings.first_gid}
    assert "users" in __import__("sqlalchemy").inspect(engine).get_table_names()  # JupyterHub's own, beside ours
    assert plans["ana"]["people"] == [["ana", ana], ["ben", ben]]
    assert plans["ana"]["group_names"] == [["clhub-class-a", settings.first_gid, ["ana", "ben"]]]
    # Every trait the settings decide.
    assert spawner.namespace == "library" and spawner.image == "registry.example.org/clhub/learner:1"
    assert spawner.mem_limit == 768 * MIB and spawner.mem_guarantee == 256 * MIB
    assert spawner.cpu_limit == 0.5 and spawner.cpu_guarantee == 0.1
    assert spawner.data_dir == str(settings.data_dir) and spawner.fs_gid is None
    assert spawner.start_timeout == settings.start_timeout_seconds
    assert spawner.automount_service_account_token is False
    assert spawner.get_env()["CLHUB_HOST"] == "kubernetes" and "PATH" not in spawner.get_env()
    session.close()
    engine.dispose()


def test_a_catalog_that_is_only_in_the_image_still_gives_the_pod_and_says_so(site: Path, tmp_path: Path) -> None:
    """An operator's workstation has no /opt/clhub/workbooks: the pod is shown, the note says what is left out."""
    text = site.read_text().replace(str(REPO / "workbooks"), str(tmp_path / "in-the-image"))
    site.write_text(text)
    pod, notes = learner_pod(load_settings(site), "ana", ["class-a"])
    kubernetes_validate.validate(pod, VERSIONS[-1], strict=True)
    deliver = containers(pod)["clhub-deliver"]["command"]
    assert not [arg for arg in deliver if arg.startswith("start-here=")]
    assert any("catalog cannot be read here" in note for note in notes)
    # Control: with the catalog, the delivery step names the workbooks.
    site.write_text(text.replace(str(tmp_path / "in-the-image"), str(REPO / "workbooks")))
    pod, notes = learner_pod(load_settings(site), "ana", ["class-a"])
    assert [arg for arg in containers(pod)["clhub-deliver"]["command"] if arg.startswith("start-here=")]
    assert not any("catalog" in note for note in notes)


def test_a_process_that_imported_the_kubernetes_client_first_still_gets_the_pod(site: Path) -> None:
    """kubernetes_asyncio fixes its default kubeconfig when first imported: the hub's spawner
    module (or a test) importing it before `clhub kubernetes pod` must not leave it at a file
    that is not there. Run in a fresh interpreter, so the import really comes first."""
    code = (
        "import os, sys, json; os.environ.pop('KUBECONFIG', None); import kubespawner\n"
        "from connected_learning.hub.kube_cli import learner_pod\n"
        "from connected_learning.settings import load_settings\n"
        "pod, _ = learner_pod(load_settings(sys.argv[1]), 'ana', ['class-a'])\n"
        "print(json.dumps(pod['spec']['securityContext']))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(site)], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["supplementalGroups"]
