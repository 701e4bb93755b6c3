"""RFC 8461 policy parsing and MX matching (mailtls/mtasts.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mailtls.mtasts import covering, mx_matches, parse_policy

GOOD = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"


def test_valid_policy_crlf_and_lf() -> None:
    for text in (GOOD, GOOD.replace("\r\n", "\n")):
        p = parse_policy(text)
        assert p.valid, p.errors
        assert (p.version, p.mode, p.max_age) == ("STSv1", "enforce", 604800)
        assert p.mx == ("mail.example.com", "*.example.net")


def test_each_problem_is_named() -> None:
    assert "version is missing" in parse_policy("mode: none\nmax_age: 1\n").errors
    assert any("not enforce" in e for e in parse_policy(GOOD.replace("enforce", "on")).errors)
    assert any("max_age" in e for e in parse_policy(GOOD.replace("604800", "-1")).errors)
    assert any(
        "no mx line" in e
        for e in parse_policy("version: STSv1\nmode: testing\nmax_age: 9\n").errors
    )
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 9\n").valid  # mx optional for none
    assert any("appears 2 times" in e for e in parse_policy(GOOD + "mode: testing\r\n").errors)
    assert any("not 'key: value'" in e for e in parse_policy(GOOD + "garbage\r\n").errors)
    assert any(
        "mx pattern" in e for e in parse_policy(GOOD.replace("mail.example.com", "*.*.x")).errors
    )


def test_unknown_keys_are_ignored_but_kept() -> None:
    p = parse_policy(GOOD + "extension_key: 1\r\n")
    assert p.valid and p.ignored == ("extension_key",)


def test_wildcard_covers_exactly_one_label() -> None:
    assert mx_matches("*.example.net", "mx1.example.net")
    assert not mx_matches("*.example.net", "a.b.example.net")
    assert not mx_matches("*.example.net", "example.net")
    assert mx_matches("Mail.Example.com.", "mail.example.com")
    assert not mx_matches("mail.example.com", "mail.example.com.evil")
    assert covering(("a.test", "*.b.test"), "x.b.test") == "*.b.test"
    assert covering(("a.test",), "b.test") is None


@given(st.text(max_size=400))
def test_parser_never_raises(text: str) -> None:
    p = parse_policy(text)
    assert p.valid == (not p.errors)
