"""The brake on password guessing: it slows the guesser, never locks out the account's owner.

OWASP's "device cookies": a browser that has logged in as X carries a signed cookie naming
X (`hub/authenticator.py` sets and reads it). Failures are counted per *source*:

- ("device", nonce): a browser with X's device cookie; its own failures brake only it;
- ("account", X): every browser without one; their failures brake only such browsers.

So a classmate flooding X's name from their computer brakes unknown computers for X, while
X on a computer they logged in from before is never braked. After `free_failures` failures
in a row, each failure makes that source wait `first_wait * 2**(n - free_failures)`
seconds, at most `longest_wait` (a minute by default): an owner on a new computer is
kept out a minute at most. The brake remembers the account's password hash: a new password
(a teacher's reset, or the owner's own change) clears it at once. It forgets a source after
`memory` quiet seconds and keeps at most `max_entries` sources (the oldest go first), so
guesses at made-up names cannot fill the memory. The state lives in the hub's memory: a
hub restart clears it.

Deciding only: no I/O, a clock that tests can pass in.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

Source = tuple[str, str]  # ("device", nonce) or ("account", name)


def device_source(nonce: str) -> Source:
    return ("device", nonce)


def account_source(name: str) -> Source:
    return ("account", name)


@dataclass
class _Entry:
    failures: int
    until: float  # the clock's time before which this source is braked
    last: float  # the clock's time of the last failure
    fingerprint: bytes  # the account's password hash when the failures happened


@dataclass
class LoginBrake:
    free_failures: int = 5
    first_wait: float = 5.0
    longest_wait: float = 60.0
    memory: float = 3600.0
    max_entries: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _entries: OrderedDict[Source, _Entry] = field(default_factory=OrderedDict)

    def _current(self, source: Source, fingerprint: bytes) -> _Entry | None:
        entry = self._entries.get(source)
        if entry is None:
            return None
        if entry.fingerprint != fingerprint or self.clock() - entry.last > self.memory:
            del self._entries[source]  # a new password, or a long quiet: start afresh
            return None
        return entry

    def wait_seconds(self, source: Source, fingerprint: bytes) -> int:
        """Whole seconds `source` must still wait before its next try (0: it may try now)."""
        entry = self._current(source, fingerprint)
        if entry is None:
            return 0
        return max(0, math.ceil(entry.until - self.clock()))

    def delay_after(self, failures: int) -> float:
        """The wait that `failures` failures in a row earn."""
        if failures < self.free_failures:
            return 0.0
        return float(min(self.first_wait * 2 ** min(failures - self.free_failures, 32), self.longest_wait))

    def failed(self, source: Source, fingerprint: bytes) -> int:
        """Count a failed try of `source`; return the seconds it must now wait."""
        now = self.clock()
        entry = self._current(source, fingerprint)
        if entry is None:
            entry = self._entries[source] = _Entry(0, now, now, fingerprint)
        entry.failures += 1
        entry.last = now
        entry.until = now + self.delay_after(entry.failures)
        self._entries.move_to_end(source)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return self.wait_seconds(source, fingerprint)

    def succeeded(self, source: Source) -> None:
        """`source` got in: its failures are forgotten."""
        self._entries.pop(source, None)


def wait_message(seconds: int) -> str:
    """What the log-in page says to a braked browser."""
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many tries. Wait {seconds} {unit}, then try again."
