"""No false alarms on the mail servers people run (issue 12): the stock-server matrix.

The domains with `stock:` in testbed/scenarios.yaml point at stock servers (Exim 4.96 on GnuTLS
and OpenSMTPD 6.8 unpacked from their Debian packages; Postfix with Debian's default TLS
settings, Mozilla intermediate and modern, ChaCha20 first). For each:
- no row is an error (an error means "we could not observe", and a stock server is observable);
- the fail rows are exactly those its `stock: {fail: [...]}` lists (none for a healthy one), and
  an inventory of the healthy ones passes the gate (exit status 0);
- each server counts the connections it accepted: at most 10 per address for the whole suite,
  and a server on which no TLS handshake completes gets two (the session and one confirming
  handshake), not the whole budget.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, run_suite

SCENARIOS = yaml.safe_load((REPO / "testbed" / "scenarios.yaml").read_text())
STOCK: dict[str, list[str]] = {
    name: spec["stock"]["fail"] for name, spec in SCENARIOS["domains"].items() if "stock" in spec
}
HEALTHY = sorted(name for name, fails in STOCK.items() if not fails)
LIMIT = 10


def _connection_logs(env: dict[str, Any]) -> dict[str, tuple[Path, re.Pattern[str]]]:
    """Per stock MX address: the server's log and the line it writes for each connection."""
    logs: dict[str, tuple[Path, re.Pattern[str]]] = {}
    for item in SCENARIOS["stock"]:
        pattern = (
            r"SMTP connection from \S+ \(TCP/IP connection count"
            if item["server"] == "exim"
            else r"smtp connected address="
        )
        logs[item["ip"]] = (Path(env["stock_logs"][item["name"]]), re.compile(pattern))
    postfix_log = Path(env["postfix_log"])
    for item in SCENARIOS["listeners"]:
        if item["ip"].startswith("127.0.15."):
            tag = re.escape(f"postfix/{item['name']}/smtpd[")
            logs[item["ip"]] = (postfix_log, re.compile(tag + r"[0-9]+\]: connect from"))
    return logs


def _sizes(logs: dict[str, tuple[Path, re.Pattern[str]]]) -> dict[Path, int]:
    return {path: path.stat().st_size if path.exists() else 0 for path, _ in logs.values()}


def _count_since(
    logs: dict[str, tuple[Path, re.Pattern[str]]], before: dict[Path, int]
) -> dict[str, int]:
    counts = {}
    for ip, (path, pattern) in logs.items():
        with open(path, "rb") as fh:
            fh.seek(before[path])
            text = fh.read().decode("utf-8", "replace")
        counts[ip] = len(pattern.findall(text))
    return counts


def _suite(env: dict[str, Any], domains: list[str], tmp: Path) -> tuple[int, str, dict[str, Any]]:
    inventory = tmp / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": domains}))
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={env['resolver']}",
            f"--ca-bundle={env['ca_bundle']}",
            "--timeout=3",
            "-q",
        ],
        tmp,
    )
    assert data is not None, output[-4000:]
    return code, output, data


@pytest.fixture(scope="module")
def matrix(testbed_env: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    missing = [n for n, state in testbed_env["servers"].items() if state.startswith("not started")]
    assert not missing, f"stock servers not running: {missing} (see testbed/tb/stock.py)"
    logs = _connection_logs(testbed_env)
    before = _sizes(logs)
    code, output, data = _suite(testbed_env, sorted(STOCK), tmp_path_factory.mktemp("stock"))
    return {
        "code": code,
        "output": output,
        "rows": data["results"],
        "connections": _count_since(logs, before),
    }


@pytest.mark.parametrize("domain", sorted(STOCK))
def test_no_error_rows(matrix: dict[str, Any], domain: str) -> None:
    rows = [r for r in matrix["rows"] if r["domain"] == domain]
    assert rows, f"{domain}: no results at all"
    errors = [f"{r['requirement']}: {r['message']}" for r in rows if r["verdict"] == "error"]
    assert not errors, f"{domain}: error rows on a stock server:\n" + "\n".join(errors)


@pytest.mark.parametrize("domain", sorted(STOCK))
def test_exactly_the_expected_fail_rows(matrix: dict[str, Any], domain: str) -> None:
    failed = {r["requirement"] for r in matrix["rows"] if r["domain"] == domain and r["verdict"] == "fail"}  # fmt: skip
    details = "\n".join(
        f"{r['requirement']}: {r['message']}"
        for r in matrix["rows"]
        if r["domain"] == domain and r["verdict"] == "fail"
    )
    assert failed == set(STOCK[domain]), f"{domain}: fail rows differ:\n{details}"


def test_healthy_stock_domains_pass_the_gate(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    assert len(HEALTHY) >= 4, HEALTHY
    code, output, data = _suite(testbed_env, HEALTHY, tmp_path)
    bad = [r for r in data["results"] if r["verdict"] in ("fail", "error")]
    assert code == 0 and not bad, output[-3000:]


def test_connections_per_address_counted_at_the_server(matrix: dict[str, Any]) -> None:
    counts = matrix["connections"]
    assert all(n >= 1 for n in counts.values()), counts  # every server saw the suite
    assert max(counts.values()) <= LIMIT, counts


def test_unusable_tls_stops_the_scan_early(matrix: dict[str, Any]) -> None:
    """OpenSMTPD refuses every handshake: one SMTP session for the address (shared by the MX
    names on it, issue 14) plus one confirming handshake, and every TLS row fails saying why,
    instead of ten connections and budget errors."""
    opensmtpd = next(i["ip"] for i in SCENARIOS["stock"] if i["server"] == "opensmtpd")
    names = {
        host
        for name in STOCK
        for host, ip in SCENARIOS["domains"][name].get("hosts", {}).items()
        if ip == opensmtpd
    }
    assert len(names) == 2  # two domains' MX names on the one address
    assert matrix["connections"][opensmtpd] == 2, matrix["connections"]
    tls_rows = [
        r
        for r in matrix["rows"]
        if r["domain"] == "stock-opensmtpd.test" and r["requirement"].startswith("TLS-")
    ]
    assert len(tls_rows) == 9
    for row in tls_rows:
        assert row["verdict"] == "fail" and "TLS is unusable" in row["message"], row


def test_chacha_preferring_server_is_judged_without_errors(matrix: dict[str, Any]) -> None:
    """ChaCha20 first (TLS 1.2 and 1.3): NIST-APPROVED warns, settled by TLS 1.2 alone."""
    row = next(
        r
        for r in matrix["rows"]
        if r["domain"] == "stock-chacha.test" and r["requirement"] == "TLS-CS-NIST-APPROVED"
    )
    assert row["verdict"] == "warn", row
    assert "ChaCha20-Poly1305 in TLS 1.2" in row["message"], row
