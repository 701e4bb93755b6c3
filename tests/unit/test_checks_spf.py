"""The SPF checks as observation in, verdict out: the SPF walk runs over answers given as data
(tests/support/zonedata.py), and the check judges what it found."""

from __future__ import annotations

from typing import Any

import pytest

from mailtls.probes import spfwalk
from tests.support.verdict import Verdict, assert_verdict, case_ids, check_module
from tests.support.zonedata import ZoneData

SPF = check_module("test_spf")


def _spf(data: dict[tuple[str, str], Any]) -> object:
    return spfwalk.evaluate_spf(ZoneData(data), "d.example")  # type: ignore[arg-type]


CASES: list[tuple[Any, dict[tuple[str, str], Any], Verdict, str]] = [
    # SPF-NO-PTR: ptr in the record or in what it includes warns; a record it reaches that
    # could not be fetched leaves the question open.
    (SPF.test_spf_no_ptr, {("d.example", "TXT"): ['"v=spf1 mx -all"']}, "pass", ""),
    (SPF.test_spf_no_ptr, {("d.example", "TXT"): ['"v=spf1 ptr -all"']}, "warn", "uses ptr"),
    (
        SPF.test_spf_no_ptr,
        {
            ("d.example", "TXT"): ['"v=spf1 include:i.example -all"'],
            ("i.example", "TXT"): ['"v=spf1 ptr:d.example ~all"'],
        },
        "warn",
        "i.example",
    ),
    (
        SPF.test_spf_no_ptr,
        {
            ("d.example", "TXT"): ['"v=spf1 include:i.example -all"'],
            ("i.example", "TXT"): "SERVFAIL",
        },
        "error",
        "could not be fetched",
    ),
]


@pytest.mark.parametrize(("check", "zone", "verdict", "phrase"), CASES, ids=case_ids(CASES))
def test_spf_checks(
    check: Any, zone: dict[tuple[str, str], Any], verdict: Verdict, phrase: str
) -> None:
    assert_verdict(check, {"spf": _spf(zone)}, verdict, phrase)
