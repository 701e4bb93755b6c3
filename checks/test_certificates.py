"""The MX certificate, as served after STARTTLS (with SNI = the MX host name).

Trust, name and dates matter most where a sender authenticates the MX: MTA-STS (RFC 8461 §4.2)
or a DANE-TA(2) record. With only opportunistic TLS a failure is a warning; with a DNSSEC-secure
DANE-EE(3) record the name and dates are not used by DANE senders (RFC 7671 §5.1).
"""

from __future__ import annotations

import datetime as dt

import pytest

from mailtls import certchecks, certs
from mailtls.inventory import Domain
from mailtls.observations import Discovery, SmtpObservation
from mailtls.runstate import MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import not_applicable, present, warn


def _leaf(smtp: SmtpObservation) -> certs.CertSummary:
    if smtp.tls is None or not smtp.tls.chain_der:
        not_applicable(
            f"{smtp.endpoint}: no TLS session, so no certificate (see SMTP-STARTTLS-HANDSHAKE)"
        )
    return certs.summarize(present(smtp.tls, f"{smtp.endpoint}: the TLS session").chain_der[0])


def _authenticating_policy(discovery: Discovery, target: Target) -> str | None:
    """Which mechanism makes senders authenticate this MX, if any."""
    host = next((h for h in discovery.hosts if h.name == target.host), None)
    if discovery.mta_sts_advertised:
        return f"MTA-STS is advertised for {discovery.domain} (RFC 8461 §4.2)"
    if host is not None and 2 in host.tlsa_usages():
        return f"DANE-TA(2) TLSA records are published for {host.name} (RFC 7672)"
    return None


def _dane_ee_only(discovery: Discovery, target: Target) -> bool:
    host = next((h for h in discovery.hosts if h.name == target.host), None)
    return host is not None and host.tlsa_usages() == {3} and not discovery.mta_sts_advertised


def _judge(problem: str, discovery: Discovery, target: Target) -> None:
    policy = _authenticating_policy(discovery, target)
    if policy:
        raise AssertionError(f"{problem}; this fails because {policy}")
    warn(f"{problem}; advisory only: no MTA-STS or DANE-TA makes senders authenticate this MX")


@pytest.mark.requirement("CERT-MX-TRUST")
def test_certificate_trusted(
    smtp: SmtpObservation, discovery: Discovery, target: Target, mailtls_run: MailtlsRun
) -> None:
    """The MX chain leads to a root in the CA bundle (a publicly trusted CA)."""
    _leaf(smtp)
    tls = present(smtp.tls, f"{smtp.endpoint}: the TLS session")
    roots = certs.load_roots(mailtls_run.ca_bundle.read_bytes())
    result = certs.validate(tls.chain_der, roots, dt.datetime.now(dt.UTC))
    if not result.trusted:
        _judge(f"{smtp.endpoint}: certificate not trusted: {result.reason}", discovery, target)


@pytest.mark.requirement("CERT-MX-NAME")
def test_certificate_name(smtp: SmtpObservation, discovery: Discovery, target: Target) -> None:
    """A SAN dNSName of the leaf matches the MX host name (no CN fallback)."""
    leaf = _leaf(smtp)
    host = present(target.host, f"{target.id}: the MX host name")
    if certs.matching_name(leaf.sans, host) is None:
        problem = (
            f"{smtp.endpoint}: certificate names {', '.join(leaf.sans) or '(no SAN)'} "
            f"do not match {target.host}"
        )
        if _dane_ee_only(discovery, target):
            not_applicable(f"{problem}; informational: DANE-EE(3) ignores names (RFC 7671 §5.1)")
        _judge(problem, discovery, target)


@pytest.mark.requirement("CERT-MX-VALIDITY")
def test_certificate_in_validity_period(
    smtp: SmtpObservation, discovery: Discovery, target: Target
) -> None:
    """The leaf certificate is neither expired nor not yet valid."""
    leaf = _leaf(smtp)
    now = dt.datetime.now(dt.UTC)
    if leaf.not_before <= now <= leaf.not_after:
        return
    state = "expired on" if now > leaf.not_after else "not valid before"
    when = leaf.not_after if now > leaf.not_after else leaf.not_before
    problem = f"{smtp.endpoint}: certificate {state} {when:%Y-%m-%d %H:%M} UTC"
    if _dane_ee_only(discovery, target):
        not_applicable(f"{problem}; informational: DANE-EE(3) ignores dates (RFC 7671 §5.1)")
    _judge(problem, discovery, target)


@pytest.mark.requirement("CERT-MX-EXPIRY-MARGIN")
def test_certificate_expiry_margin(smtp: SmtpObservation, domain_settings: Domain) -> None:
    """More than ``expiry_warning_days`` (default 60) remain before the leaf expires."""
    certchecks.expiry_margin(
        smtp.endpoint, _leaf(smtp), domain_settings.expiry_warning_days, "CERT-MX-VALIDITY"
    )


@pytest.mark.requirement("CERT-MX-KEY")
def test_certificate_key(smtp: SmtpObservation, profile: str) -> None:
    """The leaf key is RSA ≥ 2048 bits or ECDSA on P-256/P-384 (P-521 accepted)."""
    certchecks.key_strength(smtp.endpoint, _leaf(smtp), profile)


@pytest.mark.requirement("CERT-MX-SIGHASH")
def test_certificate_signatures(smtp: SmtpObservation) -> None:
    """No certificate the MX serves (other than a self-signed root) is signed with SHA-1 or MD5."""
    _leaf(smtp)
    tls = present(smtp.tls, f"{smtp.endpoint}: the TLS session")
    certchecks.signatures(smtp.endpoint, tls.chain_der)
