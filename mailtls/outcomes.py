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


def message_of(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The finding: the exception's message (an assert's text without pytest's rewrite)."""
    text = str(excinfo.value).strip()
    if isinstance(excinfo.value, AssertionError):
        text = text.split("\nassert ", 1)[0].strip()
        if text.startswith("assert "):
            text = "assertion failed: " + text
    return text or type(excinfo.value).__name__


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
    exc = call.excinfo.value
    if isinstance(exc, Advisory):
        return "warn", message_of(call.excinfo)
    if isinstance(exc, Inconclusive):
        return "error", message_of(call.excinfo)
    if isinstance(exc, AssertionError) and report.when == "call":
        return "fail", message_of(call.excinfo)
    return "error", f"internal error in the check: {type(exc).__name__}: {message_of(call.excinfo)}"


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
    profile = state.profile_for(target.domain)
    waived, waiver = False, None
    if verdict == "warn" and not state.strict:
        report.outcome = "passed"
        report.longrepr = None
    if verdict in ("fail", "warn"):
        waived, note, waiver = apply_waiver(state, target, req.id, report, message)
        message += note
    if verdict != "pass" and report.longrepr is not None and not report.skipped:
        # A short, readable finding instead of a traceback: the check's code is not the evidence.
        report.longrepr = (
            f"{req.id} [{verdict}] {message}\n  rule ({profile}): {req.rule_for(profile)}\n"
            f"  fix: {req.fix}"
        )
    report.mailtls_verdict = verdict  # type: ignore[attr-defined]
    # The report columns and --junitxml <properties> (read from the item at teardown) use these.
    properties = [
        ("requirement", req.id),
        ("verdict", verdict),
        ("profile", profile),
        ("severity", req.severity_for(profile)),
        ("citation", req.citation_text()),
        ("domain", target.domain),
        ("host", target.host or ""),
        ("ip", target.ip or ""),
        ("waived", "true" if waived else "false"),
    ]
    report.user_properties += properties
    item.user_properties += properties
    evidence = item.stash.get(EVIDENCE, [])
    report_plugin.attach_extras(item.config, report, req, verdict, message, evidence)
    state.results[item.nodeid] = Result(
        test=item.nodeid,
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


def apply_waiver(
    state: MailtlsRun, target: Target, req_id: str, report: pytest.TestReport, message: str
) -> tuple[bool, str, Waiver | None]:
    """(waived, note for the message, the waiver) for a fail or warn result; a waived failure's
    report becomes a skip (pytest-html's "xfailed" category)."""
    today = dt.datetime.now(dt.UTC).date()
    for waiver in state.domain(target.domain).waivers:
        if not waiver.covers(req_id, target.host):
            continue
        if waiver.expired(today):
            info = Waiver(waiver.reason, str(waiver.expires), expired=True)
            return False, f" [waiver expired on {waiver.expires}: {waiver.reason}]", info
        info = Waiver(waiver.reason, str(waiver.expires), expired=False)
        if report.failed:
            report.outcome = "skipped"
            report.wasxfail = f"waived until {waiver.expires}: {waiver.reason}"
        return True, f" [waived until {waiver.expires}: {waiver.reason}]", info
    return False, "", None
