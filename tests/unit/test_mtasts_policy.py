"""RFC 8461 record and policy parsing, MX matching and the effective policy (mailtls/mtasts.py)."""

from __future__ import annotations

import pytest

from mailtls.mtasts import (
    covering,
    effective_policy,
    mx_matches,
    parse_policy,
    parse_record,
)
from mailtls.observations import Discovery, DnsAnswer, PolicyFetch
from mailtls.records import RecordError

GOOD = b"version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"


def test_valid_policy_crlf_and_lf() -> None:
    for text in (GOOD, GOOD.replace(b"\r\n", b"\n"), GOOD.rstrip(b"\r\n")):
        p = parse_policy(text)
        assert p.valid, p.errors
        assert (p.version, p.mode, p.max_age) == ("STSv1", "enforce", 604800)
        assert p.mx == ("mail.example.com", "*.example.net")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"mode: none\nmax_age: 1\n", "version is missing"),
        (GOOD.replace(b"enforce", b"on"), "not enforce"),
        (GOOD.replace(b"enforce", b"Enforce"), "not enforce"),  # %s: case-sensitive
        (GOOD.replace(b"604800", b"-1"), "max_age"),
        (GOOD.replace(b"604800", b"31557601"), "above the maximum"),
        (GOOD.replace(b"604800", b"12345678901"), "1-10 digits"),
        (b"version: STSv1\nmode: testing\nmax_age: 9\n", "no mx line"),
        (GOOD + b"garbage\r\n", "not 'key: value'"),
        (GOOD + b" mx: x.test\r\n", "not 'key: value'"),  # no leading space
        (GOOD + b"mx : x.test\r\n", "not 'key: value'"),  # no space before ':'
        (GOOD + b"\r\n", "not 'key: value'"),  # an empty line is not in the ABNF
        (GOOD.replace(b"\r\n", b"\r"), "not 'key: value'"),  # CR alone is no line end
        (GOOD.replace(b"mail.example.com", b"*.*.x"), "mx pattern"),
        (GOOD.replace(b"mail.example.com", b"mail.example.com."), "mx pattern"),
        (GOOD.replace(b"mail.example.com", b"-a.example.com"), "mx pattern"),
        (GOOD + b"ext: \xff\xfe\r\n", "not UTF-8"),
        (GOOD + b"ext: a\x00b\r\n", "not 'key: value'"),
    ],
)
def test_each_problem_is_named(body: bytes, named: str) -> None:
    p = parse_policy(body)
    assert not p.valid and any(named in e for e in p.errors), p.errors


def test_repeated_keys_first_wins_unknown_keys_ignored() -> None:
    p = parse_policy(GOOD + b"mode: testing\r\nextension_key: 1 2\r\n")
    assert p.valid and p.mode == "enforce" and p.repeated == ("mode",)
    assert "extension_key" in p.ignored
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 9\nx: grüße\n".encode()).valid


def test_record_grammar() -> None:
    assert parse_record(b"v=STSv1; id=20250101T000000").id == "20250101T000000"
    assert parse_record(b"v=STSv1;id=a1; ext.x=ok;").extensions == (("ext.x", "ok"),)
    for bad in (
        b"v=STSv1; id=a-b",
        b"v=STSv1; id=" + b"a" * 33,
        b"v=STSv1;",
        b"v=STSv1; id=1; bad ext=x",
        b"v=STSv1; id=1\xff",
        b"v=STSv1; id=1\x00",
    ):
        with pytest.raises(RecordError):
            parse_record(bad)


def test_wildcard_covers_exactly_one_label() -> None:
    assert mx_matches("*.example.net", "mx1.example.net")
    assert not mx_matches("*.example.net", "a.b.example.net")
    assert not mx_matches("*.example.net", "example.net")
    assert mx_matches("Mail.Example.com.", "mail.example.com")
    assert not mx_matches("mail.example.com", "mail.example.com.evil")
    assert covering(("a.test", "*.b.test"), "x.b.test") == "*.b.test"
    assert covering(("a.test",), "b.test") is None


def _discovery(*txt: str) -> Discovery:
    mx = DnsAnswer("d.test", "MX", "ok", "NOERROR", ("10 mx.d.test.",), 60, False, "r")
    sts = DnsAnswer("_mta-sts.d.test", "TXT", "ok", "NOERROR", txt, 60, False, "r")
    return Discovery("d.test", "mx", mx, mta_sts_txt=sts)  # type: ignore[arg-type]


def _fetch(body: bytes = GOOD, **kw: object) -> PolicyFetch:
    base: dict[str, object] = {
        "status": 200, "headers": (("Content-Type", "text/plain"),), "body": body,
        "stop_kind": "end",
    }  # fmt: skip
    base.update(kw)
    return PolicyFetch("d.test", "mta-sts.d.test", "u", "t", **base)  # type: ignore[arg-type]


def test_effective_policy_follows_every_step() -> None:
    one = '"v=STSv1; id=1"'
    assert effective_policy(_discovery(one), _fetch()).state == "usable"
    for d, f in [
        (_discovery(one, '"v=STSv1; id=2"'), _fetch()),  # two records: no policy
        (_discovery('"v=STSv1; id=-"'), _fetch()),
        (_discovery(one), _fetch(failure_kind="too_large", stop_kind="limit")),
        (_discovery(one), _fetch(failure_kind="timeout", stop_kind="deadline")),
        (_discovery(one), _fetch(status=301)),
        (_discovery(one), _fetch(headers=(("Content-Type", "text/html"),))),
        (_discovery(one), _fetch(body=GOOD + b"\xff")),
    ]:
        eff = effective_policy(d, f)
        assert eff.state == "none" and eff.policy is None, (d, f)
