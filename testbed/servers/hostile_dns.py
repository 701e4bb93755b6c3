#!/usr/bin/env python3
"""A hostile authoritative DNS server (dnspython + asyncio) for one insecure child zone.

The testbed's signed ``test.`` zone delegates ``<zone>`` (default ``dns17.test``) to this server
without a DS record, so the validating Unbound reaches it as it reaches any unsigned zone on the
internet, and the suite sees what a real resolver passes on. It can also be a test's
``--resolver`` directly (it answers every question about its zone with RD/RA set), which is how
the suite's own stub resolver meets the faults a resolver would otherwise absorb.

Domains under the zone, each one fault (``<mx>`` is ``--mx``, ``<web>`` is ``--policy-ip``, an
HTTPS host serving a valid enforce policy for ``<mx>``):

  twosts    two different ``v=STSv1`` TXT records (plus an exact duplicate of one) at _mta-sts
  garbled   ``v=STSv1; id=17<NUL>`` and ``v=TLSRPTv1; rua=mailto:...<0xff><0xfe>``
  huge      120 ``v=STSv1`` TXT records (about 3.3 KB: TC over UDP, the rest over TCP)
  loop      ``_mta-sts`` is a CNAME to a name that is a CNAME back to it
  servfail  SERVFAIL for everything under ``_mta-sts`` and ``_smtp._tls``
  spoof     every UDP answer is preceded by one with a wrong ID carrying two bogus STSv1
            records; the genuine answer (valid records) follows
  wrongq    every UDP answer has the right ID but a wrong question (and two bogus records)
  tc        every UDP answer has TC set and no records; over TCP the full, valid answer

Each domain has ``MX 10 <mx>``; all but ``garbled``/``twosts``' faults carry a valid
``_smtp._tls`` record and (except servfail/loop) ``mta-sts.<domain> A <web>``.

Safety: binds only the given address (127.0.10.0-127.0.19.255), UDP and TCP; a TCP connection
has a read timeout, a per-connection query cap and a hard deadline; simultaneous TCP connections
are capped; the log file is rotated. Usage::

  python3 testbed/servers/hostile_dns.py --listen 127.0.17.53 [--port 53] [--zone dns17.test] \
      --mx mx1.good.test --policy-ip 127.0.17.10 [--logfile F] [--pidfile F]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import signal
import struct
from pathlib import Path
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
from _common import (  # testbed/servers/_common.py (the servers run as scripts)
    check_address,
    run_asyncio_server,
)

TTL = 60
HUGE_COUNT = 120  # ~3.3 KB: TC over UDP. Measured: Unbound 1.17 SERVFAILs at 300 (8.3 KB)
MAX_TCP_CONNECTIONS = 50
TCP_READ_TIMEOUT = 10.0
TCP_DEADLINE = 30.0
MAX_QUERIES_PER_TCP = 20
CASES = ("twosts", "garbled", "huge", "loop", "servfail", "spoof", "wrongq", "tc")
TLSRPT = b"v=TLSRPTv1; rua=mailto:tlsrpt@%s"

log = logging.getLogger("hostile_dns")
Records = dict[tuple[str, dns.rdatatype.RdataType], list[dns.rdata.Rdata]]


def _txt(*strings: bytes) -> dns.rdata.Rdata:
    from dns.rdtypes.ANY.TXT import TXT

    return TXT(dns.rdataclass.IN, dns.rdatatype.TXT, list(strings))


def _rd(rdtype: dns.rdatatype.RdataType, text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text(dns.rdataclass.IN, rdtype, text)


def zone_data(zone: str, ns_ip: str, mx: str, web: str) -> Records:
    """Every (owner, type) -> rdatas of the zone; owners are absolute, lower case, with dot."""
    z = zone.rstrip(".") + "."
    data: Records = {
        (z, dns.rdatatype.SOA): [_rd(dns.rdatatype.SOA, f"ns.{z} hostmaster.{z} 1 3600 600 86400 {TTL}")],
        (z, dns.rdatatype.NS): [_rd(dns.rdatatype.NS, f"ns.{z}")],
        (f"ns.{z}", dns.rdatatype.A): [_rd(dns.rdatatype.A, ns_ip)],
    }  # fmt: skip
    for case in CASES:
        d = f"{case}.{z}"
        data[(d, dns.rdatatype.MX)] = [_rd(dns.rdatatype.MX, f"10 {mx.rstrip('.')}.")]
        if case not in ("loop", "servfail"):
            data[(f"mta-sts.{d}", dns.rdatatype.A)] = [_rd(dns.rdatatype.A, web)]
        data[(f"_mta-sts.{d}", dns.rdatatype.TXT)] = [_txt(b"v=STSv1; id=17")]
        data[(f"_smtp._tls.{d}", dns.rdatatype.TXT)] = [_txt(TLSRPT % d[:-1].encode())]
    data[(f"_mta-sts.twosts.{z}", dns.rdatatype.TXT)] = [
        _txt(b"v=STSv1; id=17"), _txt(b"v=STSv1; ", b"id=18"), _txt(b"v=STSv1; id=17"),
    ]  # fmt: skip
    data[(f"_mta-sts.garbled.{z}", dns.rdatatype.TXT)] = [_txt(b"v=STSv1; id=17\x00")]
    data[(f"_smtp._tls.garbled.{z}", dns.rdatatype.TXT)] = [
        _txt(TLSRPT % f"garbled.{z}".encode()[:-1] + b"\xff\xfe")
    ]
    data[(f"_mta-sts.huge.{z}", dns.rdatatype.TXT)] = [
        _txt(b"v=STSv1; id=%d" % i) for i in range(HUGE_COUNT)
    ]
    del data[(f"_mta-sts.loop.{z}", dns.rdatatype.TXT)]
    data[(f"_mta-sts.loop.{z}", dns.rdatatype.CNAME)] = [_rd(dns.rdatatype.CNAME, f"a.loop.{z}")]
    data[(f"a.loop.{z}", dns.rdatatype.CNAME)] = [_rd(dns.rdatatype.CNAME, f"_mta-sts.loop.{z}")]
    return data


class Authority:
    """Answers questions about the zone, with the faults of each domain."""

    def __init__(self, zone: str, data: Records) -> None:
        self.zone = dns.name.from_text(zone)
        self.data = data
        self.owners = {owner for owner, _ in data}

    def case(self, qname: dns.name.Name) -> str | None:
        rel = qname.relativize(self.zone).labels if qname.is_subdomain(self.zone) else ()
        return next((label.decode().lower() for label in reversed(rel)), None) if rel else None

    def answer(self, query: dns.message.Message) -> dns.message.Message:
        r = dns.message.make_response(query)
        r.flags |= dns.flags.AA | dns.flags.RA
        if not query.question:
            r.set_rcode(dns.rcode.FORMERR)
            return r
        q = query.question[0]
        owner = q.name.to_text().lower()
        if not q.name.is_subdomain(self.zone):
            r.flags &= ~dns.flags.AA
            r.set_rcode(dns.rcode.REFUSED)
            return r
        case = self.case(q.name)
        if case == "servfail" and owner.startswith(("_mta-sts.", "_smtp._tls.")):
            r.set_rcode(dns.rcode.SERVFAIL)
            return r
        for rdtype in (q.rdtype, dns.rdatatype.CNAME):
            rdatas = self.data.get((owner, rdtype))
            if rdatas:
                first = dns.rrset.RRset(q.name, dns.rdataclass.IN, rdtype)
                again = dns.rrset.RRset(q.name, dns.rdataclass.IN, rdtype)
                for rd in rdatas:  # an exact duplicate goes out again: malformed on purpose
                    (again if rd in first else first).add(rd, TTL)
                r.answer += [first, again] if again else [first]
                return r
        soa = dns.rrset.from_rdata(
            self.zone, TTL, *self.data[(self.zone.to_text(), dns.rdatatype.SOA)]
        )
        r.authority.append(soa)
        if owner not in self.owners and not any(o.endswith("." + owner) for o in self.owners):
            r.set_rcode(dns.rcode.NXDOMAIN)
        return r


def _wire(r: dns.message.Message, limit: int) -> bytes:
    try:
        return r.to_wire(max_size=limit)
    except dns.exception.TooBig:
        r.answer.clear()
        r.authority.clear()
        r.flags |= dns.flags.TC
        return r.to_wire(max_size=limit)


class Udp(asyncio.DatagramProtocol):
    def __init__(self, auth: Authority) -> None:
        self.auth = auth
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            query = dns.message.from_wire(data[:4096])
        except dns.exception.DNSException as exc:
            log.info("udp peer=%s unparsable query (%s)", addr[0], type(exc).__name__)
            return
        q = query.question[0] if query.question else None
        case = self.auth.case(q.name) if q is not None else None
        r = self.auth.answer(query)
        limit = max(512, query.payload if query.edns >= 0 else 512)
        out: list[bytes] = []
        if case in ("spoof", "wrongq") and q is not None:
            bogus = dns.message.make_response(query)
            bogus.answer.append(
                dns.rrset.from_rdata(q.name, TTL, _txt(b"v=STSv1; id=1"), _txt(b"v=STSv1; id=2"))
            )
            if case == "spoof":  # first a wrong ID; the genuine answer follows
                bogus.id = (query.id + 1) & 0xFFFF
            else:  # the right ID for a wrong question, and nothing else
                evil = dns.rrset.RRset(dns.name.from_text("evil.example."), q.rdclass, q.rdtype)
                bogus.question[0] = evil
                r = bogus
            out.append(_wire(bogus, limit))
        if case == "tc":
            r.answer.clear()
            r.authority.clear()
            r.flags |= dns.flags.TC
        if case != "wrongq":
            out.append(_wire(r, limit))
        for packet in out:
            if self.transport is not None:
                self.transport.sendto(packet, addr)
        log.info(
            "udp peer=%s q=%s %s case=%s rcode=%s tc=%s packets=%d",
            addr[0], q.name if q is not None else "-",
            dns.rdatatype.to_text(q.rdtype) if q is not None else "-", case,
            dns.rcode.to_text(r.rcode()), bool(r.flags & dns.flags.TC), len(out),
        )  # fmt: skip


class Tcp:
    def __init__(self, auth: Authority) -> None:
        self.auth, self.active = auth, 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = (writer.get_extra_info("peername") or ("?",))[0]
        if self.active >= MAX_TCP_CONNECTIONS:
            writer.transport.abort()
            return
        self.active += 1
        served = 0
        try:
            async with asyncio.timeout(TCP_DEADLINE):
                while served < MAX_QUERIES_PER_TCP:
                    async with asyncio.timeout(TCP_READ_TIMEOUT):
                        (size,) = struct.unpack("!H", await reader.readexactly(2))
                        data = await reader.readexactly(size)
                    r = self.auth.answer(dns.message.from_wire(data))
                    wire = _wire(r, 65535)
                    writer.write(struct.pack("!H", len(wire)) + wire)
                    await writer.drain()
                    served += 1
                    log.info(
                        "tcp peer=%s q=%s answers=%d",
                        peer,
                        r.question[0].name if r.question else "-",
                        len(r.answer),
                    )
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            ConnectionError,
            dns.exception.DNSException,
        ):
            pass
        finally:
            self.active -= 1
            writer.transport.abort()


async def serve(args: argparse.Namespace) -> None:
    auth = Authority(
        args.zone, zone_data(args.zone, args.ns_ip or args.listen, args.mx, args.policy_ip)
    )
    loop = asyncio.get_running_loop()
    udp, _ = await loop.create_datagram_endpoint(
        lambda: Udp(auth), local_addr=(args.listen, args.port)
    )
    tcp = await asyncio.start_server(Tcp(auth).handle, args.listen, args.port)
    log.info("serving %s on %s:%d (udp, tcp)", args.zone, args.listen, args.port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    udp.close()
    tcp.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", type=check_address, required=True)
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--zone", default="dns17.test")
    p.add_argument(
        "--ns-ip", type=check_address, help="the glue address of ns.<zone> (default: --listen)"
    )
    p.add_argument("--mx", default="mx1.good.test")
    p.add_argument("--policy-ip", type=check_address, required=True)
    p.add_argument("--logfile", type=Path)
    p.add_argument("--pidfile", type=Path)
    args = p.parse_args(argv)
    return run_asyncio_server(log, args, serve)


if __name__ == "__main__":
    raise SystemExit(main())
