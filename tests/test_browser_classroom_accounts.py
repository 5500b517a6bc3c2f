"""The teacher's account pages in Chromium: local times, confirmation pages, contrast (axe-core).

`local_time` is the classroom's one way to show a moment: UTC text in a `<time class="clh-local">`
that base.html's script rewrites in the viewer's time zone; the browser test opens the pages
in a context whose time zone is America/Chicago and reads what a teacher there sees.
"""

from __future__ import annotations

import datetime as dt

import pytest

from connected_learning.classroom.base import jinja_environment, local_time


@pytest.mark.parametrize(
    "value",
    [
        "2026-12-06T12:00:00Z",
        "2026-12-06T12:00:00.123+00:00",
        "2026-12-06T07:00:00-05:00",
        "2026-12-06T12:00:00",  # no offset: the package writes UTC
        dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC).timestamp(),
    ],
)
def test_local_time_marks_up_one_utc_moment_with_a_readable_fallback(value: object) -> None:
    assert str(local_time(value)) == (  # type: ignore[arg-type]
        '<time class="clh-local" datetime="2026-12-06T12:00:00Z">6 Dec 2026, 12:00 UTC</time>'
    )


def test_local_time_leaves_nothing_empty_and_escapes_what_it_cannot_read() -> None:
    assert str(local_time(None)) == "" and str(local_time("")) == ""
    assert str(local_time('<script>x</script>"')) == "&lt;script&gt;x&lt;/script&gt;&#34;"
    page = jinja_environment().from_string("{{ t | local_time }}").render(t="<b>soon</b>")
    assert page == "&lt;b&gt;soon&lt;/b&gt;"
