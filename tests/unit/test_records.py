"""MTA-STS and TLS-RPT TXT records: selection, grammar, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailtls import records


def test_strings_are_joined_and_versions_filtered() -> None:
    got = records.select(['"v=STSv1; " "id=abc"', '"v=spf1 -all"', '"v=STSv10; id=x"'], "STSv1")
    assert got == ["v=STSv1; id=abc"]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("v=STSv1; id=20250101T000000", True),
        ("v=STSv1;id=a1", True),
        ("v=STSv1; id=a-b", False),
        ("v=STSv1; id=" + "a" * 33, False),
        ("v=STSv1;", False),
        ("id=1; v=STSv1", False),
        ("v=STSv1; id=1; ext=ok", True),
        ("v=STSv1; id=1; bad ext=x", False),
    ],
)
def test_sts_grammar(value: str, ok: bool) -> None:
    if ok:
        records.parse_sts(value)
    else:
        with pytest.raises(records.RecordError):
            records.parse_sts(value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("v=TLSRPTv1; rua=mailto:r@example.com", True),
        ("v=TLSRPTv1; rua=mailto:a@example.com, https://r.example.com/v1", True),
        ("v=TLSRPTv1; rua=ftp://r.example.com", False),
        ("v=TLSRPTv1;", False),
        ("v=TLSRPTv1; rua=mailto:a!b@example.com", False),
        ("v=TLSRPTv1; rua=mailto:nobody", False),
    ],
)
def test_tlsrpt_grammar(value: str, ok: bool) -> None:
    if ok:
        assert records.parse_tlsrpt(value).rua
    else:
        with pytest.raises(records.RecordError):
            records.parse_tlsrpt(value)


@given(st.text(max_size=300))
def test_parsers_only_raise_their_own_error(value: str) -> None:
    for parse in (records.parse_sts, records.parse_tlsrpt):
        try:
            parse(value)
        except records.RecordError:
            pass
