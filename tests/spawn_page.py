"""The hub's spawn-pending page in the browser tests: held open, and what it told the learner.

The page lists the spawner's progress messages as they come ("Getting your space ready",
"Copying your workbooks", ...) and moves on to JupyterLab at the "ready" event. The tests
hold that event back (it is delivered with its ready flag off, as "All set.") so the page stays to be
looked at. A server forked from the start-up template can be ready before the page asks
for progress; JupyterHub then sends the "ready" event alone, and the steps were never the
page's to show (or the hub sends the learner straight on to JupyterLab): `steps_shown` then
reads them from the hub's log, where the spawner wrote them, and says which way it went.
"""

from __future__ import annotations

import json
from typing import Any

from playwright.sync_api import Page

WAIT_MS = 120_000
HELD = "All set."  # what the held "ready" event says on the page (its own words name the server's address)


def hold_progress(page: Page, name: str) -> dict[str, str]:
    """Hold back `name`'s "ready" progress event (sent as not ready); the stream as the hub sent it, in ["all"]."""
    held: dict[str, str] = {}

    def progress_route(route: Any) -> None:
        response = route.fetch(timeout=WAIT_MS)
        events = [e for e in response.text().split("\n\n") if e.strip()]
        held["all"] = "\n\n".join(events)
        kept = []
        for event in events:
            data = json.loads(event.split("data:", 1)[1])
            if data.get("ready"):  # shown as a plain last line, and the page stays
                data.update(ready=False, message=HELD, html_message=HELD)
            kept.append("data: " + json.dumps(data))
        route.fulfill(status=200, headers=dict(response.headers), body="\n\n".join(kept) + "\n\n")

    page.route(f"**/hub/api/users/{name}/server/progress*", progress_route)
    return held


def steps_shown(page: Page, hub_log: Any, name: str) -> tuple[str, bool]:
    """Wait until the held page has had every event; the spawner's steps, and whether the page showed them.

    `hub_log`: a callable giving the hub's log (RunningHub.log).
    """
    page.wait_for_function(
        f"() => location.pathname.includes('/lab') || "
        f"(document.querySelector('#progress-log') || {{}}).textContent?.includes({json.dumps(HELD)})",
        timeout=WAIT_MS,
    )
    if "/lab" in page.url:  # ready before the pending page was even shown: the hub sent the learner on
        return _from_log(hub_log, name), False
    shown = page.text_content("#progress-log") or ""  # the log may be folded away: its text all the same
    if "Your workbooks are ready" in shown:
        return shown, True
    return _from_log(hub_log, name), False  # ready before the page asked for progress


def _from_log(hub_log: Any, name: str) -> str:
    """The spawner's progress steps for `name`, as it wrote them in the hub's log."""
    return "\n".join(line for line in hub_log().splitlines() if f" {name}: " in line)
