"""What the hub's services and each learner's server import when they start, kept light.

JupyterHub gives a managed service (the classroom, the showcase) about ten one-second tries to
answer before it gives up and stops. On a busy machine a service that spends seconds of CPU
importing misses that window, and the hub does not start: that is how the JupyterLab widget
test failed now and then. jsonschema's optional IRI checker, rfc3987-syntax 1.1 (pulled in by
jupyter-events), builds a Lark grammar on import, about a second of CPU in every process that
imports nbformat or jupyter_server; `make install` removes it.
"""

from __future__ import annotations

import json
import subprocess
import sys


def test_starting_a_service_or_a_learner_server_builds_no_grammar() -> None:
    code = (
        "import json, sys\n"
        "import nbformat, jupyter_server.serverapp, connected_learning.classroom.app\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    modules = set(json.loads(done.stdout))
    assert "jsonschema._format" in modules, "the format checkers were imported, so the check below means something"
    assert not {"lark", "rfc3987_syntax"} & modules, (
        "rfc3987-syntax builds a Lark grammar on import (about 1 s of CPU per process); "
        "run `make install`, which removes it, or `.venv/bin/pip uninstall rfc3987-syntax`."
    )
