"""STARTTLS on every MX host (RFC 3207): offered, negotiated, and a clean EHLO afterwards."""

import pytest

from mailtls.observations import SmtpObservation, SmtpReply
from mailtls.verdicts import inconclusive, not_applicable, warn


def _stopped_before(smtp: SmtpObservation, stage: str) -> None:
    """Report 'could not observe' when the session ended before ``stage``."""
    f = smtp.failure
    if f is not None:
        inconclusive(f"{smtp.endpoint}: could not test: {f.message} (at {f.stage}, before {stage})")


def _seen(smtp: SmtpObservation, reply: SmtpReply | None, stage: str) -> SmtpReply:
    """The reply to ``stage``; without one, error when the session failed before it, else fail."""
    if reply is None:
        _stopped_before(smtp, stage)
        raise AssertionError(f"{smtp.endpoint}: the session recorded no {stage} reply")
    return reply


@pytest.mark.requirement("SMTP-STARTTLS-OFFERED")
def test_starttls_offered(smtp: SmtpObservation) -> None:
    """The MX advertises STARTTLS in its EHLO reply, so senders can encrypt the session."""
    ehlo = _seen(smtp, smtp.ehlo, "EHLO")
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
    ehlo_tls = _seen(smtp, smtp.ehlo_tls, "EHLO over TLS")
    assert ehlo_tls.code == 250, (
        f"{smtp.endpoint}: EHLO over TLS was rejected: {ehlo_tls.code} {ehlo_tls.text()}"
    )
    if "STARTTLS" in ehlo_tls.keywords:
        warn(f"{smtp.endpoint}: STARTTLS is still advertised after TLS was established")
