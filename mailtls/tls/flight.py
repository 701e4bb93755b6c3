"""Read and classify a server's first flight in answer to our ClientHello (bounded, never raises).

Reads TLS records until ServerHelloDone (TLS <= 1.2), the ServerHello itself (TLS 1.3, or a
HelloRetryRequest), an alert, the end of the stream, a timeout, or `max_bytes`. Understands an
SSL 2.0 SERVER-HELLO too, for the SSLv2 probe. Classification (DESIGN.md "Probing"):

- accepted: a ServerHello arrived (or an SSLv2 SERVER-HELLO with a non-empty cipher list);
- refused: an alert, or the connection closed (FIN or RST) before any byte of a reply;
- error: a timeout, non-TLS bytes (SMTP text, garbage), a malformed message, a close or reset
  in the middle of a record, or more than `max_bytes` without an answer.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Literal

from mailtls.tls._reader import (
    AtBoundary,
    ByteInput,
    Cursor,
    EndedBy,
    Malformed,
    Recv,
    Stop,
    take_boundary_byte,
)
from mailtls.tls._wire import (
    CT_ALERT,
    CT_APPLICATION_DATA,
    CT_CHANGE_CIPHER_SPEC,
    CT_HANDSHAKE,
    CT_HEARTBEAT,
    EXT_KEY_SHARE,
    EXT_SUPPORTED_VERSIONS,
    HRR_RANDOM,
    HS_CERTIFICATE,
    HS_HELLO_REQUEST,
    HS_SERVER_HELLO,
    HS_SERVER_HELLO_DONE,
    HS_SERVER_KEY_EXCHANGE,
    MAX_RECORD_LENGTH,
    TLS12,
    TLS13,
    alert_name,
)
from mailtls.tls.groups import GROUP_CODES, identify_ff_group
from mailtls.tls.suites import SUITES

Outcome = Literal["accepted", "refused", "error"]

_CONTENT_TYPES = {
    CT_CHANGE_CIPHER_SPEC: "ChangeCipherSpec",
    CT_ALERT: "Alert",
    CT_HANDSHAKE: "Handshake",
    CT_APPLICATION_DATA: "ApplicationData",
    CT_HEARTBEAT: "Heartbeat",
}
_SSL2_ERRORS = {
    1: "no-cipher-error",
    2: "no-certificate-error",
    4: "bad-certificate-error",
    6: "unsupported-certificate-type-error",
}


@dataclass(frozen=True)
class ServerFlight:
    """What the server answered to one ClientHello.

    version: negotiated version (supported_versions wins over legacy_version; 0x0002 for SSLv2).
    cipher_suite: the chosen suite (for SSLv2: the first cipher kind, 24-bit).
    extensions: extension types in the ServerHello, in order.
    alert: (level, description) of the first alert seen, if any.
    certificates: DER certificates from the Certificate message (TLS <= 1.2 and SSLv2 only).
    kex_group: named group from the ECDHE ServerKeyExchange or TLS 1.3 key_share/HRR; for DHE,
        the ffdhe code when the prime is an RFC 7919 group.
    dh_prime, dh_generator, dh_bits: DHE parameters from the ServerKeyExchange.
    signature_scheme: the ServerKeyExchange signature scheme (TLS 1.2 only).
    hello_retry: the ServerHello was a TLS 1.3 HelloRetryRequest.
    complete: the flight ended normally (ServerHelloDone, TLS 1.3 ServerHello or HRR).
    ended_by: what stopped the reading; `error` explains 'error' outcomes, and notes trouble after
        an accepted ServerHello (e.g. closed before ServerHelloDone).
    detail: one human sentence for the evidence.
    raw_len: bytes read from the socket (never more than max_bytes).
    """

    outcome: Outcome
    version: int | None = None
    cipher_suite: int | None = None
    compression: int | None = None
    extensions: tuple[int, ...] = ()
    alert: tuple[int, int] | None = None
    certificates: tuple[bytes, ...] = ()
    kex_group: int | None = None
    dh_prime: int | None = None
    dh_generator: int | None = None
    dh_bits: int | None = None
    signature_scheme: int | None = None
    hello_retry: bool = False
    error: str | None = None
    raw_len: int = 0
    complete: bool = False
    ended_by: EndedBy = "done"
    detail: str = ""
    sslv2_cipher_kinds: tuple[int, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.outcome == "accepted"

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


@dataclass
class _State:
    """Mutable facts gathered while reading; frozen into a ServerFlight at the end."""

    version: int | None = None
    cipher_suite: int | None = None
    compression: int | None = None
    extensions: tuple[int, ...] = ()
    alert: tuple[int, int] | None = None
    certificates: tuple[bytes, ...] = ()
    kex_group: int | None = None
    dh_prime: int | None = None
    dh_generator: int | None = None
    signature_scheme: int | None = None
    hello_retry: bool = False
    server_hello: bool = False
    done: bool = False  # stop reading
    complete: bool = False  # the flight ended normally
    refused_by_alert: bool = False
    sslv2_kinds: tuple[int, ...] = ()
    sslv2_refusal: str | None = None
    handshake_seen: bool = False
    hs_buf: bytearray = field(default_factory=bytearray)


def _parse_extensions(cur: Cursor, st: _State) -> None:
    block = Cursor(cur.vec(2), "ServerHello extensions")
    types: list[int] = []
    while block.remaining():
        ext_type = block.uint(2)
        data = Cursor(block.vec(2), f"extension {ext_type}")
        types.append(ext_type)
        if ext_type == EXT_SUPPORTED_VERSIONS:
            st.version = data.uint(2)
        elif ext_type == EXT_KEY_SHARE:
            st.kex_group = data.uint(2)  # HRR: selected_group; ServerHello: the share's group
    st.extensions = tuple(types)


def _parse_server_hello(body: bytes, st: _State) -> None:
    cur = Cursor(body, "ServerHello")
    st.version = cur.uint(2)
    st.hello_retry = cur.take(32) == HRR_RANDOM
    if len(cur.vec(1)) > 32:
        raise Malformed("ServerHello: session id longer than 32 bytes")
    st.cipher_suite = cur.uint(2)
    st.compression = cur.uint(1)
    if cur.remaining():
        _parse_extensions(cur, st)
    if cur.remaining():
        raise Malformed(f"ServerHello: {cur.remaining()} trailing bytes")
    st.server_hello = True
    st.done = st.complete = st.hello_retry or st.version == TLS13


def _parse_certificate(body: bytes, st: _State) -> None:
    certs = Cursor(Cursor(body, "Certificate").vec(3), "Certificate list")
    found: list[bytes] = []
    while certs.remaining():
        found.append(certs.vec(3))
    st.certificates = tuple(found)


def _parse_signature_scheme(cur: Cursor, st: _State) -> None:
    if st.version is not None and st.version >= TLS12 and cur.remaining() >= 2:
        st.signature_scheme = cur.uint(2)


def _parse_server_key_exchange(body: bytes, st: _State) -> None:
    suite = SUITES.get(st.cipher_suite if st.cipher_suite is not None else -1)
    if suite is None:
        return
    cur = Cursor(body, "ServerKeyExchange")
    if suite.kex == "ECDHE":
        if suite.auth == "PSK":
            cur.vec(2)  # psk_identity_hint
        curve_type = cur.uint(1)
        if curve_type != 3:
            raise Malformed(
                f"ServerKeyExchange: explicit curve parameters (curve_type {curve_type})"
            )
        st.kex_group = cur.uint(2)
        cur.vec(1)  # public point
    elif suite.kex == "DHE":
        if suite.auth == "PSK":
            cur.vec(2)
        p = int.from_bytes(cur.vec(2), "big")
        g = int.from_bytes(cur.vec(2), "big")
        cur.vec(2)  # Ys
        st.dh_prime, st.dh_generator = p, g
        name = identify_ff_group(p, g)
        st.kex_group = GROUP_CODES[name] if name else None
    else:
        return
    if suite.auth not in ("anon", "PSK"):
        _parse_signature_scheme(cur, st)


def _handle_handshake(msg_type: int, body: bytes, st: _State) -> None:
    if not st.server_hello:
        if msg_type == HS_SERVER_HELLO:
            _parse_server_hello(body, st)
        elif msg_type != HS_HELLO_REQUEST:
            raise Malformed(f"handshake message type {msg_type} before the ServerHello")
        return
    if msg_type == HS_SERVER_HELLO:
        raise Malformed("a second ServerHello")
    if msg_type == HS_CERTIFICATE:
        _parse_certificate(body, st)
    elif msg_type == HS_SERVER_KEY_EXCHANGE:
        _parse_server_key_exchange(body, st)
    elif msg_type == HS_SERVER_HELLO_DONE:
        st.done = st.complete = True


def _drain_handshake(st: _State, cap: int) -> None:
    """Handle every complete handshake message buffered so far (several per record, or one
    spread over several records)."""
    buf = st.hs_buf
    while len(buf) >= 4 and not st.done:
        length = int.from_bytes(buf[1:4], "big")
        if length > cap:
            raise Malformed(f"handshake message of {length} bytes exceeds the {cap}-byte cap")
        if len(buf) < 4 + length:
            return
        msg_type, body = buf[0], bytes(buf[4 : 4 + length])
        del buf[: 4 + length]
        _handle_handshake(msg_type, body, st)


def _handle_alert(payload: bytes, st: _State) -> None:
    if len(payload) < 2:
        raise Malformed(f"alert record of {len(payload)} bytes")
    level, description = payload[0], payload[1]
    warning_only = level == 1 and description != 0
    if st.alert is None or not warning_only:  # keep the decisive alert, not a warning before it
        st.alert = (level, description)
    if not warning_only:  # fatal, close_notify, or an unknown level
        st.done = True
        st.refused_by_alert = not st.server_hello


def _read_tls(inp: ByteInput, st: _State, first: int, cap: int) -> None:
    content_type = first
    while True:
        header = inp.take(4)
        major, minor, length = header[0], header[1], int.from_bytes(header[2:4], "big")
        if major != 3 or minor > 4:
            raise Malformed(f"record version {major}.{minor} is not TLS")
        if length > MAX_RECORD_LENGTH:
            raise Malformed(f"record length {length} exceeds {MAX_RECORD_LENGTH}")
        payload = inp.take(length)
        if content_type == CT_HANDSHAKE:
            st.handshake_seen = True
            st.hs_buf += payload
            _drain_handshake(st, cap)
        elif content_type == CT_ALERT:
            _handle_alert(payload, st)
        elif content_type in _CONTENT_TYPES:
            raise Malformed(
                f"unexpected {_CONTENT_TYPES[content_type]} record before the flight ended"
            )
        else:
            raise Malformed(f"record content type {content_type} is not TLS")
        if st.done:
            return
        content_type = take_boundary_byte(inp)


def _read_sslv2(inp: ByteInput, st: _State, first: int) -> None:
    length = ((first & 0x7F) << 8) | inp.take(1)[0]
    cur = Cursor(inp.take(length), "SSLv2 message")
    msg_type = cur.uint(1)
    if msg_type == 0:  # ERROR
        code = cur.uint(2)
        st.sslv2_refusal = f"SSLv2 ERROR {code} ({_SSL2_ERRORS.get(code, 'unknown')})"
        return
    if msg_type != 4:
        raise Malformed(f"SSLv2 message type {msg_type} where SERVER-HELLO was expected")
    cur.uint(1)  # session id hit
    cur.uint(1)  # certificate type
    version = cur.uint(2)
    cert_len, specs_len, conn_len = cur.uint(2), cur.uint(2), cur.uint(2)
    cert, specs = cur.take(cert_len), cur.take(specs_len)
    cur.take(conn_len)
    if specs_len % 3:
        raise Malformed(f"SSLv2 cipher specs length {specs_len} is not a multiple of 3")
    kinds = tuple(int.from_bytes(specs[i : i + 3], "big") for i in range(0, specs_len, 3))
    if not kinds:
        st.sslv2_refusal = "SSLv2 SERVER-HELLO with an empty cipher list"
        return
    st.version = version
    st.sslv2_kinds, st.cipher_suite = kinds, kinds[0]
    st.certificates = (cert,) if cert else ()
    st.server_hello = st.done = st.complete = True


def _non_tls(inp: ByteInput, first: int) -> Stop:
    sample = (bytes([first]) + inp.buffered())[:120]
    text = sample.decode("ascii", "backslashreplace")
    if sample[:3].isdigit():
        return Stop("non_tls", f"the server answered with SMTP text instead of TLS: {text!r}")
    return Stop("non_tls", f"the server answered with non-TLS bytes: {text!r}")


def _read(inp: ByteInput, st: _State, cap: int) -> None:
    try:
        first = inp.take(1)[0]
    except Stop as stop:
        raise AtBoundary(stop.kind, stop.message) from None
    if first in _CONTENT_TYPES:
        _read_tls(inp, st, first, cap)
    elif first & 0x80:
        _read_sslv2(inp, st, first)
    else:
        raise _non_tls(inp, first)


def _ended(stop: Stop | None, st: _State) -> EndedBy:
    if stop is not None:
        return stop.kind
    return "done" if st.complete else "alert"


def _alert_text(alert: tuple[int, int]) -> str:
    level = {1: "warning", 2: "fatal"}.get(alert[0], f"level-{alert[0]}")
    return f"{level} alert {alert_name(alert[1])}"


def _classify(st: _State, stop: Stop | None) -> tuple[Outcome, str | None, str]:
    """(outcome, error, detail) from what was read and how the reading stopped."""
    if st.server_hello:
        if st.complete:
            return "accepted", None, "server accepted the hello; first flight complete"
        if stop is not None:
            note = stop.message
        else:
            note = f"{_alert_text(st.alert) if st.alert else 'alert'} after the ServerHello"
        return "accepted", note, f"server accepted the hello; then {note}"
    if st.refused_by_alert and st.alert is not None:
        return "refused", None, f"server refused with a {_alert_text(st.alert)}"
    if st.sslv2_refusal is not None:
        return "refused", None, f"server refused: {st.sslv2_refusal}"
    if isinstance(stop, AtBoundary) and stop.kind in ("eof", "reset") and not st.handshake_seen:
        how = "closed the connection" if stop.kind == "eof" else "reset the connection"
        extra = f" after a {_alert_text(st.alert)}" if st.alert else ""
        return "refused", None, f"server {how}{extra} without a ServerHello"
    message = stop.message if stop is not None else "no ServerHello"
    return "error", message, f"could not test: {message}"


def read_server_flight(recv: Recv, *, max_bytes: int = 64 * 1024) -> ServerFlight:
    """Read the server's answer to our ClientHello; never raises for anything the peer does.

    recv(n) returns up to n bytes, b"" at EOF, and may raise TimeoutError (socket.timeout),
    ConnectionResetError or another OSError: all of these are classified, not propagated.
    At most `max_bytes` bytes are read in total.
    """
    inp = ByteInput(recv, max_bytes)
    st = _State()
    stop: Stop | None = None
    try:
        _read(inp, st, max_bytes)
    except Stop as exc:
        stop = exc
    except (ValueError, IndexError, struct.error) as exc:  # defence in depth: a parser bug
        stop = Malformed(f"unparseable reply: {exc}")
    outcome, error, detail = _classify(st, stop)
    prime = st.dh_prime
    return ServerFlight(
        outcome=outcome,
        version=st.version,
        cipher_suite=st.cipher_suite,
        compression=st.compression,
        extensions=st.extensions,
        alert=st.alert,
        certificates=st.certificates,
        kex_group=st.kex_group,
        dh_prime=prime,
        dh_generator=st.dh_generator,
        dh_bits=prime.bit_length() if prime is not None else None,
        signature_scheme=st.signature_scheme,
        hello_retry=st.hello_retry,
        error=error,
        raw_len=inp.total,
        complete=st.complete,
        ended_by=_ended(stop, st),
        detail=detail,
        sslv2_cipher_kinds=st.sslv2_kinds,
    )
