"""Who a learner is on Kubernetes: uids and gids in the hub's database, and the host that believes them.

The allocation runs on SQLite and on a real PostgreSQL server (`postgres.py`), alongside
JupyterHub's own tables: ids are stable, never reused after a user's deletion, and two
allocations at once never hand out one id twice. The root init container's step is run for real
(as root, on a temporary folder), and `whoami` is attacked with a forged JUPYTERHUB_USER.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jupyterhub import orm
from sqlalchemy import create_engine, inspect

from conftest import needs_root
from connected_learning.errors import ClhubError
from connected_learning.host.kube_prepare import account_files
from connected_learning.host.kubernetes import KubernetesHost
from connected_learning.hub import uids
from connected_learning.hub.database import driver_url

FIRST_UID, FIRST_GID = 100000, 200000


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        (tmp_path / "hub").mkdir()
        yield f"sqlite:///{tmp_path / 'hub' / 'jupyterhub.sqlite'}"
    else:
        yield driver_url(request.getfixturevalue("postgres_server").new_database())


def test_ids_are_stable_and_start_at_the_sites_first(db_url: str) -> None:
    engine = create_engine(db_url)
    assert uids.learner_uid(engine, "ana", FIRST_UID) == FIRST_UID
    assert uids.learner_uid(engine, "ben", FIRST_UID) == FIRST_UID + 1
    assert uids.learner_uid(engine, "ana", FIRST_UID) == FIRST_UID  # asked again: the same
    assert uids.group_gids(engine, ["clhub-a", "clhubt-a"], FIRST_GID) == {
        "clhub-a": FIRST_GID,
        "clhubt-a": FIRST_GID + 1,
    }
    # A later, higher first_uid is honoured; a lower one never brings back a taken uid.
    assert uids.learner_uid(engine, "cai", FIRST_UID + 50) == FIRST_UID + 50
    assert uids.learner_uid(engine, "dee", 1000) == FIRST_UID + 51
    assert uids.name_of_uid(engine, FIRST_UID + 1) == "ben" and uids.name_of_uid(engine, 5) is None
    engine.dispose()


def test_a_deleted_users_uid_stays_theirs_and_is_never_given_to_anyone_else(db_url: str, tmp_path: Path) -> None:
    """Beside JupyterHub's own tables: deleting the hub user leaves the uid taken."""
    session = orm.new_session_factory(db_url)()
    host = KubernetesHost(tmp_path, db_url)
    import asyncio

    for name in ("ana", "ben"):
        session.add(orm.User(name=name))
        session.commit()
        asyncio.run(host.ensure_learner(name, "clhub-", ["class-a"]))
    engine = create_engine(db_url)
    ana = uids.known(engine, uids.USER, ["ana"])["ana"]
    session.delete(session.query(orm.User).filter_by(name="ana").one())
    session.commit()
    assert session.query(orm.User).filter_by(name="ana").first() is None  # control: the user is gone
    given = [uids.learner_uid(engine, f"new{i}", FIRST_UID) for i in range(5)]
    assert ana not in given and len(set(given)) == 5
    assert uids.name_of_uid(engine, ana) == "ana"
    assert uids.learner_uid(engine, "ana", FIRST_UID) == ana  # the same name back: the same uid and home
    assert host.group_gid("clhub-class-a") == FIRST_GID and host.group_gid("clhub-nobody") is None
    # Not a row id: the tables have no other key than the name.
    assert [c["name"] for c in inspect(engine).get_columns("clhub_uids")] == ["name", "uid"]
    session.close()
    engine.dispose()


def test_two_allocations_at_once_never_share_an_id(db_url: str) -> None:
    uids.ensure_tables(create_engine(db_url))
    start = threading.Barrier(6)
    results: dict[str, int] = {}
    errors: list[BaseException] = []

    def allocate(worker: int) -> None:
        engine = create_engine(db_url)
        try:
            start.wait()
            for i in range(8):
                # Each learner is asked for by two workers: one uid per learner, whoever wins.
                for name in (f"w{worker}-{i}", f"w{(worker + 1) % 6}-{i}"):
                    uid = uids.learner_uid(engine, name, FIRST_UID)
                    if results.setdefault(name, uid) != uid:
                        errors.append(AssertionError(f"{name} got {uid} and {results[name]}"))
        except BaseException as e:  # reported below, with the others
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=allocate, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(results) == 48 and len(set(results.values())) == 48
    assert set(results.values()) == set(range(FIRST_UID, FIRST_UID + 48))


def test_bad_names_get_no_id(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'ids.sqlite'}")
    for bad in ("../x", "Root", "a/b", "", "a" * 33, "ana\n"):
        with pytest.raises(uids.IdError, match="is not a valid user name"):
            uids.learner_uid(engine, bad, FIRST_UID)
    assert uids.known(engine, uids.USER, ["ana"]) == {}


def test_whoami_believes_the_pods_uid_not_the_environment(tmp_path: Path) -> None:
    """A learner who sets JUPYTERHUB_USER to a classmate's name is still themself, or nobody."""
    identity = tmp_path / "identity"
    identity.mkdir()
    (identity / "name").write_text("ana")
    (identity / "uid").write_text(str(FIRST_UID))
    host = KubernetesHost(tmp_path, identity_dir=identity)
    assert host.whoami(FIRST_UID, "ana") == "ana"  # control: the learner as the hub started them
    assert host.whoami(FIRST_UID, "ben") == "ana"  # the forged name is not believed
    assert host.whoami(FIRST_UID + 1, "ben") == ""  # another uid in this pod is nobody
    (identity / "uid").write_text("garbage")
    assert host.whoami(FIRST_UID, "ana") == ""  # a damaged identity file: not the environment instead


def test_outside_a_learners_pod_whoami_asks_the_allocation(tmp_path: Path) -> None:
    (tmp_path / "hub").mkdir()
    url = f"sqlite:///{tmp_path / 'hub' / 'jupyterhub.sqlite'}"
    engine = create_engine(url)
    uid = uids.learner_uid(engine, "ben", FIRST_UID)
    host = KubernetesHost(tmp_path, identity_dir=tmp_path / "none")  # the database comes from the data folder
    assert host.whoami(uid, "ana") == "ben" and host.whoami(uid + 7, "ana") == ""
    # A pod without the hub's database (a learner's) allocates nothing and says so plainly.
    bare = KubernetesHost(tmp_path / "elsewhere", identity_dir=tmp_path / "none")
    assert bare.whoami(uid, "ben") == "" and bare.group_gid("clhub-a") is None
    with pytest.raises(Exception, match="cannot be reached from here"):
        import asyncio

        asyncio.run(bare.ensure_group("clhub-a"))
    assert not (tmp_path / "elsewhere").exists()
    (tmp_path / "home-ana").mkdir()
    homes = KubernetesHost(tmp_path, homes=tmp_path)
    assert homes.home("home-ana") == str(tmp_path / "home-ana") and homes.home("../etc") is None
    assert homes.service_user("clhub-showcase") is None
    with pytest.raises(KeyError):  # nothing drops to a learner: run_as knows the services' users alone
        homes.run_as("ana")


def _prepare(plan: dict) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", "-m", "connected_learning.host.kube_prepare", json.dumps(plan)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_root_init_step_makes_the_home_the_learners_and_repairs_group_folders(tmp_path: Path) -> None:
    needs_root()  # chown, as the init container's root does
    from connected_learning.peer_review.folders import GroupPolicy

    home = tmp_path / "home" / "ana"
    home.mkdir(parents=True)
    data = tmp_path / "data"
    (data / "groups" / "class-a").mkdir(parents=True)
    policy = dict(vars(GroupPolicy("class-a")), allowed_types=[".ipynb"])
    etc = tmp_path / "etc"
    etc.mkdir()
    plan = {
        "home": str(home),
        "uid": FIRST_UID,
        "data_dir": str(data),
        "groups": [{"gid": FIRST_GID, "policy": policy}],
        "etc": str(etc),
        "people": [["ana", FIRST_UID], ["ben", FIRST_UID + 1]],
        "group_names": [["clhub-class-a", FIRST_GID, ["ana", "ben"]]],
    }
    done = _prepare(plan)
    assert done.returncode == 0, done.stderr
    passwd = (etc / "passwd").read_text().splitlines()
    assert passwd[0].startswith("root:x:0:0:")  # the image's own accounts stay
    assert any(line.startswith(f"ben:x:{FIRST_UID + 1}:{FIRST_UID + 1}::/home/ben:") for line in passwd)
    assert f"clhub-class-a:x:{FIRST_GID}:ana,ben" in (etc / "group").read_text().splitlines()
    assert (etc / "passwd").stat().st_uid == 0 and (etc / "passwd").stat().st_mode & 0o777 == 0o644
    info = home.stat()
    assert (info.st_uid, info.st_gid, info.st_mode & 0o7777) == (FIRST_UID, FIRST_UID, 0o700)
    shared = data / "groups" / "class-a" / "peer-review"
    assert shared.stat().st_gid == FIRST_GID and shared.stat().st_mode & 0o7777 == 0o3770
    # Attack: the home is a link to somewhere else (e.g. /etc): refused, the target untouched.
    target = tmp_path / "target"
    target.mkdir(mode=0o755)
    link = tmp_path / "home" / "ben"
    link.symlink_to(target)
    done = _prepare({**plan, "home": str(link), "groups": []})
    assert done.returncode == 1 and "cannot be prepared" in done.stderr and "Traceback" not in done.stderr
    assert target.stat().st_uid == 0 and target.stat().st_mode & 0o777 == 0o755
    # Root's uid is never a learner's.
    done = _prepare({**plan, "uid": 0, "groups": []})
    assert done.returncode == 1 and "never root's" in done.stderr


def test_the_pods_account_files_refuse_forged_lines_and_shadowed_ids() -> None:
    """A name with a colon or a newline would add an account of its own; an image account with
    a learner's name or uid would give their files to somebody else."""
    image_passwd = "root:x:0:0:root:/root:/bin/bash\nana:x:1000:1000::/home/ana:/bin/sh\nold:x:100001:1::/:/bin/sh\n"
    image_group = "root:x:0:\nusers:x:100:\n"
    passwd, group = account_files(image_passwd, image_group, [["ana", 100000], ["ben", 100001]], [])
    assert passwd.splitlines() == [
        "root:x:0:0:root:/root:/bin/bash",
        "ana:x:100000:100000::/home/ana:/bin/sh",
        "ben:x:100001:100001::/home/ben:/bin/sh",
    ]
    assert group.splitlines() == ["root:x:0:", "users:x:100:", "ana:x:100000:", "ben:x:100001:"]
    for people, groups in (
        ([["ana:x:0:0::/:/bin/sh", 100000]], []),
        ([["ana\nroot2", 100000]], []),
        ([["ana", 0]], []),
        ([["ana", 100000]], [["evil\nroot", 200000, []]]),
    ):
        with pytest.raises((ValueError, ClhubError)):
            account_files(image_passwd, image_group, people, groups)


def test_the_classroom_pod_names_a_pieces_author_from_the_allocation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The classroom's pod has no account per learner: a piece's owner uid is named from the table,
    and a uid nobody was given stays a number (never the name a process claims)."""
    import os

    from connected_learning.assignments import course as course_module

    needs_root()  # chown to an allocated uid
    from connected_learning.peer_review import pieces

    (tmp_path / "hub").mkdir()
    engine = create_engine(f"sqlite:///{tmp_path / 'hub' / 'jupyterhub.sqlite'}")
    uid = uids.learner_uid(engine, "zoe-k8s", FIRST_UID)
    piece = tmp_path / "piece.png"
    piece.write_bytes(b"x")
    os.chown(piece, uid, uid)  # control: the file really carries the allocated uid
    stranger = FIRST_UID + 500
    monkeypatch.setenv("CLHUB_HOST", "kubernetes")
    monkeypatch.setenv("CLHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JUPYTERHUB_USER", "ana")  # a claim the owner lookup must not believe
    monkeypatch.setattr(pieces, "_names", {})
    assert pieces.user_name(piece.stat().st_uid) == "zoe-k8s"
    assert pieces.user_name(stranger) == f"uid {stranger}"
    assert pieces.user_name(0) == "root"  # the pod's own accounts still come from its passwd
    # Collecting submissions trusts the same answer: a folder named for zoe-k8s but owned by
    # the stranger is not hers.
    inbound = tmp_path / "exchange" / "inbound"
    for name, owner in (("zoe-k8s+a1+1", uid), ("zoe-k8s+a1+2", stranger)):
        (inbound / name).mkdir(parents=True)
        os.chown(inbound / name, owner, owner)
    os.utime(inbound / "zoe-k8s+a1+2", (2e9, 2e9))
    found = course_module.submissions(
        type("C", (), {"exchange": tmp_path / "exchange"})(), "a1", {"zoe-k8s"}, check_owner=True
    )
    assert found["zoe-k8s"].folder.name == "zoe-k8s+a1+1"
