#!/usr/bin/env python3
"""Benchmark: the full default suite per MX with 40 ms of round-trip time, and its connections.

    .venv/bin/python bench/bench_rtt.py [--rtt-ms=40] [--resolver=127.0.10.2] [--ca-bundle=$(testbed.py path ca)]

The kernel's netem qdisc is not available everywhere (not on our CI machines), so the delay comes
from a small proxy of our own: for every `rtt-*.test` domain of testbed/scenarios.yaml it listens
on the domain's MX address (127.0.19.x) and relays to the real server, holding every chunk for
half the round-trip time in each direction, and the server's first bytes for one more round trip
(the TCP handshake a real network would cost). Prints, per MX: the wall time from the SMTP
session's start to the end of the hello scan, the connections mailtls says it opened, the
connections the proxy accepted, and the "connect from" lines Postfix logged. Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "testbed"))
from tb.common import RUN  # noqa: E402  (the testbed's runtime folder, outside the checkout)

from mailtls import evidencejson  # noqa: E402

SCENARIOS = yaml.safe_load((REPO / "testbed" / "scenarios.yaml").read_text())


class DelayProxy:
    """TCP relay from `listen` to `upstream`, each direction delayed by `one_way` seconds."""

    def __init__(self, listen: str, upstream: str, port: int, one_way: float) -> None:
        self.listen, self.upstream, self.port, self.one_way = listen, upstream, port, one_way
        self.accepted = 0

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, first_extra: float
    ) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if not data:
                    writer.close()
                    return
                writer.write(data)
                await writer.drain()

        task = asyncio.create_task(deliver())
        extra = first_extra
        try:
            while True:
                data = await reader.read(65536)
                await queue.put((time.monotonic() + self.one_way + extra, data))
                extra = 0.0
                if not data:
                    break
            await task
        except (ConnectionError, OSError):
            task.cancel()
            writer.close()

    async def _handle(self, c_reader: asyncio.StreamReader, c_writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            s_reader, s_writer = await asyncio.open_connection(self.upstream, self.port)
        except OSError:
            c_writer.close()
            return
        await asyncio.gather(
            self._pump(c_reader, s_writer, 0.0),
            self._pump(s_reader, c_writer, 2 * self.one_way),  # the TCP handshake's round trip
            return_exceptions=True,
        )

    async def start(self) -> asyncio.Server:
        return await asyncio.start_server(self._handle, self.listen, self.port)


def _run_proxies(proxies: list[DelayProxy], ready: threading.Event) -> None:
    async def main() -> None:
        servers = [await p.start() for p in proxies]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


def _postfix_connects(log: Path, since: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    if log.exists():
        text = log.read_bytes()[since:].decode("utf-8", "replace")
        for m in re.finditer(r" postfix/([^/\[]+)/smtpd\[\d+\]: connect from", text):
            counts[m.group(1)] += 1
    return counts


def _span(evidence: list[dict[str, Any]]) -> float | None:
    starts = [dt.datetime.fromisoformat(e["started"]) for e in evidence]
    ends = [dt.datetime.fromisoformat(e["finished"]) for e in evidence]
    return (max(ends) - min(starts)).total_seconds() if starts else None


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rtt-ms", type=float, default=40.0)
    ap.add_argument("--resolver", default="127.0.10.2")
    ap.add_argument("--ca-bundle", default=str(RUN / "ca.pem"))
    ap.add_argument("--postfix-log", default=str(RUN / "postfix" / "maillog"))
    args = ap.parse_args()

    listener_by_ip = {item["ip"]: item["name"] for item in SCENARIOS["listeners"]}
    legacy_hosts = SCENARIOS.get("legacy", {}).get("hosts", {})
    rtt_domains = {d: spec for d, spec in SCENARIOS["domains"].items() if "rtt_upstream" in spec}
    proxies: dict[str, DelayProxy] = {}
    for spec in rtt_domains.values():
        (ip,) = spec["hosts"].values()
        proxies[ip] = DelayProxy(ip, spec["rtt_upstream"], 25, args.rtt_ms / 2000)
    ready = threading.Event()
    threading.Thread(target=_run_proxies, args=(list(proxies.values()), ready), daemon=True).start()
    if not ready.wait(10):
        print("the delay proxies did not start")
        return 1

    log = Path(args.postfix_log)
    offset = log.stat().st_size if log.exists() else 0
    with tempfile.TemporaryDirectory() as tmp:
        inventory = Path(tmp) / "inventory.yaml"
        inventory.write_text(yaml.safe_dump({"domains": sorted(rtt_domains)}))
        out = Path(tmp) / "evidence.json"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", f"--inventory={inventory}",
               f"--resolver={args.resolver}", f"--ca-bundle={args.ca_bundle}",
               f"--evidence-json={out}"]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.monotonic() - started
        if not out.exists():
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            return 1
        data = json.loads(out.read_text())
    time.sleep(0.5)  # let Postfix flush its log
    server = _postfix_connects(log, offset)

    per_ip: dict[str, dict[str, dict[str, Any]]] = {}
    for res in evidencejson.expand(data):
        for ev in (data["observations"][d] for d in res["evidence"]):
            if ev.get("type") in ("SmtpObservation", "TlsScan"):
                per_ip.setdefault(ev["endpoint"]["ip"], {})[ev["type"] + ev["started"]] = ev
    print(f"round-trip time added by the proxy: {args.rtt_ms:g} ms; whole pytest run {wall:.2f} s")
    print(f"{'MX address':14} {'upstream':14} {'wall s':>7} {'ours':>5} {'proxy':>6} {'server':>7}")
    for ip, evs in sorted(per_ip.items()):
        upstream = proxies[ip].upstream if ip in proxies else "-"
        ours = sum(
            e.get("connections", 0) for e in evs.values()
        )  # SmtpObservation.connections + TlsScan.connections
        name = listener_by_ip.get(upstream)
        at_server = str(server.get(name, 0)) if name else "n/a"
        if upstream in legacy_hosts.values():
            at_server = "n/a (tlslite)"
        span = _span(list(evs.values()))
        print(
            f"{ip:14} {upstream:14} {span or 0:7.2f} {ours:5} "
            f"{proxies[ip].accepted if ip in proxies else 0:6} {at_server:>7}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
