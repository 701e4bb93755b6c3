"""Property-based fuzzing of every parser of what a remote party sends us (issue 17).

Each parser may reject its input only with its own typed error (or its typed "no result"); no
other exception may escape. Where a parser has a natural inverse, the round trip holds. The
budget is the Hypothesis profile's: small and derandomized in CI ("ci"), deep with
HYPOTHESIS_PROFILE=nightly (see tests/conftest.py and bench/bench_fuzz.py).
"""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from mailtls import dane, mtasts, records, tlsrpt
from mailtls.observations import Endpoint
from mailtls.probes.dns import parse_resolver
from mailtls.probes.smtp import ProbeError, Session, SmtpSettings
from mailtls.tls.flight import read_server_flight

ALNUM = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1)
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
DOMAIN = st.lists(LABEL, min_size=2, max_size=4).map(".".join)
EXT_NAME = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", fullmatch=True)
EXT_VALUE = st.from_regex(r"[\x21-\x3a\x3c\x3e-\x7e]{1,20}", fullmatch=True)
# Hostile bytes: mostly record-like text with arbitrary bytes mixed in.
HOSTILE = st.one_of(
    st.binary(max_size=300),
    st.lists(
        st.sampled_from([b"v=STSv1;", b"v=TLSRPTv1;", b"id=", b"rua=", b"mailto:", b"https://",
                         b";", b"=", b",", b" ", b"\t", b"\x00", b"\xff", b"%", b"@", b"a", b"1"]),
        max_size=40,
    ).map(b"".join),
)  # fmt: skip


# --- TXT records (records.py, mtasts.py, tlsrpt.py) ---------------------------------------


@given(HOSTILE)
def test_record_parsers_raise_only_record_error(raw: bytes) -> None:
    for parse in (mtasts.parse_record, tlsrpt.parse):
        try:
            parse(raw)
        except records.RecordError as exc:
            assert str(exc)  # every rejection says why


@given(st.lists(st.binary(max_size=255), min_size=1, max_size=5))
def test_txt_presentation_round_trip_and_selection(strings: list[bytes]) -> None:
    presentation = " ".join(
        '"' + "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\{b:03d}" for b in s)
        + '"'
        for s in strings
    )  # fmt: skip
    joined = b"".join(strings)
    assert records.txt_bytes(presentation) == joined
    for tag in (mtasts.TAG, tlsrpt.TAG):
        assert records.select([presentation], tag) == ([joined] if tag.match(joined) else [])


@given(ALNUM.filter(lambda s: len(s) <= 32), st.lists(st.tuples(EXT_NAME, EXT_VALUE), max_size=3))
def test_sts_record_round_trip(ident: str, ext: list[tuple[str, str]]) -> None:
    ext = [(k, v) for k, v in ext if k != "id"]
    names = [k for k, _ in ext]
    ext = [(k, v) for i, (k, v) in enumerate(ext) if k not in names[:i]]
    text = "; ".join(["v=STSv1", f"id={ident}", *(f"{k}={v}" for k, v in ext)])
    got = mtasts.parse_record(text.encode())
    assert got.id == ident and got.extensions == tuple(ext)


URI = st.one_of(
    st.builds(lambda local, d: f"mailto:{local}@{d}", ALNUM, DOMAIN),
    st.builds(lambda d, path: f"https://{d}/{path}", DOMAIN, ALNUM),
)


@given(st.lists(URI, min_size=1, max_size=4), st.sampled_from([",", ", ", " ,\t"]))
def test_tlsrpt_round_trip(uris: list[str], sep: str) -> None:
    got = tlsrpt.parse(f"v=TLSRPTv1; rua={sep.join(uris)}".encode())
    assert got.rua == tuple(uris)


@given(st.binary(max_size=50))
def test_decode_accepts_exactly_printable_ascii(raw: bytes) -> None:
    ok = all(0x20 <= b < 0x7F or b == 9 for b in raw)
    try:
        assert records.decode(raw) == raw.decode("ascii") and ok
    except records.RecordError:
        assert not ok


# --- the policy file ----------------------------------------------------------------------


@given(st.binary(max_size=600))
def test_policy_parser_never_raises(body: bytes) -> None:
    p = mtasts.parse_policy(body)
    assert p.valid == (not p.errors)


MX = st.one_of(DOMAIN, DOMAIN.map(lambda d: f"*.{d}"))


@given(
    st.sampled_from(mtasts.MODES),
    st.integers(0, mtasts.MAX_AGE_LIMIT),
    st.lists(MX, min_size=1, max_size=5),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)
def test_policy_round_trip(mode: str, age: int, mx: list[str], eol: str, final: bool) -> None:
    lines = ["version: STSv1", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {age}"]
    body = (eol.join(lines) + (eol if final else "")).encode()
    p = mtasts.parse_policy(body)
    assert p.valid, p.errors
    assert (p.version, p.mode, p.max_age, p.mx) == ("STSv1", mode, age, tuple(mx))


# --- TLSA ---------------------------------------------------------------------------------


@given(st.text(max_size=200))
def test_tlsa_parser_returns_a_record_or_none(text: str) -> None:
    got = dane.parse_tlsa(text)
    assert got is None or isinstance(got, dane.Tlsa)


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.binary(max_size=64))
def test_tlsa_round_trip(usage: int, selector: int, mtype: int, data: bytes) -> None:
    text = f"{usage} {selector} {mtype} {data.hex() or '00'}"
    got = dane.parse_tlsa(text)
    assert got is not None
    assert (got.usage, got.selector, got.mtype, got.data) == (
        usage, selector, mtype, data or b"\x00",
    )  # fmt: skip


# --- SMTP replies -------------------------------------------------------------------------


class _Feed:
    """A socket stand-in that hands out the given bytes in the given chunk sizes."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.chunk = data, chunk

    def settimeout(self, _t: float) -> None:
        pass

    def recv(self, n: int) -> bytes:
        out, self.data = self.data[: min(n, self.chunk)], self.data[min(n, self.chunk) :]
        return out


def _session(data: bytes, chunk: int) -> Session:
    s = Session(Endpoint("192.0.2.1", 25, "mx.example"), SmtpSettings("client.example", 5.0))
    s.sock = _Feed(data, chunk)  # type: ignore[assignment]
    return s


@given(st.binary(max_size=3000), st.integers(1, 700))
def test_smtp_reply_reader_raises_only_probe_error(data: bytes, chunk: int) -> None:
    try:
        reply = _session(data, chunk).reply()
    except ProbeError as exc:
        assert exc.failure.kind
    else:
        assert 0 <= reply.code <= 999 and reply.lines


@given(
    st.integers(200, 599),
    st.lists(st.text("abcdefghij XYZ-=.0123456789", max_size=60), min_size=1, max_size=20),
    st.integers(1, 64),
)
def test_smtp_reply_round_trip(code: int, texts: list[str], chunk: int) -> None:
    wire = "".join(
        f"{code}{'-' if i < len(texts) - 1 else ' '}{t}\r\n" for i, t in enumerate(texts)
    )
    reply = _session(wire.encode(), chunk).reply()
    assert (reply.code, reply.lines) == (code, tuple(texts))


# --- the TLS record / server flight reader -------------------------------------------------


def _recv_from(data: bytes, chunk: int):  # type: ignore[no-untyped-def]
    feed = _Feed(data, chunk)
    return feed.recv


@given(st.binary(max_size=2000), st.integers(1, 300))
def test_flight_reader_never_raises(data: bytes, chunk: int) -> None:
    flight = read_server_flight(_recv_from(data, chunk), max_bytes=4096)
    assert flight.outcome in ("accepted", "refused", "error") and flight.raw_len <= 4096


@given(
    st.integers(0x0300, 0x0303), st.integers(0, 0xFFFF), st.binary(min_size=0, max_size=32),
    st.integers(1, 64),
)  # fmt: skip
def test_flight_reader_reads_what_a_server_hello_says(
    version: int, suite: int, session_id: bytes, chunk: int
) -> None:
    body = struct.pack("!H", version) + bytes(32) + bytes([len(session_id)]) + session_id
    body += struct.pack("!HB", suite, 0)  # no extensions
    hs = bytes([2]) + len(body).to_bytes(3, "big") + body
    done = bytes([14, 0, 0, 0])  # ServerHelloDone
    record = bytes([22, 3, 3]) + struct.pack("!H", len(hs + done)) + hs + done
    flight = read_server_flight(_recv_from(record, chunk))
    assert flight.outcome == "accepted", flight
    assert (flight.version, flight.cipher_suite) == (version, suite)


# --- SRV records and --resolver ------------------------------------------------------------


@given(st.text(max_size=120))
def test_srv_parser_returns_a_record_or_none(text: str) -> None:
    got = records.parse_srv(text)
    assert got is None or 0 <= got.port <= 0xFFFF


@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), DOMAIN)
def test_srv_round_trip(prio: int, weight: int, port: int, target: str) -> None:
    got = records.parse_srv(f"{prio} {weight} {port} {target}.")
    assert got is not None and (got.priority, got.weight, got.port, got.target) == (
        prio, weight, port, target,
    )  # fmt: skip


@given(st.text(max_size=60))
def test_resolver_option_raises_only_value_error(text: str) -> None:
    try:
        parse_resolver(text or "127.0.0.1")
    except ValueError as exc:
        assert "--resolver" in str(exc)
