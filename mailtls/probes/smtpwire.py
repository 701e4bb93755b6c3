"""The bounded SMTP connection under the probe (``mailtls.probes.smtp``): settings, the typed
probe error, and ``Session``: connect, bounded reads (line length, lines per reply, total
bytes, a deadline for the whole session), replies, commands, the TLS handshake and QUIT.
"""

from __future__ import annotations

import socket
import ssl
import time
import traceback
from dataclasses import dataclass, replace

from mailtls.observations import (
    Direction,
    Endpoint,
    FailureKind,
    ProbeFailure,
    SmtpReply,
    TlsSession,
    TranscriptLine,
)
from mailtls.tls.peer import served_chain

MAX_LINE = 2048  # RFC 5321 §4.5.3.1.5 allows 512 octets per reply line; we tolerate more
MAX_REPLY_LINES = 200
MAX_SESSION_BYTES = 64 * 1024
PRINTABLE_LIMIT = 300  # characters of a bad line quoted in a message
# OpenSSL's reasons when the peer's first bytes are not a TLS record (e.g. "220 ..." in plaintext)
NOT_TLS_REASONS = ("WRONG_VERSION_NUMBER", "UNKNOWN_PROTOCOL", "HTTP_REQUEST", "RECORD_LAYER")


@dataclass(frozen=True)
class SmtpSettings:
    ehlo_name: str
    timeout: float  # per network step (connect, each read, the TLS handshake)
    retry_pause: float = 2.0

    @property
    def deadline(self) -> float:
        """The whole session's budget."""
        return 4 * self.timeout


class ProbeError(Exception):
    def __init__(self, stage: str, kind: FailureKind, message: str) -> None:
        super().__init__(message)
        self.failure = ProbeFailure(stage, kind, message)


def _quote(data: bytes) -> str:
    text = data[:PRINTABLE_LIMIT].decode("utf-8", "backslashreplace")
    return repr(text) + ("…" if len(data) > PRINTABLE_LIMIT else "")


def tls_refusal(exc: ssl.SSLError) -> bool:
    """The server refused our handshake: it sent a TLS alert, or closed the connection during
    the handshake (not: garbage, a reset, a timeout, or our own client refusing its choice)."""
    return isinstance(exc, ssl.SSLEOFError) or "_ALERT_" in str(exc.reason or "")


def broad_client_context() -> ssl.SSLContext:
    """A client that offers everything OpenSSL still can, so the handshake tests the server."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # certificates are judged by the checks, not here
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


class Session:
    """One TCP connection with its transcript, caps and deadline."""

    def __init__(self, endpoint: Endpoint, settings: SmtpSettings) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.t0 = time.monotonic()
        self.deadline = self.t0 + settings.deadline
        self.lines: list[TranscriptLine] = []
        self.buffer = b""
        self.read_total = 0
        self.sock: socket.socket | ssl.SSLSocket | None = None
        self.stage = "connect"

    def log(self, direction: Direction, text: str) -> None:
        self.lines.append(TranscriptLine(round(time.monotonic() - self.t0, 3), direction, text))

    def fail(self, kind: FailureKind, message: str) -> ProbeError:
        self.log("*", f"{self.stage}: {message}")
        return ProbeError(self.stage, kind, message)

    def budget(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise self.fail("timeout", f"session deadline of {self.settings.deadline:g}s exceeded")
        return min(self.settings.timeout, left)

    def connect(self) -> None:
        family = socket.AF_INET6 if ":" in self.endpoint.ip else socket.AF_INET
        self.log("*", f"connect to {self.endpoint.ip} port {self.endpoint.port}")
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(self.budget())
        try:
            sock.connect((self.endpoint.ip, self.endpoint.port))
        except TimeoutError:
            sock.close()
            raise self.fail(
                "timeout", f"no TCP connection within {self.settings.timeout:g}s"
            ) from None
        except OSError as exc:
            sock.close()
            err = self.fail("connect", f"TCP connection failed: {exc.strerror or exc}")
            err.failure = replace(
                err.failure, connection_refused=isinstance(exc, ConnectionRefusedError)
            )
            raise err from None
        self.sock = sock
        self.log("*", "connected")

    def _recv(self) -> bytes:
        assert self.sock is not None
        self.sock.settimeout(self.budget())
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            raise self.fail("timeout", f"no reply within {self.settings.timeout:g}s") from None
        except ConnectionResetError:
            raise self.fail("reset", "connection reset by the server") from None
        except ssl.SSLError as exc:
            raise self.fail("tls", f"TLS error while reading: {exc.reason or exc}") from None
        except OSError as exc:
            raise self.fail("reset", f"connection error: {exc.strerror or exc}") from None
        self.read_total += len(data)
        if self.read_total > MAX_SESSION_BYTES:
            raise self.fail(
                "too_long", f"server sent more than {MAX_SESSION_BYTES} bytes; stopped reading"
            )
        return data

    def _line(self) -> bytes:
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise self.fail(
                    "too_long", f"reply line longer than {MAX_LINE} bytes: {_quote(self.buffer)}"
                )
            data = self._recv()
            if not data:
                if self.buffer:
                    raise self.fail(
                        "closed", f"connection closed mid-line after {_quote(self.buffer)}"
                    )
                raise self.fail("closed", "connection closed by the server")
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        if len(line) > MAX_LINE:
            raise self.fail("too_long", f"reply line longer than {MAX_LINE} bytes: {_quote(line)}")
        return line.rstrip(b"\r")

    def reply(self) -> SmtpReply:
        code: int | None = None
        texts: list[str] = []
        while True:
            raw = self._line()
            text = raw.decode("utf-8", "backslashreplace")
            self.log("S", text)
            if len(raw) < 3 or not raw[:3].isdigit() or (len(raw) > 3 and raw[3:4] not in b" -"):
                raise self.fail("protocol", f"not an SMTP reply: {_quote(raw)}")
            this = int(raw[:3])
            if code is not None and this != code:
                raise self.fail(
                    "protocol", f"reply code changed from {code} to {this} inside one reply"
                )
            code = this
            texts.append(text[4:])
            if raw[3:4] != b"-":
                return SmtpReply(code, tuple(texts))
            if len(texts) >= MAX_REPLY_LINES:
                raise self.fail("too_long", f"multi-line reply longer than {MAX_REPLY_LINES} lines")

    def send(self, line: str) -> None:
        assert self.sock is not None
        self.log("C", line)
        self.sock.settimeout(self.budget())
        try:
            self.sock.sendall(line.encode("ascii") + b"\r\n")
        except TimeoutError:
            raise self.fail("timeout", "could not send within the timeout") from None
        except OSError as exc:
            raise self.fail("reset", f"send failed: {exc.strerror or exc}") from None

    def command(self, line: str, stage: str) -> SmtpReply:
        self.stage = stage
        self.send(line)
        return self.reply()

    def handshake(self, server_name: str | None) -> TlsSession:
        """TLS on the open connection: after 220 to STARTTLS, or at once on an implicit-TLS port."""
        assert self.sock is not None and not isinstance(self.sock, ssl.SSLSocket)
        self.stage = "tls"
        tls: ssl.SSLSocket
        if self.buffer:
            raise self.fail(
                "tls", f"server sent non-TLS data before the TLS handshake: {_quote(self.buffer)}"
            )
        ctx = broad_client_context()
        started = time.monotonic()
        self.sock.settimeout(self.budget())
        try:
            tls = ctx.wrap_socket(
                self.sock, server_hostname=server_name, do_handshake_on_connect=False
            )
        except OSError as exc:
            _close_orphan(exc)
            self.sock = None
            raise self.fail(
                "reset", f"connection lost before the TLS handshake: {exc.strerror or exc}"
            ) from None
        self.sock = tls  # wrap_socket detached the plain socket: close the TLS one from now on
        try:
            tls.do_handshake()
        except TimeoutError:
            raise self.fail(
                "timeout", f"TLS handshake did not complete within {self.settings.timeout:g}s"
            ) from None
        except ConnectionResetError:
            raise self.fail("reset", "connection reset during the TLS handshake") from None
        except ssl.SSLEOFError:
            raise self.fail(
                "tls_refused", "server closed the connection during the TLS handshake"
            ) from None
        except ssl.SSLError as exc:
            kind: FailureKind = "tls_refused" if tls_refusal(exc) else "tls"
            err = self.fail(kind, f"TLS handshake failed: {exc.reason or exc}")
            # OpenSSL's reason code (not our message) says the peer did not speak TLS at all
            not_tls = any(r in (exc.reason or "") for r in NOT_TLS_REASONS)
            err.failure = replace(err.failure, not_tls=not_tls)
            raise err from None
        except OSError as exc:
            raise self.fail(
                "reset", f"connection error during the TLS handshake: {exc.strerror or exc}"
            ) from None
        chain = served_chain(tls)
        cipher = tls.cipher()
        session = TlsSession(
            version=tls.version() or "?",
            cipher=cipher[0] if cipher else "?",
            cipher_bits=cipher[2] if cipher else None,
            server_name=server_name,
            chain_der=chain,
            handshake_ms=round((time.monotonic() - started) * 1000, 1),
        )
        self.log(
            "*", f"TLS established: {session.version} {session.cipher}, {len(chain)} certificate(s)"
        )
        return session

    def quit(self) -> None:
        """Say goodbye politely; errors here do not matter."""
        if self.sock is None:
            return
        try:
            self.deadline = max(self.deadline, time.monotonic() + min(2.0, self.settings.timeout))
            self.command("QUIT", "quit")
        except ProbeError:
            pass
        self.close()

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def _close_orphan(exc: BaseException) -> None:
    """Close the SSLSocket that ``wrap_socket`` built (and took the descriptor into) before it
    raised: the standard library leaves it to the garbage collector when the peer already reset."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        candidate = frame.f_locals.get("self")
        if isinstance(candidate, ssl.SSLSocket):
            candidate.close()
