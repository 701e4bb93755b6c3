"""Hello probes of the legacy protocol versions (SSL 3.0, TLS 1.0, TLS 1.1) on one endpoint.

One connection per version, each offering that version as its highest (servers do not always
negotiate down as the RFCs say, so "refused TLS 1.1" does not prove "refused SSL 3.0"): on a
STARTTLS endpoint after banner, EHLO and 220 to STARTTLS, on an implicit-TLS endpoint at once.
We send our own ClientHello (`mailtls.tls.hello`), read the server's first flight and close:
the handshake is never completed, and nothing but EHLO and STARTTLS is ever sent in SMTP.
Python's `ssl` on OpenSSL 3 cannot offer SSL 3.0, so it could only give false passes here.

A small helper written for the submission checks; the lead's TLS scanner (`tlsscan`) is meant to
take this over for every endpoint once it lands.
"""

from __future__ import annotations

import datetime as dt

from mailtls.observations import (
    Endpoint,
    HelloAnswer,
    LegacyTlsObservation,
    ProbeFailure,
    TranscriptLine,
)
from mailtls.probes.smtp import ProbeError, Session, SmtpSettings, classify_reply
from mailtls.tls._wire import version_name
from mailtls.tls.hello import SSL3, TLS10, TLS11, build_client_hello, read_server_flight
from mailtls.tls.suites import SUITES, suites_for_version

LEGACY_VERSIONS = (SSL3, TLS10, TLS11)
MAX_FLIGHT = 64 * 1024


def _starttls_prelude(s: Session, settings: SmtpSettings) -> None:
    """Banner, EHLO, STARTTLS -> 220: the point where a ClientHello belongs."""
    s.stage = "banner"
    if err := classify_reply("banner", s.reply()):
        raise err
    ehlo = s.command(f"EHLO {settings.ehlo_name}", "ehlo")
    if err := classify_reply("ehlo", ehlo):
        raise err
    if ehlo.code != 250 or "STARTTLS" not in ehlo.keywords:
        raise s.fail("refused", "STARTTLS is not offered, so no TLS version can be tested")
    reply = s.command("STARTTLS", "starttls")
    if err := classify_reply("starttls", reply):
        raise err
    if reply.code != 220:
        raise s.fail("refused", f"STARTTLS refused: {reply.code} {reply.text()}")


def _hello(s: Session, version: int) -> HelloAnswer:
    """Send one ClientHello offering ``version`` as the highest; read the first flight; classify."""
    assert s.sock is not None
    name = version_name(version)
    suites = suites_for_version(SUITES, version)
    hello = build_client_hello(version, suites, server_name=s.endpoint.host)
    s.stage = "hello"
    s.log(
        "*",
        f"sent a ClientHello offering {name} at most ({len(suites)} suites, {len(hello)} bytes)",
    )
    pending = s.buffer  # anything the server sent after its 220 arrives first
    s.buffer = b""
    sock = s.sock
    sock.settimeout(s.budget())
    try:
        sock.sendall(hello)
    except OSError as exc:
        raise s.fail("reset", f"could not send the ClientHello: {exc.strerror or exc}") from None

    def recv(n: int) -> bytes:
        nonlocal pending
        if pending:
            chunk, pending = pending[:n], pending[n:]
            return chunk
        sock.settimeout(s.settings.timeout)
        return sock.recv(n)

    flight = read_server_flight(recv, max_bytes=MAX_FLIGHT)
    chosen = version_name(flight.version) if flight.version is not None else "-"
    s.log("*", f"server: {flight.outcome} ({flight.detail}); version chosen: {chosen}")
    return HelloAnswer(
        offered=name,
        outcome=flight.outcome,
        negotiated=flight.version if flight.accepted else None,
        detail=flight.detail,
        not_tls=flight.ended_by == "non_tls",
    )


def _one_version(
    endpoint: Endpoint, settings: SmtpSettings, version: int
) -> tuple[HelloAnswer | None, ProbeFailure | None, tuple[TranscriptLine, ...]]:
    s = Session(endpoint, settings)
    try:
        s.connect()
        if not endpoint.implicit_tls:
            _starttls_prelude(s, settings)
        return _hello(s, version), None, tuple(s.lines)
    except ProbeError as exc:
        if exc.failure.stage in ("banner", "ehlo", "starttls") and exc.failure.kind != "reset":
            s.quit()  # still plain SMTP: say goodbye
        return None, exc.failure, tuple(s.lines)
    finally:
        s.close()


def probe_legacy_tls(endpoint: Endpoint, settings: SmtpSettings) -> LegacyTlsObservation:
    """SSL 3.0, TLS 1.0 and TLS 1.1 in turn; stop when the endpoint cannot take a ClientHello at
    all (port closed, no STARTTLS, not TLS), so a plaintext port costs one connection."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    answers: list[HelloAnswer] = []
    lines: list[TranscriptLine] = []
    failure: ProbeFailure | None = None
    connections = 0
    for version in LEGACY_VERSIONS:
        answer, failure, transcript = _one_version(endpoint, settings, version)
        connections += 1
        if lines:
            lines.append(TranscriptLine(0.0, "*", "--- next connection ---"))
        lines += transcript
        if answer is None:
            break
        answers.append(answer)
        if answer.not_tls:
            break
    return LegacyTlsObservation(
        endpoint=endpoint,
        started=started,
        finished=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        answers=tuple(answers),
        transcript=tuple(lines),
        failure=failure,
        connections=connections,
    )
