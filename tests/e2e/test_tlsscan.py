"""The hello scan against real servers: the connection budget counted at the server, and a
server that starts answering 421 in the middle of the scan.

Postfix logs one ``connect from`` line per TCP connection under the listener's syslog name
(``postfix/<listener>/smtpd``): that is the server's own count, not ours.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_suite

SCENARIOS = yaml.safe_load((REPO / "testbed" / "scenarios.yaml").read_text())
LISTENER_NAMES = {item["ip"]: item["name"] for item in SCENARIOS["listeners"]}
BUDGET = 10
TLS_DOMAINS = ["good.test", "pfdefault.test", "staticrsa.test", "tls10only.test", "oldtls.test"]


def _connects(log: Path, name: str, since: int) -> int:
    text = log.read_bytes()[since:].decode("utf-8", "replace")
    return len(re.findall(rf"postfix/{re.escape(name)}/smtpd\[\d+\]: connect from", text))


def test_connections_counted_by_postfix_stay_within_budget(
    testbed_env: dict[str, Any], tmp_path: Path
) -> None:
    log = Path(testbed_env["postfix_log"])
    start = log.stat().st_size
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": TLS_DOMAINS}))
    _code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "--timeout=3",
            "-q",
        ],
        tmp_path,
    )
    assert data is not None, output[-3000:]
    time.sleep(0.5)  # Postfix writes its log asynchronously
    ips = {r["ip"] for r in data["results"] if r["ip"]}
    counted = {ip: _connects(log, LISTENER_NAMES[ip], start) for ip in ips}
    assert counted and all(1 <= n <= BUDGET for n in counted.values()), counted
    # The scan's own bookkeeping agrees with the server's count.
    for r in data["results"]:
        for ev in r["evidence"]:
            if ev["type"] == "TlsScan":
                ours = ev["connections"] + ev["session_connections"]
                assert ours == counted[ev["endpoint"]["ip"]], (ev["endpoint"], ours, counted)


def test_good_server_answers_every_question_within_budget(
    testbed_env: dict[str, Any], tmp_path: Path
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": ["good.test"]}))
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "-k",
            "test_tls",
        ],
        tmp_path,
    )
    assert code == 0, output[-3000:]
    assert data is not None
    scans = [ev for r in data["results"] for ev in r["evidence"] if ev["type"] == "TlsScan"]
    assert scans and all(s["stopped"] is None for s in scans), [s["stopped"] for s in scans]


def _listening(ip: str) -> bool:
    out = subprocess.run(["ss", "-ltnH", f"src {ip}:25"], capture_output=True, text=True).stdout
    return bool(out.strip())


@pytest.fixture
def ratelimit_server(testbed_env: dict[str, Any]) -> Iterator[str]:
    """A fresh fault server (its connection counter starts at zero) on 127.0.12.15."""
    item = next(h for h in SCENARIOS["hostile"] if h["behaviour"] == "ratelimit")
    cert = testbed_env["certs"][SCENARIOS.get("hostile_cert", "mx.script.test")]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "testbed" / "servers" / "hostile.py"),
            "--listen",
            f"{item['ip']}:ratelimit",
            "--cert",
            cert["chain"],
            "--key",
            cert["key"],
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not _listening(item["ip"]):  # asked of the kernel: a test connection would count
            if time.monotonic() > deadline or proc.poll() is not None:
                pytest.fail("the ratelimit fault server did not start")
            time.sleep(0.1)
        yield item["ip"]
    finally:
        proc.terminate()
        proc.wait(5)


def test_421_mid_scan_is_inconclusive_never_pass(
    testbed_env: dict[str, Any], tmp_path: Path, ratelimit_server: str
) -> None:
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": ["ratelimit.test"]}))
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "--timeout=2",
        ],
        tmp_path,
    )
    assert data is not None, output[-3000:]
    by_req = {r["requirement"]: r for r in data["results"]}
    # The SMTP session itself got through (connection 1 of 3) ...
    assert by_req["SMTP-STARTTLS-HANDSHAKE"]["verdict"] == "pass"
    scan = next(ev for r in data["results"] for ev in r["evidence"] if ev["type"] == "TlsScan")
    assert scan["stopped"] and "inconclusive" in scan["stopped"] and "421" in scan["stopped"]
    answered = {a["question"] for a in scan["answers"]}
    # ... the scan was cut short, so the versions it never tested are errors, not passes.
    tls_rows = [r for r in data["results"] if r["requirement"].startswith("TLS-")]
    assert tls_rows
    for r in tls_rows:
        assert r["verdict"] in ("error", "not_applicable", "pass"), r
        if r["verdict"] == "error":
            assert "421" in r["message"] and "inconclusive" in r["message"], r["message"]
    no_ssl = by_req["TLS-V-NO-SSL"]
    if not {"sslv2", "sslv3"} <= answered:
        assert no_ssl["verdict"] == "error", no_ssl
    assert any(r["verdict"] == "error" for r in tls_rows)
    assert code != 0  # errors gate the run


def test_profiles_come_from_the_catalogue(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    """The same observations, judged under nist and ncsc-uk (catalogue `profiles:` params)."""
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(
        "domains: [oldtls.test, {name: tls12only.test, profile: ncsc-uk}, "
        "{name: good.test, profile: ncsc-uk}]\n"
    )
    _code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "-k",
            "tls10 or tls13 or nist_approved or one_mta_sts",
        ],
        tmp_path,
    )
    assert data is not None, output[-3000:]
    got = {(r["domain"], r["requirement"]): (r["verdict"], r["profile"]) for r in data["results"]}
    assert got[("oldtls.test", "TLS-V-NO-TLS10-11")] == ("fail", "nist")
    assert got[("tls12only.test", "TLS-V-TLS13")] == ("warn", "ncsc-uk")
    assert got[("tls12only.test", "TLS-CS-NIST-APPROVED")] == ("not_applicable", "ncsc-uk")
    assert got[("good.test", "MTASTS-TXT-UNIQUE")] == ("fail", "ncsc-uk")  # UK: MTA-STS required
