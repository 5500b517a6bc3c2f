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

A guesser may instead spread one or two guesses over many names (one common password, or one
PIN over a run of card numbers), which no account's brake ever sees. `Brakes` adds a second
brake per *address* (the client's IP as the hub sees it through the proxy): after
`free_failures` failures from one address, with no quiet quarter of an hour between them, that
address waits as above. A success does not reset it (a guesser could interleave their own
log-ins), and a browser with the account's device cookie is never braked by it, so the owner
is still never kept out; another person behind the same address (a library's one public IP) is
kept out a minute at most, as on any new computer.

Which address: `client_address`. The hub's own proxy appends the address that reached it to
X-Forwarded-For, so only that last entry is one a browser cannot write; entries added by the
site's https front (nginx, Caddy, a load balancer: `[login] trusted_proxies`) are walked past
to the address that reached the front. X-Real-IP, which Tornado would otherwise believe, and
anything else a browser sends are not. An IPv6 address counts as its /64, which one computer
may change at will. A learner's own process on the hub's machine that goes around the proxy
to the hub's port is counted by its uid instead (`ClhubAuthenticator.address`).

Deciding only: no I/O, a clock that tests can pass in.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

Source = tuple[str, str]  # ("device", nonce) or ("account", name)


def device_source(nonce: str) -> Source:
    return ("device", nonce)


def account_source(name: str) -> Source:
    return ("account", name)


def address_source(address: str) -> Source:
    return ("address", address)


def client_address(forwarded_for: str, peer: str, trusted: Sequence[str] = ()) -> str:
    """The address a request came from, for the brake: see the module's text.

    `forwarded_for` is the X-Forwarded-For header as it reached the hub ('' for none: a
    request straight to the hub, whose `peer` is then the address); `trusted` the networks of
    the site's https front, e.g. ("10.0.0.0/8",).
    """
    networks = [ipaddress.ip_network(net, strict=False) for net in trusted]
    entries = [entry.strip() for entry in forwarded_for.split(",")] if forwarded_for.strip() else [peer]
    address = entries.pop()
    while entries and _within(address, networks):
        address = entries.pop()
    parsed = _parsed(address)
    if parsed is None:
        return address[:64]  # not an address: still one key per such value, and a short one
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _within(text: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    address = _parsed(text)
    return address is not None and any(address in net for net in networks)


def _parsed(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


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


@dataclass
class Brakes:
    """The two brakes a log-in meets: its source's (`per_source`), and its address's for a source
    that is not the owner's device (`per_address`, which nothing but quiet time resets)."""

    per_source: LoginBrake
    per_address: LoginBrake

    @classmethod
    def for_site(cls, free_failures: int, first_wait: float, longest_wait: float, address_failures: int) -> Brakes:
        return cls(
            LoginBrake(free_failures=free_failures, first_wait=first_wait, longest_wait=longest_wait),
            LoginBrake(
                free_failures=address_failures, first_wait=first_wait, longest_wait=longest_wait, memory=ADDRESS_MEMORY
            ),
        )

    @staticmethod
    def _address(source: Source, address: str) -> Source | None:
        return address_source(address) if address and source[0] != "device" else None

    def wait_seconds(self, source: Source, fingerprint: bytes, address: str) -> int:
        """Whole seconds before the next try of `source` from `address` ('' for none known)."""
        wait = self.per_source.wait_seconds(source, fingerprint)
        place = self._address(source, address)
        return max(wait, self.per_address.wait_seconds(place, b"")) if place else wait

    def failed(self, source: Source, fingerprint: bytes, address: str) -> int:
        """Count a failed try on both brakes; return the seconds it must now wait."""
        wait = self.per_source.failed(source, fingerprint)
        place = self._address(source, address)
        return max(wait, self.per_address.failed(place, b"")) if place else wait

    def succeeded(self, source: Source) -> None:
        self.per_source.succeeded(source)


ADDRESS_MEMORY = 900.0  # an address's failures are forgotten after a quiet quarter of an hour


def wait_message(seconds: int) -> str:
    """What the log-in page says to a braked browser."""
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many tries. Wait {seconds} {unit}, then try again."
