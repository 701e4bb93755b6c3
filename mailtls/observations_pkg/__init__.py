"""Immutable records of what the probes saw.

A probe returns one of these and never judges it; checks read them and judge; the evidence
module renders them. Every record says when and from where (resolver, IP and port) it was seen.

This module is a leaf: it imports nothing from mailtls. Whatever needs parsing (TXT and SRV
records) is parsed once by discovery or a probe and stored here as a typed field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

_PRINTABLE = frozenset(range(0x20, 0x7F)) - {0x5C}


def escape_bytes(raw: bytes) -> str:
    """``raw`` as printable ASCII: other bytes (and the backslash) as ``\\xNN``, so what a
    server or a zone sent is shown exactly, whatever it holds."""
    return "".join(chr(b) if b in _PRINTABLE else f"\\x{b:02x}" for b in raw)


DnsStatus = Literal["ok", "nodata", "nxdomain", "servfail", "refused", "timeout", "error"]


@dataclass(frozen=True)
class DnsAnswer:
    """One DNS question and the validating resolver's answer."""

    qname: str
    rdtype: str
    status: DnsStatus
    rcode: str
    records: tuple[str, ...]  # presentation form of the final RRset (after CNAMEs)
    ttl: int | None
    authenticated: bool  # the AD bit from the resolver
    resolver: str  # "ip:port" of the resolver that answered
    cname_chain: tuple[str, ...] = ()
    error: str | None = None
    signatures: tuple[str, ...] = ()  # RRSIGs over the answer (without the signature bytes)
    queried_at: str = ""  # ISO 8601 UTC
    elapsed_ms: float = 0.0

    @property
    def failed(self) -> bool:
        """The lookup failed (SERVFAIL, REFUSED, timeout, error): we do not know the data."""
        return self.status in ("servfail", "timeout", "error", "refused")

    @property
    def answered(self) -> bool:
        """The resolver returned records (NOERROR with a non-empty RRset)."""
        return self.status == "ok"

    @property
    def dnssec(self) -> str:
        """'secure' when the resolver set AD; otherwise 'insecure' (or 'unknown' on failure)."""
        if self.failed:
            return "unknown"
        return "secure" if self.authenticated else "insecure"

    def describe(self) -> str:
        if self.status == "ok":
            return f"{self.qname} {self.rdtype}: {', '.join(self.records)}"
        if self.status == "nodata":
            return f"{self.qname} {self.rdtype}: no records (NOERROR/NODATA)"
        detail = f" ({self.error})" if self.error else ""
        return f"{self.qname} {self.rdtype}: {self.rcode}{detail} from resolver {self.resolver}"


@dataclass(frozen=True)
class MxHost:
    name: str  # A-label, no trailing dot
    preference: int
    addresses: tuple[str, ...]
    a: DnsAnswer | None
    aaaa: DnsAnswer | None
    tlsa: DnsAnswer | None = None  # _25._tcp.<host> (RFC 7672)

    def tlsa_usages(self) -> set[int]:
        """Certificate usages of a DNSSEC-secure TLSA RRset (empty when absent or insecure)."""
        if self.tlsa is None or self.tlsa.status != "ok" or not self.tlsa.authenticated:
            return set()
        return {int(r.split()[0]) for r in self.tlsa.records if r.split()[0].isdigit()}

    def lookup_failure(self) -> str | None:
        """A lookup that failed (not NXDOMAIN/NODATA), which leaves the addresses unknown."""
        for ans in (self.a, self.aaaa):
            if ans is not None and ans.failed:
                return ans.describe()
        return None


DiscoveryKind = Literal["mx", "null", "implicit", "none", "error"]


@dataclass(frozen=True)
class Discovery:
    """Where mail for a domain goes (RFC 5321 §5.1, RFC 7505), as the resolver answered."""

    domain: str
    kind: DiscoveryKind
    mx: DnsAnswer
    hosts: tuple[MxHost, ...] = ()  # sorted by preference; for implicit MX the domain itself
    null_mx: bool = False
    other_mx_with_null: tuple[str, ...] = ()
    error: str | None = None
    answers: tuple[DnsAnswer, ...] = ()  # every answer used, for evidence
    mta_sts_txt: DnsAnswer | None = None  # _mta-sts.<domain> TXT (RFC 8461 §3.1)
    mx_unchecked: DnsAnswer | None = None  # the MX query again with CD set, after a SERVFAIL
    tlsrpt_txt: DnsAnswer | None = None  # _smtp._tls.<domain> TXT (RFC 8460 §3)
    # A TXT record starting ``v=STSv1`` exists: senders will look for an MTA-STS policy
    # (decided by discovery, which parses mta_sts_txt).
    mta_sts_advertised: bool = False

    @property
    def dnssec_bogus(self) -> bool:
        """SERVFAIL with validation, an answer without it: the zone's DNSSEC is broken."""
        return (
            self.mx.status == "servfail"
            and self.mx_unchecked is not None
            and self.mx_unchecked.status in ("ok", "nodata", "nxdomain")
        )


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


AnswerValue = Literal["yes", "no", "unknown"]
#: Why a question has no answer: the budget ran out before it was asked, the scan stopped
#: (rate limiting, unreachable), no hello was sent at all, or the plan never asks it.
OpenKind = Literal["budget", "stopped", "skipped", "not_asked"]
#: Why no hello was sent: STARTTLS is not offered, the implicit-TLS port speaks plaintext, or
#: the SMTP session could not tell (unreachable, rate limited, STARTTLS refused...).
SkipKind = Literal["no_starttls", "plaintext", "not_tested"]
#: Why the scan ended early: rate limiting or a reset (inconclusive), the address could not be
#: reached, or no TLS handshake can complete at all (TLS is unusable: a finding, not an error).
StopKind = Literal["inconclusive", "unreachable", "no_handshake"]


@dataclass(frozen=True)
class HelloRecord:
    """One hello probe: what we offered after STARTTLS and what the server's first flight said."""

    n: int  # connection number within the scan (retries included)
    purpose: str  # the question this hello asks, in words
    offered_version: str  # highest version offered (SSLv2 .. TLSv1.3)
    offered_suites: tuple[str, ...]  # IANA names (SSLv2: cipher kinds), in our preference order
    offered_groups: tuple[str, ...]
    outcome: Literal["accepted", "refused", "error"]
    version: str | None = None
    suite: str | None = None
    group: str | None = None  # ECDHE curve, or ffdhe name / "custom N-bit" for DHE
    alert: str | None = None
    detail: str = ""
    certificates: int = 0


@dataclass(frozen=True)
class Answer:
    """A yes/no question the scan answered, and how (the hello numbers that decided it)."""

    question: str
    value: AnswerValue
    how: str
    open_kind: OpenKind | None = None  # set only when value is "unknown"


@dataclass(frozen=True)
class TlsScan:
    """Hello probes against one MX address (after STARTTLS), within a per-address budget.

    ``answers`` holds the decided questions (see ``mailtls.probes.tlsscan.QUESTIONS``);
    ``accepted`` every (version, suite) the server chose in any hello; ``stopped`` why the scan
    ended early (rate limiting, budget, no STARTTLS), which makes open questions errors."""

    endpoint: Endpoint
    started: str
    finished: str
    hellos: tuple[HelloRecord, ...]
    answers: tuple[Answer, ...]
    accepted: tuple[tuple[str, str], ...]
    dhe_group: str | None  # e.g. "ffdhe3072", "custom 2048-bit" (None: no DHE seen)
    dhe_bits: int | None
    ec_groups: tuple[str, ...]  # curves the server chose for ECDHE in any hello
    connections: int  # opened by this scan
    session_connections: int  # opened by the SMTP session(s) to this address
    session_tls: str | None  # the version the SMTP session negotiated (None: no TLS session)
    budget: int  # the per-address limit for the whole suite
    skipped: str | None = None  # why no hello was sent at all
    stopped: str | None = None  # why the scan ended before every question was answered
    transcript: tuple[TranscriptLine, ...] = ()  # SMTP preambles, one per connection
    skip_kind: SkipKind | None = None  # set with `skipped`
    stop_kind: StopKind | None = None  # set when the scan itself stopped (not for the budget)
    budget_open: tuple[str, ...] = ()  # questions whose hello the connection limit prevented
    budget_note: str | None = None  # the limit, in words, when it prevented a hello

    @property
    def tls_unusable(self) -> bool:
        """No TLS handshake can complete with this address (every full handshake was refused)."""
        return self.stop_kind == "no_handshake"

    @property
    def handshake_seen(self) -> bool:
        """Some offer was accepted: refusals of the others then mean something."""
        return self.session_tls is not None or any(
            a.value == "yes" and a.question.startswith(("ssl", "tls")) for a in self.answers
        )

    def answer(self, question: str) -> Answer:
        for a in self.answers:
            if a.question == question:
                return a
        kind: OpenKind
        if self.skip_kind is not None:
            kind, why = "skipped", self.skipped or "no hello was sent"
        elif question in self.budget_open:
            kind, why = "budget", self.budget_note or "the connection limit was reached"
        elif self.stop_kind is not None:
            kind, why = "stopped", self.stopped or "the scan stopped"
        else:
            kind, why = "not_asked", "this question was not asked"
        return Answer(question, "unknown", why, kind)


@dataclass(frozen=True)
class SrvRecord:
    """One SRV record (RFC 2782); target "." means the service is decidedly not offered."""

    priority: int
    weight: int
    port: int
    target: str  # lower case, no trailing dot; "." for "not offered"

    @property
    def not_offered(self) -> bool:
        return self.target == "."

    def __str__(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"


SubmissionSource = Literal["inventory", "_submission._tcp", "_submissions._tcp"]


@dataclass(frozen=True)
class SubmissionHost:
    name: str  # A-label, no trailing dot
    sources: tuple[SubmissionSource, ...]  # where we learned of it
    addresses: tuple[str, ...]
    a: DnsAnswer | None
    aaaa: DnsAnswer | None

    def lookup_failure(self) -> str | None:
        for ans in (self.a, self.aaaa):
            if ans is not None and ans.failed:
                return ans.describe()
        return None


@dataclass(frozen=True)
class SubmissionDiscovery:
    """A domain's message-submission hosts: the inventory's and the RFC 6186 SRV records'."""

    domain: str
    inventory_hosts: tuple[str, ...]
    submission_srv: DnsAnswer  # _submission._tcp.<domain> (STARTTLS, conventionally 587)
    submissions_srv: DnsAnswer  # _submissions._tcp.<domain> (implicit TLS, 465; RFC 8314)
    hosts: tuple[SubmissionHost, ...] = ()
    problems: tuple[str, ...] = ()  # SRV records we could not parse, failed lookups
    answers: tuple[DnsAnswer, ...] = ()  # every answer used, for evidence
    # The well-formed SRV records of each answer, parsed by discovery (empty unless "ok").
    submission_records: tuple[SrvRecord, ...] = ()
    submissions_records: tuple[SrvRecord, ...] = ()

    def records(self, which: SubmissionSource) -> tuple[SrvRecord, ...]:
        if which == "_submissions._tcp":
            return self.submissions_records
        return self.submission_records if which == "_submission._tcp" else ()

    @property
    def srv_failure(self) -> str | None:
        """A SRV lookup that failed (not NXDOMAIN/NODATA): the hosts may be incomplete."""
        for ans in (self.submission_srv, self.submissions_srv):
            if ans.status not in ("ok", "nodata", "nxdomain"):
                return ans.describe()
        return None


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
