"""DANE for SMTP (RFC 7672): DNSSEC-secure TLSA records at _25._tcp.<mx> that match the chain.

DANE protects a sender from a STARTTLS downgrade and from a forged certificate, but only when
the TLSA records are DNSSEC-secure and match what the MX really serves. Matching reuses the
chain of the SMTP session: no check here opens a connection of its own.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

from mailtls import certs
from mailtls.dane import DaneAssessment, RecordMatch
from mailtls.observations import DnsAnswer, SmtpObservation
from mailtls.verdicts import fail, inconclusive, not_applicable, present, warn


def _secure_records(d: DaneAssessment) -> None:
    if not d.secure_rrset:
        not_applicable(f"{d.owner}: no DNSSEC-secure TLSA RRset (see DANE-TLSA-PRESENT)")


def _chain(d: DaneAssessment, smtp: SmtpObservation) -> None:
    """A chain to match, or the verdict its absence calls for. With usable DNSSEC-secure TLSA
    records TLS is mandatory (RFC 7672, subsection unconfirmed): a DANE sender defers the mail
    when the MX offers no STARTTLS or refuses the handshake, so that is a fail, not an error."""
    if d.chain_len:
        return
    if smtp.ehlo is not None and smtp.ehlo.code == 250 and not smtp.starttls_offered:
        fail(
            f"{smtp.endpoint}: usable TLSA records make TLS mandatory, but the MX does not offer "
            "STARTTLS: DANE senders defer the mail (see SMTP-STARTTLS-OFFERED)"
        )
    f = smtp.failure
    if f is not None and f.kind == "tls_refused":
        fail(
            f"{smtp.endpoint}: usable TLSA records make TLS mandatory, but the MX refuses the TLS "
            f"handshake ({f.message}): DANE senders defer the mail (see SMTP-STARTTLS-HANDSHAKE)"
        )
    cause = smtp.tls_error or (f.message if f else "no TLS session")
    inconclusive(f"{smtp.endpoint}: no certificate chain to match the TLSA records: {cause}")


def _looked_up(dane: DaneAssessment) -> DnsAnswer:
    """The TLSA answer, or an error verdict when there is none to judge."""
    tlsa = present(dane.tlsa, f"{dane.owner}: the TLSA lookup")
    if tlsa.failed:
        inconclusive(f"{dane.owner}: TLSA lookup failed: {tlsa.describe()}")
    return tlsa


@pytest.mark.requirement("DANE-TLSA-PRESENT")
def test_tlsa_present(dane: DaneAssessment) -> None:
    """A DNSSEC-secure TLSA RRset is published for the MX host (RFC 7672: TLSA records count
    only when DNSSEC-secure). An MX in an unsigned zone cannot have one: that is a fail."""
    tlsa = _looked_up(dane)
    if tlsa.answered and not tlsa.authenticated:
        fail(
            f"{dane.owner}: TLSA records exist but are not DNSSEC-secure, so DANE is NOT in "
            "effect: senders ignore them"
        )
    if not dane.zone_secure:
        fail(
            f"{dane.host} is not DNSSEC-secure, so it cannot have a DNSSEC-secure TLSA RRset: "
            "DANE is impossible (see DNSSEC-MX-ZONE)"
        )
    if tlsa.answered:
        return
    assert tlsa.authenticated, (
        f"{dane.owner}: {tlsa.rcode} without a validated denial although {dane.host} is in a "
        "signed zone; validating senders treat the lookup as failed"
    )
    warn(f"{dane.owner}: no TLSA records (securely denied): DANE is not deployed for {dane.host}")


@pytest.mark.requirement("DANE-TLSA-DENIAL")
def test_tlsa_denial(dane: DaneAssessment) -> None:
    """Where no TLSA exists, the signed zone proves it (NSEC/NSEC3), so senders can go on."""
    tlsa = _looked_up(dane)
    if tlsa.answered:
        not_applicable(f"{dane.owner}: TLSA records exist")
    if not dane.zone_secure:
        not_applicable(f"{dane.host} is not in a DNSSEC-signed zone")
    assert tlsa.authenticated, (
        f"{dane.owner}: {tlsa.rcode} came without a validated NSEC/NSEC3 proof (AD bit not set "
        f"by {tlsa.resolver})"
    )


@pytest.mark.requirement("DANE-TLSA-USAGE")
def test_tlsa_usage(dane: DaneAssessment) -> None:
    """Only DANE-TA(2) and DANE-EE(3) records are usable for SMTP (RFC 7672 §3.1.3)."""
    _secure_records(dane)
    unusable = [r.label for r in dane.records if r.usage not in (2, 3)]
    if not unusable:
        return
    assert dane.usable, (
        f"{dane.owner}: only PKIX usages ({', '.join(unusable)}): SMTP senders ignore them, so "
        "DANE protects nothing"
    )
    warn(f"{dane.owner}: unusable PKIX records next to usable ones: {', '.join(unusable)}")


@pytest.mark.requirement("DANE-TLSA-MATCH")
def test_tlsa_match(dane: DaneAssessment, smtp: SmtpObservation) -> None:
    """At least one usable TLSA record matches the chain the MX served."""
    _secure_records(dane)
    if not dane.usable:
        not_applicable(f"{dane.owner}: no usable (DANE-TA/DANE-EE) TLSA record")
    _chain(dane, smtp)
    usable = [m for m in dane.matches if m.usable]
    assert any(m.matches for m in usable), (
        f"{smtp.endpoint}: no usable TLSA record matches the served chain, so DANE senders will "
        "not deliver: " + "; ".join(f"{m.record.label}: {m.why}" for m in usable)
    )


def _combos(matches: tuple[RecordMatch, ...]) -> dict[tuple[int, int, int], list[RecordMatch]]:
    out: dict[tuple[int, int, int], list[RecordMatch]] = defaultdict(list)
    for m in matches:
        if m.usable or m.record.usage in (2, 3):
            r = m.record
            out[(r.usage, r.selector, r.mtype)].append(m)
    return out


@pytest.mark.requirement("DANE-TLSA-EVERY-COMBO")
def test_tlsa_every_combination(dane: DaneAssessment, smtp: SmtpObservation) -> None:
    """Every usage/selector/matching-type combination published matches the current chain
    (RFC 7671 §8.1: senders may use any one of them)."""
    _secure_records(dane)
    if not dane.usable:
        not_applicable(f"{dane.owner}: no usable (DANE-TA/DANE-EE) TLSA record")
    _chain(dane, smtp)
    stale = [
        f"{u} {s} {m}: " + "; ".join(x.why for x in group)
        for (u, s, m), group in sorted(_combos(dane.matches).items())
        if not any(x.matches for x in group)
    ]
    assert not stale, (
        f"{smtp.endpoint}: combinations matching no served certificate: " + " | ".join(stale)
    )


@pytest.mark.requirement("DANE-TA-CHAIN")
def test_dane_ta_chain(dane: DaneAssessment, smtp: SmtpObservation) -> None:
    """With DANE-TA(2), the trust anchor is in the served chain and the leaf names the MX."""
    _secure_records(dane)
    ta = [m for m in dane.matches if m.record.usage == 2] if dane.chain_len else []
    if not any(r.usage == 2 for r in dane.records):
        not_applicable(f"{dane.owner}: no DANE-TA(2) records")
    _chain(dane, smtp)
    assert any(m.matches for m in ta), (
        f"{smtp.endpoint}: no DANE-TA record matches a certificate the server sent (the trust "
        "anchor must be in the chain, RFC 7672 §3.1.2): " + "; ".join(m.why for m in ta)
    )
    tls = present(smtp.tls, f"{smtp.endpoint}: the TLS session")
    leaf = certs.summarize(tls.chain_der[0])
    assert any(certs.name_matches(san, dane.host) for san in leaf.sans), (
        f"{smtp.endpoint}: with DANE-TA the leaf must name the MX host {dane.host} "
        f"(RFC 7672 §3.2.2); its DNS names are {', '.join(leaf.sans) or '(none)'}"
    )


@pytest.mark.requirement("DANE-ROLLOVER")
def test_dane_rollover(dane: DaneAssessment) -> None:
    """Records that survive a key or certificate change: current + next DANE-EE, or DANE-EE +
    DANE-TA of the issuer (RFC 7671 §8.1, §8.4)."""
    _secure_records(dane)
    usable = dane.usable
    if not usable:
        not_applicable(f"{dane.owner}: no usable (DANE-TA/DANE-EE) TLSA record")
    ee = [r for r in usable if r.usage == 3]
    ta = [r for r in usable if r.usage == 2]
    if len(ee) >= 2 or (ee and ta) or len(ta) >= 2:
        return
    warn(
        f"{dane.owner}: a single usable record ({usable[0].label}); publish the next key's "
        "record, or a DANE-TA record of the issuer, before changing the certificate"
    )


@pytest.mark.requirement("DANE-DIGEST")
def test_dane_digest(dane: DaneAssessment) -> None:
    """Each usage/selector pair has a SHA2-256 (or full) record, which every sender supports."""
    _secure_records(dane)
    pairs: dict[tuple[int, int], set[int]] = defaultdict(set)
    for r in dane.usable:
        pairs[(r.usage, r.selector)].add(r.mtype)
    if not pairs:
        not_applicable(f"{dane.owner}: no usable (DANE-TA/DANE-EE) TLSA record")
    only512 = [f"{u} {s}" for (u, s), types in sorted(pairs.items()) if not types & {0, 1}]
    if only512:
        warn(f"{dane.owner}: only SHA2-512 records for usage/selector {', '.join(only512)}")
