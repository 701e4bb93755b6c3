"""DNS queries through one configured (validating) resolver, recording the AD bit.

We send our own queries (RD, AD and DO set) so the answer, its RCODE, its CNAME chain and the AD
bit are all recorded as evidence. The resolver is ``--resolver IP[:PORT]`` or, by default, the
first nameserver of the system configuration.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver

from mailtls.observations import DnsAnswer, DnsStatus

MAX_CNAME_HOPS = 8
# Queries in a row that get no answer at all (each after its retry) before we stop asking.
DEAD_AFTER = 4


@dataclass(frozen=True)
class ResolverAddress:
    ip: str
    port: int = 53

    def __str__(self) -> str:
        ip = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{ip}:{self.port}"


def parse_resolver(text: str | None) -> ResolverAddress:
    """Parse ``IP``, ``IP:PORT``, ``[IPv6]:PORT``; ``None`` means the system's first resolver."""
    import ipaddress

    if not text:
        system = dns.resolver.Resolver(configure=True)
        if not system.nameservers:
            raise ValueError("no system resolver configured; pass --resolver=IP[:PORT]")
        return ResolverAddress(str(system.nameservers[0]), 53)
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest.lstrip(":") or "53"
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        portnum = int(port)
        if not 0 < portnum < 65536:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"--resolver {text!r}: expected IP or IP:PORT (e.g. 127.0.0.53 or [::1]:5353)"
        ) from None
    return ResolverAddress(host, portnum)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class ResolverHealth:
    """Whether the resolver still answers, shared by every query of a run (thread-safe).

    A resolver that stops answering would make every remaining query wait for its timeouts (two
    tries each): an hour for 1,000 domains. After ``DEAD_AFTER`` queries in a row got no answer
    at all, the resolver is declared dead and later queries fail at once with that cause; any
    answer (even SERVFAIL or REFUSED) before that resets the count.
    """

    def __init__(self, dead_after: int = DEAD_AFTER) -> None:
        self.dead_after = dead_after
        self._lock = threading.Lock()
        self._silent = 0
        self.dead: str | None = None  # why we stopped asking, once we did

    def answered(self) -> None:
        with self._lock:
            self._silent = 0

    def silent(self, cause: str) -> None:
        with self._lock:
            self._silent += 1
            if self._silent >= self.dead_after and self.dead is None:
                self.dead = (
                    f"{cause}; after {self._silent} queries in a row without an answer (since "
                    f"{_now()}) mailtls stopped asking this resolver"
                )


#: Answers that say what the zone holds (kept for the run), unlike failures to get one.
DEFINITE: frozenset[DnsStatus] = frozenset({"ok", "nodata", "nxdomain"})


class DnsClient:
    """A small stub resolver: one server, timeouts, TCP fallback, CNAME chasing."""

    def __init__(
        self, resolver: ResolverAddress, timeout: float, health: ResolverHealth | None = None
    ) -> None:
        self.resolver = resolver
        self.timeout = timeout
        self.health = health or ResolverHealth()
        # Definite answers of this run by question: a thousand domains on five MX hosts ask
        # for the hosts' A, AAAA and TLSA records once each, and share the observation.
        self._answers: dict[tuple[str, str, bool], DnsAnswer] = {}

    def canary(self) -> str | None:
        """One question the resolver answers without recursing (``. NS`` with RD clear): None
        when any reply comes back within the timeout, else why not. Used before a run starts."""
        query = dns.message.make_query(dns.name.root, dns.rdatatype.NS)
        query.flags &= ~dns.flags.RD
        try:
            dns.query.udp(query, self.resolver.ip, timeout=self.timeout, port=self.resolver.port)
        except dns.exception.Timeout:
            return f"no answer from resolver {self.resolver} within {self.timeout:g}s"
        except (OSError, dns.exception.DNSException) as exc:
            return f"resolver {self.resolver}: {type(exc).__name__}: {exc}"
        return None

    def _exchange(
        self, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType, cd: bool = False
    ) -> dns.message.Message:
        query = dns.message.make_query(qname, rdtype, want_dnssec=True, payload=1232)
        query.flags |= dns.flags.AD
        if cd:  # checking disabled: the resolver answers even when validation fails
            query.flags |= dns.flags.CD
        last: Exception | None = None
        for _ in range(2):  # one retry on timeout, as stub resolvers do
            try:
                # ignore_errors: an answer with a wrong ID or for another question (spoofed or
                # stray, RFC 5452) is dropped and the genuine one awaited, within the timeout.
                response, _tcp = dns.query.udp_with_fallback(
                    query,
                    self.resolver.ip,
                    timeout=self.timeout,
                    port=self.resolver.port,
                    ignore_unexpected=True,
                    ignore_errors=True,
                )
                return response
            except dns.exception.Timeout as exc:
                last = exc
        assert last is not None
        raise last

    def query(self, name: str, rdtype: str, checking_disabled: bool = False) -> DnsAnswer:
        """Ask the resolver; with ``checking_disabled`` (CD bit) it skips DNSSEC validation, which
        tells a validation failure (bogus) apart from an unreachable or broken zone.

        A definite answer (records, no data, no such name) is asked once per run and shared;
        a failure (timeout, SERVFAIL, REFUSED...) is asked again by the next one who needs it."""
        key = (name.lower().rstrip("."), rdtype.upper(), checking_disabled)
        found = self._answers.get(key)
        if found is None:
            found = self._ask(name, rdtype, checking_disabled)
            if found.status in DEFINITE:
                self._answers[key] = found
        return found

    def _ask(self, name: str, rdtype: str, checking_disabled: bool) -> DnsAnswer:
        started = time.monotonic()
        stamp = _now()
        server = str(self.resolver)

        def result(
            status: DnsStatus,
            rcode: str,
            *,
            records: tuple[str, ...] = (),
            ttl: int | None = None,
            authenticated: bool = False,
            cname_chain: tuple[str, ...] = (),
            error: str | None = None,
            signatures: tuple[str, ...] = (),
        ) -> DnsAnswer:
            return DnsAnswer(
                qname=name,
                rdtype=rdtype,
                status=status,
                rcode=rcode,
                records=records,
                ttl=ttl,
                authenticated=authenticated,
                resolver=server,
                cname_chain=cname_chain,
                error=error,
                signatures=signatures,
                queried_at=stamp,
                elapsed_ms=round((time.monotonic() - started) * 1000, 1),
            )

        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return result("error", "FORMERR", error=f"invalid name: {exc}")
        rtype = dns.rdatatype.from_text(rdtype)
        chain: list[str] = []
        authenticated = True
        current = qname
        for _hop in range(MAX_CNAME_HOPS):
            if self.health.dead is not None:
                return result(
                    "timeout", "TIMEOUT", cname_chain=tuple(chain), error=self.health.dead
                )
            try:
                response = self._exchange(current, rtype, checking_disabled)
            except dns.exception.Timeout:
                cause = f"no answer from resolver {server} within {self.timeout:g}s (2 tries)"
                self.health.silent(cause)
                return result("timeout", "TIMEOUT", cname_chain=tuple(chain), error=cause)
            except OSError as exc:
                cause = f"resolver {server}: {type(exc).__name__}: {exc}"
                self.health.silent(cause)
                return result("error", "ERROR", cname_chain=tuple(chain), error=cause)
            except dns.exception.DNSException as exc:
                return result(
                    "error",
                    "ERROR",
                    cname_chain=tuple(chain),
                    error=f"resolver {server}: {type(exc).__name__}: {exc}",
                )
            self.health.answered()
            authenticated = authenticated and bool(response.flags & dns.flags.AD)
            rcode = dns.rcode.to_text(response.rcode())
            if response.rcode() == dns.rcode.NXDOMAIN:
                return result(
                    "nxdomain", rcode, authenticated=authenticated, cname_chain=tuple(chain)
                )
            if response.rcode() == dns.rcode.SERVFAIL:
                return result(
                    "servfail",
                    rcode,
                    cname_chain=tuple(chain),
                    error="the resolver could not get a valid answer (DNSSEC validation failure, "
                    "lame or unreachable name servers)",
                )
            if response.rcode() == dns.rcode.REFUSED:
                return result(
                    "refused",
                    rcode,
                    cname_chain=tuple(chain),
                    error=f"resolver {server} refused the query (not allowed to recurse for us?)",
                )
            if response.rcode() != dns.rcode.NOERROR:
                return result(
                    "error", rcode, cname_chain=tuple(chain), error=f"unexpected RCODE {rcode}"
                )
            # Follow CNAMEs inside the answer section.
            owner = current
            for _ in range(MAX_CNAME_HOPS):
                cname = response.get_rrset(
                    response.answer, owner, dns.rdataclass.IN, dns.rdatatype.CNAME
                )
                if cname is None or rtype == dns.rdatatype.CNAME:
                    break
                target = cname[0].target
                chain.append(f"{owner.to_text()} CNAME {target.to_text()}")
                owner = target
            rrset = response.get_rrset(response.answer, owner, dns.rdataclass.IN, rtype)
            if rrset is not None:
                records = tuple(sorted(rd.to_text() for rd in rrset))
                sigs = response.get_rrset(
                    response.answer, owner, dns.rdataclass.IN, dns.rdatatype.RRSIG, rtype
                )
                return result(
                    "ok",
                    rcode,
                    records=records,
                    ttl=rrset.ttl,
                    authenticated=authenticated,
                    cname_chain=tuple(chain),
                    signatures=tuple(_rrsig_text(rd) for rd in sigs or ()),
                )
            if owner != current:
                current = owner  # the resolver gave the CNAME but not the target's records
                continue
            return result("nodata", rcode, authenticated=authenticated, cname_chain=tuple(chain))
        return result(
            "error", "ERROR", cname_chain=tuple(chain), error="CNAME chain longer than 8 hops"
        )


def _rrsig_text(rd: dns.rdata.Rdata) -> str:
    """An RRSIG without its signature bytes: enough for an auditor to see who signed, until when."""
    text = rd.to_text().split()
    return " ".join(text[:8]) if len(text) > 8 else " ".join(text)
