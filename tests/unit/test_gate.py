"""The CI gate as pure logic: what fails the run, with and without a baseline."""

from __future__ import annotations

from mailtls.gate import decide, result_key
from mailtls.results import Result
from mailtls.verdicts import Verdict


def r(
    req: str, verdict: Verdict, host: str | None = "mx.a.example", waived: bool = False
) -> Result:
    return Result(
        test=f"checks/test_x.py::test_{req}",
        requirement=req,
        domain="a.example",
        host=host,
        ip="192.0.2.1",
        port=None,
        verdict=verdict,
        message="m",
        profile="nist",
        severity="high",
        citation=(),
        waived=waived,
        waiver=None,
        evidence=(),
    )


def test_fail_gates_warn_does_not_unless_strict() -> None:
    assert (
        decide([r("A", "pass"), r("B", "warn")], strict=False, allow_errors=False).failed is False
    )
    assert decide([r("B", "warn")], strict=True, allow_errors=False).failed is True
    assert decide([r("C", "fail")], strict=False, allow_errors=False).failed is True


def test_waived_failure_does_not_gate() -> None:
    assert decide([r("C", "fail", waived=True)], strict=False, allow_errors=False).failed is False


def test_error_gates_unless_allowed() -> None:
    assert decide([r("E", "error")], strict=False, allow_errors=False).failed is True
    assert decide([r("E", "error")], strict=False, allow_errors=True).failed is False


def test_baseline_only_regressions_gate() -> None:
    before = {
        result_key(r("A", "pass")): "pass",
        result_key(r("B", "fail")): "fail",
        result_key(r("C", "fail")): "fail",
    }
    same = decide(
        [r("A", "pass"), r("B", "fail"), r("C", "pass")],
        strict=False,
        allow_errors=False,
        baseline=before,
    )
    assert not same.failed
    assert len(same.unchanged) == 1 and len(same.improvements) == 1
    worse = decide(
        [r("A", "fail"), r("B", "fail")], strict=False, allow_errors=False, baseline=before
    )
    assert worse.failed and worse.regressions[0].startswith("A a.example mx.a.example")
    assert "(was pass)" in worse.regressions[0]


def test_new_failing_result_is_a_regression() -> None:
    d = decide(
        [r("A", "fail", host="mx9.a.example")],
        strict=False,
        allow_errors=False,
        baseline={result_key(r("A", "pass")): "pass"},
    )
    assert d.failed and "(new)" in d.regressions[0]
