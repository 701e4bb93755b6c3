"""What an SMTP session saw: the transcript, replies, the TLS session, typed failures."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["C", "S", "*"]  # client, server, event


@dataclass(frozen=True)
class TranscriptLine:
    t: float  # seconds since the connection attempt started
    direction: Direction
    text: str


@dataclass(frozen=True)
class SmtpReply:
    code: int
    lines: tuple[str, ...]  # the text after "NNN-" / "NNN "

    @property
    def keywords(self) -> tuple[str, ...]:
        """EHLO keywords (upper case), from every line after the greeting line."""
        return tuple(line.split(" ", 1)[0].upper() for line in self.lines[1:] if line)

    def text(self) -> str:
        return " / ".join(self.lines)


@dataclass(frozen=True)
class TlsSession:
    """The outcome of a full TLS handshake with Python's ssl (a modern, broad client offer)."""

    version: str
    cipher: str
    cipher_bits: int | None
    server_name: str | None  # SNI sent
    chain_der: tuple[bytes, ...]  # as served by the peer, leaf first
    handshake_ms: float


FailureKind = Literal[
    "connect",
    "timeout",
    "reset",
    "closed",
    "protocol",
    "too_long",
    "rate_limited",
    "tls",
    "tls_refused",  # the server answered our handshake with a TLS alert, or closed during it
    "refused",
]


@dataclass(frozen=True)
class ProbeFailure:
    stage: str  # connect | banner | ehlo | starttls | tls | ehlo_tls | quit
    kind: FailureKind
    message: str
    connection_refused: bool = False  # kind "connect": the host answered RST (nothing listens)
    not_tls: bool = False  # stage "tls": the peer's first bytes were not a TLS record (OpenSSL's reason)

    @property
    def inconclusive(self) -> bool:
        """421/454 or a reset: the server may be rate-limiting us; this never counts as pass or fail."""
        return self.kind in ("rate_limited", "reset")


@dataclass(frozen=True)
class Endpoint:
    ip: str
    port: int
    host: str | None  # the name we connect for (SNI, evidence)
    implicit_tls: bool = False  # TLS from the first byte (submissions, port 465), not STARTTLS

    def __str__(self) -> str:
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{self.host or '?'} ({ip}:{self.port})"


@dataclass(frozen=True)
class SmtpObservation:
    endpoint: Endpoint
    started: str
    finished: str
    transcript: tuple[TranscriptLine, ...]
    banner: SmtpReply | None = None
    ehlo: SmtpReply | None = None
    starttls: SmtpReply | None = None
    tls: TlsSession | None = None
    tls_error: str | None = None
    ehlo_tls: SmtpReply | None = None
    failure: ProbeFailure | None = None
    attempts: int = 1
    connections: int = 1
    earlier_attempts: tuple[str, ...] = field(default=())  # why a retry was made
    # Implicit TLS only: what the port said, on a second connection, after the handshake failed
    # in a way that suggests plaintext (a 220 greeting where a ServerHello belonged).
    plaintext_banner: SmtpReply | None = None

    @property
    def starttls_offered(self) -> bool:
        return self.ehlo is not None and self.ehlo.code == 250 and "STARTTLS" in self.ehlo.keywords

    @property
    def implicit_tls(self) -> bool:
        return self.endpoint.implicit_tls

    @property
    def ehlo_plain(self) -> SmtpReply | None:
        """The EHLO reply read before any TLS (None on an implicit-TLS port: there is none)."""
        return None if self.implicit_tls else self.ehlo

    @property
    def ehlo_secure(self) -> SmtpReply | None:
        """The EHLO reply read inside TLS, whichever way TLS was started."""
        return self.ehlo if self.implicit_tls else self.ehlo_tls

    def auth_mechanisms(self, reply: SmtpReply | None) -> tuple[str, ...]:
        """SASL mechanisms an EHLO reply advertises (RFC 4954 AUTH keyword, upper case)."""
        if reply is None or reply.code != 250:
            return ()
        mechs: list[str] = []
        for line in reply.lines[1:]:
            head, _, rest = line.partition(" ")
            keyword = head.upper()
            if keyword == "AUTH":
                mechs += rest.upper().split()
            elif keyword.startswith("AUTH="):  # the pre-standard form some servers still send
                mechs += [keyword[5:], *rest.upper().split()]
        mechs = [m for m in mechs if m]
        return tuple(dict.fromkeys(mechs))
