"""What the MTA-STS policy fetch saw (RFC 8461 §3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailtls.observations.dns import DnsAnswer, escape_bytes
from mailtls.observations.smtp import Endpoint

# Why reading the policy stopped: the message ended, the cap was passed, the total deadline
# passed, no byte came for --timeout seconds, the server closed before the message's end, or
# another error.
FetchStop = Literal["end", "limit", "deadline", "idle", "closed", "error"]
FetchPhase = Literal["connect", "tls", "headers", "body"]
# resolver (ours failed) | dns (the domain's) | connect | tls (certificate refused) |
# timeout (the total deadline passed) | too_large (body over the cap) | incomplete (cut short) |
# http (another protocol error)
FetchFailure = Literal[
    "resolver", "dns", "connect", "tls", "timeout", "too_large", "incomplete", "http"
]


@dataclass(frozen=True)
class PolicyFetch:
    """The MTA-STS policy fetch (RFC 8461 §3.3): one HTTPS GET, no redirects, no retries.

    ``failure`` names why no usable HTTP answer came (DNS, connect, TLS, the total deadline, a
    body over the cap or cut short); an HTTP answer of any status is recorded as it came (status
    line, headers, the body bytes up to the cap). ``stop_kind`` says why reading stopped."""

    domain: str
    host: str  # mta-sts.<domain>
    url: str
    fetched_at: str
    skipped: str | None = None  # why no fetch was attempted (no STSv1 TXT record)
    address: str | None = None  # the IP we resolved and connected to
    dns: tuple[DnsAnswer, ...] = ()
    request: tuple[str, ...] = ()  # request line and headers, as sent
    status: int | None = None
    reason: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""  # the body bytes as received (at most the cap + 1)
    body_bytes: int = 0  # bytes of body read
    body_sha256: str = ""
    stop_kind: FetchStop | None = None  # why reading stopped (None: no attempt to read)
    phase: FetchPhase | None = None  # how far the fetch got: connect, tls, headers, body
    deadline_s: float = 0.0  # the total deadline of the whole fetch
    tls_version: str | None = None
    chain_der: tuple[bytes, ...] = ()
    failure_kind: FetchFailure | None = None
    failure: str | None = None
    elapsed_ms: float = 0.0

    @property
    def truncated(self) -> bool:
        """The body went on beyond the cap."""
        return self.stop_kind == "limit"

    @property
    def body_escaped(self) -> str:
        """The body as printable text: bytes outside printable ASCII as ``\\xNN``; each LF is
        shown as ``\\n`` and also ends the line, so the policy still reads line by line."""
        return "\\n\n".join(escape_bytes(line) for line in self.body.split(b"\n"))

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def endpoint(self) -> Endpoint:
        """Where the policy came from (the certificate-expiry view lists it by this)."""
        return Endpoint(self.address or "?", 443, self.host)
