"""The SPF walk's bookkeeping (counts, loops, voids, the query bound, redirect for the final
all) on answers given as data. The same walk runs against the real testbed in tests/e2e."""

from __future__ import annotations

from mailtls.probes import spfwalk
from tests.support.zonedata import ZoneData


def _txt(text: str) -> list[str]:
    return [f'"{text}"']


def test_counts_through_includes_and_redirect() -> None:
    zone = ZoneData(
        {
            ("d.example", "TXT"): _txt("v=spf1 a mx include:i.example redirect=r.example"),
            ("d.example", "A"): ["192.0.2.1"],
            ("d.example", "MX"): ["10 mx.d.example."],
            ("i.example", "TXT"): _txt("v=spf1 exists:e.example -all"),
            ("r.example", "TXT"): _txt("v=spf1 ptr ~all"),
        }
    )
    walk = spfwalk.evaluate_spf(zone, "d.example")  # type: ignore[arg-type]
    assert walk.lookups == 6  # a, mx, include, exists, redirect, ptr
    assert walk.voids == 1  # exists:e.example found nothing
    assert (walk.all_term, walk.all_source) == ("~all", "r.example")  # include's -all is not it
    assert walk.ptr_terms and not walk.permerrors and not walk.loops


def test_loop_and_query_bound() -> None:
    chain = {(f"n{i}.example", "TXT"): _txt(f"v=spf1 include:n{i + 1}.example") for i in range(30)}
    chain[("n5.example", "TXT")] = _txt("v=spf1 include:n0.example include:n6.example")
    zone = ZoneData(chain)
    walk = spfwalk.evaluate_spf(zone, "n0.example")  # type: ignore[arg-type]
    assert walk.loops == (
        "n0.example -> n1.example -> n2.example -> n3.example -> n4.example "
        "-> n5.example -> n0.example",
    )
    assert walk.lookups > spfwalk.LOOKUP_LIMIT
    assert len(zone.asked) == walk.queries <= spfwalk.MAX_QUERIES


def test_failed_include_is_named_never_a_missing_record() -> None:
    zone = ZoneData(
        {
            ("d.example", "TXT"): _txt("v=spf1 include:bad.example -all"),
            ("bad.example", "TXT"): "SERVFAIL",
        }
    )
    walk = spfwalk.evaluate_spf(zone, "d.example")  # type: ignore[arg-type]
    assert walk.record_failures and "bad.example TXT: SERVFAIL" in walk.record_failures[0]
    assert not walk.permerrors and walk.voids == 0
