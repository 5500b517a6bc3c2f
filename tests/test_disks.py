"""Each learner's own disk (host/disks.py): the plan, the facts it reads, and the applier.

The planner is pure and tested over every combination of facts; the superblock reader and
the shrink check run against real ext4 images (mkfs.ext4, no root needed); the applier runs
as root against real loop mounts in a temporary folder, for a throwaway identity (nobody).
The full-disk message of a save is tested over a stand-in contents manager.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from traitlets.config import Config

from connected_learning.host import disks
from connected_learning.host.disks import DiskError, DiskFacts, plan
from connected_learning.hub.config import configure
from connected_learning.settings import SettingsError, load_settings

# ------------------------------------------------------------------ the plan


def test_a_new_learner_gets_a_disk_with_their_home_moved_in() -> None:
    assert plan(20, DiskFacts(None, False, True, False)) == (disks.CREATE, disks.MOVE_IN, disks.MOUNT, disks.OWN)
    assert plan(20, DiskFacts(None, False, False, False)) == (disks.CREATE, disks.ADOPT, disks.MOUNT, disks.OWN)


def test_a_mounted_disk_of_the_right_size_only_has_its_owner_checked() -> None:
    assert plan(20, DiskFacts(20, True, False, False)) == (disks.OWN,)


def test_after_a_reboot_the_disk_is_mounted_again() -> None:
    assert plan(20, DiskFacts(20, False, False, False)) == (disks.MOUNT, disks.OWN)


def test_growing_unmounts_grows_and_mounts_again() -> None:
    assert plan(30, DiskFacts(20, True, False, False)) == (disks.UNMOUNT, disks.GROW, disks.MOUNT, disks.OWN)
    assert plan(30, DiskFacts(20, False, False, False)) == (disks.GROW, disks.MOUNT, disks.OWN)


def test_files_in_an_unmounted_home_beside_a_disk_are_put_aside_not_hidden() -> None:
    assert plan(20, DiskFacts(20, False, True, False)) == (disks.PUT_ASIDE, disks.MOUNT, disks.OWN)


def test_an_interrupted_move_in_starts_again() -> None:
    assert plan(20, DiskFacts(None, False, True, True)) == (
        disks.DISCARD_UNFINISHED,
        disks.CREATE,
        disks.MOVE_IN,
        disks.MOUNT,
        disks.OWN,
    )


def test_shrinking_is_refused_naming_both_sizes_and_what_to_set() -> None:
    with pytest.raises(DiskError) as raised:
        plan(20, DiskFacts(50, True, False, False), "ana")
    message = str(raised.value)
    assert "limits.disk_mb = 20" in message and "ana's disk of 50 MB" in message
    assert "Set disk_mb to 50 or more" in message


def test_disks_off_makes_none_but_keeps_mounting_an_existing_one() -> None:
    assert plan(0, DiskFacts(None, False, True, False)) == ()
    assert plan(0, DiskFacts(50, False, False, False)) == (disks.MOUNT, disks.OWN)
    assert plan(0, DiskFacts(50, True, False, False)) == (disks.OWN,)


@pytest.mark.parametrize(
    ("wanted", "size", "mounted", "used", "unfinished"),
    list(itertools.product([0, 20, 30], [None, 20, 30], [False, True], [False, True], [False, True])),
)
def test_every_plan_keeps_the_files_and_ends_mounted(
    wanted: int, size: int | None, mounted: bool, used: bool, unfinished: bool
) -> None:
    """Over every combination of facts: files are never emptied without a verified copy, an
    existing disk is always mounted at the end, and it is never made smaller."""
    if mounted and size is None:
        return  # a home cannot have a disk mounted that does not exist
    facts = DiskFacts(size, mounted, used, unfinished)
    if size is not None and wanted and wanted < size:
        with pytest.raises(DiskError):
            plan(wanted, facts)
        return
    steps = plan(wanted, facts)
    assert len(set(steps)) == len(steps)
    if unfinished:
        assert steps[0] == disks.DISCARD_UNFINISHED
    if size is None and not wanted:
        assert disks.MOUNT not in steps and disks.CREATE not in steps
        return
    assert steps[-1] == disks.OWN
    will_be_mounted = mounted and disks.UNMOUNT not in steps or disks.MOUNT in steps
    assert will_be_mounted
    if disks.MOUNT in steps and disks.UNMOUNT in steps:
        assert steps.index(disks.UNMOUNT) < steps.index(disks.GROW) < steps.index(disks.MOUNT)
    if used and not mounted:
        # The home's own files are moved onto the new disk, or kept aside: never hidden below the mount.
        assert disks.MOVE_IN in steps or disks.PUT_ASIDE in steps
    if disks.MOVE_IN in steps:
        assert steps.index(disks.CREATE) < steps.index(disks.MOVE_IN) < steps.index(disks.MOUNT)
    assert (disks.GROW in steps) == (size is not None and wanted > size)


# ------------------------------------------------------------------ facts


MOUNTINFO = (
    "22 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
    "45 22 7:0 / /home/ana rw,nosuid,nodev,relatime - ext4 /dev/loop0 rw\n"
    "46 22 7:1 / /home/with\\040space rw,nosuid,nodev - ext4 /dev/loop1 rw\n"
    "47 45 7:2 / /home/ana rw,nosuid,nodev - ext4 /dev/loop2 rw\n"
    "48 45 0:50 / /home/ana/sub rw - tmpfs tmpfs rw\n"
    "49 22 7:3 / /home/zoë\\040b rw - ext4 /dev/loop3 rw\n"
)


def test_mount_source_finds_the_topmost_mount_of_a_folder() -> None:
    assert disks.mount_source(MOUNTINFO, "/home/ana") == "/dev/loop2"
    assert disks.mount_source(MOUNTINFO, "/home/with space") == "/dev/loop1"
    assert disks.mount_source(MOUNTINFO, "/home/zoë b") == "/dev/loop3"  # only \ooo is decoded
    assert disks.mount_source(MOUNTINFO, "/home/ben") is None
    assert disks.mount_source(MOUNTINFO, "/home") is None


def test_mounts_below_a_folder_come_deepest_first() -> None:
    assert disks.mounts_below(MOUNTINFO, "/home/ana") == ["/home/ana/sub", "/home/ana", "/home/ana"]
    assert disks.mounts_below(MOUNTINFO, "/home/an") == []


def _image(path: Path, mb: int) -> Path:
    with open(path, "wb") as f:
        f.truncate(mb * disks.MB)
    subprocess.run(["mkfs.ext4", "-q", "-F", "-m", "0", str(path)], check=True)
    return path


def test_the_file_system_size_comes_from_the_superblock(tmp_path: Path) -> None:
    image = _image(tmp_path / "a.img", 20)
    assert disks.filesystem_bytes(image) == 20 * disks.MB
    with open(image, "r+b") as f:
        f.truncate(40 * disks.MB)  # the file grew, the file system not yet: still 20
    assert disks.filesystem_bytes(image) == 20 * disks.MB
    (tmp_path / "not.img").write_bytes(b"\0" * 4096)
    with pytest.raises(DiskError, match="does not hold an ext4 file system"):
        disks.filesystem_bytes(tmp_path / "not.img")


def test_a_new_disk_takes_little_real_space(tmp_path: Path) -> None:
    image = tmp_path / "big.img"
    disks._mkfs(image, 1024, disks.Learner("lrn", os.getuid(), os.getgid(), str(tmp_path)))
    assert disks.filesystem_bytes(image) == 1024 * disks.MB
    assert image.stat().st_blocks * 512 < 8 * disks.MB  # sparse, with a small journal


def test_the_hub_refuses_to_start_with_a_disk_mb_that_would_shrink_a_disk(tmp_path: Path) -> None:
    _image(tmp_path / "ana.img", 40)
    _image(tmp_path / "ben.img", 20)
    disks.check_no_shrink(tmp_path, 40)
    disks.check_no_shrink(tmp_path, 0)
    disks.check_no_shrink(tmp_path / "missing", 20)
    with pytest.raises(DiskError) as raised:
        disks.check_no_shrink(tmp_path, 30)
    assert "limits.disk_mb = 30" in str(raised.value) and "ana (40 MB)" in str(raised.value)
    assert "ben" not in str(raised.value) and "set limits.disk_mb to 40 or more" in str(raised.value)


# ------------------------------------------------------------------ the setting


@pytest.mark.parametrize(("given", "kept"), [(0, 0), (16, 16), (1024, 1024), (1048576, 1048576)])
def test_disk_mb_accepts_0_or_a_real_size(tmp_path: Path, given: int, kept: int) -> None:
    (tmp_path / "site.toml").write_text(f"[limits]\ndisk_mb = {given}\n")
    assert load_settings(tmp_path / "site.toml").disk_mb == kept


@pytest.mark.parametrize("given", ["-1", "15", "1048577", "true", '"1G"', "1.5"])
def test_disk_mb_refuses_what_cannot_be_a_disk(tmp_path: Path, given: str) -> None:
    (tmp_path / "site.toml").write_text(f"[limits]\ndisk_mb = {given}\n")
    with pytest.raises(SettingsError) as raised:
        load_settings(tmp_path / "site.toml")
    assert "limits.disk_mb" in str(raised.value)


def test_disk_mb_defaults_to_a_gigabyte(tmp_path: Path) -> None:
    (tmp_path / "site.toml").write_text("")
    assert load_settings(tmp_path / "site.toml").disk_mb == 1024


# ------------------------------------------------------------------ the applier, as root


@pytest.fixture
def learner(tmp_path: Path) -> Iterator[disks.Learner]:
    """A home for `nobody` in a folder it can reach (pytest's own is root's alone)."""
    if os.geteuid() != 0:
        pytest.skip("mounts loop devices: run as root")
    tmp_path = Path(tempfile.mkdtemp(prefix="clhub-disks-"))
    os.chmod(tmp_path, 0o755)
    home = tmp_path / "homes" / "lrn"
    home.mkdir(parents=True)
    os.chmod(home.parent, 0o755)
    (home / "notes.txt").write_text("my notes")
    (home / "work").mkdir()
    (home / "work" / "big.bin").write_bytes(os.urandom(300_000))
    os.symlink("/etc/passwd", home / "work" / "link")
    subprocess.run(["chown", "-R", "65534:65534", str(home)], check=True)
    os.chmod(home, 0o700)
    who = disks.Learner("lrn", 65534, 65534, str(home))
    try:
        yield who
    finally:
        for point in disks.mounts_below(Path("/proc/self/mountinfo").read_text(), str(tmp_path)):
            subprocess.run(["umount", point], check=False)
        shutil.rmtree(tmp_path)


def test_the_home_moves_onto_its_own_disk_whole_and_stays_the_learners(learner: disks.Learner) -> None:
    tmp_path = Path(learner.home).parent.parent
    before = disks.tree(learner.home)
    steps = disks.ensure_disk(tmp_path / "disks", learner, 20)
    assert steps == (disks.CREATE, disks.MOVE_IN, disks.MOUNT, disks.OWN)
    image = tmp_path / "disks" / "lrn.img"
    assert disks.mounted_device(learner, image) is not None
    assert disks.tree(learner.home) == before  # lost+found removed, everything else as it was
    assert (Path(learner.home) / "notes.txt").read_text() == "my notes"
    st = os.stat(learner.home)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o700)
    assert os.stat(Path(learner.home) / "work" / "big.bin").st_uid == 65534
    assert stat.S_IMODE(os.stat(tmp_path / "disks").st_mode) == 0o700
    assert os.statvfs(learner.home).f_blocks * os.statvfs(learner.home).f_frsize <= 20 * disks.MB
    assert image.stat().st_blocks * 512 < 20 * disks.MB  # sparse
    assert sorted(os.listdir(tmp_path / "homes")) == ["lrn"]  # no .fill left behind
    taken = image.stat().st_blocks
    (Path(learner.home) / "work" / "big.bin").unlink()
    os.sync()
    assert image.stat().st_blocks < taken  # a deleted file's room goes back to the machine
    (Path(learner.home) / "work" / "big.bin").write_bytes(b"\1" * 300_000)
    os.chown(Path(learner.home) / "work" / "big.bin", 65534, 65534)

    # Again: nothing to do. Then grown; then a shrink is refused and changes nothing.
    assert disks.ensure_disk(tmp_path / "disks", learner, 20) == (disks.OWN,)
    assert disks.ensure_disk(tmp_path / "disks", learner, 32) == (disks.UNMOUNT, disks.GROW, disks.MOUNT, disks.OWN)
    assert disks.filesystem_bytes(image) == 32 * disks.MB
    assert disks.tree(learner.home) == before
    with pytest.raises(DiskError, match="never shrunk"):
        disks.ensure_disk(tmp_path / "disks", learner, 20)
    assert disks.mounted_device(learner, image) is not None and disks.tree(learner.home) == before


def test_a_home_too_big_for_its_disk_is_left_as_it_was(learner: disks.Learner) -> None:
    tmp_path = Path(learner.home).parent.parent
    (Path(learner.home) / "huge.bin").write_bytes(b"\1" * (20 * disks.MB))
    os.chown(Path(learner.home) / "huge.bin", 65534, 65534)
    before = disks.tree(learner.home)
    with pytest.raises(DiskError, match="could not be moved onto its own disk"):
        disks.ensure_disk(tmp_path / "disks", learner, 16)
    assert disks.tree(learner.home) == before
    assert disks.mount_source(Path("/proc/self/mountinfo").read_text(), learner.home) is None
    assert sorted(os.listdir(tmp_path / "homes")) == ["lrn"]
    # The unfinished image is discarded at the next try, with a big enough disk.
    assert disks.ensure_disk(tmp_path / "disks", learner, 64)[0] == disks.DISCARD_UNFINISHED
    assert disks.tree(learner.home) == before


def test_the_setting_reaches_the_system_spawner(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "site.toml").write_text(
        f'[site]\ndata_dir = "{tmp_path / "data"}"\nspawner = "local"\n[workbooks]\n'
        f'catalog_dir = "{repo / "workbooks"}"\n[limits]\ndisk_mb = 64\n'
    )
    c = Config()
    configure(c, str(tmp_path / "site.toml"), mode="site")
    assert c.LocalWorkbookSpawner.disk_mb == 64
    assert c.LocalWorkbookSpawner.disks_dir == str(tmp_path / "data" / "disks")


def test_files_written_into_an_unmounted_home_are_kept_beside_it(learner: disks.Learner) -> None:
    tmp_path = Path(learner.home).parent.parent
    before = disks.tree(learner.home)
    disks.ensure_disk(tmp_path / "disks", learner, 20)
    subprocess.run(["umount", learner.home], check=True)  # a reboot
    assert os.listdir(learner.home) == []
    (Path(learner.home) / "stray.txt").write_text("written while the disk was away")
    assert disks.ensure_disk(tmp_path / "disks", learner, 20) == (disks.PUT_ASIDE, disks.MOUNT, disks.OWN)
    assert disks.tree(learner.home) == before
    [aside] = (tmp_path / "homes").glob("lrn.before-disk-*")
    assert (aside / "stray.txt").read_text() == "written while the disk was away"
    assert (os.stat(aside).st_uid, stat.S_IMODE(os.stat(aside).st_mode)) == (65534, 0o700)  # still private
    assert stat.S_IMODE(os.stat(learner.home).st_mode) == 0o700


def test_a_disk_in_use_keeps_its_size_until_a_later_start(learner: disks.Learner) -> None:
    tmp_path = Path(learner.home).parent.parent
    disks.ensure_disk(tmp_path / "disks", learner, 20)
    stray = subprocess.Popen(["sleep", "60"], cwd=learner.home)  # a process the learner left running
    try:
        steps = disks.ensure_disk(tmp_path / "disks", learner, 32)
        assert steps == (disks.GROW_POSTPONED,)
        image = tmp_path / "disks" / "lrn.img"
        assert disks.mounted_device(learner, image) is not None
        assert disks.filesystem_bytes(image) == 20 * disks.MB
    finally:
        stray.kill()
        stray.wait()
    assert disks.ensure_disk(tmp_path / "disks", learner, 32)[:2] == (disks.UNMOUNT, disks.GROW)
    assert disks.filesystem_bytes(tmp_path / "disks" / "lrn.img") == 32 * disks.MB
