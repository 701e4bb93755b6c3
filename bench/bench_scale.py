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
- ``groups`` (the default with ``--shards``): twelve addresses, one per group of domains, each
  domain with two MX names (mx<g>, mx<g>b) on its group's address (a hosting provider's pattern):
  twelve groups that ``--shard`` can deal out without breaking the per-address budget.

A TLS-RPT record on every third domain. The certificates name the testbed's hosts, not the
``scale18`` names: CERT-MX-NAME findings are part of the mix. The resolver's cache is emptied
(Unbound restarted) before the floor, the suite and each shard, so each starts cold, as a CI job
with a resolver of its own would. ``--shards=N`` runs the N shards one after another, merges them
(``python -m mailtls merge``) and prints per-shard and merged figures. Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
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
from bench.bench_suite import postfix_connects  # noqa: E402
from mailtls.inventory import load_inventory  # noqa: E402
from tests.browser import Chromium  # noqa: E402

NSD, UNBOUND = "127.0.18.101", "127.0.18.102"
ZONE = "scale18"
# Healthy testbed Postfix listeners (testbed/scenarios.yaml, all with the hardened settings of
# good-mx1): the five of the ring layout first.
ADDRESSES = [
    "127.0.11.1", "127.0.11.2", "127.0.11.3", "127.0.11.8", "127.0.18.10",  # good-mx1/2, twomx, dane, hosting18
    "127.0.11.5", "127.0.11.30", "127.0.11.31", "127.0.11.32", "127.0.11.33", "127.0.11.34",
    "127.0.11.35",  # implicit, danebad, daneusage, daneinsecure, danesha512, danetaroot, stswild
]  # fmt: skip
LAYOUT_ADDRESSES = {"ring": 5, "groups": 12}


def zone_lines(domains: int, layout: str, nsd: str = NSD) -> list[str]:
    lines = [
        "$TTL 300",
        f"{ZONE}. IN SOA ns.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 300",
        f"{ZONE}. IN NS ns.{ZONE}.",
        f"ns.{ZONE}. IN A {nsd}",
    ]
    count = LAYOUT_ADDRESSES[layout]
    lines += [f"mx{k}.{ZONE}. IN A {ip}" for k, ip in enumerate(ADDRESSES[:count])]
    if layout == "groups":
        lines += [f"mx{k}b.{ZONE}. IN A {ip}" for k, ip in enumerate(ADDRESSES[:count])]
    for i in range(domains):
        d = f"d{i:05d}.{ZONE}."
        first, second = (
            (f"mx{i % 5}", f"mx{(i + 1) % 5}")
            if layout == "ring"
            else (f"mx{i % 12}", f"mx{i % 12}b")
        )
        lines += [f"{d} IN MX 10 {first}.{ZONE}.", f"{d} IN MX 20 {second}.{ZONE}."]
        if i % 3 == 0:
            lines.append(f'_smtp._tls.{d} IN TXT "v=TLSRPTv1; rua=mailto:tlsrpt@{d[:-1]}"')
    return lines


class Dns:
    """The benchmark's own NSD and validating Unbound, stopped only by their PID files.

    NSD's response rate limiting is off (``rrl-ratelimit: 0``): every generated domain is a name
    in the one zone ``scale18.``, so all their NXDOMAIN answers (``_dmarc.<domain>``) and all
    their NODATA answers (SPF's TXT at the domain) fall in one RRL bucket per type, limited to
    200 a second by default. Past that NSD drops or truncates answers, and Unbound answers
    SERVFAIL ("all the configured stub or forward servers failed ... upstream server timeout"):
    error rows that real domains, each in a zone of its own, would not get. NSD logs rate-limit
    blocks (verbosity 2) and Unbound the cause of every SERVFAIL, so the figures say if either
    happens (:func:`dns_trouble`).
    """

    def __init__(
        self,
        folder: Path,
        domains: int,
        layout: str,
        nsd: str = NSD,
        unbound: str = UNBOUND,
        rrl_ratelimit: int = 0,
    ) -> None:
        self.folder, self.unbound = folder, unbound
        self.log, self.nsd_log = folder / "unbound.log", folder / "nsd.log"
        (folder / f"{ZONE}.zone").write_text("\n".join(zone_lines(domains, layout, nsd)) + "\n")
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
            f'server:\n  ip-address: {nsd}\n  port: 53\n  do-ip6: no\n  username: ""\n'
            f'  chroot: ""\n  zonesdir: "{folder}"\n  pidfile: "{folder}/nsd.pid"\n'
            f'  database: ""\n  zonelistfile: "{folder}/zone.list"\n'
            f'  xfrdfile: "{folder}/xfrd.state"\n  logfile: "{self.nsd_log}"\n  verbosity: 2\n'
            f"  rrl-ratelimit: {rrl_ratelimit}\n  rrl-whitelist-ratelimit: {rrl_ratelimit}\n"
            f"remote-control:\n  control-enable: no\n"
            f"zone:\n  name: {ZONE}.\n  zonefile: {ZONE}.zone.signed\n"
        )
        (folder / "unbound.conf").write_text(
            f"server:\n  interface: {unbound}\n  port: 53\n  outgoing-interface: {unbound}\n"
            "  interface-automatic: no\n  do-ip6: no\n"
            f'  username: ""\n  chroot: ""\n  directory: "{folder}"\n'
            f'  pidfile: "{folder}/unbound.pid"\n  logfile: "{self.log}"\n  log-queries: yes\n'
            "  log-servfail: yes\n  use-syslog: no\n  access-control: 127.0.0.0/8 allow\n"
            f'  do-not-query-localhost: no\n  trust-anchor-file: "{folder}/anchor.ds"\n'
            '  module-config: "validator iterator"\n'
            "  qname-minimisation: no\n  msg-cache-size: 64m\n  rrset-cache-size: 128m\n"
            "remote-control:\n  control-enable: no\n"
            f'stub-zone:\n  name: "{ZONE}."\n  stub-addr: {nsd}\n'
        )
        subprocess.run(["nsd", "-c", str(folder / "nsd.conf")], check=True)
        self.start_unbound()

    def start_unbound(self) -> None:
        subprocess.run(["unbound", "-c", str(self.folder / "unbound.conf")], check=True)
        time.sleep(1.0)

    def restart_unbound(self) -> None:
        """An empty cache: stop our Unbound (by its PID file), wait for it, start it again."""
        pid = _stop(self.folder / "unbound.pid")
        while pid is not None and _alive(pid):
            time.sleep(0.05)
        self.start_unbound()

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def offsets(self) -> tuple[int, int]:
        """Where the NSD and Unbound logs end now (for :func:`dns_trouble`)."""
        return (self.nsd_log.stat().st_size if self.nsd_log.exists() else 0), self.log_size()

    def stop(self) -> None:
        for name in ("nsd.pid", "unbound.pid"):
            _stop(self.folder / name)


def dns_trouble(dns: Dns, since: tuple[int, int]) -> str | None:
    """NSD's rate-limit blocks and Unbound's SERVFAILs (with the first cause) since the offsets
    ``since`` = (NSD log, Unbound log); None when there were none."""
    blocks = _lines(dns.nsd_log, since[0], "ratelimit block")
    servfails = _lines(dns.log, since[1], "error: SERVFAIL <")
    if not blocks and not servfails:
        return None
    first = servfails[0].split("error: ", 1)[1] if servfails else ""
    return f"{len(blocks)} NSD rate-limit blocks, {len(servfails)} SERVFAIL from Unbound" + (
        f" (first: {first})" if first else ""
    )


def _lines(path: Path, since: int, needle: str) -> list[str]:
    if not path.exists():
        return []
    with path.open("rb") as fh:
        fh.seek(since)
        return [x.strip() for x in fh.read().decode("utf-8", "replace").splitlines() if needle in x]


def _stop(pidfile: Path) -> int | None:
    if not pidfile.exists():
        return None
    pid = int(pidfile.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return None
    return pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass
class Child:
    """One finished child process: exit status, wall time, its own peak RSS (wait4)."""

    code: int
    wall: float
    rss_mb: float
    out: str


def run_child(argv: list[str], out: Path) -> Child:
    """Run one process, its output to ``out``; its peak RSS from its own rusage (os.wait4), not
    RUSAGE_CHILDREN, which is the largest of all children so far."""
    started = time.monotonic()
    with out.open("w") as fh:
        proc = subprocess.Popen(argv, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, text=True)
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Child(proc.returncode, wall, usage.ru_maxrss / 1024, out.read_text())


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
    show = lambda qs: ", ".join(f"{n} {t}" for n, t in qs[:4]) + (" ..." if len(qs) > 4 else "")  # noqa: E731
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
    rows = data.get("results", [])
    verdicts = Counter(r.get("verdict", "?") if isinstance(r, dict) else "?" for r in rows)
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
    rows, verdicts, _made = verdict_counts(evidence)
    print(f"  exit {run.code}: {last_line(run.out)}")
    print(f"  wall {run.wall:.1f} s; peak RSS {run.rss_mb:.0f} MB; {rows} rows {verdicts}")
    print(f"  report {mb(report)}; evidence JSON {mb(evidence)}")
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
    ap.add_argument("--layout", choices=sorted(LAYOUT_ADDRESSES), help="ring or groups (above)")
    args = ap.parse_args()
    layout = args.layout or ("groups" if args.shards else "ring")
    env = json.loads((RUN / "env.json").read_text())
    log = Path(env["postfix_log"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        dns = Dns(folder, args.domains, layout)
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
            count = LAYOUT_ADDRESSES[layout]
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
    print(f"  wall/floor {args.wall / floor.seconds:.0f}x", end="")
    print(f"; critical path/floor {args.critical / floor.seconds:.0f}x" if args.shards else "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
