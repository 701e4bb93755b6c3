"""MX discovery: can senders find where to deliver this domain's mail? (RFC 5321 §5.1, RFC 7505)"""

import pytest

from mailtls.observations import Discovery
from mailtls.verdicts import inconclusive, not_applicable, warn


@pytest.mark.requirement("MX-RESOLVE")
def test_mx_resolves(discovery: Discovery) -> None:
    """At least one MX host of the domain resolves to an A or AAAA record.

    Senders look up MX, then the addresses of each MX host; when none has an address the mail
    cannot be delivered (RFC 5321 §5.1). NXDOMAIN is a failure; a failed lookup is an error.
    """
    d = discovery
    if d.kind == "error":
        if d.mx.status == "nxdomain":
            raise AssertionError(
                f"{d.domain}: the domain does not exist (NXDOMAIN from {d.mx.resolver})"
            )
        inconclusive(f"{d.domain}: {d.error}")
    if d.kind == "null":
        not_applicable(f"{d.domain} publishes a null MX (RFC 7505): it receives no mail")
    if d.kind in ("implicit", "none"):
        not_applicable(f"{d.domain} has no MX records (implicit MX: see MX-IMPLICIT)")
    usable = [h.name for h in d.hosts if h.addresses]
    failures = [h.lookup_failure() for h in d.hosts if not h.addresses and h.lookup_failure()]
    if not usable and failures:
        inconclusive(
            f"{d.domain}: no MX host address could be looked up: {'; '.join(map(str, failures))}"
        )
    unresolved = ", ".join(h.name for h in d.hosts if not h.addresses)
    assert usable, f"{d.domain}: no MX host has an A or AAAA record (unresolvable: {unresolved})"


@pytest.mark.requirement("MX-NULL-EXCLUSIVE")
def test_null_mx_alone(discovery: Discovery) -> None:
    """A null MX (``MX 0 .``) is the only MX record of the domain (RFC 7505 §3)."""
    d = discovery
    if d.kind == "error" and d.mx.status != "nxdomain":
        inconclusive(f"{d.domain}: {d.error}")
    assert not d.other_mx_with_null, (
        f"{d.domain}: publishes a null MX together with other MX records "
        f"({', '.join(d.other_mx_with_null)}); remove one or the other"
    )


@pytest.mark.requirement("MX-IMPLICIT")
def test_no_implicit_mx(discovery: Discovery) -> None:
    """The domain publishes MX records rather than relying on the implicit MX (RFC 5321 §5.1).

    Without an MX RRset senders deliver to the domain's own A/AAAA address, which is rarely a
    host meant to receive mail.
    """
    d = discovery
    if d.kind == "error":
        if d.mx.status == "nxdomain":
            not_applicable(f"{d.domain} does not exist (see MX-RESOLVE)")
        inconclusive(f"{d.domain}: {d.error}")
    if d.kind == "implicit":
        addresses = ", ".join(a for h in d.hosts for a in h.addresses)
        warn(f"{d.domain} has no MX records: senders deliver to its own addresses ({addresses})")
