#!/usr/bin/env python3
"""Benchmark: the full suite over N generated, DNSSEC-signed domains on the testbed, against the
floor (the minimal network work of the same inventory, done with plain asyncio).

    python3 bench/bench_scale.py [--domains=1000] [--timeout=3] [--keep=DIR]

Needs the testbed up (its Postfix listeners are the mail servers) and runs inside the network
namespace. Generates one zone ``scale18.`` (N domains, each with two MX names among five MX
hosts on five healthy testbed addresses, a TLS-RPT record on every third domain), signs it with
ldns, and serves it with an NSD (127.0.18.101) and a validating Unbound (127.0.18.102) of its
own. The certificates name the testbed's hosts, not ``mxK.scale18``: CERT-MX-NAME findings are
part of the realistic mix. Prints wall time, peak RSS, report and JSON size, the draw time in
headless Chromium, connections per address counted by Postfix, the floor and wall/floor.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import ssl
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import dns.asyncquery
import dns.flags
import dns.message

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "testbed"))

from tb.common import RUN  # noqa: E402  (the testbed's runtime folder, outside the checkout)

from bench.bench_report import breakdown  # noqa: E402
from bench.bench_suite import postfix_connects  # noqa: E402
from mailtls import evidencejson  # noqa: E402
from tests.browser import Chromium  # noqa: E402

NSD, UNBOUND = "127.0.18.101", "127.0.18.102"
ZONE = "scale18"
# Five healthy testbed listeners: good-mx1, good-mx2, twomx-mx1, dane, hosting18.
MX_ADDRESSES = ["127.0.11.1", "127.0.11.2", "127.0.11.3", "127.0.11.8", "127.0.18.10"]


def zone_lines(domains: int) -> list[str]:
    lines = [
        "$TTL 300",
        f"{ZONE}. IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300",
        f"{ZONE}. IN NS ns.{ZONE}.",
        f"ns.{ZONE}. IN A {NSD}",
    ]
    lines += [f"mx{k}.{ZONE}. IN A {ip}" for k, ip in enumerate(MX_ADDRESSES)]
    for i in range(domains):
        d = f"d{i:05d}.{ZONE}."
        lines += [f"{d} IN MX 10 mx{i % 5}.{ZONE}.", f"{d} IN MX 20 mx{(i + 1) % 5}.{ZONE}."]
        if i % 3 == 0:
            lines.append(f'_smtp._tls.{d} IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{d[:-1]}"')
    return lines


def start_dns(folder: Path, domains: int) -> list[Path]:
    (folder / f"{ZONE}.zone").write_text("\n".join(zone_lines(domains)) + "\n")
    key = subprocess.run(
        ["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", ZONE],
        cwd=folder, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(
        ["ldns-signzone", "-n", "-t", "0", f"{ZONE}.zone", key],
        cwd=folder, check=True, capture_output=True,
    )  # fmt: skip
    (folder / "anchor.ds").write_text((folder / f"{key}.ds").read_text())
    (folder / "nsd.conf").write_text(
        f'server:\n  ip-address: {NSD}\n  port: 53\n  do-ip6: no\n  username: ""\n'
        f'  chroot: ""\n  zonesdir: "{folder}"\n  pidfile: "{folder}/nsd.pid"\n'
        f'  database: ""\n  zonelistfile: "{folder}/zone.list"\n'
        f'  xfrdfile: "{folder}/xfrd.state"\n  logfile: "{folder}/nsd.log"\n'
        f"remote-control:\n  control-enable: no\n"
        f"zone:\n  name: {ZONE}.\n  zonefile: {ZONE}.zone.signed\n"
    )
    (folder / "unbound.conf").write_text(
        f"server:\n  interface: {UNBOUND}\n  port: 53\n  outgoing-interface: {UNBOUND}\n"
        "  interface-automatic: no\n  do-ip6: no\n"
        f'  username: ""\n  chroot: ""\n  directory: "{folder}"\n'
        f'  pidfile: "{folder}/unbound.pid"\n  logfile: "{folder}/unbound.log"\n'
        "  use-syslog: no\n  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n"
        f'  trust-anchor-file: "{folder}/anchor.ds"\n  module-config: "validator iterator"\n'
        "  qname-minimisation: no\n  msg-cache-size: 64m\n  rrset-cache-size: 128m\n"
        "remote-control:\n  control-enable: no\n"
        f'stub-zone:\n  name: "{ZONE}."\n  stub-addr: {NSD}\n'
    )
    subprocess.run(["nsd", "-c", str(folder / "nsd.conf")], check=True)
    subprocess.run(["unbound", "-c", str(folder / "unbound.conf")], check=True)
    time.sleep(1.0)
    return [folder / "nsd.pid", folder / "unbound.pid"]


def stop(pidfiles: list[Path]) -> None:
    import os
    import signal

    for pidfile in pidfiles:  # only the daemons this benchmark started, by their PID files
        if pidfile.exists():
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)


async def _query(sem: asyncio.Semaphore, name: str, rdtype: str) -> dns.message.Message | None:
    q = dns.message.make_query(name, rdtype, want_dnssec=True)
    q.flags |= dns.flags.AD
    async with sem:
        try:
            return await dns.asyncquery.udp(q, UNBOUND, timeout=5)
        except Exception:
            return None


async def _starttls(ip: str) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    reader, writer = await asyncio.wait_for(asyncio.open_connection(ip, 25), 5)
    try:

        async def reply() -> None:
            while (await asyncio.wait_for(reader.readline(), 5))[3:4] == b"-":
                pass

        await reply()
        writer.write(b"EHLO floor.bench\r\n")
        await reply()
        writer.write(b"STARTTLS\r\n")
        await reply()
        await writer.start_tls(ctx)
        writer.write(b"QUIT\r\n")
        await reply()
    finally:
        writer.close()


async def floor(domains: list[str]) -> float:
    """Every DNS question discovery asks (DO bit set) and one STARTTLS session per MX address."""
    sem = asyncio.Semaphore(64)
    started = time.monotonic()
    names = [f"mx{k}.{ZONE}" for k in range(5)]
    jobs = [_query(sem, d, t) for d in domains for t in ("MX", "DS", "DNSKEY")]
    jobs += [_query(sem, f"{p}.{d}", "TXT") for d in domains for p in ("_mta-sts", "_smtp._tls")]
    jobs += [_query(sem, n, t) for n in names for t in ("A", "AAAA")]
    jobs += [_query(sem, f"_25._tcp.{n}", "TLSA") for n in names]
    jobs += [
        _query(sem, f"_{s}._tcp.{d}", "SRV") for d in domains for s in ("submission", "submissions")
    ]
    await asyncio.gather(*jobs, *(_starttls(ip) for ip in MX_ADDRESSES))
    return time.monotonic() - started


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--timeout", default="3")
    ap.add_argument("--keep", help="keep the generated zone, inventory and reports here")
    args = ap.parse_args()
    env = json.loads((RUN / "env.json").read_text())
    log = Path(env["postfix_log"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        pids = start_dns(folder, args.domains)
        try:
            domains = [f"d{i:05d}.{ZONE}" for i in range(args.domains)]
            (folder / "inv.yaml").write_text("domains:\n" + "".join(f"  - {d}\n" for d in domains))
            floor_s = asyncio.run(floor(domains))  # also warms the resolver's cache
            since = log.stat().st_size
            report, evidence = folder / "report.html", folder / "evidence.json"
            started = time.monotonic()
            proc = subprocess.run(
                [
                    sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--no-header", "-rN",
                    f"--inventory={folder / 'inv.yaml'}", f"--resolver={UNBOUND}",
                    f"--ca-bundle={env['ca_bundle']}", f"--timeout={args.timeout}",
                    f"--evidence-json={evidence}", f"--html={report}", "--self-contained-html",
                ],
                cwd=REPO, capture_output=True, text=True,
            )  # fmt: skip
            wall = time.monotonic() - started
        finally:
            stop(pids)
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        time.sleep(0.5)
        counted = postfix_connects(log, since)
        data = json.loads(evidence.read_text())
        rows = evidencejson.expand(data)
        verdicts = Counter(r["verdict"] for r in rows)
        print(f"{args.domains} signed domains, 5 MX addresses: exit {proc.returncode}")
        print("  " + (proc.stdout.strip().splitlines() or ["?"])[-1])
        print(f"  wall {wall:.1f} s; peak RSS {rss:.0f} MB; {len(rows)} rows {dict(verdicts)}")
        print(
            f"  report {report.stat().st_size / 1e6:.1f} MB; evidence JSON {evidence.stat().st_size / 1e6:.1f} MB"
        )
        print(f"  report: {breakdown(report)}")
        print(f"  connections per listener (Postfix log): {dict(counted)}")
        print(
            f"  floor (plain asyncio: every DNS query with DO, one STARTTLS per address) {floor_s:.2f} s"
        )
        print(f"  wall/floor {wall / floor_s:.0f}x")
        with Chromium() as browser:
            page = browser.page()
            seconds = page.open(report, timeout=300)
            loaded = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
        print(f"  Chromium: load event (usable) {loaded / 1000:.2f} s, wall {seconds:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
