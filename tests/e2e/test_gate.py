"""The gate, end to end: exit codes with failures, waivers (valid and expired) and a baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import run_suite


def _run(
    env: dict[str, Any], tmp_path: Path, inventory: str, *extra: str
) -> tuple[int, str, dict[str, Any]]:
    inv = tmp_path / "inv.yaml"
    inv.write_text(inventory)
    code, out, data = run_suite(
        [
            f"--inventory={inv}",
            f"--resolver={env['resolver']}",
            f"--ca-bundle={env['ca_bundle']}",
            "--timeout=2",
            "-q",
            *extra,
        ],
        tmp_path,
    )
    assert data is not None, out
    return code, out, data


def test_good_domain_passes(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    # stsgood.test: hardened MX, DNSSEC, MTA-STS enforce, TLS-RPT: nothing fails (warnings only)
    code, out, _ = _run(testbed_env, tmp_path, "domains: [stsgood.test]\n")
    assert code == 0, out


def test_failing_domain_gates(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    code, out, _ = _run(testbed_env, tmp_path, "domains: [twomx.test]\n")
    assert code == 1 and "SMTP-STARTTLS-OFFERED" in out


def test_valid_waiver_does_not_gate(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    inv = (
        "domains:\n  - name: twomx.test\n    waivers:\n      - requirement: SMTP-STARTTLS-OFFERED\n"
        "        hosts: [mx2.twomx.test]\n        reason: relay retired next month\n        expires: 2099-01-01\n"
        "      - requirement: DOWNGRADE-PROTECTED\n        reason: MTA-STS rollout in Q1\n"
        "        expires: 2099-01-01\n"
    )
    code, out, data = _run(testbed_env, tmp_path, inv)
    assert code == 0, out
    waived = sorted(
        (r["requirement"], r["host"], r["verdict"], r["message"])
        for r in data["results"]
        if r["waived"]
    )
    assert [w[:3] for w in waived] == [
        ("DOWNGRADE-PROTECTED", None, "fail"),
        ("SMTP-STARTTLS-OFFERED", "mx2.twomx.test", "fail"),
    ]
    assert "MTA-STS rollout in Q1" in waived[0][3]
    assert "relay retired next month" in waived[1][3]
    smtp_waiver = next(
        r for r in data["results"] if r["waived"] and r["requirement"] == "SMTP-STARTTLS-OFFERED"
    )
    assert smtp_waiver["waiver"] == {
        "reason": "relay retired next month",
        "expires": "2099-01-01",
        "expired": False,
    }


def test_expired_waiver_gates_and_says_so(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    inv = (
        "domains:\n  - name: twomx.test\n    waivers:\n      - requirement: SMTP-STARTTLS-OFFERED\n"
        "        reason: old exception\n        expires: 2020-01-01\n"
    )
    html = tmp_path / "report.html"
    code, out, data = _run(testbed_env, tmp_path, inv, f"--html={html}", "--self-contained-html")
    assert code == 1
    assert "expired on 2020-01-01" in out
    assert not any(r["waived"] for r in data["results"])
    assert [r["waiver"]["expired"] for r in data["results"] if r["waiver"]] == [True]
    report = html.read_text()
    assert "Gate: FAILED" in report
    assert "waiver for SMTP-STARTTLS-OFFERED on twomx.test expired on 2020-01-01" in report


def test_baseline_gates_only_regressions(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    first = tmp_path / "first"
    first.mkdir()
    code, _, data = _run(testbed_env, first, "domains: [twomx.test]\n")
    assert code == 1
    failing = sum(r["verdict"] in ("fail", "error") for r in data["results"])
    assert failing >= 2
    baseline = first / "evidence.json"
    code, out, _ = _run(testbed_env, tmp_path, "domains: [twomx.test]\n", f"--baseline={baseline}")
    assert code == 0, out
    assert f"unchanged failures (not gating): {failing}" in out


def test_profile_per_domain_is_reported_per_row(
    testbed_env: dict[str, Any], tmp_path: Path
) -> None:
    inv = "domains: [good.test, {name: shared.test, profile: ncsc-nl}]\n"
    _, _, data = _run(testbed_env, tmp_path, inv, "-k", "trusted")
    trust = {r["domain"]: r for r in data["results"] if r["requirement"] == "CERT-MX-TRUST"}
    assert trust["good.test"]["profile"] == "nist" and trust["good.test"]["severity"] == "high"
    assert trust["shared.test"]["profile"] == "ncsc-nl"
    assert trust["shared.test"]["severity"] == "medium"  # catalogue: profiles.ncsc-nl.severity


def test_baseline_names_a_regression_after_the_testbed_got_worse(
    testbed_env: dict[str, Any], tmp_path: Path
) -> None:
    """A mail team's change gate: the baseline passes, then someone sets the MTA-STS policy of
    stsgood.test to mode none on the real policy host; only that regression fails the run."""
    policy = Path(testbed_env["run"]) / "nginx" / "www" / "stsgood.test" / "mta-sts.txt"
    original = policy.read_bytes()
    first = tmp_path / "first"
    first.mkdir()
    code, out, _ = _run(testbed_env, first, "domains: [stsgood.test]\n")
    assert code == 0, out
    try:
        policy.write_bytes(original.replace(b"mode: enforce", b"mode: none"))
        code, out, _ = _run(
            testbed_env,
            tmp_path,
            "domains: [stsgood.test]\n",
            f"--baseline={first / 'evidence.json'}",
        )
    finally:
        policy.write_bytes(original)
    assert code == 1, out
    assert (
        "regressions (gate)" in out
        and "MTASTS-MODE-ENFORCE" in out
        and "DOWNGRADE-PROTECTED" in out
    )
