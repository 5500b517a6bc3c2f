"""Real system users for peer-review tests, without a hub: create, run code as them, remove.

`Learners` makes uniquely named system users (the same way the spawner does, through
`system_users.ensure_learner`) with homes under a temporary folder, links their group
folders the way the spawner's delivery step does, and runs `clhub` or Python *as* each of
them (their uid, their groups), so that the operating system, not the test, decides what
they may do. Each group's display names (`members.json`) are written as the classroom
service writes them from the class list: the `display` given to `add`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from jupyterhub.spawner import set_user_setuid

from connected_learning.host import system_users
from connected_learning.peer_review import folders

PYTHON = sys.executable
CLHUB = str(Path(sys.executable).parent / "clhub")
MARKER = "clhub-learners"
PREFIX = "clhub-"


@dataclass
class Learners:
    root: Path
    data_dir: Path
    tag: str
    users: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    displays: dict[str, str] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)  # group -> learners (short names)

    @classmethod
    def create(cls) -> Learners:
        tag = "p" + secrets.token_hex(2)
        root = Path(tempfile.mkdtemp(prefix=f"clhub-{tag}-"))
        os.chmod(root, 0o755)
        (root / "home").mkdir(mode=0o755)
        (root / "releases").mkdir(mode=0o755)
        (root / "data").mkdir(mode=0o755)
        return cls(root=root, data_dir=root / "data", tag=tag)

    def name(self, short: str) -> str:
        return f"{self.tag}{short}"

    def home(self, short: str) -> Path:
        return self.root / "home" / self.name(short)

    def group(self, short: str, policy: folders.GroupPolicy | None = None) -> Path:
        """Create (or repair with `policy`) the group `short`; return its peer-review folder."""
        name = self.name(short)
        system = system_users.system_group_name(PREFIX, name)
        asyncio.run(system_users.ensure_group(system))
        if name not in self.groups:
            self.groups.append(name)
        policy = policy or folders.GroupPolicy(name)
        return folders.apply_group(self.data_dir, policy, folders.system_gid(system))

    def add(self, short: str, groups: list[str], display: str = "") -> str:
        """Create the learner (member of `groups`, short names) and link their group folders."""
        name = self.name(short)
        if display:
            self.displays[short] = display
        full = [self.name(g) for g in groups]
        asyncio.run(system_users.ensure_learner(name, MARKER, PREFIX, full, home_root=str(self.root / "home")))
        if name not in self.users:
            self.users.append(name)
        for shorts in self.members.values():
            shorts.discard(short)
        for group in groups:
            self.members.setdefault(group, set()).add(short)
        self.write_names()
        links = [f"--group-folder={g}={folders.peer_review_dir(self.data_dir, g)}" for g in full]
        done = self.run(
            short,
            PYTHON,
            "-I",
            "-m",
            "connected_learning.learner.provision",
            "--home",
            str(self.home(short)),
            "--releases",
            str(self.root / "releases"),
            *links,
            display=display,
        )
        assert done.returncode == 0, done.stderr
        return name

    def write_names(self) -> None:
        """Every group's members.json: the display names of its members, as the classroom service writes it."""
        for group, shorts in self.members.items():
            name = self.name(group)
            gid = folders.system_gid(system_users.system_group_name(PREFIX, name))
            folders.write_members(
                self.data_dir, name, {self.name(s): self.displays[s] for s in shorts if s in self.displays}, gid
            )

    def env(self, short: str, display: str = "") -> dict[str, str]:
        return {
            "HOME": str(self.home(short)),
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "JUPYTERHUB_USER": self.name(short),
            "CLHUB_DISPLAY_NAME": display or self.displays.get(short) or short.capitalize(),
        }

    def run(
        self,
        short: str,
        *cmd: str,
        display: str = "",
        cwd: Path | None = None,
        extra_env: dict[str, str] | None = None,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run `cmd` as learner `short` (their uid and groups), in their home by default."""
        env = {**self.env(short, display), **(extra_env or {})}
        return subprocess.run(
            list(cmd),
            env=env,
            cwd=cwd or self.home(short),
            capture_output=True,
            text=True,
            preexec_fn=set_user_setuid(self.name(short)),
            timeout=timeout,
        )

    def clhub(self, short: str, *args: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run(short, CLHUB, *args, **kw)  # type: ignore[arg-type]

    def python(self, short: str, code: str, **kw: object) -> subprocess.CompletedProcess[str]:
        return self.run(short, PYTHON, "-c", code, **kw)  # type: ignore[arg-type]

    def popen(self, short: str, code: str, *args: str) -> subprocess.Popen[str]:
        """Start Python `code` with `args` as learner `short`, without waiting."""
        return subprocess.Popen(
            [PYTHON, "-c", code, *args],
            env=self.env(short),
            cwd=self.home(short),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=set_user_setuid(self.name(short)),
        )

    def remove(self) -> None:
        for user in self.users:
            subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True)
            subprocess.run(["userdel", "--remove", user], capture_output=True)
        for group in self.groups:
            subprocess.run(["groupdel", system_users.system_group_name(PREFIX, group)], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
