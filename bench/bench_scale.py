#!/usr/bin/env python3
"""Benchmark: the full suite over N generated, DNSSEC-signed domains on the testbed, against the
floor (the minimal network work of the same inventory, done with plain asyncio: bench/scale_floor.py).

    python3 bench/bench_scale.py [--domains=1000] [--timeout=3] [--keep=DIR]
    python3 bench/bench_scale.py --domains=10000 --shards=10 [--shard-balance] [--keep=DIR]

Needs the testbed up (its Postfix listeners are the mail servers) and runs inside the network
namespace. Generates one zone ``scale18.``, signs it with ldns, and serves it with an NSD
(127.0.18.101) and a validating Unbound (127.0.18.102) of its own; Unbound logs every question
it receives, so the distinct questions of the suite and of the floor are counted and compared.
Two layouts of the MX hosts (``--layout``), all on healthy testbed Postfix listeners:

- ``ring`` (the default without ``--shards``): five MX hosts on five addresses, every domain with
  two of them (mx<i%5>, mx<i+1%5>): all domains share addresses, one group for ``--shard``;
- ``groups`` (the default with ``--shards``): up to twelve addresses, one per group of domains,
  each domain with two MX names (mx<g>, mx<g>b) on its group's address (a hosting provider's
  pattern): groups that ``--shard`` can deal out without breaking the per-address budget, as
  many as N shards divide evenly (10 for 10 shards, 12 for 3 or 4), so the shards are balanced.

A TLS-RPT record on every third domain. The certificates name the testbed's hosts, not the
``scale18`` names: CERT-MX-NAME findings are part of the mix. The resolver's cache is emptied
(Unbound restarted) before the floor, the suite and each shard, so each starts cold, as a CI job
with a resolver of its own would. ``--shards=N`` runs the N shards one after another, merges them
(``python -m mailtls merge``) and prints per-shard and merged figures. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "testbed"))

from tb.common import RUN  # noqa: E402  (the testbed's runtime folder, outside the checkout)

from bench import scale_floor  # noqa: E402
from bench.bench_report import breakdown  # noqa: E402
from bench.bench_suite import postfix_connects  # noqa: E402
from bench.scale_dns import LAYOUTS, UNBOUND, ZONE, Dns, address_count, dns_trouble  # noqa: E402
from mailtls import evidencejson  # noqa: E402
from mailtls.inventory import load_inventory  # noqa: E402
from tests.browser import Chromium  # noqa: E402


@dataclass
class Child:
    """One finished child process: exit status, wall time, its own peak RSS."""

    code: int
    wall: float
    rss_mb: float
    out: str


#: Runs a command and writes its peak RSS (KB) to a file: a small process between this one and
#: the measured one. Linux carries the parent's memory high-water mark into a child at fork and
#: exec (``ru_maxrss``), so a child of this benchmark, which holds the floor's and earlier shards'
#: data, would report at least this process's size.
MEASURE = (
    "import os, subprocess, sys\n"
    "proc = subprocess.Popen(sys.argv[2:])\n"
    "_pid, status, usage = os.wait4(proc.pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def run_child(argv: list[str], out: Path) -> Child:
    """Run one process, its output to ``out``; its own peak RSS, measured by a small process
    between (:data:`MEASURE`), not by this one's rusage."""
    rss = out.with_suffix(".rss")
    started = time.monotonic()
    with out.open("w") as fh:
        proc = subprocess.run(
            [sys.executable, "-c", MEASURE, str(rss), *argv],
            cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    wall = time.monotonic() - started
    peak = int(rss.read_text()) / 1024 if rss.exists() else float("nan")
    return Child(proc.returncode, wall, peak, out.read_text())


def pytest_argv(args: argparse.Namespace, folder: Path, ca: str, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "--no-header", "-rN",
        f"--inventory={folder / 'inv.yaml'}", f"--resolver={UNBOUND}", f"--ca-bundle={ca}",
        f"--timeout={args.timeout}", "--self-contained-html", *extra,
    ]  # fmt: skip


def last_line(text: str) -> str:
    return (text.strip().splitlines() or ["?"])[-1]


def mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB" if path.exists() else "missing"


def draw(report: Path) -> str:
    with Chromium() as browser:
        page = browser.page()
        seconds = page.open(report, timeout=300)
        loaded = page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd")
    return f"load event (usable) {loaded / 1000:.2f} s, wall {seconds:.2f} s"


def questions_line(floor: scale_floor.Floor, suite: set[tuple[str, str]]) -> list[str]:
    only_suite, only_floor = sorted(suite - floor.questions), sorted(floor.questions - suite)

    def show(qs: list[tuple[str, str]]) -> str:
        return ", ".join(f"{n} {t}" for n, t in qs[:4]) + (" ..." if len(qs) > 4 else "")

    lines = [
        f"  distinct DNS questions (name, type): suite {len(suite)} (counted in the resolver's "
        f"query log), floor {len(floor.questions)}; in both {len(suite & floor.questions)}"
    ]
    if only_suite:
        lines.append(f"    asked by the suite only ({len(only_suite)}): {show(only_suite)}")
    if only_floor:
        lines.append(f"    asked by the floor only ({len(only_floor)}): {show(only_floor)}")
    return lines


def floor_line(floor: scale_floor.Floor) -> str:
    sessions = Counter(floor.starttls.values())
    bad = len(floor.failed) + sum(n for s, n in sessions.items() if s != "ok")
    return (
        f"  floor (plain asyncio, cold resolver cache): {floor.seconds:.2f} s for "
        f"{len(floor.questions)} distinct DNS questions with DO ({floor.asked} sent), "
        f"{len(floor.starttls)} STARTTLS sessions (one per MX address), "
        f"{len(floor.policies)} MTA-STS policy fetches" + (f"; {bad} failed" if bad else "")
    )


def verdict_counts(evidence: Path) -> tuple[int, dict[str, int], dict[str, int]]:
    """Rows, rows by verdict, and the connections per address (merged files only) of an
    evidence JSON; a row that is not an object with a verdict counts as "?"."""
    data = json.loads(evidence.read_text())
    rows = evidencejson.expand(data)
    verdicts = Counter(r.get("verdict", "?") for r in rows)
    return len(rows), dict(verdicts), data.get("connections_per_address", {})


def single(args: argparse.Namespace, folder: Path, dns: Dns, ca: str, log: Path) -> None:
    report, evidence = folder / "report.html", folder / "evidence.json"
    since, marks = log.stat().st_size, dns.offsets()
    run = run_child(
        pytest_argv(args, folder, ca, [f"--evidence-json={evidence}", f"--html={report}"]),
        folder / "pytest.out",
    )
    time.sleep(0.5)
    suite_questions = scale_floor.logged_questions(dns.log, marks[1])
    counted = postfix_connects(log, since)
    rows, verdicts, _made = verdict_counts(evidence) if evidence.exists() else (0, {}, {})
    print(f"  exit {run.code}: {last_line(run.out)}")
    print(f"  wall {run.wall:.1f} s; peak RSS {run.rss_mb:.0f} MB; {rows} rows {verdicts}")
    print(f"  report {mb(report)}; evidence JSON {mb(evidence)}")
    if report.exists():
        print(f"  report: {breakdown(report)}")
    print(f"  connections per listener (Postfix log): {dict(counted)}")
    print(
        f"  DNS during the suite: {dns_trouble(dns, marks) or 'no NSD rate-limit block, no SERVFAIL'}"
    )
    args.suite_questions, args.wall = suite_questions, run.wall
    print(f"  Chromium: {draw(report)}")


def sharded(args: argparse.Namespace, folder: Path, dns: Dns, ca: str, log: Path) -> None:
    n = args.shards
    since, marks = log.stat().st_size, dns.offsets()
    parts, walls = [], []
    for k in range(1, n + 1):
        dns.restart_unbound()  # each shard a CI job with a cold resolver of its own
        part, html = folder / f"part-{k}.json", folder / f"part-{k}.html"
        extra = [f"--shard={k}/{n}", f"--evidence-json={part}", f"--html={html}"]
        run = run_child(
            pytest_argv(
                args, folder, ca, extra + (["--shard-balance"] if args.shard_balance else [])
            ),
            folder / f"part-{k}.out",
        )
        plan = [line for line in run.out.splitlines() if line.startswith("mailtls: shard")]
        rows = verdict_counts(part)[0] if part.exists() else 0
        print(
            f"  shard {k}/{n}: exit {run.code}; wall {run.wall:.1f} s; peak RSS {run.rss_mb:.0f} MB; "
            f"{rows} rows; report {mb(html)}; JSON {mb(part)}; {last_line(run.out)}"
        )
        for line in plan:
            print(f"    {line}")
        parts.append(part)
        walls.append(run.wall)
    merged, merged_json, junit = folder / "merged.html", folder / "all.json", folder / "all.xml"
    merge = run_child(
        [sys.executable, "-m", "mailtls", "merge", *map(str, parts), f"--html={merged}",
         f"--evidence-json={merged_json}", f"--junitxml={junit}"],
        folder / "merge.out",
    )  # fmt: skip
    time.sleep(0.5)
    args.suite_questions = scale_floor.logged_questions(dns.log, marks[1])
    counted = postfix_connects(log, since)
    print(
        f"  merge: exit {merge.code}; wall {merge.wall:.1f} s; peak RSS {merge.rss_mb:.0f} MB; "
        f"report {mb(merged)}; JSON {mb(merged_json)}; JUnit {mb(junit)}"
    )
    if merged_json.exists():
        rows, verdicts, made = verdict_counts(merged_json)
        print(f"  merged: {rows} rows {verdicts}")
        print(f"  connections per address over all shards (merged JSON): {made}")
    for line in merge.out.strip().splitlines()[-5:]:
        print(f"    {line}")
    print(f"  connections per listener over all shards (Postfix log): {dict(counted)}")
    print(
        f"  DNS during the shards: {dns_trouble(dns, marks) or 'no NSD rate-limit block, no SERVFAIL'}"
    )
    if merged.exists():
        print(f"  Chromium, merged report: {draw(merged)}")
    args.wall = sum(walls) + merge.wall
    args.critical = max(walls) + merge.wall
    print(
        f"  shards run one after another here: sum of shard walls + merge {args.wall:.1f} s; "
        f"critical path if run in parallel (slowest shard + merge) {args.critical:.1f} s"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--timeout", default="3")
    ap.add_argument("--keep", help="keep the generated zone, inventory, logs and reports here")
    ap.add_argument("--shards", type=int, default=0, help="run as N shards (--shard=K/N) + merge")
    ap.add_argument("--shard-balance", action="store_true", help="pass --shard-balance")
    ap.add_argument("--layout", choices=LAYOUTS, help="ring or groups (above)")
    args = ap.parse_args()
    layout = args.layout or ("groups" if args.shards else "ring")
    count = address_count(layout, args.shards)
    env = json.loads((RUN / "env.json").read_text())
    log = Path(env["postfix_log"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        dns = Dns(folder, args.domains, layout, addresses=count)
        setup = time.monotonic() - started
        try:
            domains = [f"d{i:05d}.{ZONE}" for i in range(args.domains)]
            (folder / "inv.yaml").write_text("domains:\n" + "".join(f"  - {d}\n" for d in domains))
            marks = dns.offsets()
            floor = scale_floor.measure(
                load_inventory(folder / "inv.yaml"), UNBOUND, Path(env["ca_bundle"])
            )
            floor_trouble = dns_trouble(dns, marks)
            dns.restart_unbound()
            print(
                f"{args.domains} signed domains, layout {layout}: {count} MX addresses "
                f"(zone signed, DNS up in {setup:.1f} s)"
            )
            (sharded if args.shards else single)(args, folder, dns, env["ca_bundle"], log)
        finally:
            dns.stop()
    print(floor_line(floor) + (f"; DNS: {floor_trouble}" if floor_trouble else ""))
    for line in questions_line(floor, args.suite_questions):
        print(line)
    if args.shards:
        print(
            f"  (sum of shards + merge)/floor {args.wall / floor.seconds:.0f}x; "
            f"critical path/floor {args.critical / floor.seconds:.0f}x"
        )
    else:
        print(f"  wall/floor {args.wall / floor.seconds:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
