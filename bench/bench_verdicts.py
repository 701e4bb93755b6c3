#!/usr/bin/env python3
"""Benchmark: what one row costs per verdict (pass, fail, warn, not_applicable, error).

    python3 bench/bench_verdicts.py [--domains=1000] [--keep=DIR]

Runs the real checks (``checks/test_mx.py``, ``checks/test_starttls.py``) through the real plugin,
pytest-html, ``--junitxml`` and ``--evidence-json`` in an inner pytest, once per verdict, each run
giving one row of that verdict per domain. Only the network is replaced: a bench conftest presets
each domain's discovery (an MX host with an address: pass; NXDOMAIN: fail; implicit MX: warn;
null MX: not applicable; SERVFAIL: error, raised in the check's body and, for the SMTP check, in
the plugin's fixture during setup). Prints the wall time of each run and the cost per row above a
pass run of the same inventory (the goal: about zero). Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from mailtls import evidencejson

REPO = Path(__file__).resolve().parent.parent

CONFTEST = textwrap.dedent(
    '''
    """Bench plugin: presets every domain's discovery (mode from MAILTLS_BENCH_MODE)."""
    import importlib.metadata
    import os

    import pytest

    from mailtls.observations import Discovery, DnsAnswer, MxHost
    from mailtls.runstate import RUN

    _EP = {ep.value for ep in importlib.metadata.entry_points(group="pytest11")}
    if "mailtls.plugin" not in _EP or os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        pytest_plugins = ["mailtls.plugin"]

    def _answer(qname, rdtype, status, records=(), rcode="NOERROR"):
        return DnsAnswer(qname, rdtype, status, rcode, tuple(records), 300, True, "192.0.2.53:53")

    def _discovery(name, mode):
        if mode == "pass":
            host = f"mx.{name}"
            a = _answer(host, "A", "ok", ["192.0.2.25"])
            mx = _answer(name, "MX", "ok", [f"10 {host}."])
            return Discovery(name, "mx", mx, (MxHost(host, 10, ("192.0.2.25",), a, None),))
        if mode == "fail":
            mx = _answer(name, "MX", "nxdomain", rcode="NXDOMAIN")
            return Discovery(name, "error", mx, error=f"{name}: NXDOMAIN")
        if mode == "warn":
            a = _answer(name, "A", "ok", ["192.0.2.80"])
            mx = _answer(name, "MX", "nodata")
            return Discovery(name, "implicit", mx, (MxHost(name, 0, ("192.0.2.80",), a, None),))
        if mode == "not_applicable":
            mx = _answer(name, "MX", "ok", ["0 ."])
            return Discovery(name, "null", mx, null_mx=True)
        mx = _answer(name, "MX", "servfail", rcode="SERVFAIL")
        return Discovery(name, "error", mx, error=f"{name} MX: SERVFAIL from resolver 192.0.2.53:53")

    @pytest.hookimpl(trylast=True)
    def pytest_configure(config):
        state = config.stash[RUN]
        if state.inventory is None:
            return
        mode = os.environ["MAILTLS_BENCH_MODE"]
        state.discoveries = {d.name: _discovery(d.name, mode) for d in state.inventory.domains}
    '''
)

# (label, discovery mode, selected check, verdict every row should get)
RUNS = [
    ("pass", "pass", "checks/test_mx.py::test_mx_resolves", "pass"),
    ("fail (assert in the check)", "fail", "checks/test_mx.py::test_mx_resolves", "fail"),
    ("warn", "warn", "checks/test_mx.py::test_no_implicit_mx", "warn"),
    ("not_applicable", "not_applicable", "checks/test_mx.py::test_mx_resolves", "not_applicable"),
    ("error in the check", "error", "checks/test_mx.py::test_mx_resolves", "error"),
    (
        "error in a fixture (setup)",
        "error",
        "checks/test_starttls.py::test_starttls_offered",
        "error",
    ),
]


def inner(folder: Path, mode: str, check: str) -> tuple[float, Path]:
    """Run the inner pytest; return (seconds, evidence JSON path)."""
    evidence = folder / f"{mode}.json"
    args = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        "-p",
        "no:cacheprovider",
        f"--rootdir={folder}",
        f"--confcutdir={folder}",
        "-c",
        str(folder / "pytest.ini"),
        f"--inventory={folder / 'inventory.yaml'}",
        "-q",
        "--no-header",
        "-rN",
        "--resolver=192.0.2.53",
    ]
    args += [
        f"--html={folder / f'{mode}.html'}",
        "--self-contained-html",
        f"--junitxml={folder / f'{mode}.xml'}",
        f"--evidence-json={evidence}",
    ]
    args += ["-p", "bench_conftest", str(REPO / check)]
    env = {"MAILTLS_BENCH_MODE": mode, "PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"}
    started = time.monotonic()
    proc = subprocess.run(args, cwd=folder, capture_output=True, text=True, env=env)
    seconds = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.exit(
            f"inner pytest failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return seconds, evidence


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--domains", type=int, default=1000)
    ap.add_argument("--keep", help="write the synthetic inventory and reports here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        entries = "\n".join(f"  - d{i:05d}.bench.example" for i in range(args.domains))
        (folder / "inventory.yaml").write_text(f"domains:\n{entries}\n")
        (folder / "bench_conftest.py").write_text(CONFTEST)
        (folder / "pytest.ini").write_text("[pytest]\n")
        print(f"{args.domains} rows per run (html, junitxml and evidence JSON written)")
        print(
            f"{'verdict':<28} {'wall':>7} {'x pass':>7} {'extra per row vs pass':>22}  rows as expected"
        )
        base = 0.0
        for label, mode, check, want in RUNS:
            seconds, evidence = inner(folder, mode, check)
            base = base or seconds
            rows = evidencejson.expand(json.loads(evidence.read_text()))
            ok = sum(r["verdict"] == want for r in rows)
            extra = (seconds - base) / max(1, len(rows)) * 1000
            print(
                f"{label:<28} {seconds:>6.1f}s {seconds / base:>6.2f}x {extra:>19.2f} ms"
                f"  {ok}/{len(rows)} {want}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
