"""End to end (issue 17): the suite against the hostile DNS server and the hostile MTA-STS policy
hosts of the testbed (testbed/scenarios.yaml, `hostile_web`, `hostile_dns`, domains *.web17.test
and *.dns17.test). Their expected verdicts are checked with every other scenario by
test_testbed_verdicts.py; here: no row that depends on the broken part passes, the evidence
says what was received, and the fetch from a dripping host ends within its total deadline."""

from __future__ import annotations

import base64
import time
from typing import Any

import pytest
import yaml

from mailtls.probes.https import total_deadline
from tests.conftest import REPO, run_suite

TIMEOUT = 2.0
DOMAINS: dict[str, Any] = yaml.safe_load((REPO / "testbed" / "scenarios.yaml").read_text())[
    "domains"
]
HOSTILE = sorted(d for d in DOMAINS if d.endswith((".web17.test", ".dns17.test")))
HEALTHY = {"good.web17.test", "spoof.dns17.test", "tc.dns17.test"}  # faults absorbed: must pass
# The rows that hold only with a policy a sender would use.
NEEDS_POLICY = (
    "MTASTS-MODE-ENFORCE", "MTASTS-MAXAGE-UPPER", "MTASTS-MAXAGE-LOWER", "MTASTS-MX-COVERAGE",
    "MTASTS-WILDCARD-SCOPE", "MTASTS-MX-CERT", "MTASTS-MX-TLS12", "DOWNGRADE-PROTECTED",
)  # fmt: skip


@pytest.fixture(scope="module")
def suite(testbed_env: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("hostile17")
    inventory = tmp / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": HOSTILE}))
    started = time.monotonic()
    _code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            f"--timeout={TIMEOUT:g}",
            "-q",
        ],
        tmp,
    )
    assert data is not None, output[-4000:]
    return {"data": data, "seconds": time.monotonic() - started}


def _rows(suite: dict[str, Any], domain: str) -> list[dict[str, Any]]:
    return [r for r in suite["data"]["results"] if r["domain"] == domain]


@pytest.mark.parametrize("domain", sorted(set(HOSTILE) - HEALTHY))
def test_no_row_needing_a_usable_policy_passes(suite: dict[str, Any], domain: str) -> None:
    passed = [r["requirement"] for r in _rows(suite, domain) if r["requirement"] in NEEDS_POLICY
              and r["verdict"] == "pass"]  # fmt: skip
    assert not passed, f"{domain}: {passed} pass although no sender could use the policy"


@pytest.mark.parametrize("domain", sorted(HEALTHY))
def test_absorbed_faults_still_pass(suite: dict[str, Any], domain: str) -> None:
    got = {r["requirement"]: r["verdict"] for r in _rows(suite, domain)}
    assert got["MTASTS-MODE-ENFORCE"] == "pass" and got["DOWNGRADE-PROTECTED"] == "pass", got


def _fetch(suite: dict[str, Any], domain: str) -> dict[str, Any]:
    for r in _rows(suite, domain):
        for ev in r["evidence"]:
            if ev["type"] == "PolicyFetch":
                return ev  # type: ignore[no-any-return]
    raise AssertionError(f"no policy fetch recorded for {domain}")


def test_dripping_host_meets_the_documented_total_deadline(suite: dict[str, Any]) -> None:
    f = _fetch(suite, "drip.web17.test")
    assert f["deadline_s"] == total_deadline(TIMEOUT) == 4 * TIMEOUT
    assert f["elapsed_ms"] <= f["deadline_s"] * 1000 + 500, f["elapsed_ms"]  # 0.5 s to tear down
    assert (f["failure_kind"], f["stop_kind"], f["phase"]) == ("timeout", "deadline", "headers")
    cert = next(
        r for r in _rows(suite, "drip.web17.test") if r["requirement"] == "MTASTS-HOST-CERT"
    )
    assert "could not be reached" not in cert["message"]


@pytest.mark.parametrize(
    ("domain", "stop", "failure"),
    [
        ("endless.web17.test", "limit", "too_large"),
        ("huge.web17.test", "limit", "too_large"),
        ("cllie.web17.test", "closed", "incomplete"),
        ("midclose.web17.test", "closed", "incomplete"),
        ("good.web17.test", "end", None),
    ],
)
def test_evidence_says_what_was_read_and_why_it_stopped(
    suite: dict[str, Any], domain: str, stop: str, failure: str | None
) -> None:
    f = _fetch(suite, domain)
    assert (f["stop_kind"], f["failure_kind"]) == (stop, failure), f
    assert f["body_bytes"] == len(base64.b64decode(f["body_base64"]))  # the exact bytes
    assert f["body_bytes"] <= 64 * 1024 + 1 and f["elapsed_ms"] > 0
    assert f["body_escaped"].startswith("version: STSv1\\x0d\\n")


def test_garbled_records_are_shown_escaped(suite: dict[str, Any]) -> None:
    rows = {r["requirement"]: r for r in _rows(suite, "garbled.dns17.test")}
    assert rows["TLSRPT-RUA"]["verdict"] == "fail"
    assert "\\xff\\xfe" in rows["TLSRPT-RUA"]["message"]
    assert "\\x00" in rows["MTASTS-TXT-SYNTAX"]["message"]
