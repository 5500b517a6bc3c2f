"""The `clhub` command: check the catalog and settings, make accounts, run the hub.

    clhub demo                    demo accounts + the hub on http://127.0.0.1:8000
    clhub up [--site FILE]        a real site from its settings file
    clhub catalog check [DIR]     validate every workbook and print the catalog's table (--no-execute:
                                  without running them; DIR a workbook's folder: that one alone)
    clhub settings check [FILE]   validate a site settings file
    clhub settings reference      the settings reference (Markdown)
    clhub user add NAME ...       create or update an account (hub stopped)
    clhub roster import FILE      a class list into the running hub (CLHUB_TOKEN: an admin's token)
    clhub usage                   each active learner's memory, CPU time and processes (their cgroups)
    clhub backup FILE             an archive of the site, also while it runs (hub/backup.py)
    clhub restore FILE            bring it back (--data-dir DIR: an empty folder; --force)
    clhub db migrate --to URL     move the site's SQLite hub database into an empty PostgreSQL one (hub stopped)
    clhub fence check             build the fence around learners' code here and run a tiny program in it
    clhub kubernetes pod --user NAME --group G ...
                                  a learner's pod as JSON, offline, to review before a cluster runs it
    clhub share|withdraw|pieces|feedback|remix|report ...
                                  peer review, from a learner's terminal (see peer_review/cli.py)

Errors print a message that names the bad value and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.request
from pathlib import Path

from .accounts import store as accounts
from .accounts.roster import generate_password
from .catalog.load import CatalogError, scan_catalog
from .errors import ClhubError
from .hub import launch
from .hub.config import check_site
from .paths import DataLayout
from .settings import DEFAULT_DEMO, DEFAULT_SITE, env_overrides, load_settings, settings_reference, settings_warnings


def cmd_catalog_check(args: argparse.Namespace) -> int:
    # Imported here: nbclient and textstat are needed by this command only, not by `clhub up`.
    import dataclasses

    from .catalog.check import NOTEBOOK_TIMEOUT, inspect_catalog
    from .catalog.table import check_targets, format_table

    root = Path(args.catalog or load_settings(DEFAULT_SITE).catalog_dir)
    # A workbook's folder checks that workbook alone, in its catalog, without the catalog-wide
    # figures, and whatever is half-done in other workbooks does not stand in its way.
    single = root.resolve() if (root / "workbook.toml").is_file() else None
    if single is not None:
        root = single.parent.parent
    catalog, problems = scan_catalog(root)
    if single is not None:
        problems = [p for p in problems if p.startswith((f"{single}{os.sep}", f"{root / 'interests.toml'}:"))]
        chosen = {k: w for k, w in catalog.workbooks.items() if w.folder == single}
        if not chosen and not problems:
            problems = [f"{single}: is not a workbook of the catalog at {root}."]
        catalog = dataclasses.replace(catalog, workbooks=chosen)
    # The deep checks read what workbook.toml names, so they wait until it is sound.
    if not problems:
        if not args.no_execute:
            count = sum(len(w.notebooks) for w in catalog.workbooks.values())
            print(
                f"Running {count} notebooks headless (at most {NOTEBOOK_TIMEOUT} s each; --no-execute skips this)...",
                flush=True,
            )
        found = inspect_catalog(catalog, execute=not args.no_execute)
        problems = found.problems + (check_targets(catalog) if single is None else [])
        print(format_table(catalog, None if args.no_execute else found.made, found.readings))
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the catalog at {root}.", file=sys.stderr)
        return 1
    checked = single or f"the catalog at {root}"
    print(f"No problems: {checked} is fine" + (" (notebooks not run)." if args.no_execute else "."))
    return 0


def cmd_settings_check(args: argparse.Namespace) -> int:
    settings = load_settings(args.file or os.environ.get("CLHUB_SITE") or DEFAULT_SITE)
    check_site(settings)
    warnings = settings_warnings(settings)
    for warning in warnings:
        print(f"clhub: warning: {warning}", file=sys.stderr)
    print(f"{settings.source} is fine" + (f", with {len(warnings)} warning(s)." if warnings else "."))
    return 0


def cmd_settings_reference(args: argparse.Namespace) -> int:
    print(settings_reference(), end="")
    return 0


def _hub_running(url: str) -> bool:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/hub/api/", timeout=2):
            return True
    except OSError:
        return False


def cmd_user_add(args: argparse.Namespace) -> int:
    settings = load_settings(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE, env_overrides())
    if _hub_running(f"http://127.0.0.1:{settings.port}"):
        raise ClhubError("The hub is running; stop it first, or add accounts through the classroom service.")
    password = args.password or generate_password(settings.min_password_length)
    account = accounts.validate_account(args.name, args.role, args.group or [], password, settings.min_password_length)
    accounts.create_accounts(DataLayout(settings.data_dir), settings.database_url, [account])
    print(f"Account {account.name} ({account.role}) is ready." + ("" if args.password else f" Password: {password}"))
    return 0


def cmd_db_migrate(args: argparse.Namespace) -> int:
    """Copy the stopped site's SQLite hub database into an empty PostgreSQL database."""
    from .hub import database

    settings = load_settings(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE, env_overrides())
    if _hub_running(f"http://127.0.0.1:{settings.port}"):
        raise ClhubError("The hub is running; stop it first, so that nothing changes while its database is copied.")
    source = settings.database_url
    if not database.is_sqlite(source) and os.environ.get("CLHUB_DB_URL"):
        raise ClhubError(
            f"CLHUB_DB_URL names {database.describe(source)} as the site's database: unset it, so that the "
            "site's SQLite database is the one copied."
        )
    print(f"Copying {database.describe(source)} into {database.describe(args.to)}...", flush=True)
    copied = database.migrate(source, args.to, progress=lambda line: print(line, flush=True))
    width = max(len(c.table) for c in copied)
    print(f"{'table':<{width}} {'rows before':>11} {'rows now':>9}")
    for c in copied:
        print(f"{c.table:<{width}} {c.source_rows:>11} {c.target_rows:>9}")
    print(
        f"Every table arrived whole. Now set db_url = {json.dumps(database.without_password(args.to))} in [site] of "
        f"{settings.source} (the password in ~/.pgpass or PGPASSWORD of the user who runs the hub, not in "
        f"the file), then start the site with clhub up. {database.describe(source)} is left as it was."
    )
    return 0


def cmd_roster_import(args: argparse.Namespace) -> int:
    """Import a class list through the running hub's classroom service, with an admin's token."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    settings = load_settings(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE, env_overrides())
    base = f"http://127.0.0.1:{settings.port}"
    if not _hub_running(base):
        raise ClhubError(f"The hub does not answer at {base}; start it (clhub up), then import again.")
    token = os.environ.get("CLHUB_TOKEN", "")
    if not token:
        raise ClhubError(
            "Set CLHUB_TOKEN to an API token of an administrator or teacher "
            f"(make one at {settings.url}/hub/token), then import again."
        )
    data = Path(args.file).read_bytes()
    headers = {"Authorization": f"token {token}", "Content-Type": "text/csv"}
    if settings.subdomain_host:
        # With per-user subdomains the proxy routes by host name: services answer on the site's.
        headers["Host"] = urllib.parse.urlsplit(settings.url).netloc
    request = urllib.request.Request(f"{base}/services/classroom/api/roster", data=data, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            reply = json.loads(response.read())
    except urllib.error.HTTPError as e:
        try:
            body = json.loads(e.read())
        except ValueError:
            body = {}
        for problem in body.get("problems", []):
            print(f"{args.file}: line {problem['line']}: {problem['reason']}", file=sys.stderr)
        raise ClhubError(body.get("message") or f"The classroom service refused the import ({e.code}).") from None
    from .accounts.slips import render_slips

    slips = [(s["display_name"], s["username"], s["password"]) for s in reply["slips"]]
    out = Path(args.slips or f"login-slips-{time.strftime('%Y%m%d-%H%M%S')}.html")
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # passwords: for your eyes only
    with os.fdopen(fd, "w") as f:
        f.write(render_slips(slips, settings.url, site_name=settings.name))
    print(
        f"{len(reply['created'])} new account(s), {len(reply['joined'])} group membership(s). "
        f"Login slips with the passwords: {out}"
    )
    return 0


def cmd_usage(args: argparse.Namespace) -> int:
    """Each learner with a running server: what their control group uses now."""
    from .host import cgroups

    layout = cgroups.read_machine()
    if layout.kind == "none":
        raise ClhubError("This machine has no control groups, so learners' use is not measured.")
    found = cgroups.find_groups(layout)
    if not found:
        print(f"No learner has a running server ({layout.describe()}).")
        return 0
    print(f"{'learner':<24} {'memory MB':>10} {'limit MB':>9} {'CPU s':>9} {'processes':>9} {'stopped (memory)':>16}")
    for user, folders in sorted(found.items()):
        u = cgroups.usage(user, folders)
        limit = f"{u.memory_limit_bytes / 2**20:.0f}" if u.memory_limit_bytes else "-"
        print(
            f"{user:<24} {u.memory_bytes / 2**20:>10.1f} {limit:>9} {u.cpu_seconds:>9.1f} {u.processes:>9} "
            f"{u.oom_kills:>16}"
        )
    return 0


def _run_hub(site_file: Path, mode: str) -> int:
    """Run the hub in the foreground until it exits or Ctrl-C / SIGTERM stops it."""
    settings = load_settings(site_file, env_overrides())
    proc = launch.start_hub(site_file, mode, cwd=settings.data_dir, new_session=True)
    asked: list[int] = []

    def ask_to_stop(signum: int, frame: object) -> None:
        # Only note it: the main loop does the waiting (Popen.wait is not re-entrant).
        asked.append(signum)

    signal.signal(signal.SIGINT, ask_to_stop)
    signal.signal(signal.SIGTERM, ask_to_stop)
    while proc.poll() is None and not asked:
        time.sleep(0.2)
    if asked:
        print("\nStopping the hub and everything it started...", file=sys.stderr, flush=True)
    launch.stop_hub(proc, DataLayout(settings.data_dir).hub / "proxy.pid")
    if mode == "demo":  # the demo's servers end with it (cleanup_servers), and so does their start-up template
        from .hub import template

        template.stop(template.socket_path(settings.data_dir))
    return 0 if asked else (proc.returncode or 0)


def cmd_demo(args: argparse.Namespace) -> int:
    demo_file = Path(args.site or DEFAULT_DEMO).resolve()
    settings = load_settings(demo_file, env_overrides())
    given = os.environ.get("CLHUB_DEMO_PASSWORD", "")
    password = given or generate_password(settings.min_password_length)
    if _hub_running(settings.url):
        raise ClhubError(f"Something already answers at {settings.url}; stop it or set CLHUB_PORT.")
    accounts.create_accounts(
        DataLayout(settings.data_dir),
        settings.database_url,
        accounts.demo_accounts(password, settings.min_password_length),
    )
    print(
        f"Demo accounts: students ana, ben, cai (group {accounts.DEMO_GROUP}), teacher tess, mentor milo, admin admin."
    )
    if not given:
        print(f"Their password (shown only now): {password}")
    print(f"Open {settings.url} in a browser. Ctrl-C stops everything.", flush=True)
    return _run_hub(demo_file, "demo")


def cmd_fence_check(args: argparse.Namespace) -> int:
    from .assignments.grading_worker import GRADER_USER
    from .sandbox import check

    print(check(args.user or GRADER_USER))
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    site = Path(args.site or os.environ.get("CLHUB_SITE") or DEFAULT_SITE).resolve()
    cmd_settings_check(argparse.Namespace(file=site))
    return _run_hub(site, "site")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clhub", description="Connected Learning Hub.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="create the demo accounts and run the hub on 127.0.0.1")
    p.add_argument("--site", help="the demo's settings file (default: hub_config/demo.toml in this folder)")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("up", help="run a real site from its settings file")
    p.add_argument("--site", help="settings file (default: CLHUB_SITE or hub_config/site.toml in this folder)")
    p.set_defaults(func=cmd_up)

    catalog = sub.add_parser("catalog", help="the workbook catalog").add_subparsers(dest="what", required=True)
    p = catalog.add_parser(
        "check",
        help="validate every workbook (metadata, licences, reading grade, tagged parts, that each notebook runs "
        "and its exercises save files) and the catalog's figures; print the catalog's table",
    )
    p.add_argument(
        "catalog", nargs="?", help="catalog folder (default: the site's), or one workbook's folder to check it alone"
    )
    p.add_argument(
        "--no-execute",
        action="store_true",
        help="skip running the notebooks (fast: metadata, licences and reading grade only)",
    )
    p.set_defaults(func=cmd_catalog_check)

    settings = sub.add_parser("settings", help="the site settings file").add_subparsers(dest="what", required=True)
    p = settings.add_parser("check", help="validate a settings file")
    p.add_argument("file", nargs="?")
    p.set_defaults(func=cmd_settings_check)
    p = settings.add_parser("reference", help="print the settings reference")
    p.set_defaults(func=cmd_settings_reference)

    user = sub.add_parser("user", help="accounts").add_subparsers(dest="what", required=True)
    p = user.add_parser("add", help="create or update an account while the hub is stopped")
    p.add_argument("name")
    p.add_argument("--role", default="student", choices=accounts.ROLES)
    p.add_argument("--group", action="append", help="hub group (repeat for several)")
    p.add_argument("--password", help="default: a generated one, printed once")
    p.add_argument("--site", help="settings file")
    p.set_defaults(func=cmd_user_add)

    roster = sub.add_parser("roster", help="class lists").add_subparsers(dest="what", required=True)
    p = roster.add_parser("import", help="create the accounts of a class list (CSV) in the running hub")
    p.add_argument("file", help="CSV with the header username,display_name,group,role,password")
    p.add_argument("--slips", help="where to write the login slips (HTML; default login-slips-<time>.html)")
    p.add_argument("--site", help="settings file")
    p.set_defaults(func=cmd_roster_import)

    db = sub.add_parser("db", help="the hub's database").add_subparsers(dest="what", required=True)
    p = db.add_parser("migrate", help="copy the site's SQLite hub database into an empty PostgreSQL one (hub stopped)")
    p.add_argument("--to", required=True, help="the PostgreSQL database: postgresql://user@host:port/database")
    p.add_argument("--site", help="settings file (default: CLHUB_SITE or hub_config/site.toml)")
    p.set_defaults(func=cmd_db_migrate)

    p = sub.add_parser("usage", help="each active learner's memory, CPU time and processes (run as root)")
    p.set_defaults(func=cmd_usage)

    fence = sub.add_parser("fence", help="the fence around learners' code").add_subparsers(dest="what", required=True)
    p = fence.add_parser("check", help="build the fence as grading would here and run a tiny program in it")
    p.add_argument("--user", help="the user fenced code drops to when run as root (default clhub-grader)")
    p.set_defaults(func=cmd_fence_check)

    from .peer_review.cli import add_commands

    add_commands(sub)
    from .showcase.cli import add_commands as add_showcase_commands

    add_showcase_commands(sub)
    from .hub.backup import add_commands as add_backup_commands

    add_backup_commands(sub)
    from .hub.kube_cli import add_commands as add_kubernetes_commands

    add_kubernetes_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (ClhubError, CatalogError) as e:
        print(f"clhub: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"clhub: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
