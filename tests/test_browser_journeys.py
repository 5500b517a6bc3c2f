"""Browser: every journey of the real demo, end to end, in both of its modes.

`clhub demo` runs exactly as a newcomer runs it: as root (real system users, the SystemHost)
and as an ordinary user (`nobody`, the demo host: every account is that one system user).
In each mode, in Debian's Chromium, in this order:

- learner: ana logs in at 1366x900, ticks her interests, lands in JupyterLab, runs Beat Lab
  from top to bottom, drag-paints her pet purple in Pixel Pets, shares it with her group;
  ben gives feedback (and reports it to the teacher), ana reads the feedback and proposes
  the pet for the showcase, logs out, presses Back; cai logs in on that same browser (and reads
  Spanish: he gets Start Here's Spanish edition) and
  lands in his own space;
- teacher: tess lands on her classroom, imports a class list with display names, changes a
  display name, prints the slips, assigns a workbook, ben hands it in, she collects,
  autogrades and releases feedback, sees real counts on the progress page, opens the
  reported piece from moderation, records the family's consent and approves ana's pet
  (family page in Spanish);
- family: on a 390x844 phone with no account, the static page wholly in Spanish, the card,
  the live page showing ana's own purple pet with no learner controls;
- teacher: takes the piece down; its family link then shows "not here";
- admin: logs in, sees the demo's users on the admin page and adds one.

axe-core checks every page a learner (the hub's pages), the teacher or the family sees.
Screenshots and axe reports go to tests/artifacts/<mode>/. One demo per mode for the whole
module; the demos of this file and of test_demo.py take turns (`one_demo_at_a_time`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import pwd
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

import lab
from axe import assert_accessible
from conftest import free_port, one_demo_at_a_time
from connected_learning.hub import launch
from connected_learning.showcase.messages import MESSAGES
from hubclient import HubAPI, HubSession
from realhub import ARTIFACTS, _remove_system_user
from test_demo import _processes_using, _start_demo, _token

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PASSWORD = "a-demo-password-1"
GROUP = "demo-class"
DEMO_USERS = ("ana", "ben", "cai", "tess", "milo", "admin")
KERNEL_WAIT = 120_000  # ms a kernel may take to answer on a busy machine
START_WAIT = 180_000  # ms a learner's first start may take (copying workbooks, a new system user)
LAPTOP = {"viewport": {"width": 1366, "height": 900}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
TITLE = "My purple cat"
ABOUT = "Purple is my favourite colour, so my cat is purple now."
FEEDBACK = "The purple stripe is so bright!"
REPORT = "Please check this one, it is very bright"
PAINT = "purple"
PAINTED = [(1, column) for column in range(1, 9)]  # row 1 of the starter cat is white: a stripe to drag
FACE = [(6, 3), (9, 8), (12, 5)]  # orange squares of the starter cat's face, all one patch


@dataclass
class Demo:
    mode: str  # "root" or "nobody"
    url: str
    port: int
    data_dir: Path
    shots: Path
    state: dict[str, Any] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def server_url(self, name: str) -> str:
        return f"http://{name}.localhost:{self.port}/user/{name}/"

    def shot(self, page: Page, name: str, full_page: bool = False) -> None:
        page.mouse.move(0, 0)
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=full_page)

    def axe(self, page: Page, name: str) -> None:
        with self.soft(f"axe on {name}"):
            assert_accessible(page, f"{self.mode}/{name}")

    @contextlib.contextmanager
    def soft(self, step: str) -> Iterator[None]:
        """A step the rest of the journey does not need: its failure is noted, the journey goes on,
        and the test fails at its end listing every such step (`done`)."""
        try:
            yield
        except (AssertionError, PlaywrightError) as e:
            self.failed.append(f"{step}: {str(e)[:1500]}")
            print(f"[{self.mode}] FAILED STEP {self.failed[-1]}")  # shown even if a later step stops the test

    def done(self) -> None:
        failed, self.failed = self.failed, []
        assert failed == [], "\n\n".join(failed)


@pytest.fixture(scope="module", params=["root", "nobody"])
def demo(request: pytest.FixtureRequest) -> Iterator[Demo]:
    """`clhub demo` as root (system users) or as `nobody` (the same-user demo host)."""
    mode = request.param
    if mode == "root" and os.geteuid() != 0:
        pytest.fail("the root demo needs root (make test runs as root)")
    with one_demo_at_a_time():
        data_dir = Path(tempfile.mkdtemp(prefix=f"clhub-journeys-{mode}-"))
        os.chmod(data_dir, 0o755)
        as_user = None
        if mode == "nobody" and os.geteuid() == 0:
            as_user = "nobody"
            shutil.chown(data_dir, as_user)
        existed = {u for u in DEMO_USERS if _system_user(u)}
        port = free_port()
        url = f"http://localhost:{port}"
        shots = ARTIFACTS / mode
        shots.mkdir(parents=True, exist_ok=True)
        proc = _start_demo(data_dir, port, PASSWORD, data_dir / "demo.log", as_user=as_user)
        try:
            launch.wait_for_hub(url, proc, timeout=90)
            yield Demo(mode, url, port, data_dir, shots)
        finally:
            proc.send_signal(signal.SIGINT)
            with contextlib.suppress(Exception):
                proc.wait(60)
            if proc.poll() is None:
                proc.kill()
            for pid in _processes_using(data_dir):  # a failed run must not leave a hub holding the ports
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                shutil.copy(data_dir / "demo.log", shots / "demo.log")
            if mode == "root":  # the system users the root demo made: ana, ben, ... and the imported lia
                for user in [*DEMO_USERS, "lia", "dana"]:
                    if user not in existed and _system_user(user):
                        _remove_system_user(user)
            shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _each_journey_counts_its_own_steps(demo: Demo) -> None:
    demo.failed.clear()


def _system_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# ------------------------------------------------------------------ steps shared by the journeys


def log_in(page: Page, demo: Demo, name: str, password: str = PASSWORD) -> None:
    """Log in through the hub's own form, as a person types it."""
    if "/hub/login" not in page.url:
        page.goto(f"{demo.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", password)
    page.click("#login_submit")
    page.wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)


def new_page(browser: Browser, **options: Any) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**options)
    context.set_default_timeout(60_000)
    return context, context.new_page()


def start_with_interests(
    page: Page, demo: Demo, name: str, interests: list[str], shot: str = "", language: str = ""
) -> None:
    """The interest form of a learner's first start: tick `interests` (and `language`), land in their JupyterLab."""
    page.wait_for_selector("fieldset.clhub-interests", timeout=60_000)
    if language:
        page.get_by_role("radio", name=language).check()
    for interest in interests:
        # Its name is the interest's title, then what it is about.
        page.get_by_role("checkbox", name=re.compile(rf"^{re.escape(interest)}\b")).check()
    if shot:
        demo.shot(page, shot, full_page=True)
        demo.axe(page, shot)
    page.click("button[type=submit]")
    page.wait_for_url(f"{demo.server_url(name)}lab**", timeout=START_WAIT)
    page.locator(".jp-LabShell").wait_for()


def open_notebook(page: Page, demo: Demo, name: str, path: str) -> Locator:
    """Open `path` alone in `name`'s JupyterLab and wait until its kernel is connected and idle."""
    return lab.open_notebook(page, f"{demo.server_url(name)}lab", path)


def run_notebook(page: Page, demo: Demo, name: str, path: str) -> Locator:
    return lab.run_notebook(page, f"{demo.server_url(name)}lab", path)


def output_with(panel: Locator, button: str | re.Pattern[str]) -> Locator:
    """The output of the cell whose widget has the button `button`, once the kernel made it."""
    area = panel.locator(".jp-OutputArea-output").filter(has=panel.page.get_by_role("button", name=button)).first
    area.wait_for(timeout=KERNEL_WAIT)
    return area


def last_cell_ran(page: Page, panel: Locator) -> tuple[bool, str]:
    """Wait until Run All reached the last cell, or stopped at an error; (ran, what stopped it)."""
    page.wait_for_function(
        """panel => {
            const cells = panel.querySelectorAll('.jp-Cell.jp-CodeCell');
            const last = cells[cells.length - 1];
            const prompt = last.querySelector('.jp-InputPrompt').textContent;
            const error = panel.querySelector('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
            return /\\[\\d+\\]/.test(prompt) || (error && error.textContent.includes('Error'));
        }""",
        arg=panel.element_handle(),
        timeout=KERNEL_WAIT * 2,
    )
    last = panel.locator(".jp-Cell.jp-CodeCell").last
    prompt = last.locator(".jp-InputPrompt").text_content() or ""
    errors = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    stopped = errors.first.text_content() if errors.count() else ""
    return bool(re.search(r"\[\d+\]", prompt)), (stopped or "")[:600]


def log_out_from_lab(page: Page, demo: Demo) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="File").click()
    page.locator(".lm-Menu-item:visible", has_text="Log Out").first.click()
    page.wait_for_url("**/hub/**", timeout=60_000)


# ------------------------------------------------------------------ the learner


def test_learner_journey(demo: Demo, browser: Browser) -> None:
    """ana: interests, Beat Lab to the end, drag-paint, share; ben's feedback; read; propose; log out; cai."""
    context, page = new_page(browser, **LAPTOP)
    try:
        page.goto(f"{demo.url}/hub/login")
        demo.shot(page, "learner-01-login")
        demo.axe(page, "learner-01-login")
        log_in(page, demo, "ana")
        start_with_interests(page, demo, "ana", ["Music", "Art and design"], shot="learner-02-interests")
        demo.shot(page, "learner-03-jupyterlab")
        with demo.soft("no staff menus for a learner in JupyterLab (Formgrader, Create Assignment)"):
            # nbgrader's menu keeps only her own Assignments list.
            items: list[str] = []
            menu = page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader")
            if menu.count():
                menu.first.click()
                items = page.locator(".lm-Menu:visible .lm-Menu-itemLabel").all_inner_texts()
                page.keyboard.press("Escape")
            staff = [i for i in items if re.search("formgrader|create assignment|course list", i, re.I)]
            assert staff == [], items
            expect(page.get_by_text(re.compile("create assignment", re.I))).to_have_count(0)

        # The hub's own page for her (Home): plain words, no staff menus.
        page.goto(f"{demo.url}/hub/home")
        demo.axe(page, "learner-04-hub-home")
        demo.shot(page, "learner-04-hub-home")
        with demo.soft("no staff menus for a learner on the hub's pages"):
            words = page.locator("body").inner_text()
            assert [w for w in ("Token", "Services", "Stop My Server", "server") if w in words] == [], words

        paint_and_share(demo, page)
        with demo.soft("Beat Lab: Run All reaches the last cell"):
            run_beat_lab(demo, page)
        ben_gives_feedback(demo, browser)
        ana_reads_and_proposes(demo, page)
        with demo.soft("log out, Back, the next learner in their own space"):
            log_out_back_next_learner(demo, page)
    finally:
        context.close()
    demo.done()


def log_out_back_next_learner(demo: Demo, page: Page) -> None:
    """ana logs out; Back brings the log-in page; cai logs in on that same page, lands in his space."""
    log_out_from_lab(page, demo)
    page.go_back()
    page.wait_for_selector("#username_input", timeout=60_000)
    assert "/user/ana" not in page.url and page.locator(".jp-LabShell").count() == 0, page.url
    demo.shot(page, "learner-20-back-after-logout")
    demo.axe(page, "learner-20-back-after-logout")
    log_in(page, demo, "cai")
    start_with_interests(page, demo, "cai", ["Games"], language="Español")  # cai reads Spanish
    assert page.url.startswith(demo.server_url("cai")), page.url
    listing = page.locator(".jp-DirListing-content")
    expect(listing.get_by_text("adventure-game", exact=True)).to_be_visible(timeout=60_000)
    expect(listing.get_by_text("pixel-pets", exact=True)).to_have_count(0)  # ana's, not his
    # Start Here in Spanish, the games in English (they have no Spanish edition yet).
    expect(listing.get_by_text("start-here-es", exact=True)).to_be_visible()
    expect(listing.get_by_text("start-here", exact=True)).to_have_count(0)
    demo.shot(page, "learner-21-next-learner")


def run_beat_lab(demo: Demo, page: Page) -> None:
    """Run All reaches Beat Lab's last cell: an unsolved puzzle says so, it does not raise."""
    panel = run_notebook(page, demo, "ana", "workbooks/beat-lab/beat-lab.ipynb")
    ran, stopped = last_cell_ran(page, panel)
    panel.locator(".jp-Cell.jp-CodeCell").last.scroll_into_view_if_needed()
    demo.shot(page, "learner-05-beat-lab-end")
    assert ran and not stopped, f"Run All stopped before Beat Lab's last cell: {stopped}"
    expect(panel.locator(".jp-Cell.jp-CodeCell").last.locator(".jp-OutputArea-output").first).to_be_visible()


def paint_and_share(demo: Demo, page: Page) -> None:
    """Pixel Pets: drag a purple stripe over her pet, save it, share it with her group."""
    panel = run_notebook(page, demo, "ana", "workbooks/pixel-pets/pixel-pets.ipynb")
    canvas = panel.locator(".jp-Cell").filter(has=page.get_by_role("grid", name="Pixel art squares")).first
    canvas.wait_for(timeout=KERNEL_WAIT)
    squares = canvas.get_by_role("grid", name="Pixel art squares")
    canvas.get_by_role("button", name=re.compile(rf"^(✓ )?{PAINT}$")).click()
    expect(canvas.get_by_text(f"Painting with: {PAINT}")).to_be_visible(timeout=KERNEL_WAIT)

    def square(row: int, column: int) -> Locator:
        return squares.get_by_role("button", name=re.compile(rf"^Row {row}, column {column}: "))

    # One drag along the row, as a child paints: press on the first square, move, let go on the last.
    first, last = square(*PAINTED[0]), square(*PAINTED[-1])
    first.scroll_into_view_if_needed()
    start, end = first.bounding_box(), last.bounding_box()
    assert start and end
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=12)
    page.mouse.up()
    for row, column in PAINTED:
        expect(painted(squares, row, column)).to_be_visible(timeout=KERNEL_WAIT)
    with demo.soft("the fill tool recolours the orange face in one press"):
        canvas.get_by_role("button", name=re.compile(r"^(✓ )?Fill$")).click()
        square(*FACE[0]).click()
        for row, column in FACE:
            expect(painted(squares, row, column)).to_be_visible(timeout=KERNEL_WAIT)
        demo.state["filled"] = True
    file_name = canvas.get_by_role("textbox", name="File name:").input_value()
    canvas.get_by_role("button", name=re.compile("Save PNG")).click()
    expect(canvas.get_by_text(f"Saved {file_name}")).to_be_visible(timeout=KERNEL_WAIT)
    canvas.locator(".jp-OutputArea").evaluate("area => area.scrollIntoView({block: 'start'})")
    demo.shot(page, "learner-06-drag-painted")
    page.keyboard.press("Control+s")

    # The Share step, run again now that the pet is saved: it offers the files that exist.
    step = panel.locator(".jp-Cell").filter(has_text="ShareBox(").first
    step.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    share = output_with(panel, "Share with my group")
    # It offers her saved pet; what she has not saved is named, not a reason to fail.
    expect(share.get_by_role("checkbox", name="my_pet.png")).to_be_checked()
    share.get_by_role("textbox", name="Title").fill(TITLE)
    button = share.get_by_role("button", name="Share with my group")
    assert button.evaluate("b => b.scrollWidth <= b.clientWidth + 1"), "the Share button's label is cut off"
    button.click()
    expect(share.get_by_text(re.compile(rf"Shared '{TITLE}' with"))).to_be_visible(timeout=KERNEL_WAIT)
    expect(share.get_by_text("Problem")).to_have_count(0)
    share.evaluate("area => area.scrollIntoView({block: 'start'})")
    demo.shot(page, "learner-07-shared")


def painted(squares: Locator, row: int, column: int) -> Locator:
    """The square at (row, column), found only once it is purple."""
    return squares.get_by_role("button", name=f"Row {row}, column {column}: {PAINT}", exact=True)


def option_with(select: Locator, text: str) -> str:
    """The label of the drop-down's option holding `text` (ipywidgets writes its spaces as no-break spaces)."""
    labels = select.locator("option").all_text_contents()
    found = [label for label in labels if text in label.replace("\xa0", " ")]
    assert found, f"no option with {text!r} in {labels}"
    return found[0]


def ben_gives_feedback(demo: Demo, browser: Browser) -> None:
    """ben, at another computer: his first start, the group's REVIEW notebook, feedback and a report."""
    context, page = new_page(browser, **LAPTOP)
    try:
        page.goto(f"{demo.url}/hub/login")
        log_in(page, demo, "ben")
        start_with_interests(page, demo, "ben", ["Art and design"])
        panel = run_notebook(page, demo, "ben", f"peer-review/REVIEW-{GROUP}.ipynb")  # his own copy
        review = output_with(panel, "Send feedback")
        piece = review.get_by_role("combobox", name="Piece")
        expect(piece).to_contain_text(TITLE, timeout=KERNEL_WAIT)
        piece.select_option(label=option_with(piece, TITLE))
        expect(review.get_by_role("img").first).to_be_visible(timeout=KERNEL_WAIT)
        review.get_by_role("textbox", name="What works").fill(FEEDBACK)
        review.get_by_role("combobox", name="Reaction").select_option(label="Love it")
        review.get_by_role("button", name="Send feedback").click()
        expect(review.get_by_text("Thank you!")).to_be_visible(timeout=KERNEL_WAIT)
        # He also asks the teacher to look at it: the moderation journey opens this report.
        review.get_by_role("textbox", name="What is wrong?").fill(REPORT)
        review.get_by_role("button", name="Report to my teacher").click()
        expect(review.get_by_text(re.compile("teacher", re.I)).last).to_be_visible(timeout=KERNEL_WAIT)
        demo.shot(page, "learner-08-ben-gives-feedback")
    finally:
        context.close()


def ana_reads_and_proposes(demo: Demo, page: Page) -> None:
    panel = run_notebook(page, demo, "ana", "peer-review/MY-FEEDBACK.ipynb")
    inbox = output_with(panel, "Refresh")
    expect(inbox.get_by_text(FEEDBACK, exact=True)).to_be_visible(timeout=KERNEL_WAIT)
    demo.shot(page, "learner-09-ana-reads-feedback")

    panel = run_notebook(page, demo, "ana", "peer-review/MY-SHOWCASE.ipynb")
    box = output_with(panel, "Propose")
    mine = box.get_by_role("combobox", name="My piece")
    mine.select_option(label=option_with(mine, TITLE))
    box.get_by_role("textbox", name="Title").fill(TITLE)
    box.get_by_role("textbox", name="About it").fill(ABOUT)
    box.get_by_role("button", name="Propose").click()
    expect(box.get_by_text(re.compile("Your teacher will look at it soon"))).to_be_visible(timeout=KERNEL_WAIT)
    demo.shot(page, "learner-10-ana-proposes")
    demo.state["proposed"] = True


# ------------------------------------------------------------------ the teacher


def classroom(demo: Demo, path: str = "") -> str:
    return f"{demo.url}/services/classroom/{path}"


def test_teacher_journey(demo: Demo, browser: Browser, tmp_path: Path) -> None:
    """tess: her classroom, import with display names, rename, slips, assign to autograde, progress,
    the reported piece, consent and approval (a Spanish family page)."""
    context, page = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{demo.url}/hub/login")
        log_in(page, demo, "tess")
        with demo.soft("a teacher lands on her classroom after logging in"):
            page.wait_for_url(classroom(demo) + "**", timeout=60_000)
        page.goto(classroom(demo))
        expect(page.get_by_role("heading", name=f"Group {GROUP}")).to_be_visible(timeout=60_000)
        demo.shot(page, "teacher-01-classroom", full_page=True)
        demo.axe(page, "teacher-01-classroom")

        # A class list with display names.
        listing = tmp_path / "class.csv"
        listing.write_text(f"username,display_name,group,role,password\nlia,Lia P.,{GROUP},student,\n")
        page.get_by_role("link", name="Import a class list").click()
        demo.axe(page, "teacher-02-import")
        page.get_by_label("Class list (CSV)").set_input_files(str(listing))
        page.get_by_role("button", name="Create the accounts and print the slips").click(no_wait_after=True)
        expect(page.get_by_text("lia", exact=True).first).to_be_visible(timeout=180_000)
        expect(page.get_by_text("Lia P.").first).to_be_visible()
        demo.shot(page, "teacher-03-slips", full_page=True)
        demo.axe(page, "teacher-03-slips")
        page.emulate_media(media="print")
        page.pdf(path=str(demo.shots / "teacher-03-slips.pdf"), format="A4")
        page.emulate_media(media="screen")
        assert (demo.shots / "teacher-03-slips.pdf").read_bytes()[:4] == b"%PDF"

        with demo.soft("change a display name on the classroom page"):
            change_a_display_name(demo, page)
        with demo.soft("assign, hand in, collect, autograde, release feedback"):
            assign_collect_grade(demo, page)
        with demo.soft("progress with real counts"):
            progress_with_real_counts(demo, page)
        with demo.soft("moderation opens the reported piece"):
            moderation_opens_the_reported_piece(demo, page)
        approve_in_spanish(demo, page)
    finally:
        context.close()
    demo.done()


def change_a_display_name(demo: Demo, page: Page) -> None:
    """A display name (a pseudonym) changed after the import, on the classroom page."""
    page.goto(classroom(demo))
    row = page.locator(f"#group-{GROUP} tr").filter(has=page.get_by_role("cell", name="lia", exact=True))
    row.get_by_role("textbox").fill("Lia the Bold")
    row.get_by_role("button", name=re.compile("name", re.I)).click()
    page.wait_for_load_state()
    page.goto(classroom(demo))
    assert "Lia the Bold" in page.content(), "the new display name did not stay"
    demo.shot(page, "teacher-04-renamed", full_page=True)


def assign_collect_grade(demo: Demo, page: Page) -> None:
    """Assign a workbook, ben hands it in from his JupyterLab, collect, autograde, release feedback."""
    page.goto(classroom(demo, f"groups/{GROUP}/assignments"))
    demo.axe(page, "teacher-05-assignments")
    page.get_by_label("Workbook").select_option("recipe-scaler")
    page.get_by_label("Due (optional)").fill("2030-06-01T17:00")
    page.get_by_role("button", name="Assign").click(no_wait_after=True)  # nbgrader takes its time
    expect(page.get_by_role("status")).to_contain_text("is assigned", timeout=180_000)
    section = page.locator("#assignment-recipe-scaler")
    expect(section).to_contain_text(re.compile(r"Due: .*2030"))
    demo.shot(page, "teacher-05-assigned", full_page=True)

    # ben starts again (the assignment arrives at a start) and hands it in through JupyterLab's
    # Assignments list (nbgrader's submit).
    ben = HubSession(demo.url)
    assert ben.login("ben", PASSWORD).status_code == 302
    api = HubAPI(demo.url, _token(demo.url, ben, "ben"))
    api.delete("/users/ben/server", timeout=120)
    api.wait_for_server("ben", ready=False, timeout=120)
    assert ben.spawn_with_form(["art"]).status_code == 302
    ben.wait_ready("ben", timeout=180)
    xsrf = next(c.value for c in ben.http.cookies if c.name == "_xsrf" and c.path.rstrip("/") == "/user/ben")
    r = ben.http.post(
        f"{demo.server_url('ben')}assignments/submit",
        data={"course_id": GROUP, "assignment_id": "recipe-scaler"},
        headers={"X-XSRFToken": xsrf or ""},
        timeout=300,
    )
    assert r.status_code == 200 and r.json().get("success", True) is not False, r.text
    page.reload()
    expect(section.locator("tr", has_text="ben")).to_contain_text("Handed in", timeout=60_000)

    for label, said in (("1. Collect", "collected 1"), ("2. Autograde", "marked 1")):
        section.get_by_role("button", name=label).click(no_wait_after=True)
        expect(page.locator("#assignment-recipe-scaler")).to_contain_text(said, timeout=180_000)
    expect(page.locator("#assignment-recipe-scaler tr", has_text="ben")).to_contain_text("Marked", timeout=60_000)
    page.locator("#assignment-recipe-scaler").get_by_role("button", name="3. Release feedback").click(
        no_wait_after=True
    )
    expect(page.get_by_role("status")).to_contain_text(
        re.compile("Feedback on recipe-scaler released to 1"), timeout=180_000
    )
    demo.shot(page, "teacher-06-collected-graded-feedback", full_page=True)
    demo.axe(page, "teacher-06-assignments-done")


def progress_with_real_counts(demo: Demo, page: Page) -> None:
    page.goto(classroom(demo, f"groups/{GROUP}/progress"))
    table = page.locator("table#progress")
    expect(table.get_by_role("link", name="ana")).to_be_visible(timeout=60_000)
    demo.shot(page, "teacher-07-progress", full_page=True)
    demo.axe(page, "teacher-07-progress")
    text = page.context.request.get(classroom(demo, f"groups/{GROUP}/progress.csv")).text()
    rows = {row["User name"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows["ana"]["Pieces shared"] == "1" and rows["ana"]["Feedback received"] == "1", rows["ana"]
    assert rows["ben"]["Feedback given"] == "1" and rows["ben"]["Pieces shared"] == "0", rows["ben"]
    # The page itself shows the same, not "0 pieces / 0 feedback".
    ana_row = table.locator("tr").filter(has=page.get_by_role("link", name="ana", exact=True))
    assert re.search(r"\b1\b", ana_row.inner_text()), ana_row.inner_text()


def moderation_opens_the_reported_piece(demo: Demo, page: Page) -> None:
    page.goto(classroom(demo, f"groups/{GROUP}/moderation"))
    expect(page.get_by_role("heading", name=re.compile("Reports waiting for you \\(1\\)"))).to_be_visible()
    demo.shot(page, "teacher-08-moderation", full_page=True)
    demo.axe(page, "teacher-08-moderation")
    page.get_by_role("link", name=re.compile("Open the reported piece")).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE, timeout=60_000)
    expect(page.get_by_text(REPORT)).to_be_visible()
    expect(page.get_by_text(FEEDBACK)).to_be_visible()
    # The piece itself is shown, read-only: ana's painted pet, as a picture.
    files = page.frame_locator("iframe[title^='The files of']")
    expect(files.get_by_role("img").first).to_be_visible(timeout=60_000)
    demo.shot(page, "teacher-09-reported-piece", full_page=True)
    demo.axe(page, "teacher-09-reported-piece")


def approve_in_spanish(demo: Demo, page: Page) -> None:
    page.goto(classroom(demo))
    proposal = page.locator(f"#group-{GROUP} tr").filter(has_text=TITLE).first
    expect(proposal).to_be_visible()
    if proposal.get_by_role("button", name="The family agreed").count():
        proposal.get_by_role("button", name="The family agreed").click()
        page.wait_for_load_state()
        proposal = page.locator(f"#group-{GROUP} tr").filter(has_text=TITLE).first
    proposal.get_by_label("Language of the family page").select_option("es")
    proposal.get_by_role("button", name="Approve and publish").click()
    page.wait_for_load_state()
    page.goto(classroom(demo, f"groups/{GROUP}/showcase"))
    row = page.locator("tr").filter(has_text=TITLE).first
    link = row.get_by_role("link", name=re.compile("family link"))
    expect(link).to_be_visible(timeout=60_000)
    demo.state["family_link"] = link.get_attribute("href")
    demo.shot(page, "teacher-10-approved", full_page=True)
    demo.axe(page, "teacher-10-showcase")


# ------------------------------------------------------------------ the family


ENGLISH = [
    text.split("{")[0].strip()
    for key, text in MESSAGES["en"].items()
    if text.split("{")[0].strip() and text != MESSAGES["es"].get(key)
] + ["See what I made", "Share with", "Run the cell", "click a grey cell", "Shift+Enter", "Save PNG"]


def test_family_journey(demo: Demo, browser: Browser) -> None:
    """A parent's phone, no account: the Spanish page, the card, the live page with ana's own pet."""
    link = demo.state.get("family_link")
    assert link, "no family link: the teacher journey did not publish ana's pet"
    context, page = new_page(browser, **PHONE)
    try:
        with demo.soft("the family page, wholly in Spanish, the learner's words first, on a phone"):
            response = page.goto(demo.url + link)
            assert response is not None and response.status == 200
            demo.shot(page, "family-01-page-es", full_page=True)
            assert page.locator("html").get_attribute("lang") == "es"
            words = page.locator("body").inner_text()
            assert [e for e in ENGLISH if e in words] == [], "English on the Spanish page"
            # The learner's own words first: title and description before anything of the workbook.
            expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
            assert ABOUT in words and words.index(ABOUT) < len(words) // 2, "her description is not near the top"
            height = page.evaluate("document.documentElement.scrollHeight")
            assert height < 4 * 844, f"the family page is {height} px tall on a phone"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390

        with demo.soft("the card: Spanish, title, display name, a picture"):
            response = page.goto(demo.url + link + "/card")
            assert response is not None and response.status == 200
            demo.shot(page, "family-02-card", full_page=True)
            words = page.locator("body").inner_text()
            assert TITLE in words and [e for e in ENGLISH if e in words] == [], words
            name = ana_display_name(demo)
            assert name and name in words, (name, words)
            expect(page.locator("img").first).to_be_visible()  # a picture of the creation

        with demo.soft("the live page: ana's own pet, no learner controls, fits the phone"):
            page.goto(demo.url + link)
            page.get_by_role("link", name=MESSAGES["es"]["play"]).click()
            squares = page.get_by_role("grid", name=re.compile("Pixel")).first
            expect(squares).to_be_visible(timeout=KERNEL_WAIT)
            demo.shot(page, "family-03-live", full_page=True)
            mine = PAINTED + (FACE if demo.state.get("filled") else [])
            for row, column in mine:  # her purple stripe and face, not the starter cat
                expect(painted(squares, row, column)).to_be_visible(timeout=KERNEL_WAIT)
            for control in ("Share with my group", "Save PNG", "Log Out", "Problem"):  # none shown to the family
                expect(page.get_by_text(control).filter(visible=True)).to_have_count(0)
            expect(page).to_have_title(re.compile(re.escape(TITLE)))
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, "the live page scrolls sideways"
            demo.axe(page, "family-03-live")
    finally:
        context.close()
    # The static pages forbid every script, axe's too: measured in a context that bypasses the CSP.
    context, page = new_page(browser, **PHONE, bypass_csp=True)
    try:
        for name, path in (("family-01-page-es", link), ("family-02-card", link + "/card")):
            page.goto(demo.url + path)
            demo.axe(page, name)
    finally:
        context.close()
    demo.done()


def ana_display_name(demo: Demo) -> str:
    """The name the demo gave ana, as her group's members file holds it ("" if none)."""
    members = json.loads((demo.data_dir / "groups" / GROUP / "members.json").read_text())
    return str(members.get("names", {}).get("ana", ""))


# ------------------------------------------------------------------ take down, admin


def test_teacher_takes_the_piece_down(demo: Demo, browser: Browser) -> None:
    link = demo.state.get("family_link")
    assert link, "no family link: the teacher journey did not publish ana's pet"
    context, page = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{demo.url}/hub/login")
        log_in(page, demo, "tess")
        page.goto(classroom(demo, f"groups/{GROUP}/showcase"))
        page.locator("tr").filter(has_text=TITLE).get_by_role("link", name=re.compile("Take down")).click()
        demo.axe(page, "teacher-11-take-down")
        page.get_by_label(re.compile("A note to")).fill("Let us show it again after the art fair.")
        page.get_by_role("button", name="Yes, take it down").click()
        expect(page.get_by_role("status")).to_contain_text("taken down", timeout=60_000)
        demo.shot(page, "teacher-11-taken-down", full_page=True)
    finally:
        context.close()
    assert requests.get(demo.url + link, timeout=60).status_code == 404


def test_admin_journey(demo: Demo, browser: Browser) -> None:
    context, page = new_page(browser, viewport={"width": 1280, "height": 900})
    try:
        page.goto(f"{demo.url}/hub/login")
        log_in(page, demo, "admin")
        page.goto(f"{demo.url}/hub/admin")
        for name in ("ana", "ben", "tess"):
            expect(page.get_by_text(name, exact=True).first).to_be_visible(timeout=60_000)
        demo.shot(page, "admin-01-users", full_page=True)
        page.get_by_role("button", name="Add Users").first.click()
        page.locator("textarea").fill("dana")
        page.get_by_role("button", name="Add Users").last.click()
        expect(page.get_by_text("dana", exact=True).first).to_be_visible(timeout=60_000)
        demo.shot(page, "admin-02-added", full_page=True)
    finally:
        context.close()
