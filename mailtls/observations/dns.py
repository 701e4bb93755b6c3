"""What DNS said: answers of the validating resolver, MX hosts, discovery of a domain, SRV
records and the submission hosts; and ``escape_bytes`` for what a zone or server sent."""

from __future__ import annotations

from dataclasses import dataclass
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
