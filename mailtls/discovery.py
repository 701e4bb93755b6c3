"""Where does mail for a domain go? MX (RFC 5321 §5.1), null MX (RFC 7505), implicit MX.

Discovery runs at collection time, for every domain concurrently, and its result decides the
test items: one per (domain, MX host, IP). Failures become items too, carrying the cause.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from mailtls.observations import Discovery, DnsAnswer, MxHost
from mailtls.probes.dns import DnsClient


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


def discover(client: DnsClient, domain: str) -> Discovery:
    """Discover one domain's mail hosts, their addresses and TLSA records, and its MTA-STS TXT."""
    found = _discover_mx(client, domain)
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
    return dataclasses.replace(
        found, mta_sts_txt=sts, tlsrpt_txt=rpt, answers=(*found.answers, sts, rpt)
    )


def _discover_mx(client: DnsClient, domain: str) -> Discovery:
    mx = client.query(domain, "MX")
    if mx.status in ("servfail", "timeout", "error", "refused"):
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
    with ThreadPoolExecutor(max_workers=min(8, max(1, len(best)))) as pool:
        hosts = list(pool.map(lambda item: _host_addresses(client, item[0], item[1]), best.items()))
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


def discover_all(client: DnsClient, domains: Iterable[str], workers: int) -> dict[str, Discovery]:
    """Discover many domains concurrently; an unexpected exception becomes an error discovery."""
    names = list(domains)

    def safe(domain: str) -> Discovery:
        try:
            return discover(client, domain)
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
