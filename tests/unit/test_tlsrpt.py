"""RFC 8460 §3 record parsing (mailtls/tlsrpt.py)."""

from __future__ import annotations

import pytest

from mailtls import tlsrpt
from mailtls.records import RecordError


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (b"v=TLSRPTv1; rua=mailto:r@example.com", True),
        (b"v=TLSRPTv1;rua=mailto:a@example.com , https://r.example.com/v1?x=1", True),
        (b"v=TLSRPTv1; rua=https://r.example.com:8443/a%2Cb", True),
        (b"v=TLSRPTv1; rua=mailto:r@example.com; ext=1;", True),
        (b"v=TLSRPTv1; rua=ftp://r.example.com", False),
        (b"v=TLSRPTv1;", False),
        (b"v=TLSRPTv1; rua=", False),
        (b"v=TLSRPTv1; RUA=mailto:r@example.com", False),  # %s"rua=": case-sensitive
        (b"v=TLSRPTv1; rua=mailto:a!b@example.com", False),
        (b"v=TLSRPTv1; rua=mailto:nobody", False),
        (b"v=TLSRPTv1; rua=mailto:a@", False),
        (b"v=TLSRPTv1; rua=https://", False),
        (b"v=TLSRPTv1; rua=https:r.example.com", False),
        (b"v=TLSRPTv1; rua=https://r.example.com/a b", False),
        (b"v=TLSRPTv1; rua=https://r.example.com/%zz", False),
        (b"v=TLSRPTv1; rua=mailto:a@b.test\xff", False),  # not US-ASCII
        (b"v=TLSRPTv1; rua=mailto:a@b.test\x00", False),  # NUL
        (b"v=TLSRPTv1; rua=mailto:a@b.test; bad ext=1", False),
        (b"v=TLSRPTv1; rua=mailto:a@b.test; ext=", False),
    ],
)
def test_grammar(value: bytes, ok: bool) -> None:
    if ok:
        assert tlsrpt.parse(value).rua
    else:
        with pytest.raises(RecordError):
            tlsrpt.parse(value)


def test_first_rua_counts_and_repeats_are_kept() -> None:
    got = tlsrpt.parse(b"v=TLSRPTv1; rua=mailto:a@b.test; rua=ftp://x; x.y=1")
    assert got.rua == ("mailto:a@b.test",) and got.repeated == ("rua",)
    assert got.extensions == (("x.y", "1"),)
