"""What the TXT-record standards share (mailtls/records.py): joining, selection by version tag,
strict decoding with escaped evidence."""

from __future__ import annotations

import pytest

from mailtls import mtasts, records, tlsrpt


def test_strings_are_joined_and_versions_filtered() -> None:
    got = records.select(
        ['"v=STSv1; " "id=abc"', '"v=spf1 -all"', '"v=STSv10; id=x"', '"v=STSv1"'], mtasts.TAG
    )
    assert got == [b"v=STSv1; id=abc"]


@pytest.mark.parametrize(
    ("record", "kept"),
    [
        ('"v=STSv1;id=1"', True),
        ('"v=STSv1 ; id=1"', True),  # the ABNF's *WSP before ';' (erratum 6285's subject)
        ('"v=STSv1"', False),  # does not begin with v=STSv1;
        ('"V=STSv1; id=1"', False),  # %s: case-sensitive
        ('" v=STSv1; id=1"', False),
        ('"v=STSv1x; id=1"', False),
    ],
)
def test_version_tag_syntax(record: str, kept: bool) -> None:
    assert bool(records.select([record], mtasts.TAG)) is kept


def test_raw_bytes_survive_selection_and_are_shown_escaped() -> None:
    got = records.select([r'"v=TLSRPTv1; rua=mailto:a@b.test\255\000"'], tlsrpt.TAG)
    assert got == [b"v=TLSRPTv1; rua=mailto:a@b.test\xff\x00"]
    with pytest.raises(records.RecordError) as err:
        records.decode(got[0])
    assert "\\xff\\x00" in str(err.value) and "0xff" in str(err.value)
    assert records.escape(b"a\\b\x00\x7f") == "a\\x5cb\\x00\\x7f"


def test_fields_follow_the_delimiter_grammar() -> None:
    assert records.fields("v=STSv1 ;\tid=1;") == [("v", "STSv1"), ("id", "1")]
    with pytest.raises(records.RecordError):
        records.fields("v=STSv1; id")
