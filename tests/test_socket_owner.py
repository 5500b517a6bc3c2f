"""Whose process is at the other end of a connection to the hub (hub/socket_owner.py): read from
the kernel's own socket tables, with real sockets, one of them opened by another user."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import needs_root
from connected_learning.hub.socket_owner import peer_uid, proc_net_address

NOBODY = 65534


def test_how_the_kernel_writes_an_address() -> None:
    if sys.byteorder == "little":
        assert proc_net_address("127.0.0.1", 8081) == "0100007F:1F91"
        assert proc_net_address("::1", 443) == "00000000000000000000000001000000:01BB"
    assert proc_net_address("0.0.0.0", 0) == "00000000:0000"


def test_a_connection_from_this_process_is_this_users() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        conn, peer = server.accept()
        with client, conn:
            assert peer_uid(peer, conn.getsockname()) == os.getuid()
            # A connection that is not there, and one from another machine: not found.
            assert peer_uid(("127.0.0.1", 1), conn.getsockname()) is None
            assert peer_uid(("192.0.2.7", peer[1]), conn.getsockname()) is None
            assert peer_uid(peer, conn.getsockname(), tables=(Path("/nonexistent"),)) is None


def test_a_connection_from_another_users_process_names_that_user() -> None:
    """The attacker's side: a process dropped to `nobody` connects and says so on its socket; the
    control is what it sent, read on our side, so the connection looked up is the one it made."""
    needs_root()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        code = (
            "import os, socket, time\n"
            f"s = socket.create_connection(('127.0.0.1', {port}))\n"
            "s.sendall(str(os.getuid()).encode() + b'\\n')\n"
            "time.sleep(30)\n"
        )
        child = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable, "-c", code]
        )
        try:
            server.settimeout(20)
            conn, peer = server.accept()
            with conn:
                assert conn.recv(16).strip() == str(NOBODY).encode()  # the control
                assert peer_uid(peer, conn.getsockname()) == NOBODY
        finally:
            child.kill()
            child.wait()


def test_an_ipv6_loopback_connection_is_found_too() -> None:
    try:
        server = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    with server:
        client = socket.create_connection(server.getsockname()[:2])
        conn, peer = server.accept()
        with client, conn:
            assert peer_uid(peer, conn.getsockname()) == os.getuid()
