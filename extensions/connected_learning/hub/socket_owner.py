"""Whose process is at the other end of a TCP connection made on this machine.

On one machine, learners' own processes (a terminal, a kernel) can reach the hub's port on
127.0.0.1 directly, around the proxy, and write any X-Forwarded-For they like. The kernel
knows who opened each socket: /proc/net/tcp and /proc/net/tcp6 list every TCP socket of this
network namespace with its owner's uid. The brake per address (hub/login_brake.py) counts
such a connection by that uid instead of by an address it claims.

Reads only: the caller's connection is one line of those files. `tcp_sockets` reads those
tables for `recovery` too (who listens on a port).
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

PROC_NET = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))


def tcp_sockets(tables: tuple[Path, ...] = PROC_NET) -> Iterator[list[str]]:
    """The columns of every TCP socket of this network namespace: local address, remote address
    and state in /proc's hex (1, 2, 3), uid (7), inode (9); a table that cannot be read is skipped."""
    for table in tables:
        try:
            lines = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            columns = line.split()
            if len(columns) > 9:
                yield columns


def proc_net_address(host: str, port: int) -> str:
    """How /proc/net/tcp{,6} writes `host`:`port`: the address in 32-bit words of this machine's
    byte order, each as 8 hex digits, then the port in 4. ("127.0.0.1", 8081) -> "0100007F:1F91"."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    packed = socket.inet_pton(family, host)
    words = struct.unpack(f"={len(packed) // 4}I", packed)
    return "".join(f"{word:08X}" for word in words) + f":{port:04X}"


def peer_uid(peer: tuple[str, int], local: tuple[str, int], tables: tuple[Path, ...] = PROC_NET) -> int | None:
    """The uid of the socket at `peer` connected to this process's `local` socket, or None when
    no such socket is on this machine (a peer on another machine, or in another namespace)."""
    try:
        address = ipaddress.ip_address(peer[0])
        far, near = proc_net_address(*peer[:2]), proc_net_address(*local[:2])
    except (OSError, ValueError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if not address.is_loopback:
        return None  # a connection from another machine: its far end is not in these tables
    for columns in tcp_sockets(tables):
        if columns[1] == far and columns[2] == near:
            return int(columns[7])
    return None
