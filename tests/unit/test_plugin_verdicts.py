"""The plugin's behaviour, proven by inner pytest runs (pytester, as pytest-randomly does): a
small inline check module and a tiny inventory, no network and no testbed.

The inline check asserts DNSSEC-DOMAIN (domain scope: one target per domain, no probe) and acts
out the verdict its domain is named after, so each test states the outcome it expects of the
plugin: the verdict rows in --evidence-json, pytest's counts, the exit status, the messages.

The plugin asks the resolver one canary question before collecting: the inner runs' resolver is
a small UDP server of ours on loopback that answers every query (REFUSED), so
they need no network (in a network namespace the system resolver is unreachable)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree

import pytest

from mailtls import evidencejson
from tests.support.dnsstub import ADDRESS, FadingResolver

pytest_plugins = ["pytester"]

CHECKS = """
import pytest
from mailtls.verdicts import inconclusive, not_applicable, warn

@pytest.mark.requirement("DNSSEC-DOMAIN")
def test_acts_out_its_domain(target):
    outcome = target.domain.split(".")[0]
    if outcome == "fail":
        assert False, "the zone is not signed"
    if outcome == "warn":
        warn("almost signed")
    if outcome == "na":
        not_applicable("nothing to sign")
    if outcome == "error":
        inconclusive("the resolver timed out")
    if outcome == "crash":
        raise KeyError("oops")
"""
USAGE = pytest.ExitCode.USAGE_ERROR


@pytest.fixture(scope="module")
def answering_resolver() -> Iterator[str]:
    """IP:PORT of a UDP server of ours that answers every DNS query (REFUSED), in the testbed's
    address range (tests/support/dnsstub.py)."""
    server = FadingResolver(5320, answers=10**9)
    yield f"{ADDRESS}:5320"
    server.close()


@pytest.fixture
def pytester(pytester: pytest.Pytester, answering_resolver: str) -> pytest.Pytester:
    """The inner runs ask our answering resolver (an ini file in the run's folder)."""
    pytester.makeini(f"[pytest]\naddopts = --resolver={answering_resolver}\n")
    return pytester


def _run(
    pytester: pytest.Pytester, domains: list[str], *args: str, waivers: str = ""
) -> tuple[pytest.RunResult, dict[str, dict[str, Any]]]:
    """Run the inline check over ``domains``; (the result, the evidence rows by domain)."""
    pytester.makepyfile(test_checks=CHECKS)
    entries = "".join(f"  - name: {d}\n" for d in domains)
    pytester.makefile(".yaml", inventory="domains:\n" + entries + waivers)
    # The inline module is named: with no path, the plugin would also collect the installed
    # checks (mailtls/checks), which look up real MX records.
    result = pytester.runpytest(
        "test_checks.py",
        "--inventory=inventory.yaml",
        "--evidence-json=evidence.json",
        "-p",
        "no:randomly",
        *args,
    )
    out = pytester.path / "evidence.json"
    rows = evidencejson.expand(json.loads(out.read_text())) if out.exists() else []
    return result, {r["domain"]: r for r in rows}


def test_each_outcome_maps_to_its_verdict_and_message(pytester: pytest.Pytester) -> None:
    names = ["pass", "fail", "warn", "na", "error", "crash"]
    result, rows = _run(pytester, [f"{n}.example" for n in names])
    verdicts = {d.split(".")[0]: (r["verdict"], r["message"]) for d, r in rows.items()}
    assert verdicts == {
        "pass": ("pass", ""),
        "fail": ("fail", "the zone is not signed"),
        "warn": ("warn", "almost signed"),
        "na": ("not_applicable", "nothing to sign"),
        "error": ("error", "the resolver timed out"),
        "crash": ("error", "internal error in the check: KeyError: 'oops'"),
    }
    # pytest's words: a warning is "warned" (a pass unless --strict), not applicable a skip,
    # error an "error" (the check ran, the observation was missing).
    assert result.parseoutcomes() == {
        "passed": 1,
        "warned": 1,
        "failed": 1,
        "errors": 2,
        "skipped": 1,
    }
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*DNSSEC-DOMAIN [[]fail[]] the zone is not signed*"])
    result.stdout.fnmatch_lines(["mailtls gate: FAILED (3 gating result(s))"])


@pytest.mark.parametrize(
    ("domains", "args", "status"),
    [
        (["pass.example", "na.example"], (), pytest.ExitCode.OK),
        (["warn.example"], (), pytest.ExitCode.OK),
        (["warn.example"], ("--strict",), pytest.ExitCode.TESTS_FAILED),
        (["error.example"], (), pytest.ExitCode.TESTS_FAILED),
        (["error.example"], ("--allow-errors",), pytest.ExitCode.OK),
        (["fail.example"], ("--allow-errors",), pytest.ExitCode.TESTS_FAILED),
    ],
    ids=["pass-na", "warn", "warn-strict", "error", "error-allowed", "fail-errors-allowed"],
)
@pytest.mark.parametrize("per_item", ["1", "2"], ids=["own-items", "batched"])
def test_exit_status_follows_the_gate(
    pytester: pytest.Pytester,
    domains: list[str],
    args: tuple[str, ...],
    status: int,
    per_item: str,
) -> None:
    result, rows = _run(pytester, domains, *args, f"--rows-per-item={per_item}")
    assert result.ret == status
    assert len(rows) == len(domains)


OUTCOMES = ["pass", "fail", "warn", "na", "error", "crash"]


@pytest.mark.parametrize("extra", [(), ("--strict",), ("--allow-errors",)], ids=str)
def test_batched_rows_are_the_rows_of_their_own_items(
    pytester: pytest.Pytester, extra: tuple[str, ...]
) -> None:
    """The same rows (node ID, verdict, message, waiver, evidence) and exit status whether each
    row is its own item or four rows share one (mailtls.batch)."""
    future = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    domains = [f"{n}.example" for n in OUTCOMES]
    waivers = "  - name: fail.waived.example\n" + _waiver(future)
    runs = {}
    for per_item in ("1", "4"):
        result, rows = _run(
            pytester, domains, f"--rows-per-item={per_item}", *extra, waivers=waivers
        )
        runs[per_item] = (result.ret, rows)
    assert runs["1"] == runs["4"]
    assert runs["4"][1]["fail.waived.example"]["waived"] is True
    assert (
        runs["4"][1]["crash.example"]["test"]
        == "test_checks.py::test_acts_out_its_domain[crash.example]"
    )


def test_a_failing_batch_lists_its_gating_rows_with_the_rule(pytester: pytest.Pytester) -> None:
    result, rows = _run(
        pytester, [f"{n}.example" for n in OUTCOMES], "--rows-per-item=3", "--junitxml=j.xml"
    )
    assert len(rows) == len(OUTCOMES)
    result.assert_outcomes(failed=1, errors=1)  # a fail among rows 1-3; an error among 4-6
    result.stdout.fnmatch_lines(
        [
            "DNSSEC-DOMAIN: 1 of 3 row(s) gate",
            "  test_checks.py::test_acts_out_its_domain[[]fail.example[]] [[]fail[]] the zone *",
            "  rule (nist): *",
            "  fix: *",
        ]
    )
    result.stdout.fnmatch_lines(["DNSSEC-DOMAIN: 2 of 3 row(s) gate"])
    junit = (pytester.path / "j.xml").read_text()
    assert 'name="rows" value="1 fail, 1 warn, 1 pass"' in junit


def test_a_batched_check_asking_for_an_unknown_value_is_a_usage_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_checks='import pytest\n\n@pytest.mark.requirement("DNSSEC-DOMAIN")\n'
        "def test_unknown(target, colour):\n    pass\n"
    )
    pytester.makefile(".yaml", inventory="domains: [a.example, b.example]\n")
    result = pytester.runpytest("test_checks.py", "--inventory=inventory.yaml", "--rows-per-item=2")
    _one_usage_error(result, "no mailtls value named colour")


def test_strict_turns_a_warning_into_a_failed_test(pytester: pytest.Pytester) -> None:
    result, rows = _run(pytester, ["warn.example"], "--strict")
    result.assert_outcomes(failed=1)
    assert rows["warn.example"]["verdict"] == "warn"  # the verdict itself does not change


def _waiver(expires: dt.date, requirement: str = "DNSSEC-DOMAIN") -> str:
    return (
        "    waivers:\n"
        f"      - requirement: {requirement}\n"
        "        reason: signing planned in CHG-1\n"
        f"        expires: {expires}\n"
    )


def test_a_waiver_keeps_the_verdict_and_stops_it_gating(pytester: pytest.Pytester) -> None:
    future = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    result, rows = _run(pytester, ["fail.example"], waivers=_waiver(future))
    row = rows["fail.example"]
    assert (row["verdict"], row["waived"]) == ("fail", True)
    assert row["message"].endswith(f"[waived until {future}: signing planned in CHG-1]")
    result.assert_outcomes(xfailed=1)
    assert result.ret == pytest.ExitCode.OK


def test_an_expired_waiver_no_longer_waives_and_says_so(pytester: pytest.Pytester) -> None:
    past = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    result, rows = _run(pytester, ["fail.example"], waivers=_waiver(past))
    row = rows["fail.example"]
    assert (row["verdict"], row["waived"], row["waiver"]["expired"]) == ("fail", False, True)
    assert f"[waiver expired on {past}" in row["message"]
    result.stdout.fnmatch_lines(["mailtls: waiver for DNSSEC-DOMAIN on fail.example expired*"])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_waiver_that_matches_nothing_is_reported(pytester: pytest.Pytester) -> None:
    future = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)
    result, _ = _run(pytester, ["pass.example"], waivers=_waiver(future, "MX-RESOLVE"))
    result.stdout.fnmatch_lines(["mailtls: waiver for MX-RESOLVE on pass.example matched no*"])
    assert result.ret == pytest.ExitCode.OK


def _one_usage_error(result: pytest.RunResult, message: str) -> None:
    out = "\n".join(result.outlines + result.errlines)
    assert result.ret == USAGE
    assert out.count(message) == 1, out
    assert "Traceback" not in out


def test_checks_without_an_inventory_are_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_checks=CHECKS)
    _one_usage_error(
        pytester.runpytest("test_checks.py"), "the compliance checks need an inventory"
    )


@pytest.mark.parametrize(
    ("inventory", "message"),
    [
        ("domains: [{name: a.example, colour: red}]\n", "unknown key 'colour'"),
        ("clients: 3\n", "inventory inventory.yaml has 1 problem(s)"),
    ],
)
def test_a_bad_inventory_is_one_usage_error(
    pytester: pytest.Pytester, inventory: str, message: str
) -> None:
    pytester.makepyfile(test_checks=CHECKS)
    pytester.makefile(".yaml", inventory=inventory)
    _one_usage_error(pytester.runpytest("test_checks.py", "--inventory=inventory.yaml"), message)


@pytest.mark.parametrize("per_item", ["1", "2"], ids=["own-items", "batched"])
def test_a_check_without_the_target_fixture_is_a_usage_error(
    pytester: pytest.Pytester, per_item: str
) -> None:
    pytester.makepyfile(
        test_checks='import pytest\n\n@pytest.mark.requirement("DNSSEC-DOMAIN")\n'
        "def test_no_target():\n    pass\n"
    )
    pytester.makefile(".yaml", inventory="domains: [a.example, b.example]\n")
    result = pytester.runpytest(
        "test_checks.py", "--inventory=inventory.yaml", f"--rows-per-item={per_item}"
    )
    _one_usage_error(result, "a check must take the 'target' fixture")


def test_a_merge_writes_the_junit_of_the_single_run_of_batch_items(
    pytester: pytest.Pytester,
) -> None:
    """Above 100 domains a run's JUnit has one test case per batch item; the merge of its
    evidence JSON writes the same test cases (names, outcomes), not one per row."""
    domains = [f"{OUTCOMES[i % len(OUTCOMES)]}.d{i}.example" for i in range(120)]
    result, rows = _run(pytester, domains, "--shard=1/1", "--junitxml=run.xml")
    assert len(rows) == 120
    merged = pytester.run(
        sys.executable, "-m", "mailtls", "merge", "evidence.json", "--junitxml=merged.xml"
    )
    assert merged.ret == result.ret == pytest.ExitCode.TESTS_FAILED

    def cases(name: str) -> dict[str, str]:
        root = ElementTree.parse(pytester.path / name).getroot()
        return {
            c.get("name", ""): ",".join(sorted(x.tag for x in c if x.tag != "properties"))
            for c in root.iter("testcase")
        }

    run = cases("run.xml")
    assert len(run) == 20  # 120 rows dealt into 20 items of 6
    assert cases("merged.xml") == run
