"""Where does mail for a domain go? MX (RFC 5321 §5.1), null MX (RFC 7505), implicit MX; and where
do its users submit mail? (inventory `submission:` hosts and RFC 6186 SRV records).

Discovery runs at collection time, for every domain concurrently, and its result decides the
test items: one per (domain, MX host, IP). Failures become items too, carrying the cause.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from mailtls.mtasts import TAG as STS_TAG
from mailtls.observations import (
    Discovery,
    DnsAnswer,
    MxHost,
    SrvRecord,
    SubmissionDiscovery,
    SubmissionHost,
    SubmissionSource,
)
from mailtls.probes.dns import DnsClient
from mailtls.records import parse_srv, select


def _parse_mx(record: str) -> tuple[int, str] | None:
    parts = record.split()
    if len(parts) != 2 or not parts[0].isdigit():
        return None
    return int(parts[0]), parts[1]


def _host_addresses(client: DnsClient, host: str, preference: int) -> MxHost:
    a = client.query(host, "A")
    aaaa = client.query(host, "AAAA")
    addresses = tuple(a.records if a.status == "ok" else ()) + tuple(
        aaaa.records if aaaa.status == "ok" else ()
    )
    tlsa = client.query(f"_25._tcp.{host}", "TLSA") if addresses else None
    return MxHost(name=host, preference=preference, addresses=addresses, a=a, aaaa=aaaa, tlsa=tlsa)


def discover(client: DnsClient, domain: str, addresses_only: bool = False) -> Discovery:
    """Discover one domain's mail hosts, their addresses and TLSA records, and its MTA-STS TXT;
    with ``addresses_only``, the MX hosts and their addresses only (what a shard plan needs)."""
    found = _discover_mx(client, domain)
    if addresses_only:
        return found
    if found.mx.status == "servfail":
        unchecked = client.query(domain, "MX", checking_disabled=True)
        bogus = unchecked.status in ("ok", "nodata", "nxdomain")
        error = (
            (
                f"{domain}: DNSSEC validation failed (bogus): resolver {found.mx.resolver} answers "
                f"SERVFAIL, but {unchecked.status.upper()} with checking disabled"
            )
            if bogus
            else found.error
        )
        return dataclasses.replace(
            found, mx_unchecked=unchecked, error=error, answers=(*found.answers, unchecked)
        )
    if found.kind == "error":
        return found
    sts = client.query(f"_mta-sts.{domain}", "TXT")
    rpt = client.query(f"_smtp._tls.{domain}", "TXT")
    # The DNSSEC chain at the domain, for the evidence (the verdicts use the AD bit): a DS in the
    # parent and the DNSKEY set where the domain is a zone of its own, NODATA where it is not.
    ds = client.query(domain, "DS")
    dnskey = client.query(domain, "DNSKEY")
    return dataclasses.replace(
        found,
        mta_sts_txt=sts,
        mta_sts_advertised=sts.status == "ok" and bool(select(sts.records, STS_TAG)),
        tlsrpt_txt=rpt,
        answers=(*found.answers, sts, rpt, ds, dnskey),
    )


def _discover_mx(client: DnsClient, domain: str) -> Discovery:
    mx = client.query(domain, "MX")
    if mx.failed:
        return Discovery(domain=domain, kind="error", mx=mx, error=mx.describe(), answers=(mx,))
    if mx.status == "nxdomain":
        return Discovery(
            domain=domain,
            kind="error",
            mx=mx,
            error=f"{domain} does not exist (NXDOMAIN from resolver {mx.resolver})",
            answers=(mx,),
        )
    if mx.status == "nodata":
        host = _host_addresses(client, domain, 0)
        answers = (mx, *(x for x in (host.a, host.aaaa) if x is not None))
        if host.addresses:
            return Discovery(domain=domain, kind="implicit", mx=mx, hosts=(host,), answers=answers)
        failure = host.lookup_failure()
        if failure:
            return Discovery(domain=domain, kind="error", mx=mx, error=failure, answers=answers)
        return Discovery(domain=domain, kind="none", mx=mx, answers=answers)

    parsed = [p for p in (_parse_mx(r) for r in mx.records) if p is not None]
    null = [p for p in parsed if p[1] == "."]
    others = sorted({(pref, name.rstrip(".").lower()) for pref, name in parsed if name != "."})
    if null and not others:
        return Discovery(domain=domain, kind="null", mx=mx, null_mx=True, answers=(mx,))
    # Resolve every distinct MX host once (a host may appear with two preferences).
    best: dict[str, int] = {}
    for pref, name in others:
        best[name] = min(pref, best.get(name, pref))
    if len(best) <= 2:  # the usual case: no pool of its own (most answers are shared already)
        hosts = [_host_addresses(client, name, pref) for name, pref in best.items()]
    else:
        with ThreadPoolExecutor(max_workers=min(8, len(best))) as pool:
            hosts = list(pool.map(lambda kv: _host_addresses(client, kv[0], kv[1]), best.items()))
    hosts.sort(key=lambda h: (h.preference, h.name))
    answers = (mx, *(x for h in hosts for x in (h.a, h.aaaa, h.tlsa) if x is not None))
    return Discovery(
        domain=domain,
        kind="mx",
        mx=mx,
        hosts=tuple(hosts),
        null_mx=bool(null),
        other_mx_with_null=tuple(h.name for h in hosts) if null else (),
        answers=answers,
    )


SRV_OWNERS: tuple[SubmissionSource, ...] = ("_submission._tcp", "_submissions._tcp")


def submission_host_names(
    inventory_hosts: Iterable[str], srv: dict[SubmissionSource, DnsAnswer]
) -> tuple[list[tuple[str, tuple[SubmissionSource, ...]]], list[str]]:
    """Every submission host once, inventory hosts first, with where it was learned; and the
    SRV records that could not be parsed. A "." target names no host (service not offered)."""
    sources: dict[str, list[SubmissionSource]] = {h: ["inventory"] for h in inventory_hosts}
    problems = []
    for owner, answer in srv.items():
        if answer.status != "ok":
            continue
        for text in answer.records:
            record = parse_srv(text)
            if record is None:
                problems.append(f"{answer.qname} SRV {text!r} is malformed and was ignored")
            elif not record.not_offered and owner not in sources.setdefault(record.target, []):
                sources[record.target].append(owner)
    return [(name, tuple(found)) for name, found in sources.items()], problems


def discover_submission(
    client: DnsClient, domain: str, inventory_hosts: Iterable[str]
) -> SubmissionDiscovery:
    """The submission hosts of a domain (inventory and RFC 6186 SRV) and their addresses."""
    listed = tuple(inventory_hosts)
    srv = {owner: client.query(f"{owner}.{domain}", "SRV") for owner in SRV_OWNERS}
    names, problems = submission_host_names(listed, srv)

    def resolve(item: tuple[str, tuple[SubmissionSource, ...]]) -> SubmissionHost:
        name, found = item
        a, aaaa = client.query(name, "A"), client.query(name, "AAAA")
        addresses = tuple(a.records if a.status == "ok" else ()) + tuple(
            aaaa.records if aaaa.status == "ok" else ()
        )
        return SubmissionHost(name, found, addresses, a, aaaa)

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(names)))) as pool:
        hosts = tuple(pool.map(resolve, names))
    answers = (*srv.values(), *(x for h in hosts for x in (h.a, h.aaaa) if x is not None))
    return SubmissionDiscovery(
        domain=domain,
        inventory_hosts=listed,
        submission_srv=srv["_submission._tcp"],
        submissions_srv=srv["_submissions._tcp"],
        hosts=hosts,
        problems=tuple(problems),
        answers=answers,
        submission_records=srv_records(srv["_submission._tcp"]),
        submissions_records=srv_records(srv["_submissions._tcp"]),
    )


def srv_records(answer: DnsAnswer) -> tuple[SrvRecord, ...]:
    """The well-formed SRV records of an answer (the malformed ones are reported as problems)."""
    if answer.status != "ok":
        return ()
    return tuple(r for r in (parse_srv(x) for x in answer.records) if r is not None)


def discover_all(
    client: DnsClient, domains: Iterable[str], workers: int, addresses_only: bool = False
) -> dict[str, Discovery]:
    """Discover many domains concurrently; an unexpected exception becomes an error discovery."""
    names = list(domains)

    def safe(domain: str) -> Discovery:
        try:
            return discover(client, domain, addresses_only)
        except Exception as exc:
            placeholder = DnsAnswer(
                domain,
                "MX",
                "error",
                "ERROR",
                (),
                None,
                False,
                str(client.resolver),
                error=f"{type(exc).__name__}: {exc}",
            )
            return Discovery(
                domain=domain,
                kind="error",
                mx=placeholder,
                error=f"internal error while discovering {domain}: {type(exc).__name__}: {exc}",
            )

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(names) or 1))) as pool:
        return dict(zip(names, pool.map(safe, names), strict=True))


def discover_submission_all(
    client: DnsClient, domains: dict[str, tuple[str, ...]], workers: int
) -> dict[str, SubmissionDiscovery]:
    """Submission discovery of many domains (name -> inventory hosts) concurrently; an unexpected
    exception becomes a discovery whose SRV answers carry the error, never a crash."""

    def safe(item: tuple[str, tuple[str, ...]]) -> SubmissionDiscovery:
        domain, listed = item
        try:
            return discover_submission(client, domain, listed)
        except Exception as exc:
            error = (
                f"internal error while discovering submission hosts: {type(exc).__name__}: {exc}"
            )
            failed = [
                DnsAnswer(
                    f"{owner}.{domain}",
                    "SRV",
                    "error",
                    "ERROR",
                    (),
                    None,
                    False,
                    str(client.resolver),
                    error=error,
                )
                for owner in SRV_OWNERS
            ]
            return SubmissionDiscovery(domain, listed, failed[0], failed[1], answers=tuple(failed))

    items = list(domains.items())
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        return dict(zip(domains, pool.map(safe, items), strict=True))
