"""From a check's pytest report to its verdict and Result row: verdict classification (the
exception a check raised, see :mod:`mailtls.verdicts`), the report without a traceback, waivers
from the inventory, ``--strict`` for warnings. The plugin's report hooks call these.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mailtls import report as report_plugin
from mailtls import requirements
from mailtls.results import Result, Waiver
from mailtls.runstate import EVIDENCE, RUN, MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import NA_PREFIX, Advisory, Inconclusive, Verdict


def exception_message(exc: BaseException) -> str:
    """The finding: the exception's message (an assert's text without pytest's rewrite)."""
    text = str(exc).strip()
    if isinstance(exc, AssertionError):
        text = text.split("\nassert ", 1)[0].strip()
        if text.startswith("assert "):
            text = "assertion failed: " + text
    return text or type(exc).__name__


def message_of(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    return exception_message(excinfo.value)


def judge_exception(exc: BaseException, when: str) -> tuple[Verdict, str]:
    """The verdict a check's exception states: warn, error, or (an assert while the check ran)
    fail; any other exception is a bug in the check, an error that says so."""
    if isinstance(exc, Advisory):
        return "warn", exception_message(exc)
    if isinstance(exc, Inconclusive):
        return "error", exception_message(exc)
    if isinstance(exc, AssertionError) and when == "call":
        return "fail", exception_message(exc)
    return "error", f"internal error in the check: {type(exc).__name__}: {exception_message(exc)}"


def classify(report: pytest.TestReport, call: pytest.CallInfo[None]) -> tuple[Verdict, str] | None:
    """The verdict and message a check's report states (None: this phase states none)."""
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        return "not_applicable", reason.removeprefix(NA_PREFIX)
    if report.passed:
        return "pass", ""
    assert call.excinfo is not None
    return judge_exception(call.excinfo.value, report.when)


def is_verdict(item: pytest.Item, call: pytest.CallInfo[None]) -> bool:
    """The exception states a verdict of a mailtls check (its message is the finding)."""
    if call.excinfo is None or item.get_closest_marker("requirement") is None:
        return False
    exc = call.excinfo.value
    return isinstance(exc, Advisory | Inconclusive) or (
        isinstance(exc, AssertionError) and call.when == "call"
    )


def verdict_report(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
    """The report of a fail, warn or error verdict, built without pytest's traceback formatting.

    pytest formats every failure as a traceback, re-reading and parsing (``ast``) the source of
    every frame: about 40 ms a row for an error raised in a fixture, 30 times a pass. The verdict
    message is the finding, so the long representation is the message (:func:`record` then
    writes the final text); any other exception is a bug in a check and keeps its traceback.
    """
    if not is_verdict(item, call):
        return None
    assert call.excinfo is not None  # checked by is_verdict
    return pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        message_of(call.excinfo),
        call.when,  # type: ignore[arg-type]  # never "collect" for a test item
        [(f"Captured {key} {when}", text) for when, key, text in item._report_sections],
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


def make_result(
    state: MailtlsRun,
    test: str,
    req: requirements.Requirement,
    target: Target,
    verdict: Verdict,
    message: str,
    evidence: list[object],
) -> Result:
    """The Result row of one check on one target, with the inventory's waiver applied to a fail
    or warn (the waiver's note joins the message)."""
    waived, waiver = False, None
    if verdict in ("fail", "warn"):
        waived, note, waiver = find_waiver(state, target, req.id)
        message += note
    profile = state.profile_for(target.domain)
    return Result(
        test=test,
        requirement=req.id,
        domain=target.domain,
        host=target.host,
        ip=target.ip,
        port=target.port,
        verdict=verdict,
        message=message,
        profile=profile,
        severity=req.severity_for(profile),
        citation=req.citations,  # one shared tuple per requirement, not one per row
        waived=waived,
        waiver=waiver,
        evidence=tuple(evidence),  # observation objects, shared; JSON-encoded when written
    )


def finding_text(req: requirements.Requirement, res: Result) -> str:
    """A finding as the terminal and JUnit show it: requirement, verdict, message, rule, fix."""
    return (
        f"{req.id} [{res.verdict}] {res.message}\n  rule ({res.profile}): "
        f"{req.rule_for(res.profile)}\n  fix: {req.fix}"
    )


def record(
    item: pytest.Item,
    report: pytest.TestReport,
    call: pytest.CallInfo[None],
    req_id: str,
    target: Target,
) -> None:
    """State a check's verdict on its report (outcome, short finding, properties, report extras)
    and keep its Result row: warn passes unless --strict, a waived fail or warn is skipped."""
    decided = classify(report, call)
    if decided is None:
        return
    verdict, message = decided
    state = item.config.stash[RUN]
    req = requirements.get(req_id)
    evidence = item.stash.get(EVIDENCE, [])
    res = make_result(state, item.nodeid, req, target, verdict, message, evidence)
    if verdict == "warn" and not state.strict:
        report.outcome = "passed"
        report.longrepr = None
    if res.waived and report.failed and res.waiver is not None:
        report.outcome = "skipped"  # pytest-html's "xfailed" category
        report.wasxfail = f"waived until {res.waiver.expires}: {res.waiver.reason}"
    if verdict != "pass" and report.longrepr is not None and not report.skipped:
        # A short, readable finding instead of a traceback: the check's code is not the evidence.
        report.longrepr = finding_text(req, res)
    report.mailtls_verdict = verdict  # type: ignore[attr-defined]
    # The report columns and --junitxml <properties> (read from the item at teardown) use these.
    properties = [
        ("requirement", req.id),
        ("verdict", verdict),
        ("profile", res.profile),
        ("severity", res.severity),
        ("citation", req.citation_text()),
        ("domain", target.domain),
        ("host", target.host or ""),
        ("ip", target.ip or ""),
        ("waived", "true" if res.waived else "false"),
    ]
    report.user_properties += properties
    item.user_properties += properties
    report_plugin.attach_extras(item.config, report, req, verdict, res.message, evidence)
    state.results[item.nodeid] = res


def find_waiver(state: MailtlsRun, target: Target, req_id: str) -> tuple[bool, str, Waiver | None]:
    """(waived, note for the message, the waiver) for a fail or warn result."""
    today = dt.datetime.now(dt.UTC).date()
    for waiver in state.domain(target.domain).waivers:
        if not waiver.covers(req_id, target.host):
            continue
        if waiver.expired(today):
            info = Waiver(waiver.reason, str(waiver.expires), expired=True)
            return False, f" [waiver expired on {waiver.expires}: {waiver.reason}]", info
        info = Waiver(waiver.reason, str(waiver.expires), expired=False)
        return True, f" [waived until {waiver.expires}: {waiver.reason}]", info
    return False, "", None
