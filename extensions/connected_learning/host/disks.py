"""A file system of each learner's own: how one learner cannot fill the disk others need.

This kernel family has no quotas to rely on, so on the system host every learner's home is
a file system of its own: a sparse ext4 image, `limits.disk_mb` large, loop-mounted on the
home before their server starts. A learner who fills it gets "No space left on device" in
their own space only; the hub's database, the group folders and the other learners' homes
keep theirs.

<data>/disks/               0700 root
<data>/disks/<user>.img     the learner's file system (sparse: takes only what is used)
<data>/disks/<user>.new     while their home is moved in the first time (gone after)
<home>                      mount point of <user>.img (nosuid, nodev, discard), owner the learner, 0700
<home>.fill                 while the home is moved in: where <user>.new is mounted (gone after)
<home>.before-disk-<time>   what an unmounted home held beside an existing image (kept, logged)

`plan` decides what to do from plain facts; `ensure_disk` gathers the facts and does it, as
root, when a server starts (`LocalWorkbookSpawner.prepare_learner`). The mount is left in
place when the server stops: it costs nothing, a hub restart keeps it, and a learner's
stray process can never make a stop fail; after a reboot each home is mounted again at its
learner's next start. The same-user demo host has no per-learner disks.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ClhubError

MB = 1024 * 1024
# discard: a file the learner deletes gives its space back to the machine (holes in the image).
MOUNT_OPTIONS = "loop,nosuid,nodev,discard"
JOURNAL_MB = 4  # enough for notebooks' writes; what a new disk takes on the real disk at once

# The steps of a plan, in the order they run.
DISCARD_UNFINISHED = "discard-unfinished"  # an interrupted first move-in: start it again
PUT_ASIDE = "put-aside"  # an unmounted home holds files beside an existing image: keep them apart
CREATE = "create"  # a new image (<user>.new), formatted
MOVE_IN = "move-in"  # copy the home into the new image, check the copy, then adopt it
ADOPT = "adopt"  # <user>.new becomes <user>.img
UNMOUNT = "unmount"  # before growing: this kernel grows ext4 only while it is not mounted
GROW = "grow"  # the image and its file system to disk_mb
MOUNT = "mount"  # the image on the home
OWN = "own"  # the home's owner and mode 0700, on the mounted file system's root
GROW_POSTPONED = "grow-postponed"  # not a step: the disk was busy, it grows at a later start


class DiskError(ClhubError):
    code = "disk"


@dataclass(frozen=True)
class DiskFacts:
    """What is on the machine now, for one learner."""

    filesystem_mb: int | None  # the size of their image's file system; None: no image yet
    mounted: bool  # that image is mounted on their home
    home_used: bool  # the home, as seen without the image mounted, holds entries
    unfinished: bool  # an interrupted first move-in left <user>.new behind


def plan(wanted_mb: int, facts: DiskFacts, user: str = "the learner") -> tuple[str, ...]:
    """The steps that give `user` a mounted disk of `wanted_mb` MB; pure.

    `wanted_mb` 0 makes no new disk, but a disk that exists is still mounted: the
    learner's files live on it.

    Raises:
        DiskError: the disk would shrink (that could lose files), naming both sizes.
    """
    steps: list[str] = []
    if facts.unfinished:
        steps.append(DISCARD_UNFINISHED)
    if facts.filesystem_mb is None:
        if not wanted_mb:
            return tuple(steps)
        steps.append(CREATE)
        steps.append(MOVE_IN if facts.home_used else ADOPT)
        return (*steps, MOUNT, OWN)
    if wanted_mb and wanted_mb < facts.filesystem_mb:
        raise DiskError(
            f"limits.disk_mb = {wanted_mb} is smaller than {user}'s disk of {facts.filesystem_mb} MB; "
            f"a disk is never shrunk, that could lose their files. Set disk_mb to {facts.filesystem_mb} or more."
        )
    grow = bool(wanted_mb) and wanted_mb > facts.filesystem_mb
    if facts.mounted:
        steps.extend([UNMOUNT, GROW] if grow else [])
    else:
        steps.extend([PUT_ASIDE] if facts.home_used else [])
        steps.extend([GROW] if grow else [])
    if grow or not facts.mounted:
        steps.append(MOUNT)
    return (*steps, OWN)


# ------------------------------------------------------------------ facts from the machine


def _unescape(field: str) -> str:
    """A path as /proc/self/mountinfo writes it: space, tab, newline and backslash as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_source(mountinfo: str, mountpoint: str) -> str | None:
    """What is mounted on `mountpoint` (the topmost mount), from /proc/self/mountinfo's text."""
    found = None
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) < 10 or " - " not in line:
            continue
        if _unescape(fields[4]) == mountpoint:
            found = _unescape(line.split(" - ", 1)[1].split(" ")[1])
    return found


def mounts_below(mountinfo: str, folder: str) -> list[str]:
    """Mount points at or below `folder`, deepest first (the order to unmount them)."""
    points = []
    for line in mountinfo.splitlines():
        fields = line.split(" ")
        if len(fields) > 4:
            point = _unescape(fields[4])
            if point == folder or point.startswith(folder.rstrip("/") + "/"):
                points.append(point)
    return sorted(points, key=lambda p: p.count("/"), reverse=True)


def _mountinfo() -> str:
    return Path("/proc/self/mountinfo").read_text()


def loop_backing_file(device: str) -> str | None:
    """The image behind a loop device such as /dev/loop3, None if it is not one."""
    name = os.path.basename(device)
    try:
        return Path(f"/sys/block/{name}/loop/backing_file").read_text().strip().removesuffix(" (deleted)")
    except OSError:
        return None


def filesystem_bytes(path: str | os.PathLike[str]) -> int:
    """The size of the ext4 file system in an image or on a device, from its superblock."""
    with open(path, "rb") as f:
        f.seek(1024)
        block = f.read(1024)
    if len(block) < 1024 or struct.unpack_from("<H", block, 0x38)[0] != 0xEF53:
        raise DiskError(f"{path} does not hold an ext4 file system.")
    low, log_size = struct.unpack_from("<I", block, 4)[0], struct.unpack_from("<I", block, 24)[0]
    high = struct.unpack_from("<I", block, 0x150)[0] if struct.unpack_from("<I", block, 0x60)[0] & 0x80 else 0
    return ((high << 32) | low) * (1024 << log_size)


@dataclass(frozen=True)
class Learner:
    """Whose disk, and where."""

    name: str
    uid: int
    gid: int
    home: str


def image_path(disks_dir: str | os.PathLike[str], user: str) -> Path:
    return Path(disks_dir) / f"{user}.img"


def _new_path(disks_dir: str | os.PathLike[str], user: str) -> Path:
    return Path(disks_dir) / f"{user}.new"


def _fill_point(learner: Learner) -> str:
    return learner.home.rstrip("/") + ".fill"


def mounted_device(learner: Learner, image: Path, mountinfo: str | None = None) -> str | None:
    """The loop device of `image` if it is mounted on the learner's home; None if nothing is.

    Raises:
        DiskError: something else is mounted on the home; nothing is touched.
    """
    source = mount_source(_mountinfo() if mountinfo is None else mountinfo, learner.home)
    if source is None:
        return None
    if loop_backing_file(source) == os.path.realpath(image):  # the kernel names it without links
        return source
    raise DiskError(f"{learner.home} already has {source} mounted on it, not {image}; unmount it, then start again.")


def facts(disks_dir: str | os.PathLike[str], learner: Learner) -> DiskFacts:
    image = image_path(disks_dir, learner.name)
    device = mounted_device(learner, image)
    size = filesystem_bytes(device or image) // MB if image.exists() else None
    home_used = False
    if device is None and os.path.isdir(learner.home):
        home_used = any(True for _ in os.scandir(learner.home))
    return DiskFacts(size, device is not None, home_used, _new_path(disks_dir, learner.name).exists())


# ------------------------------------------------------------------ doing it


def _run(*cmd: str, ok: tuple[int, ...] = (0,)) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in ok:
        raise DiskError(f"`{' '.join(cmd)}` failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()}")


def _unmount(point: str) -> None:
    if mount_source(_mountinfo(), point) is not None:
        _run("umount", point)


def _mkfs(image: Path, mb: int, learner: Learner) -> None:
    fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.ftruncate(fd, mb * MB)  # sparse: the disk takes only what is written
    finally:
        os.close(fd)
    # -m 0: no blocks kept back for root, who never writes here; the learner gets all of it.
    # A 4 MB journal: mkfs would give a 1 GB disk 32 MB, written out at once, for every learner.
    journal = ["-J", f"size={JOURNAL_MB}"] if mb >= 8 * JOURNAL_MB else []
    owner = f"root_owner={learner.uid}:{learner.gid}"
    _run("mkfs.ext4", "-q", "-F", "-m", "0", *journal, "-E", owner, str(image))


def _own(point: str, learner: Learner) -> None:
    os.chown(point, learner.uid, learner.gid, follow_symlinks=False)
    os.chmod(point, 0o700, follow_symlinks=False)
    lost = os.path.join(point, "lost+found")
    if os.path.isdir(lost) and not os.path.islink(lost) and not os.listdir(lost):
        os.rmdir(lost)  # mkfs's; e2fsck makes it again if it ever needs one


def tree(root: str) -> dict[str, tuple[str, int | str]]:
    """Every entry below `root` (not following links): path -> (kind, size or link target)."""
    found: dict[str, tuple[str, int | str]] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if rel == "lost+found":
                continue
            st = os.lstat(path)
            if os.path.islink(path):
                found[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                found[rel] = ("folder", 0)
            else:
                found[rel] = ("file", st.st_size)
    return found


def _as_learner(learner: Learner, *cmd: str) -> list[str]:
    return ["setpriv", f"--reuid={learner.uid}", f"--regid={learner.gid}", "--clear-groups", "--", *cmd]


def _move_in(new: Path, learner: Learner) -> None:
    """Copy the home into the new image, as the learner (a link they planted points their own
    permissions at something, never root's); check the copy; then empty the home."""
    point = _fill_point(learner)
    os.makedirs(point, mode=0o700, exist_ok=True)
    _own(point, learner)
    _run("mount", "-o", MOUNT_OPTIONS, str(new), point)
    try:
        _own(point, learner)
        cmd = _as_learner(learner, "cp", "-a", "--", f"{learner.home}/.", point + "/")
        done = subprocess.run(cmd, capture_output=True, text=True)
        copied = tree(point)
        original = tree(learner.home)
        if done.returncode != 0 or copied != original:
            used = sum(size for kind, size in original.values() if kind == "file" and isinstance(size, int))
            raise DiskError(
                f"The home of {learner.name} ({used // MB + 1} MB) could not be moved onto its own disk "
                f"({filesystem_bytes(new) // MB} MB); nothing was changed. If it is too big, raise "
                f"limits.disk_mb and start the server again. {done.stderr.strip()[-500:]}"
            )
    finally:
        _unmount(point)
        os.rmdir(point)


def _empty(folder: str) -> None:
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path)
        else:
            os.unlink(entry.path)


def _grow(image: Path, mb: int) -> None:
    fd = os.open(image, os.O_WRONLY | os.O_NOFOLLOW)
    try:
        if os.fstat(fd).st_size < mb * MB:
            os.ftruncate(fd, mb * MB)
    finally:
        os.close(fd)
    # resize2fs of an unmounted file system wants a fresh check first; -p repairs only what is safe.
    _run("e2fsck", "-f", "-p", str(image), ok=(0, 1))  # 1: something was put right
    _run("resize2fs", str(image))


def ensure_disk(disks_dir: str | os.PathLike[str], learner: Learner, wanted_mb: int) -> tuple[str, ...]:
    """Give `learner` a mounted disk of `wanted_mb` MB on their home (as root); the steps done.

    Idempotent: a home that already has its disk, at its size, only gets its owner and mode
    checked. An interrupted run is taken up again at the next start.

    Raises:
        DiskError: the disk would shrink, the home does not fit, a tool failed, or something
            else is mounted on the home. The message is for the site's administrator.
    """
    os.makedirs(disks_dir, mode=0o700, exist_ok=True)
    os.chmod(disks_dir, 0o700)
    image, new = image_path(disks_dir, learner.name), _new_path(disks_dir, learner.name)
    steps = plan(wanted_mb, facts(disks_dir, learner), learner.name)
    for step in steps:
        if step == DISCARD_UNFINISHED:
            _unmount(_fill_point(learner))
            if os.path.isdir(_fill_point(learner)):
                os.rmdir(_fill_point(learner))
            new.unlink()
        elif step == PUT_ASIDE:
            aside = f"{learner.home.rstrip('/')}.before-disk-{time.strftime('%Y%m%d-%H%M%S')}"
            os.rename(learner.home, aside)
            os.mkdir(learner.home, 0o700)
        elif step == CREATE:
            _mkfs(new, wanted_mb, learner)
        elif step == MOVE_IN:
            _move_in(new, learner)
            os.rename(new, image)  # from here on the image holds the learner's files
            _empty(learner.home)
        elif step == ADOPT:
            os.rename(new, image)
        elif step == UNMOUNT:
            try:
                _run("umount", learner.home)
            except DiskError:
                # A stray process of the learner still uses the disk: it keeps its size this time.
                _own(learner.home, learner)
                return (*steps[: steps.index(step)], GROW_POSTPONED)
        elif step == GROW:
            try:
                _grow(image, wanted_mb)
            except DiskError:
                _run("mount", "-o", MOUNT_OPTIONS, str(image), learner.home)  # their files in view again
                _own(learner.home, learner)
                raise
        elif step == MOUNT:
            os.makedirs(learner.home, mode=0o700, exist_ok=True)
            _run("mount", "-o", MOUNT_OPTIONS, str(image), learner.home)
        elif step == OWN:
            _own(learner.home, learner)
    return steps


def oversized(disks_dir: str | os.PathLike[str], wanted_mb: int) -> list[tuple[str, int]]:
    """The learners whose disk is larger than `wanted_mb` (name, MB): what a shrink would hit."""
    if not wanted_mb or not os.path.isdir(disks_dir):
        return []
    found = []
    for image in sorted(Path(disks_dir).glob("*.img")):
        try:
            mb = filesystem_bytes(image) // MB
        except (OSError, DiskError):
            continue
        if mb > wanted_mb:
            found.append((image.stem, mb))
    return found


def check_no_shrink(disks_dir: str | os.PathLike[str], wanted_mb: int) -> None:
    """Refuse, before the hub starts, a disk_mb smaller than a learner's disk.

    Raises:
        DiskError: naming the learners, their sizes and the smallest disk_mb that works.
    """
    bigger = oversized(disks_dir, wanted_mb)
    if bigger:
        names = ", ".join(f"{name} ({mb} MB)" for name, mb in bigger[:5]) + (" and more" if len(bigger) > 5 else "")
        largest = max(mb for _, mb in bigger)
        raise DiskError(
            f"limits.disk_mb = {wanted_mb} is smaller than the disks of {len(bigger)} learner(s): {names}. "
            f"Learners' disks are never shrunk, that could lose their files: set limits.disk_mb to {largest} or more."
        )


def mount_all(disks_dir: str | os.PathLike[str]) -> list[str]:
    """Mount every learner's disk that is not mounted (as root, when the hub starts), so that
    after a reboot each home shows its files again before its learner returns: backups read
    them there. Returns what needs the administrator's eye, in words; an empty list if nothing."""
    notes: list[str] = []
    if os.geteuid() != 0 or not os.path.isdir(disks_dir):  # only root makes and mounts disks
        return notes
    for image in sorted(Path(disks_dir).glob("*.img")):
        try:
            entry = pwd.getpwnam(image.stem)
        except KeyError:
            notes.append(f"{image} belongs to no system user {image.stem!r}; it was not mounted.")
            continue
        learner = Learner(entry.pw_name, entry.pw_uid, entry.pw_gid, entry.pw_dir)
        try:
            steps = ensure_disk(disks_dir, learner, 0)
        except (DiskError, OSError) as e:
            notes.append(f"The disk of {learner.name} was not mounted: {e}")
            continue
        if PUT_ASIDE in steps:
            notes.append(f"{learner.home} held files beside its disk; they are kept in {learner.home}.before-disk-*.")
    return notes
