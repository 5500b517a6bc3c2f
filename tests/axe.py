"""axe-core in a real page: `assert_accessible(page, name)` fails on any serious or critical violation.

axe-core comes from node_modules (`make proxy` installs it from package-lock.json). The report is
written to tests/artifacts/axe-<name>.json (a name may hold a folder: "root/learner-login").

A page whose CSP forbids scripts (the showcase's static pages: CSP sandbox, default-src 'none')
refuses axe too: open it in a context made with `bypass_csp=True`. That context only measures;
security checks never use one except to show what the CSP stops.
"""

from __future__ import annotations

import json
from typing import Any

from realhub import ARTIFACTS, REPO

AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def serious_violations(report: dict[str, Any]) -> list[tuple[str, str, str, list[Any]]]:
    """(rule, impact, help, the first targets) of every serious or critical violation."""
    return [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:8])
        for v in report["violations"]
        if v["impact"] in SERIOUS
    ]


def run_axe(page: Any, name: str) -> dict[str, Any]:
    """Inject axe-core into `page`, run it on the whole document, keep the report as an artifact."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        raise AssertionError(
            f"axe-core could not run on {page.url}: its CSP forbids scripts; open it in a context with bypass_csp=True"
        )
    report: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    out = ARTIFACTS / f"axe-{name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    return report


def assert_accessible(page: Any, name: str) -> None:
    """Fail listing each serious or critical axe-core violation of `page`, with its nodes' targets."""
    serious = serious_violations(run_axe(page, name))
    assert serious == [], f"axe-core on {name} ({page.url}):\n" + "\n".join(map(repr, serious))
