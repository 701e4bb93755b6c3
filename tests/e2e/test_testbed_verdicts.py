"""End to end: the suite, run as a user runs it, against the real testbed (testbed/scenarios.yaml).

Every expected verdict in the scenarios must be the verdict mailtls reports, host by host; the
hostile servers must give `error`/`fail` within the timeout without stopping the other domains;
server text must stay escaped in the HTML report.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import yaml

from mailtls import evidencejson, requirements
from tests.conftest import REPO, run_suite
from tests.support.report import payloads, readable

SCENARIOS = yaml.safe_load((REPO / "testbed" / "scenarios.yaml").read_text())
DOMAINS: dict[str, Any] = {
    name: spec for name, spec in SCENARIOS["domains"].items() if spec.get("e2e", True)
}
#: The stock matrix (issue 12) has its own run and checks in test_stock_matrix.py.
RUN_DOMAINS = sorted(name for name, spec in DOMAINS.items() if "stock" not in spec)


def _expectations() -> list[tuple[str, str, str | None, str]]:
    rows = []
    for domain, spec in DOMAINS.items():
        for req, want in spec.get("expect", {}).items():
            if isinstance(want, dict):
                rows += [(domain, req, host, verdict) for host, verdict in want.items()]
            else:
                rows.append((domain, req, None, want))
    return rows


def _entry(name: str) -> str | dict[str, Any]:
    """The inventory entry of a scenario: its submission hosts and `inventory:` settings
    (dkim_selectors, sends_mail) when it has any."""
    spec = DOMAINS[name]
    extra = dict(spec.get("inventory", {}))
    if spec.get("submission"):
        extra["submission"] = spec["submission"]
    return {"name": name, **extra} if extra else name


@pytest.fixture(scope="module")
def suite(testbed_env: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("e2e")
    inventory = tmp / "inventory.yaml"
    entries = [_entry(name) for name in RUN_DOMAINS]
    inventory.write_text(yaml.safe_dump({"domains": entries}))
    html = tmp / "report.html"
    started = time.monotonic()
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "--timeout=2",
            f"--html={html}",
            "--self-contained-html",
            f"--junitxml={tmp / 'junit.xml'}",
            "--rows-per-item=1",  # each row its own item (batches: test_batched_rows_*)
            "-q",
        ],
        tmp,
    )
    assert data is not None, output[-4000:]
    return {
        "code": code,
        "output": output,
        "data": data,
        # The evidence and rows the reader unpacks on demand, as inert escaped JSON.
        "html": readable(html.read_text()),
        "raw_html": html.read_text(),
        "junit": (tmp / "junit.xml").read_text(),
        "seconds": time.monotonic() - started,
    }


@pytest.mark.parametrize(
    ("domain", "requirement", "host", "verdict"), _expectations(), ids=lambda v: str(v)
)
def test_expected_verdict(
    suite: dict[str, Any], domain: str, requirement: str, host: str | None, verdict: str
) -> None:
    port = None
    if host is not None and ":" in host:  # "host:port" for one submission port
        host, port_text = host.rsplit(":", 1)
        port = int(port_text)
    results = [
        r
        for r in suite["data"]["results"]
        if r["domain"] == domain
        and r["requirement"] == requirement
        and (host is None or r["host"] == host)
        and (port is None or r["port"] == port)
    ]
    assert results, f"no result for {requirement} on {domain} {host or ''}"
    got = {(r["host"], r["ip"]): (r["verdict"], r["message"]) for r in results}
    assert all(v == verdict for v, _ in got.values()), f"expected {verdict}, got {got}"


def test_every_domain_yields_items(suite: dict[str, Any]) -> None:
    seen = {r["domain"] for r in suite["data"]["results"]}
    assert seen == set(RUN_DOMAINS)


def test_failures_gate_the_run(suite: dict[str, Any]) -> None:
    assert suite["code"] == 1


def test_hostile_servers_cannot_hang_the_run(suite: dict[str, Any]) -> None:
    # The hostile SMTP, DNS and policy hosts, timeout 2 s, one polite retry for inconclusive
    # answers: probing is bounded by the timeouts, not by what the servers do. (The run's total
    # time also counts pytest's work per row, thousands of rows here: that is a matter for
    # bench/, not for a timed test; a hang would still show there as minutes.)
    found = re.search(r"probe\(s\) of \d+ address\(es\) in ([0-9.]+)s", suite["output"])
    assert found, suite["output"][-2000:]
    assert float(found.group(1)) < 60, found.group(0)
    assert suite["seconds"] < 600, suite["seconds"]


def test_every_ip_of_every_mx_is_a_target(suite: dict[str, Any]) -> None:
    hosts = {
        (r["host"], r["ip"])
        for r in suite["data"]["results"]
        if r["domain"] == "good.test" and r["requirement"] == "SMTP-STARTTLS-OFFERED"
    }
    assert hosts == {("mx1.good.test", "127.0.11.1"), ("mx2.good.test", "127.0.11.2")}


def test_shared_ip_probed_once(suite: dict[str, Any]) -> None:
    starts = {
        ev["started"]
        for r in suite["data"]["results"]
        for ev in r["evidence"]
        if ev["type"] == "SmtpObservation"
        and ev["endpoint"]["ip"] == "127.0.11.1"
        and ev["endpoint"]["host"] == "mx1.good.test"
    }
    assert len(starts) == 1  # good.test and shared.test share mx1.good.test


def test_json_shape(suite: dict[str, Any]) -> None:
    data = suite["data"]
    raw = data["raw"]
    assert raw["format"] == 2 and next(iter(raw)) == "format"
    assert set(raw) == {
        "format",
        "tool",
        "run",
        "requirements",
        "checks",
        "targets",
        "messages",
        "waivers",
        "evidence",
        "results",
        "observations",
    }
    assert raw["results"]["columns"] == list(evidencejson.COLUMNS)
    stored = raw["observations"]
    assert all(isinstance(d, str) and d in stored for ev in raw["evidence"] for d in ev)
    # Each observation is stored once however many rows refer to it; so is each requirement's
    # title, citations and severity per profile, each target and each evidence list.
    refs = [d for r in evidencejson.expand(raw) for d in r["evidence"]]
    assert len(set(refs)) == len(stored) < len(refs)
    assert set(raw["requirements"]) == {r["requirement"] for r in data["results"]}
    assert len(raw["targets"]) < len(raw["results"]["rows"])
    for req_id, facts in raw["requirements"].items():
        req = requirements.get(req_id)
        assert facts["title"] == req.title
        assert facts["citation"] == [c.as_json() for c in req.citations]
        assert facts["severity"] == {"nist": req.severity_for("nist")}
    assert set(data["run"]) == {
        "started",
        "finished",
        "inventory",
        "inventory_sha256",
        "profile",
        "resolver",
        "ca_bundle",
        "strict",
        "allow_errors",
        "max_connections",
        "rows_per_item",
        "baseline",
        "exitstatus",
    }
    for r in data["results"]:
        assert set(r) == {
            "test",
            "requirement",
            "domain",
            "host",
            "ip",
            "port",
            "verdict",
            "message",
            "waived",
            "waiver",
            "profile",
            "severity",
            "citation",
            "evidence",
        }
        assert r["verdict"] in ("pass", "warn", "fail", "not_applicable", "error")
        assert r["profile"] == "nist" and r["severity"] in ("critical", "high", "medium", "low")
        assert r["citation"] and {c["confidence"] for c in r["citation"]} <= {"R", "S", "U"}


def test_no_probe_sends_mail_commands(suite: dict[str, Any]) -> None:
    sent = [
        line["text"]
        for r in suite["data"]["results"]
        for ev in r["evidence"]
        for line in ev.get("transcript", [])
        if line["direction"] == "C"
    ]
    assert any(text.startswith("STARTTLS") for text in sent)  # the transcripts were searched
    for text in sent:
        assert re.match(r"(EHLO|STARTTLS|QUIT)\b", text), text
        assert not re.match(r"(AUTH|MAIL|RCPT|DATA)\b", text, re.I), text


def test_submission_transcripts_hold_both_ehlo_replies_and_no_login(suite: dict[str, Any]) -> None:
    """The submission sessions read EHLO before and after STARTTLS (evidence) and never log in."""
    sessions = [
        ev
        for r in suite["data"]["results"]
        if r["domain"] == "subauth.test" and r["requirement"] == "SUBMIT-NO-CLEARTEXT-AUTH"
        for ev in r["evidence"]
        if ev["type"] == "SmtpObservation"
    ]
    assert sessions and all(ev["ehlo"] and ev["ehlo_tls"] for ev in sessions)
    for ev in sessions:
        sent = [line["text"] for line in ev["transcript"] if line["direction"] == "C"]
        assert [t.split()[0] for t in sent] == ["EHLO", "STARTTLS", "EHLO", "QUIT"], sent


def test_submission_found_by_srv_is_probed_on_both_ports(suite: dict[str, Any]) -> None:
    ports = {
        (r["host"], r["ip"], r["port"])
        for r in suite["data"]["results"]
        if r["domain"] == "subgood.test" and r["requirement"] == "CERT-SUBMIT-TRUST"
    }
    assert ports == {
        ("smtp.subgood.test", "127.0.13.1", 587),
        ("smtp.subgood.test", "127.0.13.1", 465),
    }


def test_cleartext_auth_failure_names_the_mechanisms(suite: dict[str, Any]) -> None:
    [result] = [
        r
        for r in suite["data"]["results"]
        if r["domain"] == "subauth.test" and r["requirement"] == "SUBMIT-NO-CLEARTEXT-AUTH"
    ]
    assert "PLAIN" in result["message"] and "LOGIN" in result["message"], result["message"]
    assert "in the clear" in result["message"]


def test_server_markup_is_escaped_in_the_html(suite: dict[str, Any]) -> None:
    for html in (suite["raw_html"], suite["html"]):  # as written, and with the payloads unpacked
        assert "<script>alert(1)</script>" not in html
        assert "onerror=alert(2)>" not in html.replace("&gt;", "")  # only the escaped form exists
    assert "alert(1)" in suite["html"]  # the payload is in the report, escaped
    evidence = [
        html
        for name, part in payloads(suite["raw_html"]).items()
        if name.startswith("mailtls-evidence-") and isinstance(part, dict)
        for html in part.values()
    ]
    assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in h for h in evidence)


def test_errors_name_domain_host_and_cause(suite: dict[str, Any]) -> None:
    silent = [
        r
        for r in suite["data"]["results"]
        if r["domain"] == "silent.test" and r["requirement"] == "SMTP-STARTTLS-OFFERED"
    ]
    assert "mx.silent.test" in silent[0]["message"] and "127.0.12.1" in silent[0]["message"]
    assert "no reply within" in silent[0]["message"]


def test_report_names_the_run(suite: dict[str, Any], testbed_env: dict[str, Any]) -> None:
    for needle in (
        "Inventory SHA-256",
        "mailtls run",
        testbed_env["ca_bundle"],
        "SMTP-STARTTLS-OFFERED",
    ):
        assert needle in suite["html"]


def test_selection_probes_only_what_is_needed(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    inventory = tmp_path / "inv.yaml"
    inventory.write_text("domains: [silent.test, good.test]\n")
    started = time.monotonic()
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            "--timeout=2",
            "-k",
            "mx_resolves",
            "-q",
        ],
        tmp_path,
    )
    assert data is not None and code == 0, output
    assert all(r["requirement"] == "MX-RESOLVE" for r in data["results"])
    assert "probe(s)" not in output  # no SMTP connection was needed
    assert time.monotonic() - started < 20


def test_report_shows_the_failing_http_exchange_and_the_dane_digests(suite: dict[str, Any]) -> None:
    rows = suite["data"]["results"]
    fetch = next(
        r for r in rows if r["domain"] == "sts404.test" and r["requirement"] == "MTASTS-FETCH"
    )
    assert fetch["verdict"] == "fail" and "HTTP 404" in fetch["message"]
    policy = next(e for e in fetch["evidence"] if e["type"] == "PolicyFetch")
    assert policy["status"] == 404 and policy["request"][0].startswith(
        "GET /.well-known/mta-sts.txt"
    )
    html = suite["html"]
    assert "HTTP/1.1 404 Not Found" in html and "MTASTS-FETCH" in html
    match = next(
        r for r in rows if r["domain"] == "danebad.test" and r["requirement"] == "DANE-TLSA-MATCH"
    )
    dane = next(e for e in match["evidence"] if e["type"] == "DaneAssessment")
    computed = dane["matches"][0]["computed"][0][1]
    assert computed in match["message"] and computed in html
    assert "ab" * 32 in html  # the published digest it was compared with


def test_junit_carries_requirement_and_verdict(suite: dict[str, Any]) -> None:
    root = ElementTree.fromstring(suite["junit"])
    cases = root.findall(".//testcase")
    assert len(cases) == len(suite["data"]["results"])
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        assert props["requirement"] and props["verdict"] and props["severity"], props
        if props["verdict"] == "fail" and props["waived"] == "false":
            assert case.find("failure") is not None, props


def test_downgrade_headline_leads_the_summary(suite: dict[str, Any]) -> None:
    html = suite["html"]
    matrix = html[html.index("<table class='mt-matrix'>") :]
    header = matrix[: matrix.index("</tr>")]
    assert "<th>domain</th><th title='DOWNGRADE-PROTECTED'>downgrade-protected?</th>" in header
    row = matrix[matrix.index("#dom-twomx.test") :]
    assert "STARTTLS downgrade goes unnoticed" in row[: row.index("</tr>")]


def _row(suite: dict[str, Any], domain: str, requirement: str) -> dict[str, Any]:
    return next(
        r
        for r in suite["data"]["results"]
        if r["domain"] == domain and r["requirement"] == requirement
    )


def test_sender_auth_evidence_in_json_html_and_junit(suite: dict[str, Any]) -> None:
    """SPF include tree with counts, the decoded DKIM key, the DMARC record used and where it
    was found: in the JSON evidence, the HTML report, and the JUnit properties with citations."""
    lookups = _row(suite, "spf-11.test", "SPF-LOOKUPS")
    walk = next(e for e in lookups["evidence"] if e["type"] == "SpfEvaluation")
    assert walk["lookups"] == 11 and "11 DNS-querying terms" in lookups["message"]
    redirect = next(t for t in walk["root"]["terms"] if t["term"].startswith("redirect="))
    assert redirect["child"]["domain"] == "_r.spf-11.test"
    assert redirect["child"]["lookups_below"] == 5
    assert all(a["resolver"] and a["authenticated"] for a in walk["answers"])
    size = _row(suite, "dkim-512.test", "DKIM-KEY-SIZE")
    key = next(e for e in size["evidence"] if e["type"] == "DkimLookup")
    assert key["selectors"][0]["key_info"]["bits"] == 512
    enforce = _row(suite, "sub.dmarc-spnone.test", "DMARC-ENFORCE")
    found = next(e for e in enforce["evidence"] if e["type"] == "DmarcLookup")
    assert found["found_at"] == "_dmarc.dmarc-spnone.test"
    assert found["source"] == "organizational"
    html = suite["html"]
    for needle in (
        "SPF evaluation (include tree)",
        "_r.spf-11.test",
        "RSA 512 bits",
        "DMARC policy discovery",
        "inherited from the organizational domain",
    ):
        assert needle in html, needle
    syntax = _row(suite, "spf-badmech.test", "SPF-SYNTAX")
    assert {c["confidence"] for c in syntax["citation"]} == {"U"}
    assert "[section unconfirmed]" in html
    root = ElementTree.fromstring(suite["junit"])
    ids = set()
    for case in root.findall(".//testcase"):
        props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
        if props["requirement"].startswith(("SPF-", "DKIM-", "DMARC-", "MX-NULL-NOT-SENDER")):
            ids.add(props["requirement"])
            assert props["citation"], props
    assert len(ids) == 17, sorted(ids)


def test_sender_auth_dns_failures_name_the_query(suite: dict[str, Any]) -> None:
    """A SERVFAIL on any sender-authentication lookup is an error naming the query."""
    for domain, requirement, query in (
        ("spf-incfail.test", "SPF-LOOKUPS", "authbogus.test TXT"),
        ("authbogus.test", "SPF-UNIQUE", "authbogus.test TXT"),
        ("dkim-fail.test", "DKIM-KEY-PRESENT", "s1._domainkey.dkim-fail.test TXT"),
        ("sub.dmarc-fail.test", "DMARC-UNIQUE", "_dmarc.dmarc-fail.test TXT"),
    ):
        row = _row(suite, domain, requirement)
        assert row["verdict"] == "error", row
        assert query in row["message"] and "SERVFAIL" in row["message"], row["message"]


@pytest.fixture(scope="module")
def batched(
    testbed_env: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The same inventory with seven rows per pytest item (mailtls.batch; batches cross domains)."""
    tmp = tmp_path_factory.mktemp("e2e-batched")
    inventory = tmp / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": [_entry(name) for name in RUN_DOMAINS]}))
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "--timeout=2",
            f"--junitxml={tmp / 'junit.xml'}",
            "--rows-per-item=7",
            "-q",
        ],
        tmp,
    )
    assert data is not None, output[-4000:]
    return {"code": code, "data": data, "junit": (tmp / "junit.xml").read_text()}


def _stable(row: dict[str, Any]) -> tuple[str, str, list[str]]:
    """What two runs of the same inventory must agree on: the verdict, the evidence kinds, and
    the message apart from elapsed times ("316 ms"), unless the row judged a hello scan: its
    two lanes race, so which hello is numbered what, and which extra suites a listing hello
    finds within the budget, can differ between runs (the verdict does not)."""
    kinds = [e["type"] for e in row["evidence"]]
    message = "" if "TlsScan" in kinds else re.sub(r"[0-9.]+ ms\b", "N ms", row["message"])
    return row["verdict"], message, kinds


def test_batched_rows_are_the_rows_of_their_own_items(
    suite: dict[str, Any], batched: dict[str, Any]
) -> None:
    single = {r["test"]: r for r in suite["data"]["results"]}
    rows = {r["test"]: r for r in batched["data"]["results"]}
    assert rows.keys() == single.keys()
    changed = {
        test: (single[test]["verdict"], r["verdict"], single[test]["message"], r["message"])
        for test, r in rows.items()
        if _stable(r) != _stable(single[test])
    }
    assert not changed, "\n".join(f"{t}: {v}" for t, v in changed.items())
    assert batched["code"] == suite["code"]
    cases = ElementTree.fromstring(batched["junit"]).findall(".//testcase")
    assert len(rows) / 7 <= len(cases) < len(rows) / 3  # a few rows per item, every check
