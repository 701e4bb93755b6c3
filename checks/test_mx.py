"""MX discovery: can senders find where to deliver this domain's mail? (RFC 5321 §5.1, RFC 7505)"""

import pytest

from mailtls.authobs import SpfEvaluation
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


@pytest.mark.requirement("MX-NULL-NOT-SENDER")
def test_null_mx_domain_sends_no_mail(discovery: Discovery, spf: SpfEvaluation) -> None:
    """A domain with a null MX publishes ``v=spf1 -all`` (RFC 7505 §4.2): a domain that cannot
    receive replies or bounces should not be used as a sender."""
    d, s = discovery, spf
    if d.kind == "error":
        inconclusive(f"{d.domain}: {d.error}")
    if d.kind != "null":
        reason = "alongside other MX records (see MX-NULL-EXCLUSIVE)" if d.null_mx else ""
        not_applicable(f"{d.domain} publishes no null MX {reason}".strip())
    if s.root_failure:
        inconclusive(f"{d.domain}: the SPF lookup failed: {s.root_failure}")
    if s.record_count != 1 or s.root.record is None:
        warn(
            f"{d.domain} publishes a null MX but {s.record_count} usable SPF record(s): "
            "publish 'v=spf1 -all' to declare that it sends no mail"
        )
    if not s.root.record.only_fail_all:
        warn(
            f"{d.domain} publishes a null MX but its SPF record {s.root.records[0]!r} authorises "
            "senders; RFC 7505 says such a domain should not send mail"
        )
