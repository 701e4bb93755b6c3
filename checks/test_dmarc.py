"""DMARC (RFC 7489): what do receivers do with mail that fails SPF and DKIM for this domain?

Policy discovery (RFC 7489 §6.6.3) is :func:`mailtls.probes.senderauth.lookup_dmarc`: the
domain's own ``_dmarc`` record, else its organizational domain's (Public Suffix List).
"""

import pytest

from mailtls.authobs import DmarcLookup
from mailtls.dmarc import DmarcRecord
from mailtls.inventory import Domain
from mailtls.requirements import Requirement
from mailtls.verdicts import inconclusive, judge, not_applicable, warn


def _where(d: DmarcLookup) -> str:
    if d.subdomain:
        return f"{d.found_at} (inherited from the organizational domain {d.organizational_domain})"
    return str(d.found_at)


def _record(d: DmarcLookup) -> DmarcRecord:
    if d.failure:
        inconclusive(f"{d.domain}: the DMARC lookup failed: {d.failure}")
    if d.record is None:
        not_applicable(f"{d.domain}: no valid DMARC record (see DMARC-UNIQUE and DMARC-SYNTAX)")
    return d.record


@pytest.mark.requirement("DMARC-UNIQUE")
def test_one_dmarc_record(dmarc: DmarcLookup) -> None:
    """Exactly one ``v=DMARC1`` record applies: at ``_dmarc.<domain>``, or when there is none,
    at the organizational domain (RFC 7489 §6.6.3)."""
    d = dmarc
    if d.failure:
        inconclusive(f"{d.domain}: the DMARC lookup failed: {d.failure}")
    asked = " and ".join(a.describe() for a in d.answers)
    assert d.records, f"{d.domain}: no DMARC record ({asked}): receivers apply no DMARC policy"
    assert len(d.records) == 1, (
        f"{d.domain}: {len(d.records)} DMARC records at {_where(d)}: receivers apply no DMARC"
    )


@pytest.mark.requirement("DMARC-SYNTAX")
def test_dmarc_syntax(dmarc: DmarcLookup) -> None:
    """``v=DMARC1`` is the first tag, ``p=`` is valid, and so is every other known tag."""
    d = dmarc
    if d.failure:
        inconclusive(f"{d.domain}: the DMARC lookup failed: {d.failure}")
    misplaced = [t for t in d.discarded if "DMARC1" in t.upper()]
    assert not misplaced, (
        f"{d.domain}: _dmarc.{d.domain} has {misplaced[0]!r}, which receivers discard: "
        "v=DMARC1 must be the first tag"
    )
    if len(d.records) != 1:
        not_applicable(f"{d.domain}: {len(d.records)} DMARC records (see DMARC-UNIQUE)")
    assert d.parse_error is None, (
        f"{d.domain}: invalid DMARC record at {_where(d)}: {d.parse_error}"
    )


@pytest.mark.requirement("DMARC-ENFORCE")
def test_dmarc_enforces(
    dmarc: DmarcLookup, domain_settings: Domain, profile: str, requirement: Requirement
) -> None:
    """The policy that applies (``p=``, or ``sp=`` for a subdomain using its organizational
    domain's record) is quarantine or reject; reject for a parked domain."""
    d = dmarc
    policy = _record(d).policy_for(d.subdomain)
    tag = "sp" if d.subdomain and _record(d).subdomain_policy is not None else "p"
    found = f"{tag}={policy} at {_where(d)}"
    assert policy != "none", f"{d.domain}: DMARC {found}: spoofed mail is delivered"
    assert domain_settings.sends_mail or policy == "reject", (
        f"{d.domain} is parked (sends_mail: false) but DMARC {found}; publish p=reject"
    )
    if policy == "quarantine":
        judge(requirement.param(profile, "quarantine", "pass"), f"{d.domain}: DMARC {found}")


@pytest.mark.requirement("DMARC-SP")
def test_dmarc_subdomain_policy(dmarc: DmarcLookup) -> None:
    """``sp=``, when present, is not none."""
    d = dmarc
    if _record(d).subdomain_policy == "none":
        warn(f"{d.domain}: sp=none at {_where(d)}: subdomains can be spoofed")


@pytest.mark.requirement("DMARC-PCT")
def test_dmarc_pct(dmarc: DmarcLookup) -> None:
    """``pct=`` is absent or 100: the policy applies to all failing mail."""
    d = dmarc
    pct = _record(d).pct
    if pct != 100:
        warn(f"{d.domain}: pct={pct} at {_where(d)}: the policy applies to {pct}% of failing mail")


@pytest.mark.requirement("DMARC-RUA")
def test_dmarc_rua(dmarc: DmarcLookup) -> None:
    """``rua=`` names at least one ``mailto:`` address for aggregate reports."""
    d = dmarc
    record = _record(d)
    if not record.rua_mailto:
        seen = ", ".join(record.rua) or "no rua= tag"
        warn(f"{d.domain}: no mailto: aggregate-report address at {_where(d)} ({seen})")
