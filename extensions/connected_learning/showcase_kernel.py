"""The kernel of a live showcase page: ipykernel with limits set before any notebook code runs.

The live service (`showcase_live`) starts every kernel through this module instead of
`ipykernel_launcher`. Before ipykernel is imported it lowers the process's limits, which
the kernel can never raise again:

- address space: `CLHUB_LIVE_MEMORY_MB` (a runaway list or image fails with MemoryError
  inside the kernel instead of taking the machine's memory from the hub and the learners).
  A kernel with ipywidgets reserves about 345 MB of address space when the service sets
  `MALLOC_ARENA_MAX=2` (about 65 MB of it resident), so the limit leaves room for the piece;
- file size: nothing larger than 1 MB can be written, and the kernel's folder is read-only
  for it anyway;
- core dumps: none.

    python -m connected_learning.showcase_kernel -f <connection file>
"""

from __future__ import annotations

import os
import resource
import sys

MEMORY_ENV = "CLHUB_LIVE_MEMORY_MB"
DEFAULT_MEMORY_MB = 768
MAX_FILE_BYTES = 1 << 20


def memory_limit_bytes(environ: dict[str, str] | os._Environ[str] = os.environ) -> int:
    """The address-space limit in bytes; the default when the variable is missing or bad."""
    try:
        megabytes = int(environ.get(MEMORY_ENV, DEFAULT_MEMORY_MB))
    except ValueError:
        megabytes = DEFAULT_MEMORY_MB
    return max(megabytes, 512) << 20


def set_limits() -> None:
    limit = memory_limit_bytes()
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_FSIZE, (MAX_FILE_BYTES, MAX_FILE_BYTES))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main() -> None:
    set_limits()
    from ipykernel.kernelapp import launch_new_instance

    sys.argv[0] = "ipykernel_launcher"
    launch_new_instance()


if __name__ == "__main__":
    main()
