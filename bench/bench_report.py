#!/usr/bin/env python3
"""Benchmark: size and opening time of the HTML report for a 1,000-domain run (~30,000 rows).

    .venv/bin/python bench/bench_report.py [--domains=1000] [--keep=DIR]

Generates a synthetic run that renders through the real path: an inner pytest with the mailtls
plugin, pytest-html 4 and our hooks. Only the network is replaced: a bench conftest presets the
discoveries (2 MX hosts per domain, 40 % of the domains on five shared providers) and the SMTP
observations (a realistic transcript and a 2-certificate chain per MX IP), and 20 synthetic
checks (10 per domain, 10 per MX IP) give a deterministic mix of verdicts. Then the report is
opened in headless Chromium over the DevTools protocol. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mailtls.summary import unpack  # noqa: E402
from tests.browser import Chromium  # noqa: E402

CONFTEST = textwrap.dedent(
    '''
    """Bench plugin: presets discoveries and SMTP observations so no network is used."""
    import datetime as dt
    import hashlib
    import importlib.metadata
    import os

    import pytest
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    from cryptography.hazmat.primitives.serialization import Encoding

    from mailtls.observations import (
        Discovery, DnsAnswer, Endpoint, MxHost, SmtpObservation, SmtpReply, TlsSession,
        TranscriptLine,
    )
    from mailtls.runstate import RUN

    _EP = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    if "mailtls.plugin" not in _EP or os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        pytest_plugins = ["mailtls.plugin"]

    NOW = dt.datetime.now(dt.UTC)
    SHARED = 5

    def _name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def _cert(subject, issuer, key, signer, days, sans=()):
        b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(NOW - dt.timedelta(days=90))
             .not_valid_after(NOW + dt.timedelta(days=days)))
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), False)
        return b.sign(signer, hashes.SHA256()).public_bytes(Encoding.DER)

    CA_KEYS = [ec.generate_private_key(ec.SECP256R1()) for _ in range(3)]
    CAS = [_cert(f"Bench Issuing CA {i}", "Bench Root", k, k, 900) for i, k in enumerate(CA_KEYS)]

    def _answer(qname, rdtype, records):
        return DnsAnswer(qname, rdtype, "ok", "NOERROR", tuple(records), 300, True,
                         "192.0.2.53:53", queried_at=NOW.isoformat(timespec="seconds"))

    def _transcript(host, ip, days):
        ehlo = ["PIPELINING", "SIZE 52428800", "ETRN", "ENHANCEDSTATUSCODES", "8BITMIME",
                "DSN", "SMTPUTF8", "CHUNKING"]
        lines = [("*", f"connected to {ip}:25"), ("S", f"220 {host} ESMTP Postfix (Debian/GNU)"),
                 ("C", "EHLO scanner.bench.example"), ("S", f"250-{host}")]
        lines += [("S", f"250-{k}") for k in ehlo[:-1]] + [("S", "250-STARTTLS"), ("S", f"250 {ehlo[-1]}")]
        lines += [("C", "STARTTLS"), ("S", "220 2.0.0 Ready to start TLS"),
                  ("*", f"TLSv1.3 TLS_AES_256_GCM_SHA384 (256 bits), certificate valid {days} more days"),
                  ("C", "EHLO scanner.bench.example"), ("S", f"250-{host}")]
        lines += [("S", f"250-{k}") for k in ehlo[:-1]] + [("S", f"250 {ehlo[-1]}")]
        lines += [("C", "QUIT"), ("S", "221 2.0.0 Bye")]
        return tuple(TranscriptLine(0.004 * i, d, t) for i, (d, t) in enumerate(lines))

    def _smtp(host, ip, n):
        days = (n * 37) % 400 - 10
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = _cert(host, f"Bench Issuing CA {n % 3}", key, CA_KEYS[n % 3], days, (host,))
        tls = TlsSession("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, host, (leaf, CAS[n % 3]), 12.5)
        ehlo = SmtpReply(250, (host, "PIPELINING", "SIZE 52428800", "STARTTLS", "8BITMIME"))
        stamp = NOW.isoformat(timespec="seconds")
        return SmtpObservation(Endpoint(ip, 25, host), stamp, stamp, _transcript(host, ip, days),
                               banner=SmtpReply(220, (f"{host} ESMTP Postfix",)), ehlo=ehlo,
                               starttls=SmtpReply(220, ("2.0.0 Ready to start TLS",)), tls=tls,
                               ehlo_tls=ehlo)

    def _mx(i):
        if i % 5 < 2:  # 40 % of domains use one of SHARED providers
            p = i % SHARED
            return [(f"mx{k}.provider{p}.bench.example", f"10.200.{p}.{k}") for k in (1, 2)]
        return [(f"mx{k}.d{i:04d}.bench.example", f"10.{i // 250}.{i % 250}.{k}") for k in (1, 2)]

    @pytest.hookimpl(trylast=True)
    def pytest_configure(config):
        state = config.stash[RUN]
        if state.inventory is None:
            return
        state.discoveries = {}
        n = 0
        for i, dom in enumerate(state.inventory.domains):
            hosts, answers = [], []
            for pref, (host, ip) in enumerate(_mx(i)):
                a = _answer(host, "A", [ip])
                answers.append(a)
                hosts.append(MxHost(host, 10 * (pref + 1), (ip,), a, None))
                key = ("smtp", (ip, 25, host))
                if key not in state.observations:
                    state.observations[key] = _smtp(host, ip, n)
                    n += 1
            mx = _answer(dom.name, "MX", [f"{h.preference} {h.name}." for h in hosts])
            state.discoveries[dom.name] = Discovery(dom.name, "mx", mx, tuple(hosts),
                                                    answers=(mx, *answers))

    @pytest.fixture
    def bench_smtp(request, target, mailtls_run):
        from mailtls.runstate import EVIDENCE
        obs = mailtls_run.observations[("smtp", (target.ip, 25, target.host))]
        request.node.stash.setdefault(EVIDENCE, []).append(obs)
        return obs
    '''
)

CHECKS = textwrap.dedent(
    '''
    """Synthetic checks: real requirement IDs, deterministic verdict mix (see bench_report.py)."""
    import hashlib

    import pytest

    from mailtls.verdicts import inconclusive, not_applicable, warn

    DOMAIN = ["MX-RESOLVE", "MX-NULL-EXCLUSIVE", "MX-IMPLICIT", "DNSSEC-DOMAIN",
              "MTASTS-TXT-UNIQUE", "MTASTS-TXT-SYNTAX", "MTASTS-MODE-ENFORCE", "TLSRPT-UNIQUE",
              "TLSRPT-RUA", "DOWNGRADE-PROTECTED"]
    MX = ["SMTP-STARTTLS-OFFERED", "SMTP-STARTTLS-HANDSHAKE", "TLS-V-NO-SSL", "TLS-V-NO-TLS10-11",
          "TLS-V-TLS13", "CERT-MX-TRUST", "CERT-MX-NAME", "CERT-MX-VALIDITY",
          "CERT-MX-EXPIRY-MARGIN", "DNSSEC-MX-ZONE"]

    def judge(req, where):
        roll = int(hashlib.sha256(f"{req}|{where}".encode()).hexdigest()[:8], 16) % 100
        text = f"{where}: {req} observed value differs from what the requirement asks for"
        if roll < 76:
            return
        if roll < 84:
            not_applicable(f"{where}: publishes no record, so {req} does not apply")
        if roll < 91:
            warn(text + " (advisory under this profile)")
        if roll < 99:
            raise AssertionError(text + "; expected the compliant setting, saw the default one")
        inconclusive(f"{where}: no reply within 10s (timeout) - could not observe {req}")

    def _domain_test(req):
        @pytest.mark.requirement(req)
        def test(target, discovery):
            judge(req, target.domain)
        return test

    def _mx_test(req):
        @pytest.mark.requirement(req)
        def test(target, bench_smtp):
            judge(req, str(bench_smtp.endpoint))
        return test

    for _req in DOMAIN:
        globals()["test_" + _req.lower().replace("-", "_")] = _domain_test(_req)
    for _req in MX:
        globals()["test_" + _req.lower().replace("-", "_")] = _mx_test(_req)
    '''
)


def generate(folder: Path, domains: int) -> tuple[Path, float, int]:
    """Write the synthetic project, run the inner pytest; return (report, seconds, exit code)."""
    profiles = ["nist"] * 8 + ["ncsc-uk", "ncsc-nl"]
    entries = "\n".join(
        f"  - {{name: d{i:04d}.bench.example, profile: {profiles[i % 10]}}}" for i in range(domains)
    )
    (folder / "inventory.yaml").write_text(f"domains:\n{entries}\n")
    (folder / "conftest.py").write_text(CONFTEST)
    (folder / "test_bench.py").write_text(CHECKS)
    report = folder / "report.html"
    started = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            f"--rootdir={folder}",
            f"--inventory={folder / 'inventory.yaml'}",
            f"--html={report}",
            "--self-contained-html",
            "-q",
            "--no-header",
            "-rN",
            str(folder / "test_bench.py"),
        ],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if not report.exists():
        sys.exit(f"no report written:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    tail = proc.stdout.strip().splitlines()[-1:] or ["?"]
    print(f"inner pytest: {tail[0]} (exit {proc.returncode})")
    return report, seconds, proc.returncode


# Rows and evidence are inflated from packed data asynchronously: time until they are drawn.
OPEN_DOMAIN = """
new Promise((done) => {
  const t0 = performance.now()
  const d = document.querySelectorAll('details.mt-domain')[%d]
  d.open = true
  const t = setInterval(() => {
    if (d.dataset.drawn !== '1' && d.dataset.drawn !== 'failed') return
    clearInterval(t)
    requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0))
  }, 2)
})
"""
SHOW_EVIDENCE = """
new Promise((done) => {
  const t0 = performance.now()
  const button = document.querySelector('details.mt-domain[open] button.mt-ev') // drawn above
  button.click()
  const t = setInterval(() => {
    const body = button.parentElement.querySelector('.mt-ev-body')
    if (!body || !(body.dataset.drawn || body.childElementCount)) return
    clearInterval(t)
    requestAnimationFrame(() => setTimeout(() => done(performance.now() - t0), 0))
  }, 2)
})
"""
# The data cost alone: read (inflate, where packed) and parse the rows and one evidence part.
READ_DATA = """
(async () => {
  const read = async (el) => {
    if (el.type === 'application/json') return JSON.parse(el.textContent)
    const bin = atob(el.textContent)
    const bytes = new Uint8Array(bin.length)
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i)
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))
    return JSON.parse(await new Response(stream).text())
  }
  const timed = async (el) => { const t0 = performance.now(); await read(el); return performance.now() - t0 }
  const ev = document.querySelector('script[id^="mailtls-evidence"]')
  return [await timed(document.getElementById('mailtls-rows')), await timed(ev)]
})()
"""
PAINT = "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1"
LOADED = "performance.getEntriesByType('navigation')[0].loadEventEnd"


def breakdown(report: Path) -> str:
    """Where the report's bytes are: pytest-html's data, mailtls's payloads, the visible summary."""
    html = report.read_text(encoding="utf-8")
    parts = []
    blob = re.search(r'data-jsonblob="([^"]*)"', html)
    if blob:
        parts.append(f"pytest-html's data {len(blob.group(1)) / 1e6:.1f} MB")
    sizes: dict[str, list[float]] = {}  # payload: [bytes in the page, bytes unpacked]
    for m in re.finditer(
        r'<script type="([^"]+)" id="mailtls-([a-z]+)[^"]*">([^<]*)</script>', html
    ):
        size = sizes.setdefault(m.group(2), [0, 0])
        size[0] += len(m.group(3))
        if m.group(1) == "application/gzip+base64":
            size[1] += len(json.dumps(unpack(m.group(3)), ensure_ascii=False))
    for name, (packed, unpacked) in sizes.items():
        extra = f" (unpacked {unpacked / 1e6:.1f} MB)" if unpacked else ""
        parts.append(f"mailtls-{name} {packed / 1e6:.2f} MB{extra}")
    start, end = html.find("<h2>mailtls run"), html.find("<h2>All results by domain")
    if 0 <= start < end:
        parts.append(f"plain-HTML summary (facts to expiry view) {(end - start) / 1e6:.2f} MB")
    return "; ".join(parts)


def measure(report: Path) -> None:
    with Chromium() as browser:
        page = browser.page()
        page.call("Performance.enable")
        idle = browser.rss_mb()
        wall = page.open(report, timeout=300)
        paint, loaded = page.evaluate(PAINT), page.evaluate(LOADED)
        metrics = {m["name"]: m["value"] for m in page.call("Performance.getMetrics")["metrics"]}
        rss = browser.rss_mb()
        rows = page.evaluate("document.querySelectorAll('#results-table tbody').length")
        opened = page.evaluate(OPEN_DOMAIN % 0)
        again = page.evaluate(OPEN_DOMAIN % 1)
        evidence = page.evaluate(SHOW_EVIDENCE)
        read_rows, read_evidence = page.evaluate(READ_DATA)
        url = page.evaluate("location.search")
        # On demand: the findings table drawn with every failure and error (collapsed rows).
        page.call(
            "Page.navigate", url=report.resolve().as_uri() + "?visible=failed,error&collapsed=all"
        )
        page.wait_event("Page.loadEventFired", 300)
        failed_loaded = page.evaluate(LOADED)
        failed_rows = page.evaluate("document.querySelectorAll('#results-table tbody').length")
    print(
        f"Chromium: first contentful paint {paint / 1000:.2f} s, load event (all scripts done) {loaded / 1000:.2f} s, wall {wall:.2f} s"
    )
    print(f"  pytest-html rows drawn on open: {rows} (initial view {url or 'unfiltered'})")
    print(
        f"  DOM nodes {metrics.get('Nodes', 0):.0f}, JS heap {metrics.get('JSHeapUsedSize', 0) / 2**20:.0f} MB, browser RSS {rss:.0f} MB ({rss - idle:+.0f} MB over about:blank)"
    )
    print(
        f"  open one domain's results: {opened:.0f} ms (the next one {again:.0f} ms); show one "
        f"evidence block: {evidence:.0f} ms"
    )
    print(
        f"  data alone: read all rows {read_rows:.0f} ms, the evidence a click reads "
        f"{read_evidence:.0f} ms (JSON parsed; inflated first where packed)"
    )
    print(
        f"  on demand, ?visible=failed,error: {failed_rows} rows drawn, load event {failed_loaded / 1000:.2f} s"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--keep", help="write the synthetic project and report here")
    ap.add_argument("--measure", help="only open this existing report and print its figures")
    args = ap.parse_args()
    if args.measure:
        report = Path(args.measure)
        print(f"{report}: {report.stat().st_size / 1e6:.1f} MB; {breakdown(report)}")
        measure(report)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        report, seconds, _ = generate(folder, args.domains)
        size = report.stat().st_size
        print(f"{args.domains} domains: report {size / 1e6:.1f} MB, run + render {seconds:.1f} s")
        print(f"  {breakdown(report)}")
        measure(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
