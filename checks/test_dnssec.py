"""DNSSEC: is the domain's mail routing authenticated? (the AD bit of the validating resolver)

DANE is meaningless without DNSSEC. The verdict comes from the resolver given with --resolver,
which the evidence names; a SERVFAIL that turns into an answer with checking disabled (CD) is a
validation failure (bogus), reported as its own failure.
"""

import pytest

from mailtls.observations import Discovery
from mailtls.targets import Target
from mailtls.verdicts import inconclusive, not_applicable, warn


@pytest.mark.requirement("DNSSEC-DOMAIN")
def test_domain_signed(discovery: Discovery) -> None:
    """The domain's MX answer (or its proof of absence) validates as DNSSEC secure."""
    d = discovery
    assert not d.dnssec_bogus, f"{d.error}: senders that validate cannot resolve this domain at all"
    if d.mx.failed:
        inconclusive(f"{d.domain}: {d.mx.describe()}")
    assert d.mx.authenticated, (
        f"{d.domain}: DNSSEC insecure: the MX answer ({d.mx.status}) from resolver {d.mx.resolver} "
        "is not authenticated (no AD bit): the zone is not signed, or has no DS in its parent"
    )


@pytest.mark.requirement("DNSSEC-MX-ZONE")
def test_mx_host_signed(discovery: Discovery, target: Target) -> None:
    """The MX host's address records validate as DNSSEC secure (a precondition for DANE)."""
    host = next((h for h in discovery.hosts if h.name == target.host), None)
    if host is None and target.unavailable_verdict == "error" and not discovery.dnssec_bogus:
        inconclusive(f"{target.domain}: {target.unavailable}")
    if host is None:
        not_applicable(f"{target.domain}: no MX host to check ({target.unavailable or 'no MX'})")
    answers = [a for a in (host.a, host.aaaa) if a is not None and a.status in ("ok", "nodata")]
    if not answers:
        failure = host.lookup_failure()
        if failure:
            inconclusive(f"{host.name}: {failure}")
        not_applicable(f"{host.name} has no address records (see MX-RESOLVE)")
    if not all(a.authenticated for a in answers):
        warn(
            f"{host.name}: DNSSEC insecure: its address records are not authenticated by resolver "
            f"{answers[0].resolver}; DANE is impossible for this MX"
        )
