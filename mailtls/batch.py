"""Batch items: one pytest item judges one requirement on many targets, one Result row each.

pytest costs about a millisecond and several kilobytes per test item before any plugin runs
(a trivial 106,000-item run: 90 s and 600 MB on the 2-core machine), and pytest-html and JUnit
add more per item; a 1,000-domain inventory has 106,000 rows. So above
:data:`AUTO_SINGLE_DOMAINS` domains (or with ``--rows-per-item``) each check runs as a few
:class:`RowBatch` items instead of one item per target. A row is judged exactly as in its own
item: the same providers (:mod:`mailtls.rows`) hand the check its values and record the
evidence, the same classification turns the check's exception into the verdict
(:func:`mailtls.outcomes.judge_exception`), and the Result keeps the node ID its own item would
have had, so the evidence JSON, the summary, the gate and a merge see the same rows either way.
The batch item fails when one of its rows gates (the same rule as the run's gate, without a
baseline); its report lists those rows.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import pytest

from mailtls import gate, requirements
from mailtls import report as report_plugin
from mailtls.outcomes import finding_text, judge_exception, make_result
from mailtls.results import Result
from mailtls.rows import NOT_OF_THE_TARGET, PROVIDERS, Row
from mailtls.runstate import RUN, MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import NA_PREFIX, Verdict

_T = TypeVar("_T")

#: Up to this many domains in the inventory (or the shard), one test item per row.
AUTO_SINGLE_DOMAINS = 100
#: Above it, each check's rows are dealt into this many items (contiguous, in inventory order).
AUTO_ITEMS = 20
#: Rows a failing batch names in its report text (the HTML report and JSON have every row).
LISTED = 50
#: The verdict a batch item shows: the first of these that one of its rows has.
WORST: tuple[Verdict, ...] = ("fail", "error", "warn", "pass", "not_applicable")


def rows_per_item(state: MailtlsRun, targets: int) -> int:
    """How many rows one item of a check judges (``--rows-per-item``, else the auto rule)."""
    assert state.inventory is not None
    return item_size(state.rows_per_item, len(state.inventory.domains), targets)


def item_size(setting: int | None, domains: int, targets: int) -> int:
    """Rows per item: ``setting`` (--rows-per-item), else 1 up to AUTO_SINGLE_DOMAINS domains,
    else the check's ``targets`` rows dealt into AUTO_ITEMS items."""
    if setting is not None:
        return max(1, setting)
    if domains <= AUTO_SINGLE_DOMAINS:
        return 1
    return max(1, math.ceil(targets / AUTO_ITEMS))


def item_name(function: str, k: int, total: int, first: str, last: str) -> str:
    """The name of the k-th (0-based) of ``total`` batch items, by its first and last domain."""
    return f"{function}[{k + 1:0{len(str(total))}d}of{total}-{first}..{last}]"


def gating_text(req: requirements.Requirement, gating: Sequence[Result], total: int) -> str:
    """A failing batch's report: its gating rows (up to LISTED), then the rule and the fix."""
    lines = [f"{req.id}: {len(gating)} of {total} row(s) gate"]
    lines += [f"  {r.test} [{r.verdict}] {r.message}" for r in gating[:LISTED]]
    if len(gating) > LISTED:
        lines.append(f"  ... and {len(gating) - LISTED} more (every row: the HTML report, JSON)")
    lines.append(finding_text(req, gating[0]).split("\n", 1)[1])  # the rule and the fix
    return "\n".join(lines)


def properties(req: requirements.Requirement, rows: Sequence[Result]) -> list[tuple[str, str]]:
    """A batch item's report columns and JUnit properties."""
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in WORST}
    return [
        ("requirement", req.id),
        ("verdict", worst(rows)),
        ("profile", ", ".join(sorted({r.profile for r in rows}))),
        ("severity", ", ".join(sorted({r.severity for r in rows}))),
        ("citation", req.citation_text()),
        ("domain", f"{rows[0].domain} .. {rows[-1].domain}" if len(rows) > 1 else rows[0].domain),
        ("host", ""),
        ("ip", ""),
        ("rows", ", ".join(f"{n} {v}" for v, n in counts.items() if n)),
        ("waived", str(sum(r.waived for r in rows))),
    ]


def chunks(items: Sequence[_T], size: int) -> list[Sequence[_T]]:
    """Contiguous slices of ``size`` (the last one shorter), in order."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def argnames(function: Callable[..., object]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)


def run_row(
    state: MailtlsRun,
    function: Callable[..., object],
    names: Sequence[str],
    req: requirements.Requirement,
    target: Target,
    test: str,
) -> Result:
    """Judge one target: values first (a provider's verdict is the row's, as in a fixture),
    then the check; its exception, or none, is the verdict."""
    row = Row(state, req, target)
    when = "setup"
    verdict: Verdict
    try:
        values = {name: row.get(name) for name in names}
        when = "call"
        function(**values)
    except pytest.skip.Exception as exc:
        verdict, message = "not_applicable", str(exc.msg).removeprefix(NA_PREFIX)
    except (Exception, pytest.fail.Exception) as exc:
        verdict, message = judge_exception(exc, when)
    else:
        verdict, message = "pass", ""
    return make_result(state, test, req, target, verdict, message, row.evidence)


class BatchFindings(Exception):
    """Rows of a batch that gate (the item's failure; its report lists them)."""

    def __init__(self, rows: Sequence[Result]) -> None:
        super().__init__(f"{len(rows)} row(s) gate")
        self.rows = rows


class RowBatch(pytest.Item):
    """One requirement (one check function) on a slice of its targets."""

    def __init__(
        self,
        *,
        function: Callable[..., object],
        requirement: requirements.Requirement,
        targets: Sequence[Target],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.function = function  # the module's function: pytest's assertion rewriting applies
        self.requirement = requirement
        self.targets = targets
        self.fixturenames = argnames(function)  # what the probe planner reads
        self.rows: list[Result] = []
        for mark in getattr(function, "pytestmark", []):  # as pytest.Function takes them
            self.own_markers.append(mark)
            self.keywords[mark.name] = mark
        assert self.parent is not None
        self.row_prefix = f"{self.parent.nodeid}::{function.__name__}"

    def unknown_values(self) -> list[str]:
        return [name for name in self.fixturenames if name not in PROVIDERS]

    def judges_a_target(self) -> bool:
        """The check takes a value of the row's target (as a check's own item must)."""
        return any(
            name in PROVIDERS and name not in NOT_OF_THE_TARGET for name in self.fixturenames
        )

    def runtest(self) -> None:
        state = self.config.stash[RUN]
        for target in self.targets:
            res = run_row(
                state,
                self.function,
                self.fixturenames,
                self.requirement,
                target,
                f"{self.row_prefix}[{target.id}]",
            )
            state.results[res.test] = res
            self.rows.append(res)
        gating = [
            r
            for r in self.rows
            if gate.gates(r, strict=state.strict, allow_errors=state.allow_errors)
        ]
        if gating:
            raise BatchFindings(gating)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if not isinstance(excinfo.value, BatchFindings):
            return super().repr_failure(excinfo, style)
        return gating_text(self.requirement, excinfo.value.rows, len(self.rows))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        code = getattr(self.function, "__code__", None)
        return self.path, (code.co_firstlineno - 1) if code else None, self.name


def make_items(
    collector: pytest.Collector,
    name: str,
    function: Callable[..., object],
    req: requirements.Requirement,
    targets: Sequence[Target],
    size: int,
) -> list[RowBatch]:
    """The batch items of one check, named by their place and their first and last domain."""
    parts = chunks(targets, size)
    return [
        RowBatch.from_parent(
            collector,
            name=item_name(name, k, len(parts), part[0].domain, part[-1].domain),
            function=function,
            requirement=req,
            targets=part,
        )
        for k, part in enumerate(parts)
    ]


def worst(rows: Sequence[Result]) -> Verdict:
    seen = {r.gating_verdict for r in rows}
    return next((v for v in WORST if v in seen), "not_applicable")


def decorate(item: RowBatch, report: pytest.TestReport) -> None:
    """The batch's report: its worst verdict, counts, properties, and every finding's extra."""
    if report.when != "call" or not item.rows:
        return
    req = item.requirement
    rows = item.rows
    verdict = worst(rows)
    if report.passed and verdict == "not_applicable":
        report.outcome = "skipped"
        line = item.reportinfo()[1] or 0
        report.longrepr = (str(item.path), line, f"Skipped: {NA_PREFIX}all {len(rows)} row(s)")
    report.mailtls_verdict = verdict  # type: ignore[attr-defined]
    columns = properties(req, rows)
    report.user_properties += columns
    item.user_properties += columns
    findings = [r for r in rows if r.verdict not in ("pass", "not_applicable")]
    report_plugin.attach_findings(
        item.config, report, req, [(r.verdict, r.message, list(r.evidence)) for r in findings]
    )
