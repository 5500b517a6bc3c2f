"""What a process forked by the start-up template holds, printed as one JSON line.

The `--entry` of a template started by tests/test_start_template.py: the same fork, drop and
clean-up as a learner's server, then this instead of jupyterhub-singleuser.
"""

from __future__ import annotations

import json
import os
import random
import resource
import sys


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
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "umask": os.umask(0),
        "random": random.getrandbits(64),
        "cgroup": open("/proc/self/cgroup").read(),
        "nproc": resource.getrlimit(resource.RLIMIT_NPROC)[0],
        "argv": sys.argv,
    }
    print(json.dumps(report), flush=True)
    if "--wait" in sys.argv:
        sys.stdin.read()  # /dev/null: returns at once; the tests wait by sleeping instead
        import time

        time.sleep(120)
    return 0
