"""The SPF parser (RFC 7208): record selection, the term grammar, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtls import spf
from mailtls.spf import Mechanism, Modifier, SpfError


@pytest.mark.parametrize(
    ("records", "want"),
    [
        (['"v=spf1 -all"'], ["v=spf1 -all"]),
        (['"V=SPF1 -all"'], ["V=SPF1 -all"]),  # the version tag is case-insensitive
        (['"v=spf1"'], ["v=spf1"]),  # followed by the end
        (['"v=spf10 -all"', '"v=spf1x"'], []),
        (['"v=spf1 " "-all"'], ["v=spf1 -all"]),  # strings joined without separators
        (['"v=spf1" "-all"'], []),  # ... so this is "v=spf1-all": not SPF
        (['"v=STSv1; id=1"', '"spf1 -all"', '" v=spf1 -all"'], []),
    ],
)
def test_select(records: list[str], want: list[str]) -> None:
    assert spf.select(records) == want


def test_terms_are_parsed_with_their_arguments() -> None:
    rec = spf.parse(
        "v=spf1 a/24//64 -mx:mail.example.com ~ip4:192.0.2.0/24 ip6:2001:db8::/32 "
        "?exists:%{i}._spf.example.com include:_spf.example.net redirect=other.example.org "
        "exp=explain.%{d} foo=bar"
    )
    assert rec.terms[0] == Mechanism("+", "a", None, cidr4=24, cidr6=64)
    assert rec.terms[1] == Mechanism("-", "mx", "mail.example.com")
    assert rec.terms[2] == Mechanism("~", "ip4", network="192.0.2.0", cidr4=24)
    assert rec.terms[3] == Mechanism("+", "ip6", network="2001:db8::", cidr6=32)
    assert rec.terms[-1] == Modifier("foo", "bar")  # unknown modifiers are kept and ignored
    assert rec.lookup_terms == 5  # a, mx, exists, include, redirect
    assert rec.redirect == "other.example.org" and rec.all is None


def test_redirect_is_ignored_when_the_record_has_all() -> None:
    rec = spf.parse("v=spf1 redirect=x.example.com -all")
    assert rec.redirect is None and str(rec.all) == "-all"


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1 foo:bar.example.com",  # unknown mechanism
        "v=spf1 ip4:192.0.2.0/33",  # bad CIDR length
        "v=spf1 ip4:192.0.2.0/024",  # leading zero
        "v=spf1 ip6:2001:db8::/129",
        "v=spf1 a//129",
        "v=spf1 ip4:192.0.2",  # bad IP literal
        "v=spf1 ip4:01.2.3.4",
        "v=spf1 ip6:2001:db8::g",
        "v=spf1 ip6:fe80::1%eth0",
        "v=spf1 exists:%{z}.example.com",  # invalid macro letter
        "v=spf1 exists:%{c}.example.com",  # c/r/t only in explanation text
        "v=spf1 include:%{d",  # unterminated macro
        "v=spf1 include:50%.example.com",  # lone percent
        "v=spf1 redirect=a.example.com redirect=b.example.com",  # modifier given twice
        "v=spf1 exp=a.example.com exp=b.example.com",
        "v=spf1 include",  # include needs a domain
        "v=spf1 include:com",  # no top label after a dot
        "v=spf1 include:example.123",  # numeric top label
        "v=spf1 include:%{l1r-}example.com%{ir}%{d}.",  # the top label holds macros
        "v=spf1 exp=%{l1r-}ip6:%%{d}",  # "%%" then a literal "{d}": no domain-end
        "v=spf1 all:example.com",
        "v=spf1 -redirect=x.example.com",  # qualifier on a modifier
        "v=spf1 ptr/24",
        "v=spf1 +",
        "v=spf1 -all\u00e9",
        "v=spf10",
    ],
)
def test_permerrors(record: str) -> None:
    with pytest.raises(SpfError):
        spf.parse(record)


@pytest.mark.parametrize(
    "record",
    [
        "v=spf1",
        "v=spf1 -all   ",  # trailing spaces
        "v=spf1  ip4:192.0.2.1   -all",  # several spaces between terms
        "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}",
        "v=spf1 include:example.com. -all",  # trailing dot
        "v=spf1 a:%{d} mx:%-%%%_.example.com",
        "V=SPF1 INCLUDE:EXAMPLE.COM -ALL",
    ],
)
def test_valid_records(record: str) -> None:
    spf.parse(record)


def test_only_fail_all() -> None:
    assert spf.parse("v=spf1 -all").only_fail_all
    assert spf.parse("V=SPF1  -ALL ").only_fail_all
    assert not spf.parse("v=spf1 ip4:192.0.2.1 -all").only_fail_all
    assert not spf.parse("v=spf1 ~all").only_fail_all


_TERM_PARTS = st.sampled_from(
    [
        "all",
        "include:",
        "a",
        "mx",
        "ptr",
        "ip4:",
        "ip6:",
        "exists:",
        "redirect=",
        "exp=",
        "example.com",
        "%{d}",
        "%{ir}",
        "/24",
        "//64",
        "192.0.2.1",
        "2001:db8::1",
        "-",
        "~",
        "?",
        "+",
        ":",
        "=",
        "%",
        ".",
        "x",
        " ",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_TERM_PARTS, max_size=12).map("".join), st.text(max_size=40))
def test_fuzz_raises_only_spf_error(terms: str, noise: str) -> None:
    for text in ("v=spf1 " + terms, "v=spf1 " + terms + noise, noise):
        try:
            rec = spf.parse(text)
        except SpfError:
            continue
        # Round trip: the canonical text parses to the same terms.
        assert spf.parse(str(rec)) == rec


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=3))
def test_fuzz_select(strings: list[str]) -> None:
    quoted = " ".join('"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"' for s in strings)
    for value in spf.select([quoted, "garbage \\", '"unterminated']):
        assert spf.is_spf(value)


# pyspf (RFC 7208's reference implementation in Python, PSF license, a dev dependency only) as an
# oracle for the grammar: it validates every term before evaluating, so "?all" first means no DNS.
_ORACLE_PARTS = [
    "all",
    "include:",
    "a",
    "mx",
    "ptr",
    "ip4:",
    "ip6:",
    "exists:",
    "redirect=",
    "exp=",
    "example.com",
    "%{d}",
    "%{ir}",
    "%{z}",
    "/24",
    "//64",
    "/33",
    "192.0.2.1",
    "2001:db8::1",
    "-",
    "~",
    "?",
    "+",
    ":",
    "=",
    "%",
    ".",
    "x",
    " ",
    "com",
    "%{l1r-}",
    "foo=",
    "_spf.",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_ORACLE_PARTS), min_size=1, max_size=8).map("".join))
def test_grammar_agrees_with_pyspf(terms: str) -> None:
    pyspf = pytest.importorskip("spf")
    record = "v=spf1 ?all " + terms
    query = pyspf.query(i="192.0.2.1", s="x@example.com", h="example.com", strict=True)
    result, _code, text = query.check(spf=record)
    if "trivial recursion" in text:  # pyspf's own heuristic (include:%{d}), not the grammar
        return
    if any(t.endswith(("%%", "%_", "%-")) for t in record.split()):
        return  # the ABNF lets these end a domain-spec (macro-expand); pyspf refuses them
    try:
        spf.parse(record)
        ours = "ok"
    except SpfError as exc:
        ours = f"permerror: {exc}"
    assert (ours == "ok") == (result != "permerror"), (record, ours, result, text)
