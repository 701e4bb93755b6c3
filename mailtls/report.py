"""mailtls output: evidence on report rows, terminal statuses, pytest-html columns and summary,
the evidence JSON and the gate. Registered by :mod:`mailtls.plugin`; it reports, never judges."""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from typing import Any

import pytest

from mailtls import __version__, gate, requirements
from mailtls.evidence import render_html, to_jsonable
from mailtls.runstate import RUN


def attach_extras(
    report: pytest.TestReport,
    req: requirements.Requirement,
    verdict: str,
    message: str,
    evidence: list[object],
) -> None:
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return
    head = (
        f"<div class='mailtls-verdict'><b>{escape(req.id)}</b> - {escape(req.title)}: "
        f"<b>{escape(verdict)}</b><br>{escape(message)}<br><i>{escape(req.citation_text())}</i>"
        f"<br>Rule: {escape(req.rule)}<br>Fix: {escape(req.fix)}</div>"
    )
    body = "".join(render_html(e) for e in evidence)
    report.extras = [  # type: ignore[attr-defined]
        *getattr(report, "extras", []),
        extras.html(head + body),
        extras.json([to_jsonable(e) for e in evidence], name="evidence JSON"),
    ]


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> Any:
    verdict = getattr(report, "mailtls_verdict", None)
    if report.when != "call":
        return None
    if verdict == "warn" and report.passed:
        return "warned", "W", ("WARN", {"yellow": True})
    if verdict == "error" and report.failed:
        return "error", "E", ("ERROR", {"red": True})
    return None


# ---------------------------------------------------------------- pytest-html columns and summary


def pytest_html_report_title(report: Any) -> None:
    report.title = "mailtls - email transport security report"


COLUMNS = ("requirement", "verdict", "domain", "host", "ip")


def pytest_html_results_table_header(cells: list[str]) -> None:
    for offset, name in enumerate(COLUMNS):
        title = "IP" if name == "ip" else name.capitalize()
        cells.insert(1 + offset, f'<th class="sortable" data-column-type="{name}">{title}</th>')


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    props = dict(report.user_properties)
    for offset, name in enumerate(COLUMNS):
        cells.insert(1 + offset, f'<td class="col-{name}">{escape(str(props.get(name, "")))}</td>')
    if props.get("verdict") == "error":
        cells[0] = '<td class="col-result">Error</td>'


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    state = session.config.stash.get(RUN, None)
    if state is None or state.inventory is None:
        return
    from mailtls.summary import summary_html

    prefix.append(summary_html(state))


# ---------------------------------------------------------------- machine output


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(RUN, None)
    if state is None or state.inventory is None:
        return
    state.finished = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    state.gate = gate.decide(
        state.results.values(),
        strict=state.strict,
        allow_errors=state.allow_errors,
        baseline=state.baseline,
    )
    if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and state.results:
        # The gate, not pytest's raw failure count, decides: waivers, --allow-errors, --strict
        # and --baseline all change what fails the run.
        session.exitstatus = (
            pytest.ExitCode.TESTS_FAILED if state.gate.failed else pytest.ExitCode.OK
        )
    if state.evidence_json is None:
        return
    document = {
        "tool": {"name": "mailtls", "version": __version__},
        "run": {
            "started": state.started,
            "finished": state.finished,
            "inventory": str(state.inventory.path),
            "inventory_sha256": state.inventory.sha256,
            "profile": state.profile,
            "resolver": str(state.resolver),
            "ca_bundle": str(state.ca_bundle),
        },
        "results": list(state.results.values()),
    }
    state.evidence_json.parent.mkdir(parents=True, exist_ok=True)
    state.evidence_json.write_text(
        json.dumps(document, indent=1, ensure_ascii=False), encoding="utf-8"
    )


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(RUN, None)
    if state is None or state.gate is None:
        return
    tr = terminalreporter
    decision = state.gate
    if state.baseline is not None:
        tr.section("mailtls: comparison with the baseline")
        for title, lines in (
            ("regressions (gate)", decision.regressions),
            ("improvements", decision.improvements),
            ("unchanged failures (not gating)", decision.unchanged),
        ):
            tr.write_line(f"{title}: {len(lines)}")
            for line in lines:
                tr.write_line(f"  {line}")
    for note in state.waiver_notes():
        tr.write_line(f"mailtls: {note}")
    verdict = "FAILED" if decision.failed else "passed"
    tr.write_line(f"mailtls gate: {verdict} ({len(decision.gating)} gating result(s))")
