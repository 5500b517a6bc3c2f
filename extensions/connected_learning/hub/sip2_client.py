"""Asking a library's catalogue about a card over SIP2 (3M Standard Interchange Protocol 2.00).

One question per log-in, on its own connection: connect (TLS where the site says so, the
certificate checked against the system's trust store or the site's CA file), send 93 Login
with the site's SIP2 account when one is configured, then 63 Patron Information with the
card number (AA) and PIN (AD), read the 64 answer, close. The frames are built and read by
`pysip2`'s codec (the wire format, AY/AZ sequence numbers and checksums); this module only
adds the conversation, the one extension field it reads, PC (patron class: the patron type
Koha, Evergreen and other systems send for PC-reservation terminals), and a second reading
of an answer whose empty optional fields pysip2's strict models refuse.

Everything is asyncio with one deadline for the whole conversation: the hub's event loop
never waits on the catalogue. Any failure to get a usable answer (no answer in time, the
port closed, a certificate that does not check, the site's SIP2 log-in refused, a garbled
frame) is a `CatalogueUnavailable` whose text is for the log; it never holds the card
number or the PIN.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from dataclasses import dataclass

from pysip2 import (
    DecodedMessage,
    LoginRequest,
    LoginResponse,
    PatronInformationRequest,
    PatronInformationResponse,
    RequestACSResend,
    RequestSCResend,
    SIP2ChecksumError,
    SIP2CodecError,
    SIP2Error,
    SIPMessage,
    decode_message,
    encode_message,
    verify_checksum,
)

from ..settings_login import SIP2_STATUS_FLAGS as PATRON_STATUS_FLAGS

MAX_FRAME_BYTES = 65536  # a 64 answer lists item ids; real ones stay far below this


class CatalogueUnavailable(Exception):
    """No usable answer from the catalogue; the text says why, for the log (never a card or PIN)."""


@dataclass(frozen=True)
class Sip2Link:
    """How to reach the catalogue's SIP2 service (from `[login.sip2]`)."""

    host: str
    port: int
    tls: bool = False
    ca_file: str = ""
    login_user: str = ""
    login_password: str = ""
    institution_id: str = ""
    location_code: str = ""
    timeout_seconds: float = 10.0
    checksums: bool = False
    encoding: str = "utf-8"

    def where(self) -> str:
        return f"{self.host}:{self.port}{' (TLS)' if self.tls else ''}"


@dataclass(frozen=True)
class PatronAnswer:
    """What the catalogue said about a card: the 64 answer's fields a log-in needs."""

    valid_patron: bool  # BL = Y
    valid_pin: bool  # CQ = Y (missing counts as no: the PIN was not checked)
    flags: frozenset[str]  # the patron status flags that are set (names from PATRON_STATUS_FLAGS)
    personal_name: str  # AE
    patron_class: str  # PC (an extension; "" when the system does not send it)


def transaction_date(now: float | None = None) -> str:
    """SIP2's 18-character date: YYYYMMDD, four blanks (local time), HHMMSS."""
    t = time.localtime(now)
    return time.strftime("%Y%m%d", t) + "    " + time.strftime("%H%M%S", t)


def extension_fields(frame: bytes, fixed_length: int, encoding: str) -> dict[str, str]:
    """The variable fields of a frame by their two-letter ids, the ones pysip2's models skip too.

    `fixed_length` counts the command id and the fixed fields; the AY/AZ trailer is left out.
    """
    body = frame.rstrip(b"\r\n")[fixed_length:].decode(encoding, errors="replace")
    fields: dict[str, str] = {}
    for piece in body.split("|"):
        if len(piece) >= 2 and piece[:2] not in ("AY", "AZ"):
            fields.setdefault(piece[:2], piece[2:])
    return fields


PATRON_INFO_FIXED = 2 + 14 + 3 + 18 + 6 * 4  # "64", status, language, date, six counts
FIXED_LENGTHS = {"64": PATRON_INFO_FIXED, "94": 3}  # the answers this client reads: where variable fields start


KEPT_EMPTY = ("AE", "AO", "AA")  # required fields that may be empty (a patron without a name)


def without_empty_fields(frame: bytes, encoding: str) -> DecodedMessage[SIPMessage]:
    """Decode `frame` with its empty variable fields but KEPT_EMPTY dropped, keeping its sequence number.

    Raises:
        SIP2Error: the frame still does not decode, or its checksum does not add up.
    """
    body = frame.rstrip(b"\r\n")
    sequence = None
    if len(body) >= 6 and body[-6:-4] == b"AZ":
        if not verify_checksum(body):
            raise SIP2ChecksumError("checksum mismatch")
        body = body[:-6]
        if len(body) >= 3 and body[-3:-1] == b"AY":
            sequence, body = int(body[-1:]), body[:-3]
    command = body[:2].decode("ascii", errors="replace")
    fixed = FIXED_LENGTHS.get(command, 2)
    fields = [f for f in body[fixed:].split(b"|") if len(f) > 2 or f[:2].decode(encoding, "replace") in KEPT_EMPTY]
    cleaned = body[:fixed] + b"".join(f + b"|" for f in fields if f) + b"\r"
    decoded = decode_message(cleaned, encoding=encoding)
    return DecodedMessage(message=decoded.message, sequence_number=sequence, checksum=None)


def _tls_context(link: Sip2Link) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=link.ca_file or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Conversation:
    """One connection: sends requests, reads answers, numbers and checks frames when asked."""

    def __init__(self, link: Sip2Link, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.link = link
        self.reader = reader
        self.writer = writer
        self.sequence = 0

    async def _read_frame(self) -> bytes:
        try:
            frame = await self.reader.readuntil(b"\r")
        except asyncio.IncompleteReadError:
            raise CatalogueUnavailable(f"{self.link.where()} closed the connection without an answer") from None
        except asyncio.LimitOverrunError:
            raise CatalogueUnavailable(
                f"{self.link.where()} sent an answer longer than {MAX_FRAME_BYTES} bytes"
            ) from None
        # Some systems end frames with CR LF: the LF then starts the next read.
        return frame.lstrip(b"\n")

    def _decode_leniently(self, raw: bytes, error: SIP2Error) -> DecodedMessage[SIPMessage]:
        """`raw` again with its empty optional fields left out ("BH|", "CQ|"), which some systems send
        and pysip2's models refuse (an empty flag is no flag); its checksum was good (checked first)."""
        try:
            return without_empty_fields(raw, self.link.encoding)
        except SIP2Error:
            raise CatalogueUnavailable(f"{self.link.where()} sent a frame that is not SIP2 2.00: {error}") from None

    async def ask(self, request: SIPMessage, expected: type[SIPMessage]) -> tuple[SIPMessage, bytes]:
        """Send `request`, return the decoded answer and its raw frame.

        The catalogue may ask for the request again (96) once; a frame whose checksum does
        not add up is asked for again (97) once.
        """
        sequence = self.sequence
        self.sequence = (self.sequence + 1) % 10
        kind = dict(sequence_number=sequence, checksum=True) if self.link.checksums else {}
        frame = encode_message(request, encoding=self.link.encoding, **kind)  # type: ignore[arg-type]
        resends = 0
        self.writer.write(frame)
        await self.writer.drain()
        while True:
            raw = await self._read_frame()
            try:
                decoded = decode_message(raw, encoding=self.link.encoding)
            except SIP2ChecksumError:
                decoded = None
            except SIP2Error as e:
                decoded = self._decode_leniently(raw, e)
            if decoded is not None and isinstance(decoded.message, RequestSCResend):
                again = frame
            elif decoded is None:
                again = encode_message(RequestACSResend(), encoding=self.link.encoding, checksum=True)
            else:
                break
            resends += 1
            if resends > 2:
                raise CatalogueUnavailable(f"{self.link.where()} and the hub could not exchange a clean frame")
            self.writer.write(again)
            await self.writer.drain()
        message = decoded.message
        if not isinstance(message, expected):
            raise CatalogueUnavailable(
                f"{self.link.where()} answered {type(message).__name__} where {expected.__name__} was expected"
            )
        if self.link.checksums and decoded.sequence_number not in (None, sequence):
            raise CatalogueUnavailable(
                f"{self.link.where()} answered sequence number {decoded.sequence_number} to {sequence}"
            )
        return message, raw

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass


async def _converse(link: Sip2Link, card: str, pin: str) -> PatronAnswer:
    try:
        reader, writer = await asyncio.open_connection(
            link.host,
            link.port,
            ssl=_tls_context(link) if link.tls else None,
            server_hostname=link.host if link.tls else None,
            limit=MAX_FRAME_BYTES,
        )
    except ssl.SSLCertVerificationError as e:
        raise CatalogueUnavailable(
            f"the certificate of {link.where()} did not check ({e.verify_message}); set ca_file to the CA "
            "that signed it, or fix the host name"
        ) from None
    except ssl.SSLError as e:
        raise CatalogueUnavailable(f"TLS with {link.where()} failed: {e.reason or e}") from None
    except OSError as e:
        raise CatalogueUnavailable(f"cannot connect to {link.where()}: {e.strerror or e}") from None
    talk = _Conversation(link, reader, writer)
    try:
        if link.login_user:
            login = LoginRequest(
                uid_algorithm="0",
                pwd_algorithm="0",
                login_user_id=link.login_user,
                login_password=link.login_password,
                location_code=link.location_code or None,
            )
            answer, _ = await talk.ask(login, LoginResponse)
            assert isinstance(answer, LoginResponse)
            if answer.ok != "1":
                raise CatalogueUnavailable(
                    f"{link.where()} refused the hub's SIP2 log-in as {link.login_user!r} (93 answered ok=0); "
                    "check login_user and the password"
                )
        request = PatronInformationRequest(
            language="000",
            transaction_date=transaction_date(),
            summary=" " * 10,
            institution_id=link.institution_id,
            patron_identifier=card,
            terminal_password=link.login_password,
            patron_password=pin,
        )
        answer, raw = await talk.ask(request, PatronInformationResponse)
        assert isinstance(answer, PatronInformationResponse)
    except (OSError, ssl.SSLError) as e:
        raise CatalogueUnavailable(f"the connection to {link.where()} broke: {e}") from None
    finally:
        await talk.close()
    if answer.patron_identifier != card:
        raise CatalogueUnavailable(f"{link.where()} answered about another card than the one asked for")
    extra = extension_fields(raw, PATRON_INFO_FIXED, link.encoding)
    return PatronAnswer(
        valid_patron=answer.valid_patron == "Y",
        valid_pin=answer.valid_patron_password == "Y",
        flags=frozenset(
            name for name, flag in zip(PATRON_STATUS_FLAGS, answer.patron_status, strict=True) if flag == "Y"
        ),
        personal_name=answer.personal_name.strip(),
        patron_class=extra.get("PC", "").strip(),
    )


async def ask_patron(link: Sip2Link, card: str, pin: str) -> PatronAnswer:
    """Ask the catalogue about `card` with `pin`, within `link.timeout_seconds` in all.

    Raises:
        CatalogueUnavailable: no usable answer (the text is for the log).
    """
    try:
        async with asyncio.timeout(link.timeout_seconds):
            return await _converse(link, card, pin)
    except TimeoutError:
        raise CatalogueUnavailable(f"{link.where()} did not answer within {link.timeout_seconds:g} s") from None
    except SIP2CodecError as e:  # a field the codec will not send (the card and PIN were checked before)
        raise CatalogueUnavailable(f"a request to {link.where()} could not be encoded: {e}") from None
