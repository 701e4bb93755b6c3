"""The result row's JSON is the evidence JSON's schema: as_json/from_json round-trip exactly."""

from __future__ import annotations

import json

import pytest

from mailtls import requirements
from mailtls.results import Result, Waiver

ROW = {
    "test": "checks/test_mx.py::test_no_implicit_mx[a.example]",
    "requirement": "MX-IMPLICIT",
    "domain": "a.example",
    "host": "mx.a.example",
    "ip": "192.0.2.1",
    "port": 25,
    "verdict": "fail",
    "message": "no MX [waived until 2099-01-01: known]",
    "profile": "nist",
    "severity": "high",
    "citation": [c.as_json() for c in requirements.get("MX-IMPLICIT").citations],
    "waived": True,
    "waiver": {"reason": "known", "expires": "2099-01-01", "expired": False},
    "evidence": ["d1", "d2"],
}


def test_json_round_trip_is_byte_identical() -> None:
    row = Result.from_json(ROW)
    assert row.waiver == Waiver("known", "2099-01-01", expired=False)
    assert row.citation == requirements.get("MX-IMPLICIT").citations
    assert json.dumps(row.as_json(str)) == json.dumps(ROW)


def test_evidence_is_resolved_and_named_back() -> None:
    seen = {"d1": {"type": "Discovery"}, "d2": {"type": "SmtpObservation"}}
    row = Result.from_json(ROW, seen.__getitem__)
    assert row.evidence == (seen["d1"], seen["d2"])
    names = {id(v): k for k, v in seen.items()}
    assert row.as_json(lambda obs: names[id(obs)])["evidence"] == ["d1", "d2"]


@pytest.mark.parametrize(
    ("key", "value"), [("verdict", "passed"), ("port", "smtp"), ("waiver", {"reason": "x"})]
)
def test_a_row_that_is_not_ours_is_refused(key: str, value: object) -> None:
    with pytest.raises((KeyError, TypeError, ValueError)):
        Result.from_json({**ROW, key: value})


def test_a_missing_field_is_refused() -> None:
    with pytest.raises(KeyError):
        Result.from_json({k: v for k, v in ROW.items() if k != "severity"})
