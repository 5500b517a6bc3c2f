"""The deployable Kubernetes artefacts, offline: values.yaml, the Dockerfiles, `clhub kubernetes manifests`.

No cluster, helm or kubectl runs here (README, "What is tested here and what is not"). What
can be checked is what an operator applies: every object `clhub kubernetes manifests` prints
validates against the Kubernetes 1.31-1.34 schemas (kubernetes-validate, strict); the network
policies select the pods they should and let in and out only what they should; every
container is non-root (the classroom excepted, with six capabilities), cannot escalate and
drops every capability; the pods that build bubblewrap fences (the classroom, which grades, and
the live showcase) run under the node profiles in hub_config/kubernetes/node/ (the profiles
themselves: tests/test_kubernetes_fence.py); values.yaml names our images and PostgreSQL from a
Secret, and its extraConfig, run on a bare traitlets Config, gives the hub the one-machine
hub's log-in, roles and services, by URL; bad settings get messages that name the key.
"""

from __future__ import annotations

import ast
import copy
import importlib
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from traitlets.config import Config

from conftest import REPO
from connected_learning import cli
from connected_learning.host.kubernetes import SERVICE_IDS, KubernetesHost
from connected_learning.hub import kube_services
from connected_learning.hub.config import configure
from connected_learning.hub.kube_config import configure_kubernetes
from connected_learning.settings import SettingsError, load_settings

VERSIONS = ("1.31.0", "1.32.0", "1.33.0", "1.34.0")
RUNTIME_DEFAULT = {"type": "RuntimeDefault"}
KUBE = REPO / "hub_config" / "kubernetes"
DB_URL = "postgresql://clhub@db.example.org/clhub"
TOKEN = {"CLHUB_CLASSROOM_TOKEN": "classroom-token-from-z2jh", "CLHUB_DB_URL": DB_URL}


def write_site(folder: Path, spawner: str = "kubernetes", kubernetes: str = "") -> Path:
    (folder / "data" / "hub").mkdir(parents=True, exist_ok=True)
    file = folder / f"site-{spawner}.toml"
    file.write_text(
        f'[site]\ndata_dir = "{folder / "data"}"\nspawner = "{spawner}"\npublic_url = "https://lab.example.org"\n'
        f'[workbooks]\ncatalog_dir = "{REPO / "workbooks"}"\n'
        "[limits]\nmemory_mb = 768\nidle_timeout_minutes = 20\n"
        f'[kubernetes]\nlearner_image = "registry.example.org/clhub/learner:1"\n{kubernetes}'
    )
    return file


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return write_site(tmp_path)


def printed(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, Any]]:
    assert cli.main(["kubernetes", "manifests", *args]) == 0
    return list(yaml.safe_load_all(capsys.readouterr().out))


def by(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    [found] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["template"]["spec"]


def selects(selector: dict[str, Any], pod_labels: dict[str, str]) -> bool:
    return all(pod_labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


@pytest.fixture
def objects(site: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return printed(capsys, "--site", str(site))


# ------------------------------------------------------------------ schemas


def test_every_printed_object_validates_strictly_against_each_kubernetes_version(objects: list[dict[str, Any]]) -> None:
    kinds = sorted({o["kind"] for o in objects})
    assert kinds == ["ConfigMap", "Deployment", "NetworkPolicy", "Service"]
    # The fence's node profiles are among what validates (securityContext fields of 1.30 and later).
    fenced = [by(objects, "Deployment", n) for n in ("clhub-classroom", "clhub-showcase-live")]
    assert all(pod_spec(d)["containers"][0]["securityContext"]["seccompProfile"]["type"] == "Localhost" for d in fenced)
    for obj in objects:
        for version in VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_strict_validation_catches_a_misspelt_field(objects: list[dict[str, Any]]) -> None:
    """Control: the validation above can fail."""
    broken = copy.deepcopy(by(objects, "Deployment", "clhub-showcase"))
    pod_spec(broken)["containers"][0]["securityContext"]["allowPrivilegeEscalaton"] = False
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[0], strict=True)


# ------------------------------------------------------------------ who runs as whom


def test_containers_are_unprivileged_and_the_classroom_keeps_six_capabilities(objects: list[dict[str, Any]]) -> None:
    pods = [o for o in objects if o["kind"] == "Deployment"]
    assert len(pods) == 3
    fence = {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/clhub-fence.json"},
        "appArmorProfile": {"type": "Localhost", "localhostProfile": "clhub-fence"},
    }
    for obj in pods:
        name = obj["metadata"]["name"]
        spec = pod_spec(obj)
        assert spec["automountServiceAccountToken"] is False
        # bubblewrap's fences: the classroom's grading and the live showcase's kernels; else the default.
        profiles = fence if name in ("clhub-classroom", "clhub-showcase-live") else {"seccompProfile": RUNTIME_DEFAULT}
        assert {k: v for k, v in spec["securityContext"].items() if k.endswith("Profile")} == profiles, name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False and context["privileged"] is False
            assert context["capabilities"]["drop"] == ["ALL"]
            assert context["readOnlyRootFilesystem"] is True
            assert {k: v for k, v in context.items() if k.endswith("Profile")} == profiles, name
            assert container["resources"]["limits"]["memory"]
            if name == "clhub-classroom":
                assert context["runAsUser"] == 0 and context["runAsNonRoot"] is False
                # Folders' owners and modes, grading's drop to clhub-grader and the stop of its
                # kernels: exactly these (tests/test_kubernetes_fence.py grades with them alone).
                assert context["capabilities"]["add"] == ["CHOWN", "FOWNER", "DAC_OVERRIDE", "SETUID", "SETGID", "KILL"]
            else:
                assert context["runAsUser"] >= 900 and context["runAsNonRoot"] is True
                assert "add" not in context["capabilities"]
    uids_in_use = {pod_spec(o)["containers"][0]["securityContext"]["runAsUser"] for o in pods}
    assert len(uids_in_use) == 3, "each service runs as a user of its own"
    assert max(uids_in_use) < load_settings(REPO / "hub_config" / "kubernetes" / "site.toml").first_uid
    assert uids_in_use - {0} | {SERVICE_IDS["clhub-grader"]} == set(SERVICE_IDS.values())


def test_each_pod_mounts_only_what_it_needs(objects: list[dict[str, Any]], site: Path) -> None:
    data = load_settings(site).data_dir

    def shared(name: str) -> list[tuple[str, str, bool]]:
        mounts = pod_spec(by(objects, "Deployment", name))["containers"][0]["volumeMounts"]
        return [
            (m["mountPath"], m.get("subPath", ""), m.get("readOnly", False)) for m in mounts if m["name"] == "shared"
        ]

    assert shared("clhub-showcase-live") == [(f"{data}/showcase/live", "showcase/live", True)]
    assert shared("clhub-showcase") == [(f"{data}/showcase/pages", "showcase/pages", True)]
    assert shared("clhub-classroom") == [(str(data), "", False)]
    claims = {
        o["metadata"]["name"]: {
            v["persistentVolumeClaim"]["claimName"] for v in pod_spec(o)["volumes"] if "persistentVolumeClaim" in v
        }
        for o in objects
        if o["kind"] == "Deployment"
    }
    assert claims["clhub-classroom"] == {"clhub-shared", "clhub-homes"}
    assert all(c == {"clhub-shared"} for n, c in claims.items() if n != "clhub-classroom"), "homes: the classroom only"


def test_the_showcases_read_with_the_gids_the_classroom_publishes_to(objects: list[dict[str, Any]], site: Path) -> None:
    """The pages' group is the one the Kubernetes host (and so publish.py) finds in the hub's gid table."""
    settings = load_settings(site)
    host = KubernetesHost(settings.data_dir, settings.database_url)
    for name, group in (("clhub-showcase", "clhub-showcase"), ("clhub-showcase-live", "clhub-live")):
        gid = host.group_gid(group)
        assert gid is not None and gid >= settings.first_gid
        assert pod_spec(by(objects, "Deployment", name))["securityContext"]["supplementalGroups"] == [gid]


def test_services_run_the_one_machine_commands_with_their_environment(
    objects: list[dict[str, Any]], site: Path
) -> None:
    settings = load_settings(site)
    c = Config()
    configure(c, str(write_site(site.parent, "demo")), mode="site")
    one_machine = {s["name"]: s for s in c.JupyterHub.services}
    for name in ("classroom", "showcase", "showcase-live"):
        container = pod_spec(by(objects, "Deployment", f"clhub-{name}"))["containers"][0]
        assert container["command"][1:] == one_machine[name]["command"][1:]
        env = {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}
        for key, value in one_machine[name]["environment"].items():
            if key.startswith("CLHUB_") and key not in ("CLHUB_HOST", "CLHUB_SITE", "CLHUB_SITE_DATA", "CLHUB_DB_URL"):
                assert env[key] == value.replace(str(site.parent / "data"), str(settings.data_dir)), key
        assert env["CLHUB_HOST"] == "kubernetes"
        assert env["JUPYTERHUB_SERVICE_URL"] == f"http://0.0.0.0:{container['ports'][0]['containerPort']}"
    classroom = {e["name"]: e for e in pod_spec(by(objects, "Deployment", "clhub-classroom"))["containers"][0]["env"]}
    assert classroom["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "hub",
        "key": "hub.services.classroom.apiToken",
    }
    assert classroom["CLHUB_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "clhub-db", "key": "url"}
    for name in ("clhub-showcase", "clhub-showcase-live"):  # they never call the hub: no token
        env = {e["name"] for e in pod_spec(by(objects, "Deployment", name))["containers"][0]["env"]}
        assert "JUPYTERHUB_API_TOKEN" not in env and "CLHUB_DB_URL" not in env


def test_the_live_showcase_listens_where_its_url_says() -> None:
    """On one machine 127.0.0.1 as before; in a pod every address, or the proxy could not reach it."""
    code = (
        "from pathlib import Path; from connected_learning.showcase.live import voila_argv\n"
        "a = dict(max_kernels=2, idle_seconds=60, preheat=0)\n"
        "print(voila_argv(Path('/x'), '/p/', 8084, **a)[3], voila_argv(Path('/x'), '/p/', 8084, ip='0.0.0.0', **a)[3])"
    )
    # Not imported here: tests/voila.py (a helper) would stand in for the voila package.
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120)
    assert done.stdout.split() == ["--Voila.ip=127.0.0.1", "--Voila.ip=0.0.0.0"], done.stderr


# ------------------------------------------------------------------ network policies


def test_network_policies_select_their_pods_and_only_those(objects: list[dict[str, Any]]) -> None:
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    pods = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"] for o in objects if o["kind"] == "Deployment"
    }
    for policy in policies:
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        chosen = {name for name, labels in pods.items() if selects(policy["spec"]["podSelector"], labels)}
        expected = {n for n in pods if n.startswith(policy["metadata"]["name"])} - (
            {"clhub-showcase-live"} if policy["metadata"]["name"] == "clhub-showcase" else set()
        )
        assert chosen == expected, policy["metadata"]["name"]
    assert {p["metadata"]["name"] for p in policies} == {
        "clhub-showcase",
        "clhub-showcase-live",
        "clhub-classroom",
    }


def test_only_the_proxy_reaches_the_family_pages_and_they_reach_nothing(objects: list[dict[str, Any]]) -> None:
    proxy = {"app": "jupyterhub", "component": "proxy", "release": "clhub"}
    others = [
        {"app": "jupyterhub", "component": "hub"},
        {"app": "jupyterhub", "component": "singleuser-server"},
        {"app.kubernetes.io/name": "clhub", "app.kubernetes.io/component": "classroom"},
    ]
    for name in ("clhub-showcase", "clhub-showcase-live"):
        spec = by(objects, "NetworkPolicy", name)["spec"]
        assert spec["egress"] == [], "live kernels run in this pod: nothing goes out"
        [rule] = spec["ingress"]
        assert all(set(peer) == {"podSelector"} for peer in rule["from"])
        assert any(selects(p["podSelector"], proxy) for p in rule["from"])
        assert not any(selects(p["podSelector"], o) for p in rule["from"] for o in others)


def test_the_classroom_is_reached_by_proxy_hub_and_learners_and_reaches_hub_dns_postgres(
    objects: list[dict[str, Any]],
) -> None:
    spec = by(objects, "NetworkPolicy", "clhub-classroom")["spec"]
    [rule] = spec["ingress"]
    components = {p["podSelector"]["matchLabels"]["component"] for p in rule["from"]}
    assert components == {"proxy", "hub", "singleuser-server"}
    assert rule["ports"] == [{"protocol": "TCP", "port": 8082}]
    ports = sorted((p["protocol"], p["port"]) for r in spec["egress"] for p in r["ports"])
    assert ports == [("TCP", 53), ("TCP", 5432), ("TCP", 8081), ("UDP", 53)]
    [hub_rule] = [r for r in spec["egress"] if r["ports"][0]["port"] == 8081]
    assert hub_rule["to"] == [{"podSelector": kube_services.HUB_PODS}]
    # z2jh's hub network policy lets in only pods carrying its access label.
    labels = by(objects, "Deployment", "clhub-classroom")["spec"]["template"]["metadata"]["labels"]
    assert labels["hub.jupyter.org/network-access-hub"] == "true"


def test_grading_is_the_classrooms_own_with_no_job_of_its_own(
    objects: list[dict[str, Any]], site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Grading runs in the classroom's pod (the Grade button, as on one machine): no Job, no
    grading policy, and the old --grading option is gone rather than printing a Job that fails."""
    assert not [o for o in objects if o["kind"] == "Job" or "grading" in o["metadata"]["name"]]
    with pytest.raises(SystemExit):
        cli.main(["kubernetes", "manifests", "--site", str(site), "--grading", "year7", "beat-lab"])
    assert "unrecognized arguments: --grading" in capsys.readouterr().err
    assert not hasattr(kube_services, "grading_job")


def test_learners_servers_reach_only_the_hub_the_classroom_and_dns(objects: list[dict[str, Any]]) -> None:
    values = yaml.safe_load((KUBE / "values.yaml").read_text())
    policy = values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    assert policy["egressAllowRules"] == {
        "cloudMetadataServer": False,
        "dnsPortsCloudMetadataServer": False,
        "dnsPortsKubeSystemNamespace": True,
        "dnsPortsPrivateIPs": False,
        "nonPrivateIPs": False,
        "privateIPs": False,
    }
    [extra] = policy["egress"]
    classroom_pod = by(objects, "Deployment", "clhub-classroom")["spec"]["template"]["metadata"]["labels"]
    [peer] = extra["to"]
    assert selects(peer["podSelector"], classroom_pod) and set(peer) == {"podSelector"}
    assert extra["ports"] == [{"port": 8082, "protocol": "TCP"}]
    # Why the classroom: learners' servers call it for reports and showcase proposals.
    used = [
        p for p in (REPO / "extensions" / "connected_learning").rglob("*.py") if "CLHUB_CLASSROOM_URL" in p.read_text()
    ]
    assert {p.name for p in used} >= {"sharing.py", "cli.py", "spawner.py"}


# ------------------------------------------------------------------ values.yaml and the images


def test_the_proxy_may_reach_the_services_it_routes_to(objects: list[dict[str, Any]]) -> None:
    values = yaml.safe_load((KUBE / "values.yaml").read_text())
    [rule] = values["proxy"]["chp"]["networkPolicy"]["egress"]
    [peer] = rule["to"]
    for name in ("clhub-classroom", "clhub-showcase", "clhub-showcase-live"):
        deployment = by(objects, "Deployment", name)
        assert selects(peer["podSelector"], deployment["spec"]["template"]["metadata"]["labels"])
        port = pod_spec(deployment)["containers"][0]["ports"][0]["containerPort"]
        assert {"port": port, "protocol": "TCP"} in rule["ports"]


def test_the_example_site_runs_the_live_showcase_fenced() -> None:
    site = load_settings(KUBE / "site.toml")
    assert site.showcase_live is True
    objects = kube_services.manifests(site, {"clhub-showcase": 200000, "clhub-live": 200001})
    running = {o["metadata"]["name"] for o in objects if o["kind"] in ("Deployment", "Service")}
    assert running == {"clhub-classroom", "clhub-showcase", "clhub-showcase-live"}
    live = pod_spec(by(objects, "Deployment", "clhub-showcase-live"))
    assert live["securityContext"]["appArmorProfile"]["localhostProfile"] == "clhub-fence"
    assert by(objects, "NetworkPolicy", "clhub-showcase-live")["spec"]["egress"] == []


def test_values_name_our_images_and_postgresql_from_a_secret() -> None:
    values = yaml.safe_load((KUBE / "values.yaml").read_text())
    hub = values["hub"]
    assert hub["image"]["name"].endswith("/clhub/hub")
    site = load_settings(KUBE / "site.toml")
    learner = values["singleuser"]["image"]
    assert f"{learner['name']}:{learner['tag']}" == site.learner_image
    assert hub["db"] == {"type": "postgres"}, "no address or password in the values: they come from the Secret"
    assert hub["extraEnv"]["CLHUB_DB_URL"]["valueFrom"]["secretKeyRef"] == {"name": "clhub-db", "key": "url"}
    assert hub["extraEnv"]["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "clhub-db", "key": "password"}
    assert "postgresql://" not in (KUBE / "values.yaml").read_text()
    assert hub["podSecurityContext"]["fsGroup"] is None and values["singleuser"]["fsGid"] is None
    assert values["cull"]["enabled"] is False, "the site's own culler runs instead"
    assert {m["mountPath"] for m in hub["extraVolumeMounts"]} == {"/etc/clhub", str(site.data_dir)}
    assert set(hub["services"]) == set(kube_config_tokens())


def kube_config_tokens() -> dict[str, str]:
    from connected_learning.hub.kube_config import TOKEN_VARIABLES

    return TOKEN_VARIABLES


def test_extra_config_imports_what_exists_and_configures_like_one_machine(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = yaml.safe_load((KUBE / "values.yaml").read_text())
    code = values["hub"]["extraConfig"]["clhub"]
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module or "")
            assert all(hasattr(module, alias.name) for alias in node.names), node.module
    # The values pass the token z2jh made for each service the hub must let in.
    for name, variable in kube_config_tokens().items():
        assert values["hub"]["extraEnv"][variable]["valueFrom"]["secretKeyRef"] == {
            "name": "hub",
            "key": f"hub.services.{name}.apiToken",
        }
    monkeypatch.setenv("CLHUB_SITE", str(site))
    for name, value in TOKEN.items():
        monkeypatch.setenv(name, value)
    kube = Config()
    exec(code, {"c": kube})  # as z2jh's jupyterhub_config.py runs hub.extraConfig
    local = Config()
    configure(local, str(write_site(site.parent, "local")), mode="site")

    assert kube.JupyterHub.db_url == "postgresql+psycopg2://clhub@db.example.org/clhub"
    assert kube.JupyterHub.spawner_class == "workbook-kubernetes"
    for section in ("Authenticator", "NativeAuthenticator"):
        assert dict(kube[section]) == dict(local[section]), section
    assert dict(kube.ClhubAuthenticator) == dict(local.ClhubAuthenticator)
    assert kube.JupyterHub.authenticator_class == local.JupyterHub.authenticator_class
    assert kube.JupyterHub.load_roles == local.JupyterHub.load_roles
    assert kube.JupyterHub.service_check_interval == 0
    services = {s["name"]: s for s in kube.JupyterHub.services}
    assert set(services) == {s["name"] for s in local.JupyterHub.services}
    assert services["classroom"] == {
        "name": "classroom",
        "display": True,
        "oauth_no_confirm": True,
        "url": "http://clhub-classroom:8082",
        "api_token": TOKEN["CLHUB_CLASSROOM_TOKEN"],
    }
    assert services["showcase"]["url"] == "http://clhub-showcase:8083" and "api_token" not in services["showcase"]
    assert services["showcase-live"]["url"] == "http://clhub-showcase-live:8084"
    assert "--url=http://localhost:8081/hub/api" in services["idle-culler"]["command"]
    assert "--timeout=1200" in services["idle-culler"]["command"]
    # The spawner: the learner image, the site's memory, the classroom by its Service's name.
    assert kube.KubeWorkbookSpawner.image == "registry.example.org/clhub/learner:1"
    assert kube.KubeWorkbookSpawner.mem_limit == "768M"
    assert kube.WorkbookSpawnerMixin.classroom_url == "http://clhub-classroom:8082/services/classroom/"
    assert kube.Spawner.server_token_scopes == local.Spawner.server_token_scopes
    assert kube.JupyterHub.tornado_settings["headers"] == {"Cache-Control": "no-store"}


def test_dockerfiles_build_from_z2jh_and_python_and_install_the_extras() -> None:
    hub = (KUBE / "Dockerfile.hub").read_text()
    version = re.search(r"^ARG Z2JH_VERSION=(\S+)$", hub, re.M)
    assert version and version.group(1).startswith("4.")
    assert re.search(r"^FROM quay\.io/jupyterhub/k8s-hub:\$\{Z2JH_VERSION\}$", hub, re.M)
    assert '"/tmp/clhub[kubernetes,postgresql]"' in hub
    assert "COPY workbooks /opt/clhub/workbooks" in hub
    assert (
        "helm upgrade --install clhub jupyterhub/jupyterhub --version " + version.group(1)
        in (KUBE / "values.yaml").read_text()
    )
    learner = (KUBE / "Dockerfile.learner").read_text()
    assert re.search(r"^FROM python:3\.12-", learner, re.M)
    assert 'pip install "/tmp/clhub"' in learner and "COPY workbooks /opt/clhub/workbooks" in learner
    user = re.findall(r"^USER (\S+)$", learner, re.M)
    assert user and user[-1] != "0" and user[-1] != "root"
    assert "sudo" not in re.sub(r"#.*", "", learner)
    site = load_settings(KUBE / "site.toml")
    assert str(site.catalog_dir) == "/opt/clhub/workbooks" and site.spawner == "kubernetes"


# ------------------------------------------------------------------ bad settings


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ('namespace = "Clhub"\n', "kubernetes.namespace"),
        (f'namespace = "{"a" * 64}"\n', "kubernetes.namespace"),
        ('namespace = "../etc"\n', "kubernetes.namespace"),
        ('homes_claim = "homes_claim"\n', "kubernetes.homes_claim"),
        ('shared_claim = "-shared"\n', "kubernetes.shared_claim"),
        ('learner_image = "registry.example.org/learner image:1"\n', "kubernetes.learner_image"),
    ],
)
def test_names_kubernetes_refuses_get_a_message_naming_the_key(tmp_path: Path, extra: str, named: str) -> None:
    text = write_site(tmp_path).read_text().replace('learner_image = "registry.example.org/clhub/learner:1"\n', "")
    file = tmp_path / "bad.toml"
    file.write_text(text + extra)
    with pytest.raises(SettingsError, match=re.escape(named)):
        kube_services.check_kubernetes_settings(load_settings(file))
    with pytest.raises(SettingsError, match=re.escape(named)):
        configure_kubernetes(Config(), str(file), TOKEN)


def test_a_password_in_the_settings_file_is_refused_and_never_printed(tmp_path: Path) -> None:
    """The settings file becomes a ConfigMap; the database's password belongs in the Secret."""
    text = (
        write_site(tmp_path)
        .read_text()
        .replace("[workbooks]", 'db_url = "postgresql://clhub:s3cret@db/clhub"\n[workbooks]')
    )
    file = tmp_path / "with-password.toml"
    file.write_text(text)
    with pytest.raises(SettingsError, match="holds a password") as caught:
        kube_services.check_kubernetes_settings(load_settings(file))
    assert "s3cret" not in str(caught.value)
    file.write_text(text.replace("clhub:s3cret@", "clhub@"))  # control: the address alone is fine
    kube_services.check_kubernetes_settings(load_settings(file))


def test_the_cli_says_what_is_wrong_and_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    site = write_site(tmp_path, kubernetes='namespace = "Library"\n')
    assert cli.main(["kubernetes", "manifests", "--site", str(site)]) != 0
    out, err = capsys.readouterr()
    assert out == "" and "kubernetes.namespace = 'Library'" in err
    good = write_site(tmp_path / "good")
    assert cli.main(["kubernetes", "manifests", "--site", str(good), "--hub-image", "a b"]) != 0
    assert "--hub-image" in capsys.readouterr().err


def test_a_site_that_is_not_for_kubernetes_or_lacks_the_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match='spawner = "local"'):
        configure_kubernetes(Config(), str(write_site(tmp_path, "local")), TOKEN)
    with pytest.raises(SettingsError, match="CLHUB_CLASSROOM_TOKEN is empty"):
        configure_kubernetes(Config(), str(write_site(tmp_path)), {"CLHUB_DB_URL": DB_URL})
    with pytest.raises(SettingsError, match="PostgreSQL, not 'sqlite:///"):
        configure_kubernetes(Config(), str(write_site(tmp_path)), {"CLHUB_CLASSROOM_TOKEN": "t"})
    c = Config()
    configure_kubernetes(c, str(write_site(tmp_path)), TOKEN)  # control: the same site with its token
    assert c.JupyterHub.spawner_class == "workbook-kubernetes"


# ------------------------------------------------------------------ capacity on paper


def capacity_module() -> Any:
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module("capacity")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_the_readmes_capacity_table_is_capacity_pys_for_the_figures_it_states() -> None:
    capacity = capacity_module()
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- capacity:start -->\n", 1)[1].split("<!-- capacity:end -->", 1)[0]
    stated = re.search(
        r"idle server ([\d.]+) MB, kernel after its first widget cell ([\d.]+) MB .*?one start ([\d.]+) s, "
        r"(\d+)-learner rush median ([\d.]+) s on (\d+) cores",
        block,
    )
    assert stated, "the README states the figures its table comes from"
    idle, kernel, spawn, rush, rush_s, cores = stated.groups()
    figures = capacity.Figures(float(idle), float(kernel), float(spawn), float(rush_s), int(rush), int(cores))
    assert block == capacity.table(figures)
    # The last full `make bench` (idle RSS, one spawn, the rush) is what the README uses.
    assert (figures.idle_mb, figures.spawn_s, figures.rush_s, figures.rush) == (100.41, 1.28, 20.83, 30)
    # The model's requests and limits are the settings' defaults, and the default memory request
    # covers what a learner at work was measured to hold.
    defaults = {(x.section, x.key): x.default for x in __import__("connected_learning.settings").settings.SETTINGS}
    assert capacity.REQUEST_MB == defaults["kubernetes", "memory_request_mb"] > figures.working_set_mb
    assert capacity.REQUEST_CPU == defaults["kubernetes", "cpu_request"]
    assert (capacity.MEMORY_MB, capacity.CPU) == (defaults["limits", "memory_mb"], defaults["limits", "cpu"])


def test_capacity_follows_the_figures_and_reads_a_bench_run() -> None:
    capacity = capacity_module()
    small = capacity.Figures(100.0, 50.0, 1.0, 20.0)
    big = capacity.Figures(400.0, 200.0, 1.0, 40.0)
    for gb in capacity.NODE_GB:
        assert capacity.node_row(small, gb).by_use > capacity.node_row(big, gb).by_use
        row = capacity.node_row(small, gb)
        assert row.at_limits <= row.at_defaults <= row.by_use and row.allocatable_gb < gb
    assert capacity.hub_row(big, 10_000).all_in_s > capacity.hub_row(small, 10_000).all_in_s
    assert [capacity.hub_row(small, n).nodes for n in capacity.LEARNERS] == sorted(
        capacity.hub_row(small, n).nodes for n in capacity.LEARNERS
    )
    rows = {
        "spawn": [
            ("spawn, one learner, median s", 1.5, 2.0, 1.15),
            ("spawn, 30-learner rush, median s (mean of 2)", 21.0, 27.0, 1.0),
            ("idle server memory, median RSS MB", 99.0, 127.0, 1.0),
        ],
        "widgets": [
            ("first widget cell, fresh kernel, median s", 0.05, 0.04, 1.5),
            ("kernel RSS after first widget cell, median MB", 55.0, 52.0, 3.0),
        ],
    }
    assert capacity.from_bench(rows) == capacity.Figures(99.0, 55.0, 1.5, 21.0, 30)
    assert capacity.from_bench({"spawn": rows["spawn"]}) is None  # widgets did not run: no table
