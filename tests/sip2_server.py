"""A real SIP2 server for the tests: pysip2's AnyIO server over TCP and TLS, seeded with patrons.

`running_sip2()` starts it in a thread of its own (its own event loop, so a test, the hub
in another process and Chromium all reach it over real sockets) and yields a `Sip2Site`:

- `port`: plain TCP; `tls_port`: TLS with a certificate for the name localhost (reach it as
  "localhost"; as 127.0.0.1 the name does not match) signed by a CA the test made
  (`ca_file`), and `wrong_ca_file`, a CA that signed nothing here;
- `checksum_port`: a server that demands AY/AZ sequence numbers and checksums;
- `silent_port`: accepts connections and reads, never answers; `closed_port`: nobody listens;
- `requests`: every request any of them got, in order (command id, the decoded fields,
  the port), the control that shows a log-in reached the catalogue, or did not.

Every server demands the SC log-in (93) with LOGIN_USER / LOGIN_PASSWORD first
(`login_required`): a wrong one gets 94 ok=0 and the connection is closed, as a real ILS does.
The patrons (`PATRONS`) are what a library's system answers for: a valid card, a blocked
one (charge privileges denied, as Koha and Evergreen say for a barred patron), an expired
one (the same flags and a screen message, as Koha says), a lost one, a staff card (patron
class PC "STAFF") and a card whose name is missing.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import SocketStream
from anyio.from_thread import start_blocking_portal
from anyio.streams.tls import TLSListener
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pysip2 import (
    LOGIN,
    PATRON_INFORMATION,
    PATRON_STATUS,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    PatronStatusRequest,
    PatronStatusResponse,
    SIP2Server,
    calculate_checksum,
    encode_message,
)

INSTITUTION = "RIVERSIDE"
LOGIN_USER = "clhub-sc"
LOGIN_PASSWORD = "sc-secret-7731"


@dataclass(frozen=True)
class Patron:
    pin: str
    name: str
    status: str = " " * 14  # the 14 patron status flags
    patron_class: str = "PATRON"
    screen_message: str = ""
    extra: str = ""  # raw fields added to the answer, as some systems send them (pysip2's models would refuse)


def flags(*positions: int) -> str:
    return "".join("Y" if i in positions else " " for i in range(14))


# Card numbers as libraries issue them (14-digit barcodes).
VALID = "21234000000017"
WRONG_PIN_CARD = VALID  # with any PIN but VALID's
BLOCKED = "21234000000025"
EXPIRED = "21234000000033"
LOST = "21234000000041"
STAFF = "29999000000058"
NAMELESS = "21234000000066"
EMPTY_FIELDS = "21234000000074"  # an answer with empty optional fields (an empty currency, BH|), as some systems send
UNKNOWN = "21234999999999"
PATRONS: dict[str, Patron] = {
    VALID: Patron("4321", "Lovelace, Ada"),
    BLOCKED: Patron("1111", "Barred, Bob", status=flags(0, 1, 2, 3)),
    EXPIRED: Patron(
        "2222", "Cara Expired", status=flags(0, 1, 2, 3), screen_message="Your account has expired as of 2026-01-31"
    ),
    LOST: Patron("3333", "Dan Lost", status=flags(4)),
    STAFF: Patron("5555", "Grace Hopper", patron_class="STAFF"),
    NAMELESS: Patron("6666", ""),
    EMPTY_FIELDS: Patron("7777", "Eve Empty", extra="BH|BV|"),
}


@dataclass(frozen=True)
class Request:
    command: str  # "93", "63", "23"
    fields: dict[str, Any]
    port: int


@dataclass
class Sip2Site:
    port: int = 0
    tls_port: int = 0
    checksum_port: int = 0
    silent_port: int = 0
    closed_port: int = 0
    ca_file: Path = Path()
    wrong_ca_file: Path = Path()
    requests: list[Request] = field(default_factory=list)
    silent_connections: list[bytes] = field(default_factory=list)  # what the silent server read, per connection
    lock: threading.Lock = field(default_factory=threading.Lock)

    def got(self, command: str, port: int | None = None) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.command == command and (port is None or r.port == port)]

    def cards_asked(self, port: int | None = None) -> list[str]:
        return [r.fields["patron_identifier"] for r in self.got("63", port)]


# ------------------------------------------------------------------ certificates


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _ca(common: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_certificates(folder: Path) -> tuple[Path, Path, Path, Path]:
    """A CA, a server certificate for localhost that it signed (not for 127.0.0.1), and an unrelated CA.

    Returns (ca_file, server_cert, server_key, wrong_ca_file).
    """
    ca_key, ca_cert = _ca("Riverside Library test CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    _, wrong_cert = _ca("Some other CA")
    pem = serialization.Encoding.PEM
    folder.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file, wrong_file = (
        folder / "ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "wrong-ca.pem",
    )
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    cert_file.write_bytes(cert.public_bytes(pem))
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    wrong_file.write_bytes(wrong_cert.public_bytes(pem))
    for path in (ca_file, wrong_file):
        path.chmod(0o644)
    return ca_file, cert_file, key_file, wrong_file


# ------------------------------------------------------------------ the server


class _RecordingServer(SIP2Server):
    """pysip2's server, adding the PC extension field to a 64 answer (pysip2's models hold only SIP2 2.00's)."""

    async def _write_response(self, stream: Any, state: Any, decoded: Any, response: Any) -> None:
        extra = state.app_state.pop("extension", "")
        if not extra:
            return await super()._write_response(stream, state, decoded, response)
        body = encode_message(response, encoding=self.encoding).rstrip(b"\r") + extra.encode(self.encoding)
        if decoded.checksum is not None:
            prefix = body + b"AY" + str(decoded.sequence_number).encode() + b"AZ"
            frame = prefix + calculate_checksum(prefix).encode() + b"\r"
        else:
            frame = body + b"\r"
        await self._send(stream, state, frame)
        return None


def _sip2_app(site: Sip2Site, port_of: dict[str, int], name: str, error_detection: str = "auto") -> SIP2Server:
    app = _RecordingServer(
        institution_id=INSTITUTION, login_required=True, error_detection=error_detection, encoding="utf-8"
    )

    def record(command: str, request: Any) -> None:
        fields = {k: getattr(request, k) for k in request.__struct_fields__}
        with site.lock:
            site.requests.append(Request(command, fields, port_of[name]))

    @app.route(LOGIN)
    async def login(req: LoginRequest, ctx: Any) -> LoginResponse:
        record("93", req)
        good = req.login_user_id == LOGIN_USER and req.login_password == LOGIN_PASSWORD
        return LoginResponse(ok="1" if good else "0")

    def answer(req: PatronInformationRequest | PatronStatusRequest, ctx: Any) -> dict[str, Any]:
        patron = PATRONS.get(req.patron_identifier)
        common = {
            "language": req.language,
            "transaction_date": ctx.now_18(),
            "institution_id": INSTITUTION,
            "patron_identifier": req.patron_identifier,
        }
        if patron is None:
            return common | {
                "patron_status": "Y" * 4 + " " * 10,
                "personal_name": "",
                "valid_patron": "N",
                "valid_patron_password": "N",
                "screen_message": ("Invalid patron",),
            }
        ctx.connection.state["extension"] = f"PC{patron.patron_class}|{patron.extra}"
        return common | {
            "patron_status": patron.status,
            "personal_name": patron.name,
            "valid_patron": "Y",
            "valid_patron_password": "Y" if req.patron_password == patron.pin else "N",
            "screen_message": (patron.screen_message,) if patron.screen_message else (),
        }

    @app.route(PATRON_INFORMATION)
    async def patron_information(req: PatronInformationRequest, ctx: Any) -> PatronInformationResponse:
        record("63", req)
        counts = {
            k: "0000"
            for k in (
                "hold_items_count",
                "overdue_items_count",
                "charged_items_count",
                "fine_items_count",
                "recall_items_count",
                "unavailable_holds_count",
            )
        }
        return PatronInformationResponse(**answer(req, ctx), **counts)

    @app.route(PATRON_STATUS)
    async def patron_status(req: PatronStatusRequest, ctx: Any) -> PatronStatusResponse:
        record("23", req)
        return PatronStatusResponse(**answer(req, ctx))

    return app


async def _silent(site: Sip2Site, stream: SocketStream) -> None:
    """Accept, read what comes, never answer (a catalogue that hangs)."""
    got = bytearray()
    async with stream:
        with contextlib.suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError):
            while True:
                got += await stream.receive()
                with site.lock:
                    site.silent_connections.append(bytes(got))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed when this returns: nobody listens there


@contextlib.contextmanager
def running_sip2(folder: Path) -> Iterator[Sip2Site]:
    """Start every server of a `Sip2Site` in a thread; stop them all on the way out."""
    ca_file, cert_file, key_file, wrong_ca = make_certificates(folder)
    site = Sip2Site(ca_file=ca_file, wrong_ca_file=wrong_ca, closed_port=_closed_port())
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert_file, key_file)
    port_of: dict[str, int] = {}

    async def serve(task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        plain = _sip2_app(site, port_of, "plain")
        secure = _sip2_app(site, port_of, "tls")
        strict = _sip2_app(site, port_of, "checksum", error_detection="required")
        listeners = {
            name: await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
            for name in ("plain", "tls", "checksum", "silent")
        }
        for name, listener in listeners.items():
            port_of[name] = listener.extra(anyio.abc.SocketAttribute.local_port)
        site.port, site.tls_port = port_of["plain"], port_of["tls"]
        site.checksum_port, site.silent_port = port_of["checksum"], port_of["silent"]
        async with anyio.create_task_group() as tg:
            tg.start_soon(listeners["plain"].serve, plain._handle_connection)
            tls_listener = TLSListener(listeners["tls"], tls, standard_compatible=False)
            tg.start_soon(tls_listener.serve, secure._handle_connection)
            tg.start_soon(listeners["checksum"].serve, strict._handle_connection)
            tg.start_soon(listeners["silent"].serve, lambda stream: _silent(site, stream))
            task_status.started()

    with start_blocking_portal() as portal:
        future, _ = portal.start_task(serve)
        try:
            yield site
        finally:
            future.cancel()


def card_settings(sip2: Sip2Site, folder: Path, silent: bool = False) -> str:
    """The [login] lines and [login.sip2] table of a site whose library's system is `sip2` (TLS, its CA);
    `silent`: the server that never answers instead (plain TCP, a 5-second deadline)."""
    secret = folder / "sip2-password"
    secret.write_text(LOGIN_PASSWORD + "\n")
    os.chmod(secret, 0o600)
    return (
        'method = ["native", "sip2"]\n'
        "[login.sip2]\n"
        'host = "localhost"\n'
        + (f"port = {sip2.silent_port}\ntimeout_seconds = 5\n" if silent else f"port = {sip2.tls_port}\n")
        + ("" if silent else f'tls = true\nca_file = "{sip2.ca_file}"\n')
        + f'login_user = "{LOGIN_USER}"\n'
        f'password_file = "{secret}"\n'
        f'institution_id = "{INSTITUTION}"\n'
        'staff_patron_types = ["STAFF"]\n'
    )
