"""DKIM key records (RFC 6376, RFC 8301, RFC 8463): can receivers verify this domain's signatures?

One lookup per selector listed under ``dkim_selectors`` in the inventory (DKIM selectors cannot
be discovered from DNS). A parked domain (``sends_mail: false``) signs nothing.
"""

from collections.abc import Callable

import pytest

from mailtls.authobs import DkimLookup, DkimSelector
from mailtls.inventory import Domain
from mailtls.verdicts import inconclusive, not_applicable, warn


def _selectors(dkim: DkimLookup, settings: Domain) -> tuple[DkimSelector, ...]:
    if not settings.sends_mail:
        not_applicable(f"{dkim.domain} is parked (sends_mail: false): it signs no mail")
    if not dkim.selectors:
        not_applicable(
            f"{dkim.domain}: no DKIM selectors listed; add 'dkim_selectors: [<selector>, ...]' "
            "to its inventory entry (selectors cannot be discovered from DNS)"
        )
    return dkim.selectors


def _per_key(
    dkim: DkimLookup, settings: Domain, problem: Callable[[DkimSelector], str | None]
) -> None:
    """Judge every selector that publishes a key: fail on any problem, else error on any lookup
    that failed, else not applicable when no selector has a key."""
    selectors = _selectors(dkim, settings)
    keys = [s for s in selectors if s.key is not None and not s.key.revoked]
    problems = [p for p in (problem(s) for s in keys) if p]
    assert not problems, f"{dkim.domain}: {'; '.join(problems)}"
    failures = [s.failure for s in selectors if s.failure]
    if failures:
        inconclusive(f"{dkim.domain}: DKIM key lookup failed: {'; '.join(map(str, failures))}")
    if not keys:
        not_applicable(f"{dkim.domain}: no selector publishes a key (see DKIM-KEY-PRESENT)")


@pytest.mark.requirement("DKIM-KEY-PRESENT")
def test_dkim_key_present(dkim: DkimLookup, domain_settings: Domain) -> None:
    """Every listed selector publishes one key record with a non-empty ``p=``."""
    problems, testing = [], []
    for s in _selectors(dkim, domain_settings):
        if s.failure:
            continue
        if not s.records:
            problems.append(f"{s.qname}: no key record ({s.answer.status.upper()})")
        elif len(s.records) > 1:
            problems.append(f"{s.qname}: {len(s.records)} TXT records; verifiers may pick either")
        elif s.key is None:
            problems.append(f"{s.qname}: the key record does not parse: {s.parse_error}")
        elif s.key.revoked:
            problems.append(f"{s.qname}: the key is revoked (empty p=) but listed as in use")
        elif s.key.testing:
            testing.append(s.qname)
    assert not problems, f"{dkim.domain}: {'; '.join(problems)}"
    failures = [s.failure for s in dkim.selectors if s.failure]
    if failures:
        inconclusive(f"{dkim.domain}: DKIM key lookup failed: {'; '.join(map(str, failures))}")
    if testing:
        warn(
            f"{dkim.domain}: testing mode (t=y) at {', '.join(testing)}: verifiers treat these "
            "signatures like unsigned mail"
        )


@pytest.mark.requirement("DKIM-KEY-SIZE")
def test_dkim_key_size(dkim: DkimLookup, domain_settings: Domain) -> None:
    """RSA keys have 2048 bits or more (1024 at the very least, RFC 8301 §3.2); Ed25519 passes."""
    weak: list[str] = []

    def problem(s: DkimSelector) -> str | None:
        if s.key_info is None:
            return f"{s.qname}: {s.key_error}"
        if s.key_info.algorithm == "rsa" and s.key_info.bits < 1024:
            return f"{s.qname}: RSA key of {s.key_info.bits} bits (under 1024: verifiers reject it)"
        if s.key_info.algorithm == "rsa" and s.key_info.bits < 2048:
            weak.append(f"{s.qname}: RSA key of {s.key_info.bits} bits")
        return None

    _per_key(dkim, domain_settings, problem)
    if weak:
        warn(f"{dkim.domain}: {'; '.join(weak)} (RFC 8301 asks for 2048 bits or more)")


@pytest.mark.requirement("DKIM-NO-SHA1")
def test_dkim_no_sha1(dkim: DkimLookup, domain_settings: Domain) -> None:
    """No key record allows only SHA-1 (``h=sha1``): rsa-sha1 must not be used (RFC 8301 §3.1)."""

    def problem(s: DkimSelector) -> str | None:
        if s.key is not None and s.key.sha1_only:
            return f"{s.qname}: h=sha1 allows only rsa-sha1 signatures"
        return None

    _per_key(dkim, domain_settings, problem)


@pytest.mark.requirement("DKIM-DNSSEC")
def test_dkim_dnssec(dkim: DkimLookup, domain_settings: Domain) -> None:
    """Every key record came with the validating resolver's AD bit (DNSSEC-secure)."""
    insecure: list[str] = []

    def problem(s: DkimSelector) -> str | None:
        if not s.answer.authenticated:
            insecure.append(f"{s.qname} (resolver {s.answer.resolver}: no AD bit)")
        return None

    _per_key(dkim, domain_settings, problem)
    if insecure:
        warn(f"{dkim.domain}: DKIM key records not DNSSEC-secure: {', '.join(insecure)}")
