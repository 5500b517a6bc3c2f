"""The brake on password guessing and the `next` filter of the log-in page, as plain functions."""

from __future__ import annotations

import pytest

from connected_learning.hub.login_brake import (
    ADDRESS_MEMORY,
    Brakes,
    LoginBrake,
    account_source,
    client_address,
    device_source,
    wait_message,
)
from connected_learning.hub.sessions import names_other_server


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def brake(clock: Clock, **kw: float) -> LoginBrake:
    return LoginBrake(free_failures=5, first_wait=5, longest_wait=60, clock=clock, **kw)  # type: ignore[arg-type]


def test_five_free_failures_then_waits_that_double_up_to_a_minute() -> None:
    clock = Clock()
    b = brake(clock)
    ana = account_source("ana")
    waits = []
    for _ in range(12):
        assert b.wait_seconds(ana, b"h") == 0
        waits.append(b.failed(ana, b"h"))
        clock.now += waits[-1]
    assert waits == [0, 0, 0, 0, 5, 10, 20, 40, 60, 60, 60, 60]


def test_a_braked_source_is_told_how_long_and_the_time_runs_down() -> None:
    clock = Clock()
    b = brake(clock)
    ana = account_source("ana")
    for _ in range(8):
        b.failed(ana, b"h")
    assert b.wait_seconds(ana, b"h") == 40
    clock.now += 30.5
    assert b.wait_seconds(ana, b"h") == 10  # rounded up: never "wait 0 seconds" while braked
    clock.now += 10
    assert b.wait_seconds(ana, b"h") == 0


def test_the_guesser_brakes_only_other_unknown_browsers_never_the_owners_device() -> None:
    clock = Clock()
    b = brake(clock)
    for _ in range(20):
        b.failed(account_source("ana"), b"h")
    assert b.wait_seconds(account_source("ana"), b"h") == 60
    assert b.wait_seconds(device_source("ana-laptop-nonce"), b"h") == 0
    assert b.wait_seconds(account_source("ben"), b"h") == 0


def test_a_device_that_guesses_is_braked_on_its_own() -> None:
    clock = Clock()
    b = brake(clock)
    dev = device_source("n1")
    for _ in range(6):
        b.failed(dev, b"h")
    assert b.wait_seconds(dev, b"h") == 10
    assert b.wait_seconds(device_source("n2"), b"h") == 0
    assert b.wait_seconds(account_source("ana"), b"h") == 0


def test_a_new_password_lifts_the_brake_at_once() -> None:
    clock = Clock()
    b = brake(clock)
    for _ in range(10):
        b.failed(account_source("ana"), b"old-hash")
    assert b.wait_seconds(account_source("ana"), b"old-hash") == 60
    assert b.wait_seconds(account_source("ana"), b"hash-after-reset") == 0
    assert b.wait_seconds(account_source("ana"), b"old-hash") == 0  # forgotten, not just hidden


def test_success_clears_its_own_source_and_quiet_sources_are_forgotten() -> None:
    clock = Clock()
    b = brake(clock, memory=100)
    for _ in range(6):
        b.failed(account_source("ana"), b"h")
    b.succeeded(account_source("ana"))
    assert b.wait_seconds(account_source("ana"), b"h") == 0
    for _ in range(6):
        b.failed(account_source("ben"), b"h")
    clock.now += 101
    assert b.failed(account_source("ben"), b"h") == 0  # counting starts again


def test_made_up_names_cannot_fill_the_memory() -> None:
    b = brake(Clock(), max_entries=100)
    for i in range(1000):
        b.failed(account_source(f"nobody{i}"), b"")
    assert len(b._entries) == 100


def brakes(clock: Clock) -> Brakes:
    site = Brakes.for_site(5, 5, 60, 20)
    site.per_source.clock = site.per_address.clock = clock
    return site


def test_one_guess_spread_over_many_names_brakes_its_address() -> None:
    """No name sees more than one failure, so no name's brake ever starts; the address's does,
    at its 20th failure, and then holds the right password too (it is not even checked)."""
    clock = Clock()
    b = brakes(clock)
    waits = []
    for i in range(24):
        clock.now += waits[-1] if waits else 0  # each guess waits out the last one's brake
        assert b.wait_seconds(account_source(f"name{i}"), b"h", "10.0.0.9") == 0
        waits.append(b.failed(account_source(f"name{i}"), b"h", "10.0.0.9"))
    assert waits == [0] * 19 + [5, 10, 20, 40, 60]
    assert b.wait_seconds(account_source("ana"), b"h", "10.0.0.9") == 60
    # The control: without the address, the same spray goes unbraked (the brake above is the address's).
    alone = brakes(Clock())
    assert all(alone.failed(account_source(f"name{i}"), b"h", "") == 0 for i in range(24))


def test_the_address_brake_spares_the_owners_device_and_other_addresses() -> None:
    clock = Clock()
    b = brakes(clock)
    for i in range(30):
        b.failed(account_source(f"name{i}"), b"h", "10.0.0.9")
    assert b.wait_seconds(account_source("ana"), b"h", "10.0.0.9") == 60
    assert b.wait_seconds(device_source("ana-laptop-nonce"), b"h", "10.0.0.9") == 0  # the owner's browser
    assert b.wait_seconds(account_source("ana"), b"h", "10.0.0.10") == 0  # another computer


def test_a_success_does_not_reset_the_address_but_a_quiet_quarter_of_an_hour_does() -> None:
    clock = Clock()
    b = brakes(clock)
    for i in range(19):
        b.failed(account_source(f"name{i}"), b"h", "10.0.0.9")
    b.succeeded(account_source("mine"))  # the guesser's own log-in, between guesses
    assert b.failed(account_source("name19"), b"h", "10.0.0.9") == 5
    clock.now += ADDRESS_MEMORY + 1
    assert b.wait_seconds(account_source("ana"), b"h", "10.0.0.9") == 0
    assert b.failed(account_source("name20"), b"h", "10.0.0.9") == 0  # counted afresh


@pytest.mark.parametrize(
    ("forwarded_for", "trusted", "expected"),
    [
        ("", (), "192.0.2.7"),  # straight to the hub: the socket's peer
        ("10.1.2.3", (), "10.1.2.3"),  # the hub's proxy wrote the one entry
        ("6.6.6.6, 10.1.2.3", (), "10.1.2.3"),  # a browser's own entry comes first and is not believed
        ("6.6.6.6,10.1.2.3,127.0.0.1", ("127.0.0.1",), "10.1.2.3"),  # past the site's https front
        ("6.6.6.6, 10.1.2.3, 10.9.0.4", ("10.9.0.0/16",), "10.1.2.3"),  # a front's network
        ("10.1.2.3, 127.0.0.1", (), "127.0.0.1"),  # a front nobody listed: everyone is its address
        ("127.0.0.1", ("127.0.0.1",), "127.0.0.1"),  # nothing but fronts: the first of them
        ("::ffff:10.1.2.3", (), "10.1.2.3"),  # an IPv4 address written as IPv6
        ("2001:db8:0:1::1", (), "2001:db8:0:1::/64"),  # a computer may change its IPv6 within its /64
        ("2001:db8:0:1:ffff:1:2:3", (), "2001:db8:0:1::/64"),
        ("[2001:db8::5]", (), "2001:db8::/64"),
        ("not-an-address-" + "x" * 100, (), ("not-an-address-" + "x" * 100)[:64]),
    ],
)
def test_which_address_a_log_in_came_from(forwarded_for: str, trusted: tuple[str, ...], expected: str) -> None:
    assert client_address(forwarded_for, "192.0.2.7", trusted) == expected


def test_wait_message() -> None:
    assert wait_message(40) == "Too many tries. Wait 40 seconds, then try again."
    assert wait_message(1) == "Too many tries. Wait 1 second, then try again."


@pytest.mark.parametrize(
    ("next_url", "name", "expected"),
    [
        ("/hub/user/ana/lab", None, True),
        ("/user/ana/lab/tree/x.ipynb", None, True),
        ("http://ana.localhost:8000/user/ana/lab", None, True),
        ("/hub/spawn-pending/ana", None, True),
        ("/hub/api/oauth2/authorize?client_id=jupyterhub-user-ana&redirect_uri=x", None, True),
        ("/hub/user/ana/lab", "ben", True),
        ("/hub/user/ben/lab", "ben", False),
        ("/hub/api/oauth2/authorize?client_id=jupyterhub-user-ben", "ben", False),
        ("/hub/api/oauth2/authorize?client_id=service-classroom", None, False),
        ("/services/classroom/", None, False),
        ("/hub/home", None, False),
        ("/hub/user-redirect/lab", None, False),
    ],
)
def test_which_next_addresses_lead_to_someone_elses_space(next_url: str, name: str | None, expected: bool) -> None:
    assert names_other_server(next_url, "/", name) is expected
