#!/usr/bin/env python3
"""Benchmark: wall time and connections per MX IP for a full run over an inventory.

    .venv/bin/python bench/bench_suite.py [--inventory=inventories/demo.yaml] [--resolver=127.0.10.2]
                                 [--ca-bundle=$(testbed.py path ca)] [--timeout=3]

Prints figures; asserts nothing. Connections are counted twice: by the probes (what mailtls
believes it opened, from the evidence JSON) and, where the testbed's Postfix log is available, at
the server ("connect from" lines per listener).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "testbed"))
from tb.common import RUN  # noqa: E402  (the testbed's runtime folder, outside the checkout)

from mailtls import evidencejson  # noqa: E402


def postfix_connects(log: Path, since: int) -> Counter[str]:
    """Count smtpd 'connect from' lines per listener tag (postfix/<scenario>/smtpd) after offset."""
    counts: Counter[str] = Counter()
    if not log.exists():
        return counts
    with log.open("rb") as fh:
        fh.seek(since)
        for raw in fh:
            line = raw.decode("utf-8", "replace")
            m = re.search(r" (postfix[^\[:]*)/smtpd\[\d+\]: connect from", line)
            if m:
                counts[m.group(1)] += 1
    return counts


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--inventory", default=str(REPO / "inventories" / "demo.yaml"))
    ap.add_argument("--resolver", default="127.0.10.2")
    ap.add_argument("--ca-bundle", default=str(RUN / "ca.pem"))
    ap.add_argument("--timeout", default="3")
    ap.add_argument("--postfix-log", default=str(RUN / "postfix" / "maillog"))
    args = ap.parse_args()

    log = Path(args.postfix_log)
    offset = log.stat().st_size if log.exists() else 0
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "evidence.json"
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            f"--inventory={args.inventory}",
            f"--resolver={args.resolver}",
            f"--ca-bundle={args.ca_bundle}",
            f"--timeout={args.timeout}",
            f"--evidence-json={out}",
        ]
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        wall = time.monotonic() - started
        if not out.exists():
            print(proc.stdout[-3000:], proc.stderr[-3000:])
            return 1
        data = json.loads(out.read_text())
    time.sleep(0.5)  # let Postfix flush its log

    per_ip: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    rows = evidencejson.expand(data)
    for res in rows:
        for ev in (data["observations"][d] for d in res["evidence"]):
            if ev.get("type") in ("SmtpObservation", "TlsScan"):
                ep = ev["endpoint"]
                key = (ep["ip"], ev["type"] + ev["started"])
                if key not in seen:
                    seen.add(key)
                    per_ip[ep["ip"]] = per_ip.get(ep["ip"], 0) + ev["connections"]
    verdicts = Counter(r["verdict"] for r in rows)
    print(f"inventory: {args.inventory}")
    print(f"results: {len(rows)} ({', '.join(f'{k} {v}' for k, v in sorted(verdicts.items()))})")
    print(f"wall time: {wall:.2f} s for the whole pytest run (exit {proc.returncode})")
    print("connections per MX IP (client side, from the evidence):")
    for ip, n in sorted(per_ip.items()):
        print(f"  {ip:16} {n}")
    server = postfix_connects(log, offset)
    if server:
        print("connections per Postfix listener (server side, 'connect from' in the log):")
        for tag, n in sorted(server.items()):
            print(f"  {tag:32} {n}")
    else:
        print(f"server-side counts: no Postfix log at {log}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
