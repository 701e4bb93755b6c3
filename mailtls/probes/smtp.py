"""The SMTP probe: banner, EHLO, STARTTLS, TLS handshake, EHLO again, QUIT; on an implicit-TLS
endpoint (submissions, port 465, RFC 8314 §3.3): TLS handshake, banner, EHLO, QUIT.

It never sends MAIL, RCPT, DATA or AUTH. Every read has a timeout, the whole session has a
deadline, and what is read is capped (line length, lines per reply, total bytes), so a hostile
server can neither hang nor flood us. A 421/454 or a reset is inconclusive: we pause and retry
once, politely, and record both attempts.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import time
from dataclasses import dataclass, replace

from mailtls.observations import (
    Endpoint,
    ProbeFailure,
    SmtpObservation,
    SmtpReply,
    TranscriptLine,
)
from mailtls.probes.smtpwire import (
    MAX_LINE,
    MAX_REPLY_LINES,
    MAX_SESSION_BYTES,
    ProbeError,
    Session,
    SmtpSettings,
    broad_client_context,
    tls_refusal,
)

__all__ = [
    "MAX_LINE",
    "MAX_REPLY_LINES",
    "MAX_SESSION_BYTES",
    "ProbeError",
    "Session",
    "SmtpSettings",
    "StartedTls",
    "broad_client_context",
    "classify_reply",
    "open_for_hello",
    "probe_smtp",
    "starttls_prelude",
    "tls_refusal",
]


def classify_reply(stage: str, reply: SmtpReply) -> ProbeError | None:
    if 400 <= reply.code < 500 and (reply.code in (421, 454) or stage == "banner"):
        return ProbeError(
            stage,
            "rate_limited",
            f"inconclusive: the server answered {reply.code} {reply.text()!s} "
            + (
                "(TLS temporarily unavailable; if it persists, the server cannot load its TLS key "
                "or certificate - Postfix answers 454 then)"
                if reply.code == 454
                else "(temporary refusal or rate limiting)"
            ),
        )
    if stage == "banner" and reply.code != 220:
        return ProbeError(
            stage, "refused", f"the server refused the session: {reply.code} {reply.text()}"
        )
    return None


def _tls(s: Session, fields: dict[str, object]) -> None:
    """The handshake, recording its session or its error (a reset is recorded as the failure)."""
    try:
        fields["tls"] = s.handshake(s.endpoint.host)
    except ProbeError as exc:
        if exc.failure.kind != "reset":
            fields["tls_error"] = exc.failure.message
        raise


def _greeting_and_ehlo(s: Session, fields: dict[str, object], settings: SmtpSettings) -> None:
    s.stage = "banner"
    fields["banner"] = banner = s.reply()
    if err := classify_reply("banner", banner):
        raise err
    fields["ehlo"] = ehlo = s.command(f"EHLO {settings.ehlo_name}", "ehlo")
    if err := classify_reply("ehlo", ehlo):
        raise err


def _starttls_dialogue(s: Session, fields: dict[str, object], settings: SmtpSettings) -> None:
    """Banner, EHLO, and where STARTTLS is offered: STARTTLS, TLS, EHLO again."""
    _greeting_and_ehlo(s, fields, settings)
    ehlo = fields["ehlo"]
    assert isinstance(ehlo, SmtpReply)
    if ehlo.code == 250 and "STARTTLS" in ehlo.keywords:
        fields["starttls"] = reply = s.command("STARTTLS", "starttls")
        if err := classify_reply("starttls", reply):
            raise err
        if reply.code == 220:
            _tls(s, fields)
            fields["ehlo_tls"] = again = s.command(f"EHLO {settings.ehlo_name}", "ehlo_tls")
            if err := classify_reply("ehlo_tls", again):
                raise err


def _implicit_dialogue(s: Session, fields: dict[str, object], settings: SmtpSettings) -> None:
    """TLS first, then the banner and EHLO inside it (RFC 8314 §3.3)."""
    _tls(s, fields)
    _greeting_and_ehlo(s, fields, settings)


def _looks_plaintext(failure: ProbeFailure) -> bool:
    return failure.stage == "tls" and failure.not_tls


def _plaintext_greeting(
    endpoint: Endpoint, settings: SmtpSettings
) -> tuple[SmtpReply | None, tuple[TranscriptLine, ...]]:
    """A second connection that sends nothing until the server speaks: does this implicit-TLS
    port greet in plaintext? Only the banner is read, then QUIT."""
    s = Session(endpoint, settings)
    s.log("*", "second connection: what does the port send before any TLS?")
    banner = None
    try:
        s.connect()
        s.stage = "banner"
        banner = s.reply()
        s.quit()
    except ProbeError:
        s.close()
    return banner, tuple(s.lines)


def _session(endpoint: Endpoint, settings: SmtpSettings) -> SmtpObservation:
    started = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    s = Session(endpoint, settings)
    fields: dict[str, object] = {}
    failure: ProbeFailure | None = None
    try:
        s.connect()
        if endpoint.implicit_tls:
            _implicit_dialogue(s, fields, settings)
        else:
            _starttls_dialogue(s, fields, settings)
        s.quit()
    except ProbeError as exc:
        failure = exc.failure
        # No QUIT after a failed handshake: the connection is neither plain SMTP nor TLS.
        if exc.failure.kind not in ("reset", "closed", "connect") and exc.failure.stage != "tls":
            s.quit()
        s.close()
    except Exception as exc:
        failure = ProbeFailure(
            s.stage, "protocol", f"internal probe error: {type(exc).__name__}: {exc}"
        )
        s.log("*", failure.message)
        s.close()
    transcript = tuple(s.lines)
    connections = 1
    if endpoint.implicit_tls and failure is not None and _looks_plaintext(failure):
        fields["plaintext_banner"], more = _plaintext_greeting(endpoint, settings)
        transcript, connections = transcript + more, 2
    finished = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    return SmtpObservation(
        endpoint=endpoint,
        started=started,
        finished=finished,
        transcript=transcript,
        failure=failure,
        connections=connections,
        **fields,  # type: ignore[arg-type]
    )


@dataclass
class StartedTls:
    """A plain connection at the point where a ClientHello belongs: after the 220 to STARTTLS,
    or at once on an implicit-TLS port. The hello probes send theirs; the caller closes ``sock``."""

    sock: socket.socket
    pending: bytes  # bytes the server sent after its 220 (normally none), to be read first
    transcript: tuple[TranscriptLine, ...]

    def recv(self, n: int) -> bytes:
        if self.pending:
            out, self.pending = self.pending[:n], self.pending[n:]
            return out
        return self.sock.recv(n)


def starttls_prelude(s: Session, settings: SmtpSettings) -> None:
    """Banner, EHLO, STARTTLS -> 220, and nothing more: the point where a ClientHello belongs."""
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


def open_for_hello(endpoint: Endpoint, settings: SmtpSettings) -> StartedTls:
    """Connect and, on a STARTTLS port, run the prelude; nothing else is ever sent.

    Raises ProbeError (a 421/454 or a reset is ``inconclusive``, as in the full session)."""
    s = Session(endpoint, settings)
    try:
        s.connect()
        if not endpoint.implicit_tls:
            starttls_prelude(s, settings)
    except BaseException:
        if s.sock is not None and s.stage in ("banner", "ehlo", "starttls"):
            s.quit()  # still plain SMTP: say goodbye
        s.close()
        raise
    assert s.sock is not None and not isinstance(s.sock, ssl.SSLSocket)
    s.sock.settimeout(settings.timeout)
    return StartedTls(s.sock, s.buffer, tuple(s.lines))


def probe_smtp(endpoint: Endpoint, settings: SmtpSettings) -> SmtpObservation:
    """Run the session; after an inconclusive result (421/454/reset) pause and retry once."""
    first = _session(endpoint, settings)
    if first.failure is None or not first.failure.inconclusive:
        return first
    time.sleep(settings.retry_pause)
    second = _session(endpoint, settings)
    earlier = f"attempt 1 at {first.started}: {first.failure.message}"
    return replace(
        second,
        attempts=2,
        connections=first.connections + second.connections,
        earlier_attempts=(earlier,),
        transcript=(
            *first.transcript,
            TranscriptLine(0.0, "*", f"--- retry after {settings.retry_pause:g}s pause ---"),
            *second.transcript,
        ),
    )
