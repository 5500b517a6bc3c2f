"""Peer review with real system users and groups: the operating system enforces who may do what.

Every learner here is a real system user; every action runs as that user (`clhub` or
Python in a child process with their uid and groups), exactly as in their server's
terminal or kernel. No hub is needed for the folder model; `test_classroom.py` covers the
hub's side (moderation through the service, the spawner's links).
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import needs_root
from connected_learning.peer_review import folders, pieces
from connected_learning.peer_review.pieces import FeedbackEntry, overview_text
from connected_learning.peer_review.widgets import feedback_html
from learners import Learners

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Learners:
    needs_root()
    lab = Learners.create()
    try:
        lab.group("g")
        lab.group("other")
        for short in ("ana", "ben", "cai", "milo"):
            lab.add(short, ["g"], display=f"{short.capitalize()} B.")
        lab.add("zed", ["other"])
        yield lab
    finally:
        lab.remove()


def folder(lab: Learners, group: str = "g") -> Path:
    return folders.peer_review_dir(lab.data_dir, lab.name(group))


def make_file(lab: Learners, short: str, rel: str, data: str = "RIFF fake wav") -> None:
    done = lab.python(
        short,
        f"import pathlib; p = pathlib.Path({rel!r}); p.parent.mkdir(parents=True, "
        f"exist_ok=True); p.write_text({data!r})",
    )
    assert done.returncode == 0, done.stderr


def share(lab: Learners, short: str, *paths: str, title: str) -> str:
    done = lab.clhub(short, "share", *paths, "--title", title)
    assert done.returncode == 0, done.stderr
    return done.stdout.split(" as ")[1].split(" ")[0]


def attempt(lab: Learners, short: str, code: str) -> str:
    """Run `code` as the learner; return the name of the exception it raised, or 'ok'."""
    wrapped = (
        "try:\n"
        + textwrap.indent(textwrap.dedent(code), "    ")
        + "\n    print('ok')\nexcept Exception as e:\n    print(type(e).__name__)"
    )
    done = lab.python(short, wrapped)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


# ------------------------------------------------------------------ the folder itself


def test_group_folder_modes(lab: Learners) -> None:
    shared = folder(lab)
    info = os.stat(shared)
    assert info.st_uid == 0
    assert stat.S_IMODE(info.st_mode) == 0o3770  # setgid + sticky, group rwx, others nothing
    assert os.stat(shared.parent).st_mode & 0o007 == 0
    assert (lab.home("ana") / "peer-review" / lab.name("g")).resolve() == shared
    assert (lab.home("ana") / "peer-review" / folders.INBOX_NOTEBOOK).is_file()
    review = os.stat(shared / folders.REVIEW_NOTEBOOK)
    assert review.st_uid == 0 and stat.S_IMODE(review.st_mode) == 0o444  # the system's, read-only


def test_each_learner_reviews_in_their_own_copy_of_the_review_notebook(lab: Learners) -> None:
    own = lab.home("ben") / "peer-review" / folders.own_review_notebook(lab.name("g"))
    assert own.stat().st_uid == os.stat(lab.home("ben")).st_uid
    make_file(lab, "ana", "own-copy.md", "for the review")
    share(lab, "ana", "own-copy.md", title="Seen from my own copy")
    cells = json.loads(own.read_text())["cells"]
    code = "".join(next(c for c in cells if c["cell_type"] == "code")["source"])
    assert f"ReviewPanel('~/peer-review/{lab.name('g')}')" in code
    run = "import os; os.chdir('peer-review')\n" + code.replace("ReviewPanel(", "panel = ReviewPanel(")
    run += "\nprint([label for label, _ in panel.choice.options])"
    done = lab.python("ben", run)
    assert done.returncode == 0, done.stderr
    assert "Seen from my own copy by Ana B." in done.stdout


def test_a_non_member_cannot_list_or_read_the_group_folder(lab: Learners) -> None:
    make_file(lab, "ana", "secret.png", "only my group")
    piece = share(lab, "ana", "secret.png", title="For my group only")
    shared = folder(lab)
    assert attempt(lab, "zed", f"import os; os.listdir({str(shared)!r})") == "PermissionError"
    assert attempt(lab, "zed", f"open({str(shared / piece / 'piece.json')!r}).read()") == "PermissionError"
    done = lab.clhub("zed", "pieces", "--group", lab.name("g"))
    assert done.returncode != 0 and "no group called" in done.stderr


def test_a_peer_reads_a_piece_but_cannot_change_or_delete_it(lab: Learners) -> None:
    make_file(lab, "ana", "creations/beat.wav", "my beat")
    piece = share(lab, "ana", "creations/beat.wav", title="My beat")
    piece_dir = folder(lab) / piece
    info = os.stat(piece_dir)
    assert stat.S_IMODE(info.st_mode) == 0o2750 and info.st_uid == os.stat(lab.home("ana")).st_uid
    wav = piece_dir / "v1" / "beat.wav"
    assert attempt(lab, "ben", f"assert open({str(wav)!r}).read() == 'my beat'") == "ok"
    for code in (
        f"open({str(wav)!r}, 'w').write('mine now')",
        f"import os; os.unlink({str(wav)!r})",
        f"import os; os.rename({str(piece_dir)!r}, {str(piece_dir) + '-x'!r})",
        f"import shutil; shutil.rmtree({str(piece_dir)!r})",
        f"open({str(piece_dir / 'piece.json')!r}, 'w').write('{{}}')",
        f"open({str(piece_dir / 'v1' / 'extra.png')!r}, 'w').write('x')",
    ):
        assert attempt(lab, "ben", code) == "PermissionError", code
    done = lab.clhub("ben", "withdraw", piece, "--yes")
    assert done.returncode != 0 and "Only the author" in done.stderr
    assert wav.read_text() == "my beat"


def test_sharing_again_makes_a_new_version_and_the_author_withdraws(lab: Learners) -> None:
    make_file(lab, "cai", "poem.md", "first draft")
    piece = share(lab, "cai", "poem.md", title="Poem")
    make_file(lab, "cai", "poem.md", "second draft")
    assert share(lab, "cai", "poem.md", title="Poem, better") == piece
    meta = json.loads((folder(lab) / piece / "piece.json").read_text())
    assert meta["version"] == 2 and meta["title"] == "Poem, better"
    assert meta["author"] == lab.name("cai") and meta["author_display"] == "Cai B."
    assert set(meta) >= {"title", "author_display", "workbook", "created", "version", "remix_of"}
    assert (folder(lab) / piece / "v1" / "poem.md").read_text() == "first draft"
    assert (folder(lab) / piece / "v2" / "poem.md").read_text() == "second draft"
    assert lab.clhub("ben", "feedback", piece, "--works", "nice rhymes").returncode == 0
    done = lab.clhub("cai", "withdraw", piece, "--yes")
    assert done.returncode == 0, done.stderr
    assert not (folder(lab) / piece).exists()
    assert [p for p in os.listdir(folder(lab)) if piece in p and not p.startswith(".withdrawn-")] == []
    undo = lab.clhub("cai", "withdraw", piece, "--undo")
    assert undo.returncode == 0, undo.stderr


def test_withdraw_asks_first_hides_the_piece_and_can_be_undone(lab: Learners) -> None:
    """Withdrawing asks for a yes; the piece and its feedback wait, closed to the group, until undone or too late."""
    make_file(lab, "cai", "song.md", "la la")
    piece = share(lab, "cai", "song.md", title="Song to take back")
    assert lab.clhub("ben", "feedback", piece, "--works", "catchy").returncode == 0
    shared = folder(lab)

    # Without a yes nothing happens (no terminal to ask in: it says how to confirm).
    done = lab.clhub("cai", "withdraw", piece)
    assert done.returncode == 2 and f"clhub withdraw {piece} --yes" in done.stderr and "Traceback" not in done.stderr
    assert (shared / piece / "v1" / "song.md").is_file()

    done = lab.clhub("cai", "withdraw", piece, "--yes")
    assert done.returncode == 0 and "--undo" in done.stdout, done.stderr
    assert not (shared / piece).exists()
    [waiting] = [p for p in os.listdir(shared) if p.endswith(f"-{piece}")]
    assert waiting.startswith(".withdrawn-") and stat.S_IMODE(os.stat(shared / waiting).st_mode) == 0o700

    # The group cannot see it, read it, put it back or remove it while it waits (control: cai can read it).
    assert piece not in lab.clhub("ben", "pieces").stdout
    mine = lab.clhub("cai", "pieces").stdout
    assert f"You took {piece} ('Song to take back') back" in mine and f"clhub withdraw {piece} --undo" in mine
    for code in (
        f"import os; os.listdir({str(shared / waiting)!r})",
        f"open({str(shared / waiting / 'v1' / 'song.md')!r}).read()",
        f"open({str(shared / waiting / 'feedback' / (lab.name('ben') + '.json'))!r}).read()",
        f"import os; os.rename({str(shared / waiting)!r}, {str(shared / piece)!r})",
    ):
        assert attempt(lab, "ben", code) == "PermissionError", code
    assert attempt(lab, "cai", f"assert open({str(shared / waiting / 'v1' / 'song.md')!r}).read() == 'la la'") == "ok"
    done = lab.clhub("ben", "withdraw", piece, "--undo")
    assert done.returncode == 2 and "nothing to undo" in done.stderr
    later = "import time; from connected_learning.peer_review import pieces; "
    later += f"pieces.purge_withdrawn({str(shared)!r}, time.time() + 3600)"
    assert attempt(lab, "ben", later) == "ok"
    assert (shared / waiting).is_dir()  # ben may not remove cai's

    # Undo, from a new process (the state is on disk): the piece is back, with ben's feedback.
    done = lab.clhub("cai", "withdraw", piece, "--undo")
    assert done.returncode == 0 and "again" in done.stdout, done.stderr
    view = pieces.read_one(shared, piece)
    assert view.ok and [e.works for e in view.feedback] == ["catchy"]
    assert stat.S_IMODE(os.stat(shared / piece).st_mode) == 0o2750
    assert piece in lab.clhub("ben", "pieces").stdout
    assert lab.clhub("cai", "withdraw", piece, "--undo").returncode == 2  # nothing left to undo

    # Withdrawn again; the hub's repair of the group (at any member's start, after a restart too)
    # keeps it while there is time, and removes it for good once the time is over.
    assert lab.clhub("cai", "withdraw", piece, "--yes").returncode == 0
    [waiting] = [p for p in os.listdir(shared) if p.endswith(f"-{piece}")]
    until = int(waiting.split("-")[1])
    lab.group("g")
    assert (shared / waiting).is_dir()
    gid = os.stat(shared).st_gid
    folders.apply_group(lab.data_dir, folders.GroupPolicy(lab.name("g")), gid, at=until)
    assert not [p for p in os.listdir(shared) if piece in p]
    done = lab.clhub("cai", "withdraw", piece, "--undo")
    assert done.returncode == 2 and "are over" in done.stderr


def test_the_author_removes_their_own_withdrawn_piece_once_its_time_is_over(lab: Learners) -> None:
    make_file(lab, "milo", "kite.md", "a kite")
    piece = share(lab, "milo", "kite.md", title="Kite for now")
    assert lab.clhub("ben", "feedback", piece, "--idea", "a longer tail").returncode == 0
    assert lab.clhub("milo", "withdraw", piece, "--yes").returncode == 0
    [waiting] = [p for p in os.listdir(folder(lab)) if p.endswith(f"-{piece}")]
    forget = (
        "import time; from connected_learning.peer_review import sharing as s; "
        f"s.forget_withdrawn({str(folder(lab))!r}, s.Identity.current(), time.time())"
    )
    assert attempt(lab, "milo", forget) == "ok"
    assert (folder(lab) / waiting).is_dir()  # still time to undo
    assert attempt(lab, "milo", forget.replace("time.time())", "time.time() + 3600)")) == "ok"
    assert not (folder(lab) / waiting).exists()  # ben's feedback file inside went with it


# ------------------------------------------------------------------ the share box


SHARE_BOX = """
import json, os
from connected_learning.peer_review.widgets import ShareBox
os.chdir("workbooks/beat-lab")  # the kernel runs in the notebook's folder
box = ShareBox(
    ["beat-lab.ipynb", "my_drums.wav", "my_song.wav", "../../diary.wav", "/etc/passwd.wav",
     "link.wav", "up.wav", "creations"],
    title="My drums", workbook="beat-lab",
)
def seen():
    return {"offered": list(box.ticks), "notes": box.missing.value, "status": box.status.value,
            "widths": [box.button.layout.width, box.look_again.layout.width]
            + [t.layout.width for t in box.ticks.values()]}
first = seen()
box.ticks["beat-lab.ipynb"].value = False
view = box.share()
shared = view.files if view else None
after_share = seen()
open("my_song.wav", "w").write("RIFF song")
os.unlink("my_drums.wav")
box.scan()
rescanned = seen()
for tick in box.ticks.values():
    tick.value = False
nothing = box.share()
print(json.dumps({"first": first, "shared": shared, "after_share": after_share, "rescanned": rescanned,
                  "nothing": nothing is None, "last": box.status.value}))
"""


def test_the_share_box_offers_the_files_that_exist_and_names_the_missing_ones(lab: Learners) -> None:
    make_file(lab, "ana", "diary.wav", "ana's diary, outside the workbook")
    notebook = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    make_file(lab, "ana", "workbooks/beat-lab/beat-lab.ipynb", notebook)
    make_file(lab, "ana", "workbooks/beat-lab/my_drums.wav", "RIFF drums")
    setup = f"""
        import os
        os.chdir('workbooks/beat-lab')
        os.symlink('/etc/hostname', 'link.wav')
        os.symlink({str(lab.home("ana") / "diary.wav")!r}, 'up.wav')
        os.makedirs('creations', exist_ok=True)
        """
    assert attempt(lab, "ana", setup) == "ok"
    done = lab.python("ana", SHARE_BOX)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])

    first = seen["first"]
    assert first["offered"] == ["beat-lab.ipynb", "my_drums.wav"]
    assert "You have not saved my_song.wav yet — it will not be shared." in first["notes"]
    assert "../../diary.wav is not in this workbook&#x27;s folder" in first["notes"]
    assert "/etc/passwd.wav is not in this workbook&#x27;s folder" in first["notes"]
    assert "link.wav is a shortcut to another place" in first["notes"]
    assert "up.wav is a shortcut to another place" in first["notes"]
    assert "creations is not a file" in first["notes"]
    assert "Problem" not in first["status"] and "Python" not in first["notes"] and "list" not in first["notes"]
    assert set(first["widths"]) == {"auto"}  # every label as wide as its words

    # Only what was ticked and is there is shared.
    assert seen["shared"] == ["my_drums.wav"]
    assert "Shared &#x27;My drums&#x27;" in seen["after_share"]["status"]
    view = next(v for v in pieces.read_group(folder(lab)) if v.title == "My drums")
    assert (folder(lab) / view.id / "v1" / "my_drums.wav").read_text() == "RIFF drums"
    assert not any((folder(lab) / view.id / "v1" / name).exists() for name in ("diary.wav", "up.wav", "link.wav"))

    # Saved since: it is offered; deleted since: it is not, and said so.
    assert seen["rescanned"]["offered"] == ["beat-lab.ipynb", "my_song.wav"]
    assert "my_song.wav" not in seen["rescanned"]["notes"]
    assert "You have not saved my_drums.wav yet" in seen["rescanned"]["notes"]
    assert seen["nothing"] and "Tick at least one file to share." in seen["last"]


# ------------------------------------------------------------------ feedback


def test_each_reviewer_owns_their_feedback_and_cannot_touch_anothers(lab: Learners) -> None:
    make_file(lab, "ana", "pet.png", "pixels")
    piece = share(lab, "ana", "pet.png", title="Pixel pet")
    assert lab.clhub("ben", "feedback", piece, "--works", "cute", "--reaction", "love").returncode == 0
    assert lab.clhub("milo", "feedback", piece, "--question", "how long did it take?").returncode == 0
    feedback = folder(lab) / piece / "feedback"
    ben_file = feedback / f"{lab.name('ben')}.json"
    assert os.stat(ben_file).st_uid == os.stat(lab.home("ben")).st_uid
    for code in (
        f"open({str(ben_file)!r}, 'w').write('{{}}')",
        f"import os; os.unlink({str(ben_file)!r})",
        f"import os; os.rename({str(ben_file)!r}, {str(ben_file) + '.x'!r})",
    ):
        assert attempt(lab, "milo", code) == "PermissionError", code
    view = pieces.read_one(folder(lab), piece)
    assert [(e.reviewer, e.works, e.question, e.reaction) for e in view.feedback] == [
        (lab.name("ben"), "cute", "", "love"),
        (lab.name("milo"), "", "how long did it take?", ""),
    ]


def test_feedback_written_in_someone_elses_name_is_not_believed(lab: Learners) -> None:
    make_file(lab, "ana", "map.png", "map")
    piece = share(lab, "ana", "map.png", title="Map")
    # cai squats ben's file name and signs it as ben
    fake = folder(lab) / piece / "feedback" / f"{lab.name('ben')}.json"
    forged = json.dumps({"reviewer": lab.name("ben"), "entries": [{"works": "forged", "created": "x"}]})
    assert attempt(lab, "cai", f"open({str(fake)!r}, 'w').write({forged!r})") == "ok"
    assert lab.clhub("ben", "feedback", piece, "--works", "the real ben").returncode == 0
    view = pieces.read_one(folder(lab), piece)
    assert [(e.reviewer, e.works) for e in view.feedback] == [(lab.name("ben"), "the real ben")]


def test_a_piece_shared_with_a_forged_author_shows_its_owners_name(lab: Learners) -> None:
    make_file(lab, "cai", "forged.png", "pixels")
    done = lab.clhub("cai", "share", "forged.png", "--title", "Not mine", display="Teacher Smith")
    assert done.returncode == 0, done.stderr
    piece = done.stdout.split(" as ")[1].split(" ")[0]
    meta_file = folder(lab) / piece / "piece.json"
    forge = (
        f"import json, os; p = {str(meta_file)!r}; m = json.load(open(p)); "
        f"m.update(author={lab.name('ana')!r}, author_display='Teacher Smith'); "
        "json.dump(m, open(p + '.x', 'w')); os.replace(p + '.x', p)"
    )
    assert attempt(lab, "cai", forge) == "ok"
    # ben gives feedback, his process claiming to be the teacher too
    given = lab.clhub("ben", "feedback", piece, "--works", "nice", display="Teacher Smith")
    assert given.returncode == 0, given.stderr
    meta = json.loads(meta_file.read_text())  # the forgery is really on disk
    assert (meta["author"], meta["author_display"]) == (lab.name("ana"), "Teacher Smith")
    assert "Teacher Smith" in (folder(lab) / piece / "feedback" / f"{lab.name('ben')}.json").read_text()

    listing = lab.clhub("milo", "pieces")  # a peer, through the learner's own reading code
    assert listing.returncode == 0, listing.stderr
    line = next(x for x in listing.stdout.splitlines() if x.startswith(piece))
    assert "by Cai B." in line and "Teacher Smith" not in listing.stdout and "Ana" not in line
    mine = lab.clhub("cai", "feedback", "--mine").stdout
    assert "Ben B." in mine and "Teacher Smith" not in mine
    view = pieces.read_one(folder(lab), piece)  # as root, like the classroom service
    assert (view.owner, view.author_display) == (lab.name("cai"), "Cai B.")
    assert [(e.reviewer, e.reviewer_display) for e in view.feedback] == [(lab.name("ben"), "Ben B.")]


def test_only_the_hubs_own_names_file_is_believed(lab: Learners) -> None:
    make_file(lab, "ana", "names.png", "pixels")
    piece = share(lab, "ana", "names.png", title="Names")
    names_file = folder(lab).parent / pieces.MEMBERS_FILE
    info = os.stat(names_file)
    assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o640) and info.st_gid == os.stat(folder(lab)).st_gid
    for code in (
        f"open({str(names_file)!r}, 'w').write('{{}}')",
        f"import os; os.rename({str(names_file)!r}, {str(names_file) + '.x'!r})",
        f"open({str(folder(lab).parent / 'other.json')!r}, 'w').write('{{}}')",
    ):
        assert attempt(lab, "ana", code) == "PermissionError", code
    assert pieces.read_one(folder(lab), piece).author_display == "Ana B."


def test_feedback_is_checked_at_the_edge(lab: Learners) -> None:
    make_file(lab, "ana", "song.wav", "la")
    piece = share(lab, "ana", "song.wav", title="Song")
    cases = [
        (["--works", ""], "Write what works"),
        (["--works", "x" * 1001], "under 1000"),
        (["--reaction", "angry"], "invalid choice"),
    ]
    for args, message in cases:
        done = lab.clhub("ben", "feedback", piece, *args)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
    done = lab.clhub("ana", "feedback", piece, "--works", "I love my own work")
    assert done.returncode != 0 and "your own piece" in done.stderr
    for bad in ("../../etc", "nope", "UPPER"):
        done = lab.clhub("ben", "feedback", bad, "--works", "hi")
        assert done.returncode != 0 and "Traceback" not in done.stderr, bad
    assert not list((folder(lab) / piece / "feedback").iterdir())


def test_the_author_sees_all_feedback_in_one_place_escaped(lab: Learners) -> None:
    make_file(lab, "ben", "game.ipynb", json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    piece = share(lab, "ben", "game.ipynb", title="Maze game")
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    assert lab.clhub("ana", "feedback", piece, "--works", evil, "--idea", "add a level").returncode == 0
    done = lab.clhub("ben", "feedback", "--mine")
    assert "Maze game" in done.stdout and "add a level" in done.stdout and "Ana B." in done.stdout
    view = pieces.read_one(folder(lab), piece)
    page = feedback_html(view.feedback, anonymous=False, viewer=lab.name("ben"))
    assert "<script>" not in page and "<img" not in page and "&lt;script&gt;" in page


def test_anonymous_feedback_hides_reviewers_from_the_author(lab: Learners) -> None:
    try:
        shared = lab.group("anon", folders.GroupPolicy(lab.name("anon"), anonymous_feedback=True))
        lab.add("ana", ["g", "anon"], display="Ana B.")
        lab.add("ben", ["g", "anon"], display="Ben B.")
        make_file(lab, "ana", "anon/drawing.png", "art")
        done = lab.clhub("ana", "share", "anon/drawing.png", "--title", "Drawing", "--group", lab.name("anon"))
        assert done.returncode == 0, done.stderr
        piece = done.stdout.split(" as ")[1].split(" ")[0]
        given = lab.clhub("ben", "feedback", piece, "--works", "bold colours", "--group", lab.name("anon"))
        assert given.returncode == 0, given.stderr
        mine = lab.clhub("ana", "feedback", "--mine").stdout
        assert "bold colours" in mine
        anon_lines = [line for line in mine.splitlines() if "bold colours" in line]
        assert anon_lines and all("Ben" not in line and "A peer" in line for line in anon_lines)
        view = pieces.read_one(shared, piece)
        assert "Ben B." not in feedback_html(view.feedback, anonymous=True, viewer=lab.name("ana"))
        # Teachers (the service, as root) still see who wrote it.
        assert view.feedback[0].reviewer == lab.name("ben")
    finally:
        lab.add("ana", ["g"])
        lab.add("ben", ["g"])


# ------------------------------------------------------------------ what may be shared


def test_sharing_refuses_links_foreign_files_and_big_or_odd_files(lab: Learners) -> None:
    make_file(lab, "ben", "diary.md", "ben's private diary")
    make_file(lab, "ana", "ok.png", "fine")
    ben_diary = lab.home("ben") / "diary.md"
    setup = f"""
        import os
        os.symlink('/etc/shadow', 'shadow.png')
        os.symlink({str(ben_diary)!r}, 'diary.md')
        os.makedirs('linked', exist_ok=True)
        os.symlink('/etc', 'etc-link')
        open('big.png', 'wb').write(b'x' * 10_000_001)
        open('script.py', 'w').write('print(1)')
        open('broken.ipynb', 'w').write('{{not json')
        open('.hidden.png', 'w').write('x')
        """
    assert attempt(lab, "ana", setup) == "ok"
    cases = {
        "shadow.png": "symlink",
        "diary.md": "symlink",
        "etc-link/passwd.png": "symlink",
        "/etc/passwd": "not in your home",
        "../" + lab.name("ben") + "/diary.md": "not in your home",
        "big.png": "larger than the limit",
        "script.py": "cannot be shared",
        "broken.ipynb": "not a readable notebook",
        "missing.png": "does not exist",
        "workbooks": "cannot be shared",
        ".hidden.png": "rename the file",
    }
    before = sorted(os.listdir(folder(lab)))
    for path, message in cases.items():
        done = lab.clhub("ana", "share", path, "--title", "Sneaky")
        assert done.returncode == 2, (path, done.stdout)
        assert message in done.stderr and "Traceback" not in done.stderr, (path, done.stderr)
    done = lab.clhub("ana", "share", "ok.png", "--title", "   ")
    assert done.returncode == 2 and "title" in done.stderr
    assert sorted(os.listdir(folder(lab))) == before


def test_a_broken_or_hostile_folder_does_not_break_the_overview(lab: Learners) -> None:
    make_file(lab, "ana", "good.png", "good")
    good = share(lab, "ana", "good.png", title="Good piece")
    shared = folder(lab)
    hostile = f"""
        import os, json
        base = {str(shared)!r}
        me = {lab.name("cai")!r}
        os.makedirs(f'{{base}}/{{me}}-broken/feedback')
        open(f'{{base}}/{{me}}-broken/piece.json', 'w').write('{{"title": ')
        os.makedirs(f'{{base}}/{{me}}-shadow')
        os.symlink('/etc/shadow', f'{{base}}/{{me}}-shadow/piece.json')
        os.makedirs(f'{{base}}/{{me}}-liar')
        open(f'{{base}}/{{me}}-liar/piece.json', 'w').write(json.dumps({{"author": {lab.name("ana")!r}, "title": "x"}}))
        open(f'{{base}}/{{me}}-notadir', 'w').write('x')
        os.symlink('/etc', f'{{base}}/{{me}}-etc')
        open(f'{{base}}/{good}/feedback/{{me}}.json', 'w').write('[1, 2')
        os.makedirs(f'{{base}}/{{me}}-badnb/v1')
        os.chmod(f'{{base}}/{{me}}-badnb', 0o2750)
        os.chmod(f'{{base}}/{{me}}-badnb/v1', 0o2750)
        open(f'{{base}}/{{me}}-badnb/piece.json', 'w').write(json.dumps({{"author": me, "title": "Bad notebook",
                                                                           "version": 1, "files": ["x.ipynb"]}}))
        open(f'{{base}}/{{me}}-badnb/v1/x.ipynb', 'w').write('{{"cells": [')
        os.chmod(f'{{base}}/{{me}}-badnb/piece.json', 0o640)
        os.chmod(f'{{base}}/{{me}}-badnb/v1/x.ipynb', 0o640)
        """
    assert attempt(lab, "cai", hostile) == "ok"
    for reader in (None, "ben"):
        if reader is None:
            views = {v.id: v for v in pieces.read_group(shared)}  # as root, like the service
        else:
            done = lab.clhub(reader, "pieces")
            assert done.returncode == 0, done.stderr
            assert "Good piece" in done.stdout and "missing or broken" in done.stdout
            continue
        assert views[good].ok and views[good].title == "Good piece"
        assert "missing or broken" in views[f"{lab.name('cai')}-broken"].problem
        assert "missing or broken" in views[f"{lab.name('cai')}-shadow"].problem
        liar = views[f"{lab.name('cai')}-liar"]  # says it is ana's: it is cai's, by cai's name
        assert liar.ok and (liar.owner, liar.author_display) == (lab.name("cai"), "Cai B.")
        assert f"{lab.name('cai')}-etc" not in views and f"{lab.name('cai')}-notadir" not in views
        assert views[f"{lab.name('cai')}-badnb"].ok  # a malformed notebook inside a piece is the piece's own business
    assert "root:" not in json.dumps([dataclasses.asdict(v) for v in pieces.read_group(shared)], default=str)
    # Remixing it copies the file as it is; the review panel lists it without breaking.
    done = lab.clhub("ben", "remix", f"{lab.name('cai')}-badnb")
    assert done.returncode == 0, done.stderr
    copied = lab.home("ben") / "workbooks" / "remixes" / f"{lab.name('cai')}-badnb" / "x.ipynb"
    assert copied.read_text() == '{"cells": ['
    panel = lab.python(
        "ben",
        "import os\nos.environ['JUPYTERHUB_USER'] = " + repr(lab.name("ben")) + "\n"
        "from connected_learning.peer_review.widgets import ReviewPanel\n"
        f"p = ReviewPanel({str(shared)!r})\n"
        "print(sorted(p.views))",
    )
    assert panel.returncode == 0 and f"{lab.name('cai')}-badnb" in panel.stdout, panel.stderr


def test_remix_copies_with_provenance_and_sharing_it_says_so(lab: Learners) -> None:
    notebook = {
        "cells": [{"cell_type": "markdown", "metadata": {}, "source": "my game"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    make_file(lab, "ana", "quest.ipynb", json.dumps(notebook))
    piece = share(lab, "ana", "quest.ipynb", title="Quest *one*")
    done = lab.clhub("ben", "remix", piece)
    assert done.returncode == 0, done.stderr
    copy = lab.home("ben") / "workbooks" / "remixes" / piece
    remixed = json.loads((copy / "quest.ipynb").read_text())
    first = remixed["cells"][0]["source"]
    assert "Remixed from" in first and "Ana B." in first and r"Quest \*one\*" in first
    assert os.stat(copy / "quest.ipynb").st_uid == os.stat(lab.home("ben")).st_uid
    new_piece = share(lab, "ben", f"workbooks/remixes/{piece}/quest.ipynb", title="Quest two")
    view = pieces.read_one(folder(lab), new_piece)
    assert view.remix_of and view.remix_of["author_display"] == "Ana B." and view.remix_of["piece"] == piece


def test_a_removed_member_loses_the_link_at_the_next_start(lab: Learners) -> None:
    lab.add("cai", [], display="Cai B.")  # memberships reset, links rebuilt: as at the next start
    assert not (lab.home("cai") / "peer-review" / lab.name("g")).exists()
    assert attempt(lab, "cai", f"import os; os.listdir({str(folder(lab))!r})") == "PermissionError"
    lab.add("cai", ["g"], display="Cai B.")
    assert attempt(lab, "cai", f"import os; os.listdir({str(folder(lab))!r})") == "ok"


def test_peer_review_off_closes_the_folder_and_keeps_its_content(lab: Learners) -> None:
    lab.group("closed")
    lab.add("ana", ["g", "closed"], display="Ana B.")
    make_file(lab, "ana", "c.png", "c")
    assert lab.clhub("ana", "share", "c.png", "--title", "C", "--group", lab.name("closed")).returncode == 0
    lab.group("closed", folders.GroupPolicy(lab.name("closed"), peer_review=False))
    try:
        assert attempt(lab, "ana", f"import os; os.listdir({str(folder(lab, 'closed'))!r})") == "PermissionError"
        assert len([p for p in os.listdir(folder(lab, "closed")) if p.startswith(lab.name("ana"))]) == 1
        assert lab.clhub("ana", "pieces", "--group", lab.name("closed")).returncode == 2
    finally:
        lab.group("closed")
        lab.add("ana", ["g"])


# ------------------------------------------------------------------ many at once


WORKER = """
import os, sys, time, subprocess, json
me, others, folder = sys.argv[1], sys.argv[2].split(','), sys.argv[3]
open('art.png', 'w').write('art of ' + me)
from connected_learning.peer_review import sharing as peer_review
from connected_learning.peer_review import pieces
view = peer_review.share(folder, ['art.png'], 'Art of ' + me)
print(json.dumps({'piece': view.id}), flush=True)
done = set()
deadline = time.monotonic() + 120
while len(done) < len(others) and time.monotonic() < deadline:
    for other in others:
        piece = f'{other}-art-of-{other}'
        if other in done or not os.path.isdir(os.path.join(folder, piece)):
            continue
        try:
            peer_review.give_feedback(folder, piece, works=f'{me} likes it')
        except peer_review.PeerReviewError:
            continue  # shared a moment ago: its piece.json may not be there yet
        done.add(other)
    time.sleep(0.05)
print(json.dumps({'gave': sorted(done)}))
"""


def test_twenty_learners_sharing_and_reviewing_at_once_lose_nothing(lab: Learners) -> None:
    shared = lab.group("rush")
    crowd = [f"r{i:02d}" for i in range(20)]
    for short in crowd:
        lab.add(short, ["rush"])
    names = [lab.name(s) for s in crowd]
    procs = []
    for i, short in enumerate(crowd):
        others = [names[(i + k) % 20] for k in (1, 2, 3)]
        procs.append(lab.popen(short, WORKER, names[i], ",".join(others), str(shared)))
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    views = {v.id: v for v in pieces.read_group(shared)}
    assert sorted(views) == sorted(f"{n}-art-of-{n}" for n in names)
    for i, name in enumerate(names):
        view = views[f"{name}-art-of-{name}"]
        assert view.ok and view.version == 1
        reviewers = sorted(e.reviewer for e in view.feedback)
        assert reviewers == sorted(names[(i - k) % 20] for k in (1, 2, 3)), name
        assert all(e.works == f"{e.reviewer} likes it" for e in view.feedback)
    assert not [p for p in os.listdir(shared) if p.startswith(".") and p != folders.POLICY_FILE]


# ------------------------------------------------------------------ pure parts


def test_plan_group_modes_follow_the_policy() -> None:
    on = {e.path.name: e.mode for e in folders.plan_group("/d", folders.GroupPolicy("g"))}
    off = {e.path.name: e.mode for e in folders.plan_group("/d", folders.GroupPolicy("g", peer_review=False))}
    assert on["peer-review"] == 0o3770 and on["g"] == 0o750 and on["moderation"] == 0o700
    assert off["g"] == 0o700


def test_only_the_same_user_demo_believes_the_author_a_piece_names(tmp_path: Path) -> None:
    """In the same-user demo (the folder is the hub's own non-root user's) a piece's named author is all
    there is; wherever the folder is root's, the file's owner is the author, whatever piece.json says."""
    needs_root()
    for demo in (True, False):
        data = tmp_path / ("demo" if demo else "site")
        data.mkdir()
        shared = folders.apply_group(data, folders.GroupPolicy("g"), None)
        (shared / "ana-kite" / "feedback").mkdir(parents=True)
        (shared / "ana-kite" / "piece.json").write_text(
            json.dumps({"author": "ana", "author_display": "Teacher Smith", "title": "Kite", "version": 1})
        )
        (shared / "ana-kite" / "feedback" / "ben.json").write_text(
            json.dumps({"reviewer": "ben", "reviewer_display": "Teacher Smith", "entries": [{"works": "yes"}]})
        )
        folders.write_members(data, "g", {"ana": "Ana M.", "ben": "Ben K.", "nobody": "No B."}, None)
        if demo:  # every account's files, and the hub's, belong to one ordinary user
            for path in [data, *data.rglob("*")]:
                os.lchown(path, 65534, 65534)
        view = pieces.read_one(shared, "ana-kite")
        if demo:
            assert (view.owner, view.author_display) == ("ana", "Ana M.")
            assert [(e.reviewer, e.reviewer_display) for e in view.feedback] == [("ben", "Ben K.")]
        else:
            assert (view.owner, view.author_display) == ("root", "root")
            assert view.feedback == []  # feedback signed with another's name is not believed
        assert "Teacher Smith" not in json.dumps(dataclasses.asdict(view))


def test_overview_text_hides_names_only_where_anonymous() -> None:
    entry = FeedbackEntry("ben", "Ben B.", "good", "", "", "wow", "2026", 1, "ben.json")
    view = pieces.PieceView(id="ana-x", owner="ana", title="X", version=1, feedback=[entry])
    assert "Ben B." in overview_text([("g", view)], "ana", {"g": False})
    hidden = overview_text([("g", view)], "ana", {"g": True})
    assert "Ben" not in hidden and "A peer" in hidden


def test_link_group_folders_never_removes_the_learners_own_files(tmp_path: Path) -> None:
    target = tmp_path / "shared"
    target.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    folders.link_group_folders(home, {"g": str(target), "old": str(target)})
    (home / "peer-review" / "notes.txt").write_text("mine")
    done = folders.link_group_folders(home, {"g": str(target)})
    assert done == {"old": "removed", "g": "kept"}
    assert (home / "peer-review" / "notes.txt").read_text() == "mine"
    own = home / "peer-review" / folders.own_review_notebook("g")
    assert "ReviewPanel('~/peer-review/g')" in own.read_text()
    own.write_text("my notes")
    folders.link_group_folders(home, {"g": str(target)})
    assert own.read_text() == "my notes"  # the learner's own copy is never rewritten
    (home / "peer-review" / "x").mkdir()
    assert "skipped" in folders.link_group_folders(home, {"x": str(target)})["x"]
    with pytest.raises(folders.FolderError):
        folders.parse_links(["../etc=/x"])


def test_the_site_settings_decide_each_groups_policy(tmp_path: Path) -> None:
    from connected_learning.settings import load_settings

    site = tmp_path / "site.toml"
    site.write_text(
        '[peer_review]\noff_for_groups = ["quiet"]\nanonymous_for_groups = ["shy"]\nmax_piece_mb = 2\n'
        'allowed_types = [".png"]\n'
    )
    settings = load_settings(site)
    assert folders.policy_for(settings, "quiet").peer_review is False
    assert folders.policy_for(settings, "shy").anonymous_feedback is True
    plain = folders.policy_for(settings, "class")
    assert plain.peer_review and not plain.anonymous_feedback
    assert plain.max_piece_bytes == 2_000_000 and plain.allowed_types == (".png",)
    site.write_text("[peer_review]\nenabled = false\nanonymous_feedback = true\n")
    everyone = folders.policy_for(load_settings(site), "class")
    assert not everyone.peer_review and everyone.anonymous_feedback


def test_in_the_same_user_demo_a_withdrawn_piece_is_hidden_and_only_its_author_undoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One system user for every account: the folder's names and piece.json's author are what hold."""
    from connected_learning.peer_review import sharing

    monkeypatch.setenv("CLHUB_HOST", "same-user")
    (tmp_path / "data").mkdir()
    shared = folders.apply_group(tmp_path / "data", folders.GroupPolicy("g"), None)
    os.lchown(shared, 65534, 65534)  # the demo hub's own ordinary user's, as every account's files are
    people = {}
    for name in ("ana", "ben"):
        home = tmp_path / name
        home.mkdir()
        people[name] = sharing.Identity(name, name.capitalize(), os.getuid(), home)
    (people["ana"].home / "kite.md").write_text("a kite")
    piece = sharing.share(shared, [people["ana"].home / "kite.md"], "Kite", identity=people["ana"]).id
    sharing.give_feedback(shared, piece, works="high!", identity=people["ben"])

    with pytest.raises(sharing.PeerReviewError, match="Only the author"):
        sharing.withdraw(shared, piece, identity=people["ben"])
    gone = sharing.withdraw(shared, piece, identity=people["ana"], at=1000)
    assert gone.until == 1000 + pieces.UNDO_MINUTES * 60 and gone.title == "Kite"
    assert pieces.read_group(shared) == []  # nobody's listing shows it
    assert sharing.my_withdrawn(shared, people["ben"], at=1001) == []
    with pytest.raises(sharing.PeerReviewError, match="nothing to undo"):
        sharing.undo_withdraw(shared, piece, identity=people["ben"], at=1001)
    sharing.forget_withdrawn(shared, people["ben"], at=10**9)  # not his: left alone
    assert (shared / gone.name).is_dir()

    back = sharing.undo_withdraw(shared, piece, identity=people["ana"], at=1001)
    assert back.id == piece and [e.works for e in pieces.read_one(shared, piece).feedback] == ["high!"]

    gone = sharing.withdraw(shared, piece, identity=people["ana"], at=2000)
    with pytest.raises(sharing.PeerReviewError, match="are over"):
        sharing.undo_withdraw(shared, piece, identity=people["ana"], at=gone.until)
    folders.apply_group(tmp_path / "data", folders.GroupPolicy("g"), None, at=gone.until - 1)
    assert (shared / gone.name).is_dir()  # still time: the hub's repair keeps it
    folders.apply_group(tmp_path / "data", folders.GroupPolicy("g"), None, at=gone.until)
    assert sorted(os.listdir(shared)) == [folders.POLICY_FILE, folders.REVIEW_NOTEBOOK]


def test_in_a_terminal_withdraw_asks_and_a_no_changes_nothing(lab: Learners) -> None:
    import pty
    import subprocess

    from jupyterhub.spawner import set_user_setuid

    make_file(lab, "ana", "asked.md", "ask me first")
    piece = share(lab, "ana", "asked.md", title="Ask me first")
    for answer, code in (("no", 1), ("yes", 0)):
        main, terminal = pty.openpty()
        try:
            os.write(main, f"{answer}\n".encode())
            done = subprocess.run(
                [str(Path(sys.executable).parent / "clhub"), "withdraw", piece],
                stdin=terminal,
                capture_output=True,
                text=True,
                env=lab.env("ana"),
                preexec_fn=set_user_setuid(lab.name("ana")),
                timeout=60,
            )
        finally:
            os.close(main)
            os.close(terminal)
        assert done.returncode == code, done.stderr
        assert "Type yes to take it back" in done.stdout
        assert (folder(lab) / piece).is_dir() == (answer == "no")
    assert "--undo" in done.stdout
