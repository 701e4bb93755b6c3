#!/usr/bin/env python3
"""Benchmark: the full suite over N domains when the resolver dies after the canary.

    python3 bench/bench_dead_resolver.py [--domains=1000] [--timeout=10]

Runs in a network namespace of its own (needs 127.0.18.53 on loopback). A resolver of ours
answers the canary and then never again; the suite runs every check with the default settings.
Prints the wall time, the rows and their verdicts, and the queries the dead resolver received.
Also times a resolver that never answers at all (the canary stops the run). Asserts nothing.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailtls import evidencejson  # noqa: E402
from tests.test_dead_resolver import ADDRESS, FadingResolver  # noqa: E402


def suite(folder: Path, port: int, timeout: float) -> tuple[float, int, str]:
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "--no-header", "-rN",
            f"--inventory={folder / 'inv.yaml'}", f"--resolver={ADDRESS}:{port}",
            f"--timeout={timeout:g}", f"--evidence-json={folder / 'out.json'}",
            f"--html={folder / 'report.html'}", "--self-contained-html",
        ],
        cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    return time.monotonic() - started, proc.returncode, (proc.stdout + proc.stderr)[-400:]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        names = "".join(f"  - d{i:05d}.example\n" for i in range(args.domains))
        (folder / "inv.yaml").write_text("domains:\n" + names)
        silent = FadingResolver(5311, answers=0)
        try:
            seconds, code, tail = suite(folder, 5311, args.timeout)
        finally:
            silent.close()
        print(f"resolver never answers: exit {code} after {seconds:.1f} s")
        print("  " + tail.strip().splitlines()[-1])
        fading = FadingResolver(5312, answers=1)
        try:
            seconds, code, tail = suite(folder, 5312, args.timeout)
        finally:
            fading.close()
        rows = evidencejson.expand(json.loads((folder / "out.json").read_text()))
        verdicts = collections.Counter(r["verdict"] for r in rows)
        named = sum(f"resolver {ADDRESS}:5312" in r["message"] for r in rows)
        print(
            f"resolver dies after the canary, {args.domains} domains, --timeout={args.timeout:g}: "
            f"exit {code} after {seconds:.1f} s"
        )
        print(f"  {len(rows)} rows: {dict(verdicts)}; {named} name the resolver in their cause")
        print(f"  queries the dead resolver received (unanswered): {fading.unanswered}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
