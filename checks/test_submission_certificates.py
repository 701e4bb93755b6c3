"""The certificate served on the submission ports (587 after STARTTLS, 465 at once), with SNI =
the submission host name. Mail clients validate it before they send a password, so trust, name
and dates are required here, not advisory as on opportunistic MX delivery."""

from __future__ import annotations

import datetime as dt

import pytest

from mailtls import certchecks, certs
from mailtls.inventory import Domain
from mailtls.observations import SmtpObservation
from mailtls.runstate import MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import not_applicable, present


def _leaf(smtp: SmtpObservation) -> certs.CertSummary:
    if smtp.tls is None or not smtp.tls.chain_der:
        not_applicable(
            f"{smtp.endpoint}: no TLS session on this port, so no certificate "
            "(see SUBMIT-587-STARTTLS / SUBMIT-465-IMPLICIT)"
        )
    return certs.summarize(present(smtp.tls, f"{smtp.endpoint}: the TLS session").chain_der[0])


@pytest.mark.requirement("CERT-SUBMIT-TRUST")
def test_submission_certificate_trusted(smtp: SmtpObservation, mailtls_run: MailtlsRun) -> None:
    """The chain leads to a root in the CA bundle: mail clients validate it."""
    _leaf(smtp)
    tls = present(smtp.tls, f"{smtp.endpoint}: the TLS session")
    roots = certs.load_roots(mailtls_run.ca_bundle.read_bytes())
    result = certs.validate(tls.chain_der, roots, dt.datetime.now(dt.UTC))
    assert result.trusted, f"{smtp.endpoint}: certificate not trusted: {result.reason}"


@pytest.mark.requirement("CERT-SUBMIT-NAME")
def test_submission_certificate_name(smtp: SmtpObservation, target: Target) -> None:
    """A SAN dNSName of the leaf matches the submission host name (no CN fallback)."""
    leaf = _leaf(smtp)
    host = present(target.host, f"{target.id}: the submission host name")
    assert certs.matching_name(leaf.sans, host) is not None, (
        f"{smtp.endpoint}: certificate names {', '.join(leaf.sans) or '(no SAN)'} "
        f"do not match {target.host}"
    )


@pytest.mark.requirement("CERT-SUBMIT-VALIDITY")
def test_submission_certificate_in_validity_period(smtp: SmtpObservation) -> None:
    """The leaf certificate is neither expired nor not yet valid."""
    leaf = _leaf(smtp)
    now = dt.datetime.now(dt.UTC)
    assert now <= leaf.not_after, (
        f"{smtp.endpoint}: certificate expired on {leaf.not_after:%Y-%m-%d %H:%M} UTC"
    )
    assert leaf.not_before <= now, (
        f"{smtp.endpoint}: certificate not valid before {leaf.not_before:%Y-%m-%d %H:%M} UTC"
    )


@pytest.mark.requirement("CERT-SUBMIT-EXPIRY-MARGIN")
def test_submission_certificate_expiry_margin(
    smtp: SmtpObservation, domain_settings: Domain
) -> None:
    """More than ``expiry_warning_days`` (default 60) remain before the leaf expires."""
    certchecks.expiry_margin(
        smtp.endpoint, _leaf(smtp), domain_settings.expiry_warning_days, "CERT-SUBMIT-VALIDITY"
    )


@pytest.mark.requirement("CERT-SUBMIT-KEY")
def test_submission_certificate_key(smtp: SmtpObservation, profile: str) -> None:
    """The leaf key is RSA ≥ 2048 bits or ECDSA on P-256/P-384 (P-521 accepted)."""
    certchecks.key_strength(smtp.endpoint, _leaf(smtp), profile)


@pytest.mark.requirement("CERT-SUBMIT-SIGHASH")
def test_submission_certificate_signatures(smtp: SmtpObservation) -> None:
    """No certificate served (other than a self-signed root) is signed with SHA-1 or MD5."""
    _leaf(smtp)
    tls = present(smtp.tls, f"{smtp.endpoint}: the TLS session")
    certchecks.signatures(smtp.endpoint, tls.chain_der)
