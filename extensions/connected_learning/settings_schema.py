"""What each key of the site settings file is, declared once.

A `Setting` (settings_types.py) holds a key's section, TOML type, default, help text and
check; `SETTINGS` lists them all, the log-in methods' (settings_login.py) included. From
them come the per-key checks (`Setting.problem`), the values `settings.SiteSettings` keeps
(`Setting.kept`), the environment overrides and the README's settings reference
(`settings_reference`, `clhub settings reference`). A new key is one more `Setting` plus its
`SiteSettings` field; a test holds the two together. `settings.py` reads the file and checks
what involves more than one key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .settings_login import LOGIN_SETTINGS
from .settings_types import (
    NUMBER,
    PORT,
    USERNAME_PATTERN,
    WEB_ADDRESS,
    Check,
    Setting,
    SettingsError,
    _rule,
    at_least,
    between,
    network_problem,
    one_of,
    user_name_problem,
    validate_username,
)

# What other modules import from here (the declarations' machinery lives in settings_types).
__all__ = [
    "NUMBER",
    "PORT",
    "USERNAME_PATTERN",
    "WEB_ADDRESS",
    "Check",
    "Setting",
    "SettingsError",
    "validate_username",
]

SPAWNERS = ("auto", "local", "demo", "kubernetes")
DB_SCHEMES = ("sqlite:///", "postgresql://", "postgresql+psycopg2://")
DISK_MB = (16, 1024 * 1024)  # a learner's disk: ext4 with a journal and a few notebooks, up to 1 TB


def _file_ending(suffix: str) -> str | None:
    if re.fullmatch(r"\.[a-z0-9]{1,10}", suffix):
        return None
    return f'{suffix!r} is not a file ending like ".png" (a dot, then lowercase letters or digits).'


# ------------------------------------------------------------------ the declarations

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "site", "name", str, "Connected Learning Hub", 'Name shown on every page. Example: "Riverside Library Lab".'
    ),
    Setting(
        "site",
        "public_url",
        str,
        "",
        'Address people type, e.g. "https://lab.riverside.org"; learners\' servers get subdomains of its host. '
        "Empty: http://<bind_ip>:<port>, with localhost for 127.0.0.1 (a real site with user_subdomains must set it).",
        check=WEB_ADDRESS,
        tidy=lambda url: url.rstrip("/"),
    ),
    Setting(
        "site", "bind_ip", str, "127.0.0.1", 'Address the proxy listens on. "0.0.0.0" for every network interface.'
    ),
    Setting(
        "site", "port", int, 8000, "Port the proxy listens on, 1-65535. Default 8000.", check=PORT, env="CLHUB_PORT"
    ),
    Setting(
        "site",
        "hub_port",
        int,
        8081,
        "Port of the hub itself on 127.0.0.1, used by servers and services. Default 8081.",
        check=PORT,
    ),
    Setting(
        "site", "proxy_api_port", int, 8001, "Port of the proxy's control API on 127.0.0.1. Default 8001.", check=PORT
    ),
    Setting(
        "site",
        "classroom_port",
        int,
        8082,
        "Port of the classroom service on 127.0.0.1 (teachers' pages, moderation); people reach it through the "
        "proxy at /services/classroom/. Default 8082.",
        check=PORT,
    ),
    Setting(
        "site",
        "showcase_port",
        int,
        8083,
        "Port of the showcase service on 127.0.0.1 (published pieces for families, no log-in); people reach it "
        "through the proxy at /services/showcase/. Default 8083.",
        check=PORT,
    ),
    Setting(
        "site",
        "showcase_live_port",
        int,
        8084,
        'Port of the live showcase ("Play with it", Voila) on 127.0.0.1; people reach it through the proxy at '
        "/services/showcase-live/. Default 8084.",
        check=PORT,
    ),
    Setting(
        "site",
        "data_dir",
        Path,
        "/var/lib/clhub",
        "Folder for the hub database, secrets, group folders and showcase. Relative paths count from this file.",
        env="CLHUB_DATA_DIR",
    ),
    Setting(
        "site",
        "admin_users",
        list,
        ["admin"],
        'Hub accounts with full admin rights. Example: ["admin", "it-desk"].',
        check=user_name_problem,
    ),
    Setting(
        "site",
        "user_subdomains",
        bool,
        True,
        "Give each learner's server its own address, <name>.<site host> (e.g. https://ana.hub.example.org/user/ana/), "
        "so that a page served by a learner's code cannot act with the log-in of whoever opens it. Needs a wildcard "
        "DNS name (*.hub.example.org) and, with https, a wildcard certificate; the demo uses *.localhost. Default "
        "true. false puts every server under the hub's own address (see \"Learners' own addresses\" in the README "
        "for what that risks).",
    ),
    Setting(
        "site",
        "spawner",
        str,
        "auto",
        'How servers start: "local" (a real system user each, needs root), "demo" (all as the invoking user, not '
        'isolated), "kubernetes" (a pod per learner, see [kubernetes] and "Running on Kubernetes"), "auto" (local when '
        "run as root, else demo).",
        check=one_of(SPAWNERS),
    ),
    Setting(
        "site",
        "start_template",
        bool,
        True,
        "Start learners' servers (local spawner, as root) by forking a waiting process that has already loaded "
        "JupyterLab, so a class logging in together is ready sooner and each server shares most of its memory; "
        "where it is not running the hub starts servers as usual and says so in its log. Default true.",
    ),
    Setting(
        "site",
        "kernel_template",
        bool,
        True,
        "Start each learner's notebooks by forking a waiting process of their own that has already loaded the "
        "widgets, so a workbook's first widget shows sooner, for about 17 MB more per learner with a notebook open; "
        "where it cannot, a notebook starts as usual. Default true.",
    ),
    Setting(
        "site",
        "db_url",
        str,
        "",
        "Database of the hub's state (accounts, groups, roles, tokens, passwords, learners' ids): empty for SQLite "
        'in <data_dir>/hub/jupyterhub.sqlite, or PostgreSQL, e.g. "postgresql://clhub@db.example.org/clhub" (the '
        "password from ~/.pgpass or PGPASSWORD rather than this file). `clhub db migrate --to URL` moves an "
        "existing site there.",
        check=_rule(
            lambda url: url == "" or url.startswith(DB_SCHEMES),
            'is not a database address; use "postgresql://user@host/database", "sqlite:///path" or leave it empty.',
        ),
        env="CLHUB_DB_URL",
    ),
    Setting(
        "workbooks",
        "catalog_dir",
        Path,
        "../workbooks",
        "Folder of the workbook catalog. Relative paths count from this file.",
    ),
    Setting(
        "workbooks",
        "interests",
        list,
        [],
        "Interests offered in the form, keys of the catalog's interests.toml. Empty: every interest that has a "
        "workbook.",
    ),
    Setting(
        "workbooks", "everyone", list, ["start-here"], "Workbook ids every learner gets, whatever their interests."
    ),
    Setting(
        "limits",
        "memory_mb",
        int,
        1024,
        "Memory of each learner's whole server in MB, kernels included, no swap (0: none). Default 1024. "
        "Enforced by the learner's control group on one machine (run as root) and by Kubernetes; a kernel "
        "that asks for more is stopped and the learner is told why.",
        check=at_least(0),
    ),
    Setting(
        "limits",
        "cpu",
        NUMBER,
        1.0,
        "CPU cores each learner's whole server may use (0: no limit), e.g. 0.5. Default 1.0. Enforced by the "
        "learner's control group (run as root) and by Kubernetes; a busy machine is also shared equally "
        "between learners, however many processes each runs.",
        check=at_least(0),
    ),
    Setting(
        "limits",
        "max_processes",
        int,
        256,
        "Most processes (threads count) one learner's server may run at once, kernels included (0: no "
        "limit); stops fork bombs. Default 256.",
        check=at_least(0),
    ),
    Setting(
        "limits",
        "disk_mb",
        int,
        1024,
        "Disk space of each learner's files in MB, 0 or 16-1048576: their home is a file system of its own of "
        "this size (<data_dir>/disks/<user>.img), so nobody can fill the disk the hub and others need. Default "
        "1024. Raising it grows each disk at its learner's next start; lowering it below an existing disk is "
        "refused. 0: no new disks (existing ones stay in use). One machine as root only; not in the demo.",
        check=_rule(lambda mb: mb == 0 or DISK_MB[0] <= mb <= DISK_MB[1], "is out of range; use 0 or 16-1048576."),
    ),
    Setting(
        "limits",
        "idle_timeout_minutes",
        int,
        30,
        "Stop a server after this many idle minutes (0: never). Default 30.",
        check=at_least(0),
    ),
    Setting(
        "limits",
        "start_timeout_seconds",
        int,
        120,
        "Give up on a server that is not ready after this many seconds. Default 120.",
        check=_rule(lambda seconds: seconds >= 10, "is too short; use 10 or more."),
    ),
    Setting(
        "peer_review", "enabled", bool, True, "Peer-review folders for every group. Default true.", field="peer_review"
    ),
    Setting(
        "peer_review",
        "off_for_groups",
        list,
        [],
        'Groups without peer review (their folder is kept but closed). Example: ["year7-maths"].',
        check=user_name_problem,
    ),
    Setting(
        "peer_review",
        "anonymous_feedback",
        bool,
        False,
        "Hide reviewers' names from authors in every group (teachers still see them). Default false.",
    ),
    Setting(
        "peer_review",
        "anonymous_for_groups",
        list,
        [],
        'Groups with anonymous feedback even when anonymous_feedback is false. Example: ["library-club"].',
        check=user_name_problem,
    ),
    Setting(
        "peer_review",
        "max_piece_mb",
        NUMBER,
        10,
        "Largest piece a learner may share, all its files together, in MB (0.1-500). Default 10.",
        check=_rule(lambda mb: 0.1 <= mb <= 500, "is out of range; use 0.1-500."),
    ),
    Setting(
        "peer_review",
        "allowed_types",
        list,
        [".ipynb", ".png", ".jpg", ".jpeg", ".gif", ".wav", ".md", ".txt", ".csv", ".html", ".json"],
        "File types a piece may hold, as name endings.",
        check=_file_ending,
    ),
    Setting(
        "showcase",
        "live",
        bool,
        True,
        'Offer "Play with it", the live version of published notebooks (Voila, no log-in, run as the system user '
        "clhub-live). Default true.",
        field="showcase_live",
    ),
    Setting(
        "showcase",
        "live_kernels",
        int,
        8,
        "Most live kernels at once, preheated ones included (1-200); visitors beyond it see the saved version with "
        "a note. Default 8.",
        check=between(1, 200),
    ),
    Setting(
        "showcase",
        "live_kernel_memory_mb",
        int,
        768,
        "Address-space limit of each live kernel in MB (512-8192); a bare kernel reserves about 350. Default 768.",
        check=between(512, 8192),
    ),
    Setting(
        "showcase",
        "live_idle_minutes",
        NUMBER,
        5,
        "Stop a live kernel nobody has used for this many minutes (0.1-240). Default 5.",
        check=between(0.1, 240),
    ),
    Setting(
        "showcase",
        "live_preheat",
        int,
        2,
        "Live kernels kept started and run for the most recently opened pieces, so the next visitor gets the page "
        "at once (0: none; less than live_kernels). Default 2.",
        check=at_least(0),  # and less than live_kernels: _preheat_fits
    ),
    Setting(
        "login",
        "cookie_lifetime_hours",
        NUMBER,
        4,
        "How long a log-in lasts on a computer, in hours (0 < h <= 720). Default 4: short, for shared library "
        "computers.",
        check=_rule(lambda hours: 0 < hours <= 720, "must be more than 0 and at most 720 (30 days)."),
    ),
    Setting(
        "login",
        "min_password_length",
        int,
        8,
        "Shortest password accepted, 4-128 characters. Default 8.",
        check=between(4, 128),
    ),
    Setting(
        "login",
        "failed_logins_before_lockout",
        int,
        5,
        "Failed log-ins in a row before the guessing browser must wait between tries. Counted apart for each "
        "browser that has logged in as that account before (its device cookie) and for all other browsers "
        "together: a guesser brakes only browsers the owner never used, never locks the owner out. Default 5.",
        check=at_least(1),
    ),
    Setting(
        "login",
        "lockout_seconds",
        int,
        60,
        "The longest wait between two tries of a braked browser, in seconds (1-60); waits start at 5 seconds "
        "and double with each further failure. Also the longest an owner on a new computer is kept out. "
        "A new password (a teacher's reset) lifts the brake at once. Default 60.",
        check=between(1, 60),
    ),
    Setting(
        "login",
        "failed_logins_from_one_address",
        int,
        20,
        "Failed log-ins from one address (the computer's IP as the hub sees it), over any names or library "
        "cards, before that address must wait between tries as above: one common password or PIN tried on many "
        "accounts. A browser that logged in as the account before is never braked by it. Raise it where many "
        "computers reach the hub through one address. Default 20.",
        check=at_least(1),
    ),
    Setting(
        "login",
        "trusted_proxies",
        list,
        [],
        "Addresses or networks of the https front in front of the hub's proxy (nginx, Caddy, a load balancer), "
        "whose X-Forwarded-For entry names the computer behind it. Without them every computer counts as the "
        'front\'s address for failed_logins_from_one_address. Example: ["127.0.0.1", "10.0.0.0/8"]. Default [].',
        check=network_problem,
    ),
    Setting(
        "login",
        "self_signup",
        bool,
        False,
        "Let visitors create their own accounts (an admin still approves them). Default false: accounts come from "
        "`clhub` and class lists.",
    ),
    Setting(
        "kubernetes",
        "namespace",
        str,
        "clhub",
        'The Kubernetes namespace of the hub and learners\' pods (spawner = "kubernetes"). Default "clhub".',
    ),
    Setting(
        "kubernetes",
        "learner_image",
        str,
        "clhub/learner:latest",
        "The image of learners' servers, built from hub_config/kubernetes/Dockerfile.learner. Example: "
        '"registry.example.org/clhub/learner:2026.12".',
    ),
    Setting(
        "kubernetes",
        "homes_claim",
        str,
        "clhub-homes",
        'The PersistentVolumeClaim that holds learners\' homes, one folder (subPath) each. Default "clhub-homes".',
    ),
    Setting(
        "kubernetes",
        "shared_claim",
        str,
        "clhub-shared",
        "The ReadWriteMany (NFS) PersistentVolumeClaim of the site's shared folders: group folders, the nbgrader "
        'exchange, releases and the showcase. Default "clhub-shared".',
    ),
    Setting(
        "kubernetes",
        "memory_request_mb",
        int,
        256,
        "Memory the cluster sets aside for each learner's pod, in MB (16 or more, at most limits.memory_mb): what "
        "the scheduler counts when it places pods, while limits.memory_mb stays the most a learner may use. A "
        'learner at work holds about 150 MB (README: "Capacity on paper"); one above this is among the first '
        "stopped if a node runs out of memory. Equal to memory_mb: every learner's memory is kept for them, and "
        "fewer fit on a node. Default 256.",
        check=at_least(16),
    ),
    Setting(
        "kubernetes",
        "cpu_request",
        NUMBER,
        0.1,
        "CPU cores the cluster sets aside for each learner's pod (0.01 or more, at most limits.cpu), as "
        "memory_request_mb; limits.cpu stays the most a learner may use. Default 0.1: a workbook's kernel is idle "
        "most of the time.",
        check=at_least(0.01),
    ),
    Setting(
        "kubernetes",
        "first_uid",
        int,
        100000,
        "The first uid given to a learner (1000-2000000000); each learner keeps theirs for ever, never reused. "
        "Default 100000.",
        check=between(1000, 2_000_000_000),
    ),
    Setting(
        "kubernetes",
        "first_gid",
        int,
        200000,
        "The first gid given to a hub group (1000-2000000000), as learners' supplemental groups. Default 200000.",
        check=between(1000, 2_000_000_000),
    ),
) + LOGIN_SETTINGS  # [login] method and its sub-tables: settings_login.py
SECTIONS = tuple(dict.fromkeys(setting.section for setting in SETTINGS))


def settings_reference() -> str:
    """The settings reference in Markdown, generated from the declarations' help texts."""
    lines = []
    for section in SECTIONS:
        lines.append(f"\n### [{section}]\n\n| key | default | meaning |\n| --- | --- | --- |")
        for setting in SETTINGS:
            if setting.section == section:
                lines.append(f"| `{setting.key}` | `{toml_value(setting.default)}` | {setting.help} |")
    return "\n".join(lines).strip() + "\n"


def toml_value(value: Any) -> str:
    """`value` as a settings file writes it: true, 8000, "text", ["a", "b"]."""
    return str(value).lower() if isinstance(value, bool) else repr(value).replace("'", '"')
