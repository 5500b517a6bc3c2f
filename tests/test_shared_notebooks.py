"""Shared notebooks in group folders are the system's: a learner changes only their own copy.

One learner's autosave of the group's `REVIEW.ipynb` once rewrote it for everyone (868 B
to 1.7 MB, with another learner's audio in it). Here ben attacks the group's review
notebook every way a learner can, each attack with a control that proves it ran:

- on a real site (the system host, real system users): Python as ben, and ben's own server's
  contents API, which JupyterLab's save and autosave use; the operating system refuses the
  first (the file is root's, 0444, in a sticky folder), the contents manager the second,
  and it reports the file read-only, so JupyterLab never autosaves it;
- in the same-user demo, where every account is one system user and the operating system
  cannot tell ben from anyone: only the contents manager stands between ben's JupyterLab and
  the shared copy, and it refuses. (Python typed into ben's kernel could still write it
  there: the demo's warning says accounts are not isolated from each other.)
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from jupyterhub.spawner import set_user_setuid

from conftest import RunningHub
from connected_learning.peer_review import folders

pytestmark = pytest.mark.integration
GROUP = "crew"
BIG = {
    "cells": [{"cell_type": "markdown", "id": "x", "metadata": {}, "source": "ben's outputs " * 5000}],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def model(content: dict[str, Any] = BIG) -> dict[str, Any]:
    return {"type": "notebook", "format": "json", "content": content}


def contents_attacks(hub: RunningHub, short: str) -> None:
    """ben, through his own server's contents API, tries to change the group's notebooks; a control saves his own."""
    s = hub.login(short)
    assert s.spawn_with_form(["art"]).status_code == 302
    s.wait_ready(hub.name(short))
    user = hub.name(short)
    shared = folders.peer_review_dir(hub.data_dir, hub.name(GROUP))
    review = shared / folders.REVIEW_NOTEBOOK
    before = review.read_bytes()
    path = f"peer-review/{hub.name(GROUP)}/{folders.REVIEW_NOTEBOOK}"
    own = f"peer-review/{folders.own_review_notebook(hub.name(GROUP))}"

    got = s.lab_api("GET", user, f"contents/{path}")
    assert got.status_code == 200 and got.json()["writable"] is False  # JupyterLab's autosave skips it
    mine = s.lab_api("GET", user, f"contents/{own}")
    assert mine.status_code == 200 and mine.json()["writable"] is True, mine.text  # ben's own copy is his
    assert "ReviewPanel(" in json.dumps(mine.json()["content"])

    attacks = {
        "save (autosave, Ctrl+S)": s.lab_api("PUT", user, f"contents/{path}", json=model()),
        "checkpoint": s.lab_api("POST", user, f"contents/{path}/checkpoints"),
        "rename": s.lab_api("PATCH", user, f"contents/{path}", json={"path": f"{path}.old"}),
        "delete": s.lab_api("DELETE", user, f"contents/{path}"),
        "new file beside it": s.lab_api(
            "PUT", user, f"contents/peer-review/{hub.name(GROUP)}/Untitled.ipynb", json=model()
        ),
    }
    for what, answer in attacks.items():
        assert answer.status_code == 403, (what, answer.status_code, answer.text)
        assert "shared with your group" in answer.json()["message"], what
    # Control: the same save of his own notebooks goes through.
    assert s.lab_api("PUT", user, "contents/mine.ipynb", json=model()).status_code == 201
    saved = s.lab_api("PUT", user, f"contents/{own}", json=model())
    assert saved.status_code == 200, saved.text
    moved = s.lab_api("PATCH", user, "contents/mine.ipynb", json={"path": f"peer-review/{hub.name(GROUP)}/mine.ipynb"})
    assert moved.status_code == 403  # nor can his own file be moved in

    assert review.read_bytes() == before
    assert not (shared / ".ipynb_checkpoints").exists()
    assert sorted(p.name for p in shared.iterdir()) == sorted([folders.REVIEW_NOTEBOOK, folders.POLICY_FILE])


def test_on_a_real_site_only_the_system_changes_the_groups_review_notebook(make_hub: Any) -> None:
    hub = make_hub({"ana": ("student", [GROUP]), "ben": ("student", [GROUP])})
    contents_attacks(hub, "ben")
    ben = hub.name("ben")
    review = folders.peer_review_dir(hub.data_dir, hub.name(GROUP)) / folders.REVIEW_NOTEBOOK
    info = os.stat(review)
    assert info.st_uid == 0 and stat.S_IMODE(info.st_mode) == 0o444
    before = review.read_bytes()

    # Python as ben (a terminal or his kernel): the operating system refuses.
    code = textwrap.dedent(
        f"""
        import json, os
        review = {str(review)!r}
        tmp = os.path.join(os.path.dirname(review), ".ben-copy.ipynb")
        done = {{}}
        def attempt(name, act):
            try:
                act()
                done[name] = "ok"
            except OSError as e:
                done[name] = type(e).__name__
        attempt("write", lambda: open(review, "w").write("{{}}"))
        attempt("append", lambda: open(review, "a").write(" "))
        attempt("a file of his own beside it", lambda: open(tmp, "w").write("{{}}"))
        attempt("replace it with that file", lambda: os.replace(tmp, review))
        attempt("rename", lambda: os.rename(review, review + ".old"))
        attempt("remove", lambda: os.unlink(review))
        attempt("chmod", lambda: os.chmod(review, 0o666))
        attempt("his own file", lambda: open(os.path.expanduser("~/mine.txt"), "w").write("mine"))
        os.unlink(tmp)
        print(json.dumps(done))
        """
    )
    home = pwd.getpwnam(ben).pw_dir
    ran = subprocess.run(
        [sys.executable, "-c", code],
        env={"HOME": home, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        preexec_fn=set_user_setuid(ben),
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr
    done = json.loads(ran.stdout)
    assert done.pop("a file of his own beside it") == "ok"  # control: ben is in the group and may add files
    assert done.pop("his own file") == "ok"  # control: the same writes work on his own file
    assert done == dict.fromkeys(
        ("write", "append", "replace it with that file", "rename", "remove", "chmod"), "PermissionError"
    )
    assert review.read_bytes() == before
    assert Path(home, "mine.txt").read_text() == "mine"


def test_in_the_same_user_demo_the_contents_manager_keeps_the_shared_copy(make_hub: Any) -> None:
    hub = make_hub({"ana": ("student", [GROUP]), "ben": ("student", [GROUP])}, spawner="demo")
    contents_attacks(hub, "ben")
