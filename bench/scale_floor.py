"""The floor of bench_scale: the minimal network work of an inventory, done with plain asyncio.

Every distinct DNS question the suite asks for the inventory, once, with the DO bit (UDP, TCP on
truncation, CNAMEs followed as the suite's client follows them), asked by the same rules as the
suite's discovery and lookups, each following the answers it depends on:

- per domain: MX; for each MX host A, AAAA and, where it has an address, ``_25._tcp`` TLSA (no MX
  record: the domain's own A/AAAA/TLSA, RFC 5321 §5.1; SERVFAIL: MX again with CD set);
  ``_mta-sts`` and ``_smtp._tls`` TXT, DS, DNSKEY (unless the MX lookup failed);
- submission: ``_submission._tcp`` and ``_submissions._tcp`` SRV, A/AAAA of every SRV target and
  inventory submission host;
- SPF: TXT at the domain, then the include/redirect tree (``a``: A+AAAA, ``mx``: MX,
  ``exists``: A), at most 10 lookup terms and 40 queries per domain (as mailtls.probes.spfwalk);
- DKIM: TXT at ``<selector>._domainkey`` per inventory selector of a domain that sends mail;
- DMARC: ``_dmarc.<domain>`` TXT and, without a DMARC record there, the organisational domain's;
- MTA-STS: where ``_mta-sts`` holds ``v=STSv1``, A/AAAA of ``mta-sts.<domain>`` and one HTTPS GET of
  the policy over verified TLS;

and one STARTTLS session (EHLO, STARTTLS, handshake, QUIT) per MX address found. No checks.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype

from mailtls import dmarc, spf
from mailtls.inventory import Inventory

CONCURRENCY = 64  # DNS questions in flight at once
TIMEOUT = 5.0
SPF_LOOKUPS, SPF_QUERIES = 10, 40


@dataclass(frozen=True)
class Answer:
    status: str  # ok / nodata / nxdomain / servfail / error
    records: tuple[str, ...] = ()


@dataclass
class Floor:
    """What the floor asked and did, and how long it took."""

    seconds: float = 0.0
    questions: set[tuple[str, str]] = field(default_factory=set)  # (name, TYPE), as logged
    asked: int = 0  # distinct (name, type, CD) questions sent
    failed: list[str] = field(default_factory=list)
    starttls: dict[str, str] = field(default_factory=dict)  # address -> "ok" or why not
    policies: dict[str, str] = field(default_factory=dict)  # policy host -> status line


class _Resolver:
    def __init__(self, ip: str, floor: Floor, ca_bundle: Path) -> None:
        self.ip, self.floor, self.ca_bundle = ip, floor, ca_bundle
        self.sem = asyncio.Semaphore(CONCURRENCY)
        self.memo: dict[tuple[str, str, bool], asyncio.Task[Answer]] = {}
        # The sessions and fetches, each started as soon as its address or record is known.
        self.sessions: dict[str, asyncio.Task[str]] = {}
        self.fetches: dict[str, asyncio.Task[str]] = {}

    def session(self, ip: str) -> None:
        if ip not in self.sessions:
            self.sessions[ip] = asyncio.ensure_future(_starttls(ip))

    def fetch(self, host: str) -> None:
        if host not in self.fetches:
            self.fetches[host] = asyncio.ensure_future(_policy(self, host, self.ca_bundle))

    def ask(self, name: str, rdtype: str, cd: bool = False) -> asyncio.Task[Answer]:
        key = (name.rstrip(".").lower(), rdtype, cd)
        if key not in self.memo:
            self.memo[key] = asyncio.ensure_future(self._resolve(key[0], rdtype, cd))
        return self.memo[key]

    async def _resolve(self, name: str, rdtype: str, cd: bool) -> Answer:
        try:
            current = dns.name.from_text(name)
        except Exception:
            return Answer("error")
        rtype = dns.rdatatype.from_text(rdtype)
        for _ in range(8):  # CNAME hops, as the suite's client
            self.floor.questions.add((current.to_text().rstrip(".").lower(), rdtype))
            self.floor.asked += 1
            q = dns.message.make_query(current, rtype, want_dnssec=True, payload=1232)
            q.flags |= dns.flags.AD | (dns.flags.CD if cd else 0)
            async with self.sem:
                try:
                    r, _tcp = await dns.asyncquery.udp_with_fallback(q, self.ip, timeout=TIMEOUT)
                except Exception as exc:
                    self.floor.failed.append(f"{current} {rdtype}: {type(exc).__name__}")
                    return Answer("error")
            if r.rcode() == dns.rcode.NXDOMAIN:
                return Answer("nxdomain")
            if r.rcode() != dns.rcode.NOERROR:
                return Answer("servfail" if r.rcode() == dns.rcode.SERVFAIL else "error")
            owner = current
            for _hop in range(8):
                cname = r.get_rrset(r.answer, owner, dns.rdataclass.IN, dns.rdatatype.CNAME)
                if cname is None or rtype == dns.rdatatype.CNAME:
                    break
                owner = cname[0].target
            rrset = r.get_rrset(r.answer, owner, dns.rdataclass.IN, rtype)
            if rrset is not None:
                return Answer("ok", tuple(rd.to_text() for rd in rrset))
            if owner == current:
                return Answer("nodata")
            current = owner
        return Answer("error")


async def _host(res: _Resolver, name: str) -> None:
    a, aaaa = await asyncio.gather(res.ask(name, "A"), res.ask(name, "AAAA"))
    found = [
        *(a.records if a.status == "ok" else ()),
        *(aaaa.records if aaaa.status == "ok" else ()),
    ]
    for ip in found:
        res.session(ip)
    if found:
        await res.ask(f"_25._tcp.{name}", "TLSA")


async def _mail(res: _Resolver, domain: str) -> None:
    mx = await res.ask(domain, "MX")
    if mx.status == "servfail":
        await res.ask(domain, "MX", cd=True)
    if mx.status not in ("ok", "nodata"):
        return
    if mx.status == "nodata":
        hosts = [domain]
    else:
        parsed = (r.split() for r in mx.records)
        valid = (p[1] for p in parsed if len(p) == 2 and p[0].isdigit())  # as discovery parses
        hosts = sorted({name.rstrip(".").lower() for name in valid} - {""})
    rest: list[Awaitable[object]] = [asyncio.ensure_future(_host(res, h)) for h in hosts]
    rest += [res.ask(f"_smtp._tls.{domain}", "TXT"), res.ask(domain, "DS")]
    rest += [res.ask(domain, "DNSKEY")]
    answer = await res.ask(f"_mta-sts.{domain}", "TXT")
    if answer.status == "ok" and any(v.startswith("v=STSv1") for v in spf.joined(answer.records)):
        res.fetch(f"mta-sts.{domain}")
    await asyncio.gather(*rest)


async def _submission(res: _Resolver, domain: str, listed: tuple[str, ...]) -> None:
    srv = await asyncio.gather(
        *(res.ask(f"_{s}._tcp.{domain}", "SRV") for s in ("submission", "submissions"))
    )
    names = set(listed)
    for answer in srv:
        for rec in answer.records if answer.status == "ok" else ():
            target = rec.split()[-1].rstrip(".").lower()
            if target:
                names.add(target)
    await asyncio.gather(*(res.ask(n, t) for n in names for t in ("A", "AAAA")))


async def _spf(res: _Resolver, domain: str) -> None:
    count = {"lookups": 0, "queries": 0}

    async def ask(name: str, rdtype: str) -> Answer | None:
        if count["queries"] >= SPF_QUERIES:
            return None
        count["queries"] += 1
        return await res.ask(name, rdtype)

    async def node(name: str, path: tuple[str, ...]) -> None:
        answer = await ask(name, "TXT")
        if answer is None or answer.status != "ok":
            return
        found = spf.select(answer.records)
        if len(found) != 1:
            return
        try:
            record = spf.parse(found[0])
        except spf.SpfError:
            return
        for term in record.terms:
            if isinstance(term, spf.Modifier):
                if term.name == "redirect" and record.redirect is not None:
                    await follow(term.value, path)
            elif term.name == "include" and term.domain is not None:
                await follow(term.domain, path)
            elif term.lookup:
                count["lookups"] += 1
                target = term.domain or name
                if count["lookups"] > SPF_LOOKUPS or term.name == "ptr" or "%" in target:
                    continue
                for rdtype in {"a": ("A", "AAAA"), "mx": ("MX",), "exists": ("A",)}[term.name]:
                    await ask(target, rdtype)

    async def follow(target: str, path: tuple[str, ...]) -> None:
        count["lookups"] += 1
        name = target.rstrip(".").lower()
        if count["lookups"] <= SPF_LOOKUPS and "%" not in name and name not in path:
            await node(name, (*path, name))

    await node(domain, (domain,))


async def _dmarc(res: _Resolver, domain: str) -> None:
    first = await res.ask(f"_dmarc.{domain}", "TXT")
    if first.status not in ("ok", "nodata", "nxdomain"):
        return
    if first.status == "ok" and any(dmarc.is_dmarc(v) for v in spf.joined(first.records)):
        return
    org = dmarc.organizational_domain(domain)
    if org != domain:
        await res.ask(f"_dmarc.{org}", "TXT")


async def _starttls(ip: str) -> str:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, 25), TIMEOUT)
    except (OSError, TimeoutError) as exc:
        return f"{type(exc).__name__}: {exc}"
    try:

        async def reply() -> None:
            while (await asyncio.wait_for(reader.readline(), TIMEOUT))[3:4] == b"-":
                pass

        await reply()
        writer.write(b"EHLO floor.bench\r\n")
        await reply()
        writer.write(b"STARTTLS\r\n")
        await reply()
        await writer.start_tls(ctx)
        writer.write(b"QUIT\r\n")
        await reply()
        return "ok"
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        writer.close()


async def _policy(res: _Resolver, host: str, ca_bundle: Path) -> str:
    """One GET of the policy over TLS verified against ``ca_bundle``: its status line."""
    a, aaaa = await asyncio.gather(res.ask(host, "A"), res.ask(host, "AAAA"))
    ips = [*(a.records if a.status == "ok" else ()), *(aaaa.records if aaaa.status == "ok" else ())]
    if not ips:
        return "no address"
    ctx = ssl.create_default_context(cafile=str(ca_bundle))  # verified, as the suite fetches
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(ips[0], 443, ssl=ctx, server_hostname=host), TIMEOUT
        )
        writer.write(
            f"GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        body = await asyncio.wait_for(reader.read(64 * 1024), TIMEOUT)
        writer.close()
        return body.split(b"\r\n", 1)[0].decode("latin-1")
    except (OSError, TimeoutError, ssl.SSLError) as exc:
        return f"{type(exc).__name__}: {exc}"


async def _run(inventory: Inventory, resolver: str, ca_bundle: Path) -> Floor:
    floor = Floor()
    res = _Resolver(resolver, floor, ca_bundle)
    started = time.monotonic()
    jobs: list[Awaitable[object]] = []
    for d in inventory.domains:
        jobs += [_mail(res, d.name), _submission(res, d.name, d.submission)]
        jobs += [_spf(res, d.name), _dmarc(res, d.name)]
        jobs += [
            res.ask(f"{s}._domainkey.{d.name}", "TXT") for s in d.dkim_selectors if d.sends_mail
        ]
    await asyncio.gather(*jobs)
    await asyncio.gather(*res.sessions.values(), *res.fetches.values())
    floor.seconds = time.monotonic() - started
    floor.starttls = {ip: t.result() for ip, t in sorted(res.sessions.items())}
    floor.policies = {host: t.result() for host, t in sorted(res.fetches.items())}
    return floor


def measure(inventory: Inventory, resolver: str, ca_bundle: Path) -> Floor:
    """Run the floor once (see the module docstring)."""
    return asyncio.run(_run(inventory, resolver, ca_bundle))


def logged_questions(log: Path, since: int) -> set[tuple[str, str]]:
    """Distinct (name, TYPE) questions Unbound logged (``log-queries: yes``) after ``since``."""
    found: set[tuple[str, str]] = set()
    with log.open("rb") as fh:
        fh.seek(since)
        for raw in fh:
            parts = raw.decode("utf-8", "replace").split()
            # "[stamp] unbound[pid:tid] info: <client> <name>. <TYPE> IN"
            if len(parts) == 7 and parts[2] == "info:" and parts[-1] == "IN":
                found.add((parts[-3].rstrip(".").lower() or ".", parts[-2]))
    return found
