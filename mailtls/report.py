"""mailtls output: evidence on report rows, terminal statuses, pytest-html columns and summary,
the evidence JSON and the gate. Registered by :mod:`mailtls.plugin`; it reports, never judges."""

from __future__ import annotations

import datetime as dt
import json
from html import escape
from typing import Any

import pytest

from mailtls import __version__, evidencejson, gate, requirements
from mailtls.evidence import digest, to_jsonable
from mailtls.runstate import RUN
from mailtls.summary import EvidenceIndex, evidence_buttons, summary_html

EVIDENCE_INDEX = pytest.StashKey[EvidenceIndex]()


def evidence_index(config: pytest.Config) -> EvidenceIndex:
    return config.stash.setdefault(EVIDENCE_INDEX, EvidenceIndex())


def attach_extras(
    config: pytest.Config,
    report: pytest.TestReport,
    req: requirements.Requirement,
    verdict: str,
    message: str,
    evidence: list[object],
) -> None:
    """Evidence for a finding's row: its message, a link to its requirement, evidence by digest.

    Passing and not-applicable rows get none (they leave pytest-html's table, see
    :func:`pytest_html_results_table_row`). The evidence is stored once per observation in the
    report and referenced by digest, so a chain served to 30 rows is written once; the
    catalogue's explanation is written once per requirement (Findings by requirement); the rule
    and fix are in the row's log.
    """
    if verdict in ("pass", "not_applicable"):
        return
    attach_findings(config, report, req, [(verdict, message, evidence)])


def attach_findings(
    config: pytest.Config,
    report: pytest.TestReport,
    req: requirements.Requirement,
    findings: list[tuple[str, str, list[object]]],
) -> None:
    """One pytest-html extra for the findings (verdict, message, evidence) of a report's rows."""
    if not findings:
        return
    try:
        from pytest_html import extras
    except ImportError:  # pragma: no cover
        return
    index = evidence_index(config)
    head = (
        f"<b>{escape(req.id)}</b> - {escape(req.title)}: <a href='#req-{escape(req.id)}'>why it "
        f"matters, citations and every place it failed</a>"
    )
    rows = "".join(
        f"<br><b>{escape(verdict)}</b>: {escape(message)} "
        f"{evidence_buttons(index.ref(e) for e in evidence)}"
        for verdict, message, evidence in findings
    )
    html = f"<div class='mt-x'>{head}{rows}</div>"
    report.extras = [*getattr(report, "extras", []), extras.html(html)]  # type: ignore[attr-defined]


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


COLUMNS = ("requirement", "verdict", "severity", "profile", "domain", "host", "ip")
TITLES = {"ip": "IP"}


def pytest_html_results_table_header(cells: list[str]) -> None:
    for offset, name in enumerate(COLUMNS):
        title = TITLES.get(name, name.capitalize())
        cells.insert(1 + offset, f'<th class="sortable" data-column-type="{name}">{title}</th>')
    cells.insert(1 + len(COLUMNS), "<th>Citation</th>")


def pytest_html_results_table_row(report: pytest.TestReport, cells: list[str]) -> None:
    """Findings only: passing and not-applicable rows leave the table (summary lists them).

    pytest-html 4 draws every row in JavaScript on open and on each click; 30,000 rows take
    close to a minute. Passed setup/teardown reports never make rows of their own; dropping
    them too keeps pytest-html from storing an empty entry per test.
    """
    props = dict(report.user_properties)
    verdict = props.get("verdict")
    if verdict in ("pass", "not_applicable") or (report.when != "call" and report.passed):
        cells.clear()
        return
    if verdict is None:
        return
    test_id = report.nodeid + ("" if report.when == "call" else f"::{report.when}")
    cells[1] = f'<td class="col-testId">{escape(test_id)}</td>'  # pytest-html does not escape it
    shown = dict(props)
    if props.get("waived") == "true":
        shown["verdict"] = f"{verdict} (waived)"
    for offset, name in enumerate(COLUMNS):
        cells.insert(1 + offset, f'<td class="col-{name}">{escape(str(shown.get(name, "")))}</td>')
    cells.insert(
        1 + len(COLUMNS), f'<td class="col-citation">{escape(str(props.get("citation", "")))}</td>'
    )
    if verdict == "error":
        cells[0] = '<td class="col-result">Error</td>'


def pytest_html_results_summary(
    prefix: list[str], summary: list[str], postfix: list[str], session: pytest.Session
) -> None:
    state = session.config.stash.get(RUN, None)
    if state is None or state.inventory is None:
        return
    prefix.append(summary_html(state, evidence_index(session.config)))


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
    document: dict[str, Any] = {
        "format": evidencejson.FORMAT,
        "tool": {"name": "mailtls", "version": __version__},
        "run": {
            "started": state.started,
            "finished": state.finished,
            "inventory": str(state.inventory.path),
            "inventory_sha256": state.inventory.sha256,
            "profile": state.profile,
            "resolver": str(state.resolver),
            "ca_bundle": str(state.ca_bundle),
            # What a merge of shards must find identical to give a single run's verdict.
            "strict": state.strict,
            "allow_errors": state.allow_errors,
            "max_connections": state.max_connections,
            "rows_per_item": state.rows_per_item,  # None: the auto rule (mailtls.batch)
            "baseline": str(state.baseline_path) if state.baseline_path else None,
            "exitstatus": int(session.exitstatus),
        },
    }
    if state.shard_plan is not None:
        document["shard"] = state.shard_plan.as_json()
    # Each observation once, under its digest; rows refer to it (a scan or a certificate chain
    # backs a dozen rows: inline copies made a 2,000-row run 27 MB).
    observations: dict[str, Any] = {}
    digests: dict[int, str] = {}

    def ref(obs: object) -> str:
        if id(obs) not in digests:
            digests[id(obs)] = key = digest(obs)
            observations.setdefault(key, to_jsonable(obs))
        return digests[id(obs)]

    # Format 2: requirements, targets, messages, evidence lists once each; rows refer to them.
    document.update(evidencejson.encode(state.results.values(), ref))
    document["observations"] = observations
    state.evidence_json.parent.mkdir(parents=True, exist_ok=True)
    state.evidence_json.write_text(
        json.dumps(document, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
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
