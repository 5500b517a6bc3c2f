"""Fast tests of restore's guards: archives that are not clhub's, paths that leave the
target, writes through a link, a non-empty data folder, and the moved data_dir."""

from __future__ import annotations

import io
import json
import tarfile
import tomllib
from pathlib import Path

import pytest

from connected_learning.hub.backup import MANIFEST, BackupError, _with_data_dir, restore


def archive(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]], manifest: bool = True) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        if manifest:
            body = json.dumps({"data_dir": str(path.parent / "old"), "site_file": str(path.parent / "s.toml"),
                               "host": "same-user", "users": [], "groups": []}).encode()  # fmt: skip
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, io.BytesIO(m[1]))
    return path


def link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def test_an_archive_without_the_manifest_is_refused(tmp_path: Path) -> None:
    bad = archive(tmp_path / "a.tar.gz", [("data/x", b"1")], manifest=False)
    with pytest.raises(BackupError, match="not an archive made by clhub backup"):
        restore(bad, tmp_path / "d", tmp_path / "s.toml")


@pytest.mark.parametrize(
    "members",
    [
        [("data/../../escaped", b"x")],
        [("/etc/escaped", b"x")],
        [link("data/out", str(Path("/tmp"))), ("data/out/escaped", b"x")],
    ],
)
def test_paths_that_leave_the_target_are_refused_and_write_nothing_outside(tmp_path: Path, members: list) -> None:
    bad = archive(tmp_path / "a.tar.gz", members)
    with pytest.raises(BackupError, match="unsafe path|through a link"):
        restore(bad, tmp_path / "d", tmp_path / "s.toml")
    assert not Path("/tmp/escaped").exists() and not (tmp_path.parent / "escaped").exists()


def test_a_non_empty_data_folder_is_refused_unless_forced(tmp_path: Path) -> None:
    good = archive(tmp_path / "a.tar.gz", [("site.toml", b"[site]\n")])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "mine").write_text("keep")
    with pytest.raises(BackupError, match="is not empty"):
        restore(good, tmp_path / "d", tmp_path / "s.toml")
    assert (tmp_path / "d" / "mine").read_text() == "keep"


def test_the_restored_settings_name_the_new_data_folder(tmp_path: Path) -> None:
    new = tmp_path / "new data"
    for text in ('[site]\nport = 9000\ndata_dir = "/old"\n', "[site]\nport = 9000\n", 'name = "x"\n'):
        assert tomllib.loads(_with_data_dir(text, new))["site"]["data_dir"] == str(new)
