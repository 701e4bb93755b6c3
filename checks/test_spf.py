"""SPF (RFC 7208): may receivers tell which servers send mail as this domain?

The record and its include/redirect tree come from :mod:`mailtls.probes.spfwalk`; a failed DNS
query is an error naming the query, never "no record".
"""

import pytest

from mailtls.authobs import SpfEvaluation
from mailtls.inventory import Domain
from mailtls.observations import Discovery
from mailtls.requirements import Requirement
from mailtls.spf import SpfRecord
from mailtls.verdicts import inconclusive, judge, not_applicable, warn


def _record(s: SpfEvaluation) -> SpfRecord:
    """The domain's single SPF record, or the verdict that makes the question moot."""
    if s.root_failure:
        inconclusive(f"{s.domain}: the SPF lookup failed: {s.root_failure}")
    if s.record_count != 1:
        not_applicable(f"{s.domain} has {s.record_count} SPF records (see SPF-UNIQUE)")
    if s.root.record is None:
        not_applicable(f"{s.domain}: its SPF record does not parse (see SPF-SYNTAX)")
    return s.root.record


@pytest.mark.requirement("SPF-UNIQUE")
def test_one_spf_record(spf: SpfEvaluation) -> None:
    """Exactly one TXT record at the domain starts with ``v=spf1`` (RFC 7208 §4.5)."""
    s = spf
    if s.root_failure:
        inconclusive(f"{s.domain}: the SPF lookup failed: {s.root_failure}")
    assert s.record_count, (
        f"{s.domain}: no TXT record starting with 'v=spf1' "
        f"({s.root.answer.describe() if s.root.answer else 'not asked'}): anyone may send as it"
    )
    assert s.record_count == 1, (
        f"{s.domain}: {s.record_count} SPF records ({' | '.join(s.root.records)}): receivers "
        "return permerror"
    )


@pytest.mark.requirement("SPF-SYNTAX")
def test_spf_syntax(spf: SpfEvaluation) -> None:
    """The SPF record and every record reached through include/redirect parse (RFC 7208 ABNF)."""
    s = spf
    if s.root_failure:
        inconclusive(f"{s.domain}: the SPF lookup failed: {s.root_failure}")
    if s.record_count != 1:
        not_applicable(f"{s.domain} has {s.record_count} SPF records (see SPF-UNIQUE)")
    assert not s.permerrors and s.root.record is not None, (
        f"{s.domain}: SPF permerror: {'; '.join(s.permerrors)}"
    )
    if s.record_failures or s.stopped:
        cause = "; ".join([*s.record_failures, *([s.stopped] if s.stopped else [])])
        inconclusive(f"{s.domain}: records it reaches could not be fetched: {cause}")


@pytest.mark.requirement("SPF-LOOKUPS")
def test_spf_lookup_limit(spf: SpfEvaluation, profile: str, requirement: Requirement) -> None:
    """Evaluating the record costs at most 10 DNS-querying terms and 2 void lookups, without
    loops (RFC 7208 §4.6.4)."""
    s = spf
    _record(s)
    problems = [f"{s.lookups} DNS-querying terms (limit 10)"] if s.lookups > 10 else []
    problems += [f"include/redirect loop {loop}" for loop in s.loops]
    problems += [f"{s.voids} void lookups (limit 2)"] if s.voids > 2 else []
    problems += list(s.mx_overflow)
    assert not problems, f"{s.domain}: SPF permerror: {'; '.join(problems)}"
    if s.dns_failures or s.stopped:
        cause = "; ".join([*s.dns_failures, *([s.stopped] if s.stopped else [])])
        inconclusive(f"{s.domain}: the SPF lookups could not all be made: {cause}")
    if s.lookups > 8:
        judge(
            requirement.param(profile, "close", "warn"),
            f"{s.domain}: {s.lookups} DNS-querying terms: close to the limit of 10",
        )


@pytest.mark.requirement("SPF-ALL")
def test_spf_all(spf: SpfEvaluation) -> None:
    """The record ends with ``-all`` (or ``~all``), directly or through redirect; an include is
    never the final all."""
    s = spf
    _record(s)
    if s.all_problem is not None:
        if s.all_problem_kind in ("dns", "not_followed"):
            inconclusive(f"{s.domain}: the redirect target could not be fetched: {s.all_problem}")
        raise AssertionError(f"{s.domain}: the redirect gives no SPF answer: {s.all_problem}")
    where = f" (in the record of {s.all_source})" if s.all_source != s.domain else ""
    assert s.all_term is not None, (
        f"{s.domain}: the SPF record has no 'all' term (nor a redirect to one): mail from "
        "unlisted servers gets 'neutral'"
    )
    assert s.all_term in ("-all", "~all"), (
        f"{s.domain}: the SPF record ends with {s.all_term}{where}: unlisted servers are not "
        "rejected"
    )
    if s.all_term == "~all":
        warn(f"{s.domain}: the SPF record ends with ~all{where} (softfail); -all protects more")


@pytest.mark.requirement("SPF-NONSENDING")
def test_parked_domain_spf(
    spf: SpfEvaluation, discovery: Discovery, domain_settings: Domain
) -> None:
    """A domain that sends no mail (``sends_mail: false``) publishes exactly ``v=spf1 -all``.

    Its MX discovery is evidence too: a parked domain should also publish a null MX (RFC 7505).
    """
    s = spf
    if domain_settings.sends_mail:
        not_applicable(f"{s.domain} sends mail (the inventory does not say sends_mail: false)")
    if s.root_failure:
        inconclusive(f"{s.domain}: the SPF lookup failed: {s.root_failure}")
    mx = "" if discovery.kind == "null" else " (it publishes no null MX either)"
    assert s.record_count == 1, (
        f"{s.domain} is parked but has {s.record_count} SPF records; publish 'v=spf1 -all'{mx}"
    )
    record = s.root.record
    assert record is not None and record.only_fail_all, (
        f"{s.domain} is parked, but its SPF record is {s.root.records[0]!r}, not 'v=spf1 -all'{mx}"
    )


@pytest.mark.requirement("SPF-NO-PTR")
def test_spf_no_ptr(spf: SpfEvaluation) -> None:
    """No ``ptr`` mechanism in the record or the records it includes (RFC 7208 §5.5)."""
    s = spf
    _record(s)
    if s.ptr_terms:
        warn(f"{s.domain}: SPF uses ptr: {'; '.join(s.ptr_terms)}")
    if s.record_failures or s.stopped:
        cause = "; ".join([*s.record_failures, *([s.stopped] if s.stopped else [])])
        inconclusive(f"{s.domain}: records it reaches could not be fetched: {cause}")
