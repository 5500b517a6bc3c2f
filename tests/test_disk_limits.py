"""Integration: a learner who fills their disk fills only their own (host/disks.py).

The site's data folder and the learners' homes live on a small ext4 file system this test
makes (200 MB, loop-mounted), as on a server whose /var and /home share one disk; each
learner gets a 20 MB disk of their own. Ana fills hers from her own kernel until the file
system says no; then Ben still saves, the hub still logs people in and writes its database,
Ana's earlier work is whole and her failed save tells her plainly what happened.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import RunningHub, needs_root
from connected_learning.host import disks
from connected_learning.hub.launch import HUB_CONFIG
from kernelclient import run_code
from realhub import launch_hub, teardown_hub

pytestmark = pytest.mark.integration

SITE_MB = 200
DISK_MB = 20
FILL = """
import errno, os
written, error = 0, "none"
fd = os.open("fill.bin", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
chunk = b"x" * (1 << 20)
try:
    while written < 400 << 20:
        written += os.write(fd, chunk)
except OSError as e:
    error = errno.errorcode.get(e.errno, str(e.errno))
finally:
    os.close(fd)
print("WRITTEN", written, error, os.stat("fill.bin").st_size, flush=True)
"""


def _mountinfo() -> str:
    return Path("/proc/self/mountinfo").read_text()


def _unmount(point: str) -> None:
    """Unmount `point`; a learner's process killed a moment ago may still hold it for a while."""
    for _ in range(20):
        if subprocess.run(["umount", point], capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    subprocess.run(["umount", "--lazy", point])


@pytest.fixture(scope="module")
def site() -> Iterator[Path]:
    """A 200 MB ext4 file system, mounted; unmounted and its loop device freed even on failure."""
    needs_root()
    work = Path(tempfile.mkdtemp(prefix="clhub-diskfs-"))
    os.chmod(work, 0o755)
    image, point = work / "site.img", work / "site"
    point.mkdir()
    with open(image, "wb") as f:
        f.truncate(SITE_MB * disks.MB)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    device = subprocess.run(["losetup", "--find", "--show", str(image)], check=True, capture_output=True, text=True)
    loop = device.stdout.strip()
    try:
        subprocess.run(["mount", loop, str(point)], check=True)
        os.chmod(point, 0o755)  # learners reach their homes and the releases through it
        (point / "homes").mkdir(mode=0o755)
        yield point
    finally:
        for mounted in disks.mounts_below(_mountinfo(), str(point)):
            _unmount(mounted)
        subprocess.run(["losetup", "-d", loop])
        for leftover in subprocess.run(["losetup", "-j", str(image)], capture_output=True, text=True).stdout.split():
            if leftover.startswith("/dev/loop"):
                subprocess.run(["losetup", "-d", leftover.rstrip(":")])
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def hub(site: Path) -> Iterator[RunningHub]:
    config = site.parent / "jupyterhub_config.py"
    # The site's own configuration, with the homes on the small file system too.
    config.write_text(
        f"exec(compile(open({str(HUB_CONFIG)!r}).read(), {str(HUB_CONFIG)!r}, 'exec'))\n"
        f"c.LocalWorkbookSpawner.home_root = {str(site / 'homes')!r}\n"
    )
    running = launch_hub(
        {"ana": ("student", []), "ben": ("student", [])},
        config=config,
        data_dir=site / "data",
        limits=f"disk_mb = {DISK_MB}",
    )
    try:
        yield running
    finally:
        teardown_hub(running)


def _token(hub: RunningHub, short: str) -> str:
    r = hub.api.post(f"/users/{hub.name(short)}/tokens", json={"note": "test", "expires_in": 600})
    assert r.status_code == 201, r.text
    return r.json()["token"]


def _notebook(text: str) -> dict[str, object]:
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": text, "id": "mine"}],
    }


def test_a_full_learner_disk_leaves_everyone_else_working(hub: RunningHub, site: Path) -> None:
    ana_name, ben_name = hub.name("ana"), hub.name("ben")
    ana, ben = hub.login("ana"), hub.login("ben")
    assert ana.spawn_with_form(["music"]).status_code == 302
    assert ben.spawn_with_form(["nature"]).status_code == 302
    ana.wait_ready(ana_name)
    ben.wait_ready(ben_name)

    # Each home is its own file system, from <data>/disks/<user>.img, private to its learner.
    home = site / "homes" / ana_name
    image = site / "data" / "disks" / f"{ana_name}.img"
    learner = disks.Learner(ana_name, os.stat(home).st_uid, os.stat(home).st_gid, str(home))
    assert disks.mounted_device(learner, image) is not None
    assert os.stat(home).st_uid != 0 and stat.S_IMODE(os.stat(home).st_mode) == 0o700
    assert disks.filesystem_bytes(image) == DISK_MB * disks.MB

    # Ana's earlier work, saved while there was room.
    before = _notebook("MY EARLIER WORK")
    r = ana.lab_api("PUT", ana_name, "contents/mine.ipynb", json={"type": "notebook", "content": before})
    assert r.status_code in (200, 201), r.text
    workbooks = ana.contents(ana_name, "workbooks").json()
    delivered = sorted(c["name"] for c in workbooks["content"])
    assert delivered, "no workbooks were delivered to fill around"

    # Ana fills her disk from her kernel; the writing really ran and stopped at her disk's size.
    out = run_code(hub.url, ana_name, _token(hub, "ana"), FILL, timeout=120)
    words = out.split()
    assert words[:1] == ["WRITTEN"], out
    written, error, size = int(words[1]), words[2], int(words[3])
    assert error == "ENOSPC", out
    assert 10 * disks.MB < written <= DISK_MB * disks.MB and size == written, out
    assert os.stat(home / "fill.bin").st_size == written
    left = os.statvfs(home).f_bavail * os.statvfs(home).f_frsize
    assert left < 2 * disks.MB, f"ana's disk still has {left} bytes free"
    site_free = os.statvfs(site).f_bavail * os.statvfs(site).f_frsize
    assert site_free > 100 * disks.MB, f"the site's file system has only {site_free} bytes left"

    # Ana's save now fails, plainly; her earlier version is whole.
    after = _notebook("NEW WORK " + "y" * (4 * disks.MB))  # more than the little ext4 frees on close
    r = ana.lab_api("PUT", ana_name, "contents/mine.ipynb", json={"type": "notebook", "content": after})
    assert r.status_code == 507, r.text
    message = r.json()["message"]
    assert message.startswith("Your space is full, so mine.ipynb was not saved."), message
    assert "The version you saved before is kept" in message and "Errno" not in message
    kept = ana.contents(ana_name, "mine.ipynb").json()["content"]
    assert kept["cells"][0]["source"] == "MY EARLIER WORK"
    assert sorted(c["name"] for c in ana.contents(ana_name, "workbooks").json()["content"]) == delivered
    for entry in ana.contents(ana_name, "workbooks/start-here").json()["content"]:
        if entry["type"] == "notebook":
            assert ana.contents(ana_name, entry["path"]).json()["content"]["cells"], entry["path"]

    # Ben still saves; the hub still answers, logs people in and writes its database.
    r = ben.lab_api("PUT", ben_name, "contents/bens.ipynb", json={"type": "notebook", "content": _notebook("BEN")})
    assert r.status_code in (200, 201), r.text
    assert ben.contents(ben_name, "bens.ipynb").json()["content"]["cells"][0]["source"] == "BEN"
    db = site / "data" / "hub" / "jupyterhub.sqlite"
    db_before = db.stat().st_mtime_ns
    again = hub.login("ben")
    assert again.http.get(f"{hub.url}/hub/home").status_code == 200
    r = hub.api.post(f"/users/{ben_name}/tokens", json={"note": "after the disk filled", "expires_in": 60})
    assert r.status_code == 201, r.text
    assert db.stat().st_mtime_ns > db_before
    notes = [t["note"] for t in hub.api.get(f"/users/{ben_name}/tokens").json()["api_tokens"]]
    assert "after the disk filled" in notes

    # Making room lets Ana save again.
    assert ana.lab_api("DELETE", ana_name, "contents/fill.bin").status_code == 204
    r = ana.lab_api("PUT", ana_name, "contents/mine.ipynb", json={"type": "notebook", "content": after})
    assert r.status_code == 200, r.text
    assert "".join(json.loads((home / "mine.ipynb").read_text())["cells"][0]["source"]).startswith("NEW WORK")


def test_after_a_reboot_the_hub_mounts_every_disk_again_when_it_starts(hub: RunningHub, site: Path) -> None:
    ana_name = hub.name("ana")
    home = site / "homes" / ana_name
    assert hub.api.delete(f"/users/{ana_name}/server").status_code in (202, 204)
    hub.api.wait_for_server(ana_name, ready=False)
    hub.stop()
    # A reboot unmounts everything: the home is an empty folder, the files are in the image.
    _unmount(str(home))
    assert disks.mount_source(_mountinfo(), str(home)) is None and os.listdir(home) == []
    hub.start()
    assert disks.mount_source(_mountinfo(), str(home)) is not None
    assert "mine.ipynb" in os.listdir(home) and stat.S_IMODE(os.stat(home).st_mode) == 0o700
