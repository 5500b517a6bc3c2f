"""What a process forked by the start-up template holds, printed as one JSON line.

The `--entry` of a template started by tests/test_start_template.py: the same fork, drop and
clean-up as a learner's server, then this instead of jupyterhub-singleuser.
"""

from __future__ import annotations

import ctypes
import json
import os
import random
import resource
import sys

PR_GET_DUMPABLE = 3


def main() -> int:
    with open("/proc/self/status") as f:
        status = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
    report = {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "sid": os.getsid(0),
        "uid": os.getresuid(),
        "gid": os.getresgid(),
        "groups": sorted(os.getgroups()),
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "dumpable": ctypes.CDLL(None).prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": os.umask(0),
        "random": random.getrandbits(64),
        "cgroup": open("/proc/self/cgroup").read(),
        "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
        "argv": sys.argv,
    }
    if "--scan" in sys.argv:
        report["scan"] = scan()
    print(json.dumps(report), flush=True)
    if "--wait" in sys.argv:
        sys.stdin.read()  # /dev/null: returns at once; the tests wait by sleeping instead
        import time

        time.sleep(120)
    return 0


SCALARS = (str, int, float, bool, bytes)


def _plain(value: object) -> object:
    """`value` if it is a plain value (or a list, tuple or set of them), else None."""
    if isinstance(value, SCALARS):
        return value.decode(errors="replace") if isinstance(value, bytes) else value
    if (
        isinstance(value, (list, tuple, frozenset, set))
        and len(value) < 100
        and all(isinstance(v, SCALARS) for v in value)
    ):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    return None


def scan() -> dict[str, object]:
    """Every plain module-level value and every trait's static default of every loaded module.

    What a process computed from its environment and ids as it imported; compared between a
    server forked from the template and a fresh import (tests/test_start_template.py).
    """
    import traitlets

    found: dict[str, object] = {}
    for name, module in sorted(sys.modules.items()):
        if module is None or name in ("__main__", "__mp_main__", "template_probe"):
            continue
        for key, value in list(vars(module).items()):
            plain = _plain(value)
            if plain is not None and not key.startswith("__"):
                found[f"{name}.{key}"] = plain
            if isinstance(value, type) and issubclass(value, traitlets.HasTraits) and value.__module__ == name:
                initial = value.__dict__.get("_static_immutable_initial_values", {})
                for trait_name, trait in value.class_traits().items():
                    plain = _plain(initial.get(trait_name, trait.default_value))
                    if plain is not None:
                        found[f"{name}.{value.__name__}.{trait_name}"] = plain
    return found


def fresh_scan() -> None:
    """In a fresh Python: import what the template imports, then print `scan()` as JSON."""
    from connected_learning.host import start_template

    start_template.preload()
    print(json.dumps(scan()), flush=True)
