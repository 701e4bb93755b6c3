"""STARTTLS on every MX host (RFC 3207): offered, negotiated, and a clean EHLO afterwards."""

import pytest

from mailtls.observations import SmtpObservation
from mailtls.verdicts import inconclusive, not_applicable, present, warn


def _stopped_before(smtp: SmtpObservation, stage: str) -> None:
    """Report 'could not observe' when the session ended before ``stage``."""
    f = smtp.failure
    if f is not None:
        inconclusive(f"{smtp.endpoint}: could not test: {f.message} (at {f.stage}, before {stage})")


@pytest.mark.requirement("SMTP-STARTTLS-OFFERED")
def test_starttls_offered(smtp: SmtpObservation) -> None:
    """The MX advertises STARTTLS in its EHLO reply, so senders can encrypt the session."""
    if smtp.ehlo is None:
        _stopped_before(smtp, "EHLO")
    ehlo = present(smtp.ehlo, f"{smtp.endpoint}: the EHLO reply")
    assert smtp.starttls_offered, (
        f"{smtp.endpoint}: STARTTLS is not advertised; EHLO answered "
        f"{ehlo.code} with keywords {', '.join(ehlo.keywords) or '(none)'}"
    )


@pytest.mark.requirement("SMTP-STARTTLS-HANDSHAKE")
def test_starttls_handshake(smtp: SmtpObservation) -> None:
    """STARTTLS is answered with 220 and a TLS handshake completes."""
    if smtp.ehlo is not None and not smtp.starttls_offered:
        not_applicable(f"{smtp.endpoint}: STARTTLS is not offered (see SMTP-STARTTLS-OFFERED)")
    if smtp.tls is None and smtp.tls_error is None:
        if smtp.starttls is not None and smtp.starttls.code != 220 and smtp.failure is None:
            raise AssertionError(
                f"{smtp.endpoint}: STARTTLS was rejected: {smtp.starttls.code} {smtp.starttls.text()}"
            )
        _stopped_before(smtp, "the TLS handshake")
    assert smtp.tls is not None, f"{smtp.endpoint}: the TLS handshake failed: {smtp.tls_error}"


@pytest.mark.requirement("SMTP-EHLO-AFTER-TLS")
def test_ehlo_after_tls(smtp: SmtpObservation) -> None:
    """After TLS the MX accepts a new EHLO and no longer advertises STARTTLS (RFC 3207 §4.2)."""
    if smtp.tls is None:
        not_applicable(f"{smtp.endpoint}: no TLS session (see SMTP-STARTTLS-HANDSHAKE)")
    if smtp.ehlo_tls is None:
        _stopped_before(smtp, "EHLO over TLS")
    again = present(smtp.ehlo_tls, f"{smtp.endpoint}: the EHLO reply over TLS")
    assert again.code == 250, (
        f"{smtp.endpoint}: EHLO over TLS was rejected: {again.code} {again.text()}"
    )
    if "STARTTLS" in again.keywords:
        warn(f"{smtp.endpoint}: STARTTLS is still advertised after TLS was established")
