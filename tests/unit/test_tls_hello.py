"""The hello-probe codec: ClientHellos we build, and server flights we read (hostile input too)."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailtls.tls import suites as S
from mailtls.tls.hello import (
    SSL3,
    TLS10,
    TLS12,
    TLS13,
    ServerFlight,
    alert_name,
    build_client_hello,
    build_sslv2_client_hello,
    read_server_flight,
    version_name,
)

# --- helpers: a server's messages, built by hand -------------------------------------------------


def record(content_type: int, payload: bytes, version: int = 0x0303) -> bytes:
    return struct.pack("!BHH", content_type, version, len(payload)) + payload


def hs(msg_type: int, body: bytes) -> bytes:
    return bytes([msg_type]) + len(body).to_bytes(3, "big") + body


def ext(ext_type: int, data: bytes) -> bytes:
    return struct.pack("!HH", ext_type, len(data)) + data


def server_hello(
    version: int = 0x0303,
    suite: int = 0xC02F,
    exts: bytes | None = b"",
    random: bytes = b"\x11" * 32,
    session_id: bytes = b"",
) -> bytes:
    body = struct.pack("!H", version) + random + bytes([len(session_id)]) + session_id
    body += struct.pack("!HB", suite, 0)
    if exts is not None:
        body += struct.pack("!H", len(exts)) + exts
    return hs(2, body)


def certificate(*ders: bytes) -> bytes:
    inner = b"".join(len(d).to_bytes(3, "big") + d for d in ders)
    return hs(11, len(inner).to_bytes(3, "big") + inner)


def ske_ecdhe(group: int = 29, scheme: int = 0x0804) -> bytes:
    point = b"\x22" * 32
    return hs(
        12,
        struct.pack("!BHB", 3, group, len(point)) + point + struct.pack("!HH", scheme, 4) + b"sig!",
    )


def ske_dhe(p: int, g: int = 2, scheme: int = 0x0401) -> bytes:
    def v16(n: int) -> bytes:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        return struct.pack("!H", len(raw)) + raw

    return hs(12, v16(p) + v16(g) + v16(12345) + struct.pack("!HH", scheme, 2) + b"ok")


SHD = hs(14, b"")
CERT = b"0\x82\x01\x00fake-der"
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")


def feeder(
    data: bytes, chunk: int = 1 << 20, then: BaseException | None = None
) -> Callable[[int], bytes]:
    """recv(n) over `data` in pieces of at most `chunk`, then b'' (or raise `then`)."""
    pos = 0

    def recv(n: int) -> bytes:
        nonlocal pos
        if pos >= len(data):
            if then is not None:
                raise then
            return b""
        out = data[pos : pos + min(n, chunk)]
        pos += len(out)
        return out

    return recv


def endless(piece: bytes) -> tuple[Callable[[int], bytes], list[int]]:
    """recv that never ends: repeats `piece` forever; also counts calls."""
    calls = [0]

    def gen() -> Iterator[bytes]:
        while True:
            yield piece

    it = gen()

    def recv(n: int) -> bytes:
        calls[0] += 1
        return next(it)[:n] if len(piece) > n else next(it)

    return recv, calls


def flight(data: bytes, chunk: int = 1 << 20, max_bytes: int = 65536) -> ServerFlight:
    return read_server_flight(feeder(data, chunk), max_bytes=max_bytes)


TLS12_FLIGHT = record(
    22,
    server_hello(exts=ext(0xFF01, b"\x00") + ext(23, b"")) + certificate(CERT) + ske_ecdhe() + SHD,
)


# --- ClientHello builder (checked with tlslite-ng's independent parser) -------------------------


def parse_client_hello(rec: bytes) -> object:
    messages = pytest.importorskip("tlslite.messages")
    codec = pytest.importorskip("tlslite.utils.codec")
    body = b""
    pos = 0
    while pos < len(rec):  # reassemble records
        length = struct.unpack("!H", rec[pos + 3 : pos + 5])[0]
        body += rec[pos + 5 : pos + 5 + length]
        pos += 5 + length
    parser = codec.Parser(bytearray(body))
    assert parser.get(1) == 1
    return messages.ClientHello().parse(parser)


def test_tls12_hello_offers_what_servers_need() -> None:
    rec = build_client_hello(
        TLS12, [0xC02F, 0x009E], server_name="mx.example.", random=b"\x07" * 32
    )
    assert rec[:3] == b"\x16\x03\x01"
    ch = parse_client_hello(rec)
    assert ch.client_version == (3, 3) and ch.random == bytearray(b"\x07" * 32)  # type: ignore[attr-defined]
    assert list(ch.cipher_suites) == [0xC02F, 0x009E]  # type: ignore[attr-defined]
    assert bytes(ch.server_name) == b"mx.example"  # type: ignore[attr-defined]
    types = [e.extType for e in ch.extensions]  # type: ignore[attr-defined]
    for needed in (0, 10, 11, 13, 0xFF01, 23, 22):
        assert needed in types
    assert 43 not in types and 51 not in types
    assert list(ch.getExtension(10).groups) == list(S.DEFAULT_GROUPS)  # type: ignore[attr-defined]


def test_tls10_hello_has_no_signature_algorithms() -> None:
    ch = parse_client_hello(build_client_hello(TLS10, [0xC013], server_name=None))
    types = [e.extType for e in ch.extensions]  # type: ignore[attr-defined]
    assert 13 not in types and 0 not in types and ch.client_version == (3, 1)  # type: ignore[attr-defined]


def test_tls13_hello() -> None:
    rec = build_client_hello(
        TLS13, [0x1301, 0x1302], server_name="mx.example", key_shares=[29, 23, 24]
    )
    ch = parse_client_hello(rec)
    assert ch.client_version == (3, 3) and len(ch.session_id) == 32  # type: ignore[attr-defined]
    assert ch.getExtension(43).versions == [(3, 4)]  # type: ignore[attr-defined]
    shares = {e.group: bytes(e.key_exchange) for e in ch.getExtension(51).client_shares}  # type: ignore[attr-defined]
    assert len(shares[29]) == 32 and len(shares[23]) == 65 and len(shares[24]) == 97
    assert shares[23][0] == 4
    assert 45 in [e.extType for e in ch.extensions]  # type: ignore[attr-defined]
    both = parse_client_hello(
        build_client_hello(TLS12, [0x1301, 0xC02F], server_name=None, tls13=True)
    )
    assert both.getExtension(43).versions == [(3, 4), (3, 3)]  # type: ignore[attr-defined]
    raw = parse_client_hello(
        build_client_hello(TLS13, [0x1301], server_name=None, key_shares=[(0x11EC, b"\x01" * 1216)])
    )
    assert raw.getExtension(51).client_shares[0].group == 0x11EC  # type: ignore[attr-defined]


def test_sslv3_hello_has_no_extensions_and_the_scsv() -> None:
    rec = build_client_hello(SSL3, [0x0005, 0x000A], server_name="mx.example")
    assert rec[:3] == b"\x16\x03\x00"
    ch = parse_client_hello(rec)
    assert ch.client_version == (3, 0) and ch.extensions is None  # type: ignore[attr-defined]
    assert list(ch.cipher_suites) == [0x0005, 0x000A, 0x00FF]  # type: ignore[attr-defined]


def test_padding_keeps_hello_out_of_the_f5_range() -> None:
    for n in range(1, 200, 7):
        rec = build_client_hello(TLS12, list(range(0xC001, 0xC001 + n)), server_name="mx.example")
        assert not 256 <= len(rec) - 5 < 512
        parse_client_hello(rec)


def test_big_hello_is_split_into_records() -> None:
    rec = build_client_hello(TLS12, list(range(1, 9000)), server_name=None)
    assert rec[5 + 16384] == 0x16  # a second record header
    assert len(parse_client_hello(rec).cipher_suites) == 8999  # type: ignore[attr-defined]


def test_builder_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        build_client_hello(0x0305, [1], server_name=None)
    with pytest.raises(ValueError):
        build_client_hello(TLS12, [0x10000], server_name=None)
    with pytest.raises(ValueError):
        build_client_hello(TLS12, [1], server_name="bücher.example")
    with pytest.raises(ValueError):
        build_client_hello(TLS12, [1], server_name=None, random=b"short")
    with pytest.raises(ValueError):
        build_client_hello(TLS13, [0x1301], server_name=None, key_shares=[21])


def test_sslv2_hello() -> None:
    rec = build_sslv2_client_hello(challenge=b"\x01" * 16)
    assert rec[0] & 0x80 and ((rec[0] & 0x7F) << 8 | rec[1]) == len(rec) - 2
    assert rec[2] == 1 and rec[3:5] == b"\x00\x02"
    specs_len, sid_len, chal_len = struct.unpack("!HHH", rec[5:11])
    assert (specs_len, sid_len, chal_len) == (21, 0, 16)
    assert rec[11:14] == b"\x01\x00\x80" and rec[-16:] == b"\x01" * 16


def test_names() -> None:
    assert version_name(0x0303) == "TLS 1.2" and version_name(0x0300) == "SSL 3.0"
    assert version_name(0x0002) == "SSL 2.0" and version_name(0x7F1C) == "0x7f1c"
    assert alert_name(40) == "handshake_failure" and alert_name(70) == "protocol_version"
    assert alert_name(250) == "unknown_alert(250)"


# --- reading the first flight: accepted ----------------------------------------------------------


def test_tls12_flight_in_one_record() -> None:
    f = flight(TLS12_FLIGHT)
    assert f.outcome == "accepted" and f.accepted and f.complete and f.error is None
    assert (f.version, f.cipher_suite, f.compression) == (0x0303, 0xC02F, 0)
    assert f.extensions == (0xFF01, 23)
    assert f.certificates == (CERT,)
    assert (f.kex_group, f.signature_scheme) == (29, 0x0804)
    assert f.raw_len == len(TLS12_FLIGHT) and f.ended_by == "done"


def test_fragmented_handshake_and_one_byte_reads() -> None:
    stream = server_hello() + certificate(CERT, CERT + b"2") + ske_ecdhe(24) + SHD
    records = b"".join(record(22, stream[i : i + 7]) for i in range(0, len(stream), 7))
    f = flight(records, chunk=1)
    assert f.complete and f.certificates == (CERT, CERT + b"2") and f.kex_group == 24


def test_zero_length_records_are_tolerated() -> None:
    f = flight(record(22, b"") * 5 + TLS12_FLIGHT)
    assert f.complete and f.cipher_suite == 0xC02F


def test_tls13_stops_at_server_hello() -> None:
    exts = ext(43, b"\x03\x04") + ext(51, struct.pack("!HH", 29, 32) + b"\x33" * 32)
    data = (
        record(22, server_hello(suite=0x1302, exts=exts))
        + record(20, b"\x01")
        + record(23, b"\x00" * 50)
    )
    f = read_server_flight(feeder(data, chunk=len(data) - 60, then=TimeoutError()))
    assert f.accepted and f.complete and f.error is None
    assert (f.version, f.cipher_suite, f.kex_group) == (0x0304, 0x1302, 29)


def test_hello_retry_request() -> None:
    exts = ext(43, b"\x03\x04") + ext(51, struct.pack("!H", 23))
    f = flight(
        record(
            22, server_hello(suite=0x1301, exts=exts, random=HRR_RANDOM, session_id=b"\x01" * 32)
        )
    )
    assert f.accepted and f.hello_retry and f.complete and f.kex_group == 23 and f.version == 0x0304


def test_dhe_group_identified() -> None:
    p = S.ffdhe_primes()["ffdhe3072"]
    data = record(22, server_hello(suite=0x009E, exts=None) + certificate(CERT) + ske_dhe(p) + SHD)
    f = flight(data)
    assert f.complete and f.dh_prime == p and f.dh_generator == 2 and f.dh_bits == 3072
    assert f.kex_group == 257 and f.signature_scheme == 0x0401 and f.extensions == ()


def test_dhe_custom_group() -> None:
    p = (1 << 1023) | 0x1235
    f = flight(
        record(
            22,
            server_hello(suite=0x0033, version=0x0301, exts=None) + ske_dhe(p, 5) + SHD,
            version=0x0301,
        )
    )
    assert f.complete and f.kex_group is None and f.dh_bits == 1024 and f.dh_generator == 5
    assert f.signature_scheme is None  # TLS 1.0 signatures carry no scheme


def test_warning_alert_before_server_hello_is_not_a_refusal() -> None:
    f = flight(record(21, b"\x01\x70") + TLS12_FLIGHT)
    assert f.accepted and f.complete and f.alert == (1, 112)


def test_close_after_server_hello_is_accepted_with_a_note() -> None:
    f = flight(record(22, server_hello()))
    assert f.accepted and not f.complete and f.ended_by == "eof" and f.error is not None
    g = flight(record(22, server_hello()) + record(21, b"\x02\x28"))
    assert (
        g.accepted
        and not g.complete
        and g.alert == (2, 40)
        and "handshake_failure" in (g.error or "")
    )


def test_sslv2_server_hello() -> None:
    cert = b"0\x82cert"
    specs = b"\x01\x00\x80\x07\x00\xc0"
    body = (
        struct.pack("!BBBHHHH", 4, 0, 1, 2, len(cert), len(specs), 16) + cert + specs + b"\x00" * 16
    )
    f = flight(struct.pack("!H", 0x8000 | len(body)) + body)
    assert f.accepted and f.version == 0x0002 and f.sslv2_cipher_kinds == (0x010080, 0x0700C0)
    assert f.certificates == (cert,) and f.cipher_suite == 0x010080
    empty = struct.pack("!BBBHHHH", 4, 0, 1, 2, 0, 0, 16) + b"\x00" * 16
    assert flight(struct.pack("!H", 0x8000 | len(empty)) + empty).refused
    err = flight(b"\x80\x03\x00\x00\x01")
    assert err.refused and "no-cipher-error" in err.detail


# --- refused ---------------------------------------------------------------------------------


def test_fatal_alert_is_a_refusal() -> None:
    f = flight(record(21, b"\x02\x28", version=0x0301))
    assert f.refused and f.alert == (2, 40) and f.ended_by == "alert" and f.error is None
    assert "handshake_failure" in f.detail and f.version is None


def test_close_or_reset_before_any_reply_is_a_refusal() -> None:
    assert flight(b"").refused and flight(b"").ended_by == "eof"
    reset = read_server_flight(feeder(b"", then=ConnectionResetError()))
    assert reset.refused and reset.ended_by == "reset" and reset.raw_len == 0
    after_warning = flight(record(21, b"\x01\x70"))
    assert after_warning.refused and after_warning.alert == (1, 112)
    warning_then_fatal = flight(record(21, b"\x01\x70") + record(21, b"\x02\x46"))
    assert warning_then_fatal.refused and warning_then_fatal.alert == (2, 70)
    assert "protocol_version" in warning_then_fatal.detail


# --- error: could not test --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "then", "ended_by", "needle"),
    [
        (b"", TimeoutError(), "timeout", "timed out"),
        (b"421 4.7.0 Too many connections, try later\r\n", None, "non_tls", "421 4.7.0"),
        (b"\x00\x01\x02garbage", None, "non_tls", "non-TLS"),
        (b"\x16\x03\x03\x00\x64" + b"\x02" * 10, None, "eof", "closed"),
        (b"\x16\x03\x03\x00\x64" + b"\x02" * 10, ConnectionResetError(), "reset", "reset"),
        (b"\x16\x03\x03\xff\xff", None, "malformed", "record length"),
        (b"\x16\x09\x03\x00\x01\x00", None, "malformed", "not TLS"),
        (record(22, b"\x02\xff\xff\xff"), None, "malformed", "exceeds"),
        (record(22, server_hello()[:20]), None, "eof", "closed"),
        (record(22, server_hello(session_id=b"\x00" * 40)), None, "malformed", "session id"),
        (record(22, hs(2, b"\x03\x03")), None, "malformed", "ServerHello"),
        (record(22, server_hello(exts=b"\x00\x2b\x00\x09")), None, "malformed", "extension"),
        (record(22, hs(11, b"")), None, "malformed", "before the ServerHello"),
        (record(20, b"\x01"), None, "malformed", "ChangeCipherSpec"),
        (record(23, b"hello"), None, "malformed", "ApplicationData"),
        (record(21, b"\x02"), None, "malformed", "alert record"),
        (b"\x15", None, "eof", "closed"),
    ],
)
def test_errors(data: bytes, then: BaseException | None, ended_by: str, needle: str) -> None:
    f = read_server_flight(feeder(data, then=then))
    assert f.outcome == "error", f
    assert f.ended_by == ended_by and f.error is not None and needle in f.error
    assert f.detail.startswith("could not test")


def test_socket_errors_are_classified() -> None:
    f = read_server_flight(feeder(b"", then=OSError(113, "No route to host")))
    assert f.outcome == "error" and f.ended_by == "socket_error" and "No route" in (f.error or "")


def test_reset_mid_flight_after_server_hello() -> None:
    f = read_server_flight(feeder(record(22, server_hello()), then=ConnectionResetError()))
    assert f.accepted and not f.complete and f.ended_by == "reset"


# --- bounded --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "piece",
    [
        record(22, b""),  # endless zero-length records
        record(22, hs(0, b"")),  # endless HelloRequests
        record(21, b"\x01\x70"),  # endless warning alerts
        b"\x16\x03\x03\x40\x00" + b"\x0b" * 0x4000,  # records feeding one huge Certificate
    ],
)
def test_ten_megabyte_stream_is_capped(piece: bytes) -> None:
    recv, calls = endless(piece)
    f = read_server_flight(recv, max_bytes=65536)
    assert f.outcome == "error" and f.raw_len <= 65536
    assert calls[0] <= 65536 // len(piece) + 2


def test_endless_flight_after_server_hello_is_capped() -> None:
    head = record(22, server_hello())
    recv_data = head + record(22, hs(13, b"\x00" * 100)) * 200_000  # ~20 MB of CertificateRequests
    f = read_server_flight(feeder(recv_data, chunk=5000), max_bytes=32768)
    assert f.accepted and not f.complete and f.ended_by == "cap" and f.raw_len <= 32768


def test_recv_returning_more_than_asked_is_still_capped() -> None:
    f = read_server_flight(lambda n: b"\x16\x03\x03\x00\x00" * 100_000, max_bytes=1000)
    assert f.outcome == "error" and f.raw_len <= 1000 and f.ended_by == "cap"


# --- fuzz -----------------------------------------------------------------------------------------

_OUTCOMES = {"accepted", "refused", "error"}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000), chunk=st.integers(1, 4096), cap=st.integers(0, 5000))
def test_fuzz_random_bytes_never_raise(data: bytes, chunk: int, cap: int) -> None:
    f = read_server_flight(feeder(data, chunk), max_bytes=cap)
    assert f.outcome in _OUTCOMES and f.raw_len <= cap


_VALID = [
    TLS12_FLIGHT,
    record(22, server_hello(suite=0x009E) + ske_dhe(S.ffdhe_primes()["ffdhe2048"]) + SHD),
    record(22, server_hello(exts=ext(43, b"\x03\x04") + ext(51, b"\x00\x1d\x00\x01\x00"))),
    record(21, b"\x02\x28"),
    build_client_hello(TLS12, [0xC02F], server_name="x"),
]


@settings(max_examples=600, deadline=None)
@given(
    base=st.sampled_from(_VALID),
    edits=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 255)), max_size=8),
    cut=st.integers(0, 2000),
    chunk=st.integers(1, 64),
)
def test_fuzz_mutated_flights_never_raise(
    base: bytes, edits: list[tuple[int, int]], cut: int, chunk: int
) -> None:
    data = bytearray(base)
    for pos, value in edits:
        data[pos % len(data)] = value
    f = read_server_flight(feeder(bytes(data[: max(cut, 1)]), chunk), max_bytes=4096)
    assert f.outcome in _OUTCOMES and f.raw_len <= 4096
    if f.outcome == "error":
        assert f.error
