"""Message submission (RFC 8314, RFC 6409, RFC 6186): how mail clients hand mail to the provider.

Targets are every IP of every submission host (the inventory's `submission:` hosts and the
targets of `_submission._tcp` / `_submissions._tcp` SRV records), on port 587 (STARTTLS) and on
port 465 (implicit TLS). The probes never authenticate: they read EHLO and quit.
"""

import pytest

from mailtls.observations import SmtpObservation, SmtpReply, SubmissionDiscovery, TlsScan
from mailtls.verdicts import inconclusive, not_applicable, warn

CLEARTEXT_PASSWORD_MECHANISMS = ("PLAIN", "LOGIN")  # the password itself crosses the wire


def _closed(smtp: SmtpObservation) -> bool:
    """The TCP connection was refused: nothing listens on this port (unreachable is an error)."""
    f = smtp.failure
    return f is not None and f.kind == "connect" and f.connection_refused


def _no_tls_here(smtp: SmtpObservation) -> str | None:
    """Why this port is known to offer no TLS at all, or None (it does, or we could not tell)."""
    if _closed(smtp):
        return f"port {smtp.endpoint.port} is closed"
    if smtp.plaintext_banner is not None:
        return "port 465 answers in plaintext (see SUBMIT-465-IMPLICIT)"
    if not smtp.implicit_tls and smtp.ehlo is not None and not smtp.starttls_offered:
        return "port 587 does not offer STARTTLS (see SUBMIT-587-STARTTLS)"
    return None


def _could_not_test(smtp: SmtpObservation, before: str) -> None:
    f = smtp.failure
    if f is not None:
        inconclusive(
            f"{smtp.endpoint}: could not test: {f.message} (at {f.stage}, before {before})"
        )


def _seen(smtp: SmtpObservation, reply: SmtpReply | None, stage: str) -> SmtpReply:
    """The reply to ``stage``; without one, error when the session failed before it, else fail."""
    if reply is None:
        _could_not_test(smtp, stage)
        raise AssertionError(f"{smtp.endpoint}: the session recorded no {stage} reply")
    return reply


@pytest.mark.requirement("SUBMIT-465-IMPLICIT")
def test_submissions_implicit_tls(smtp: SmtpObservation) -> None:
    """Port 465 completes a TLS handshake at once and then greets with 220 inside TLS."""
    where = smtp.endpoint
    if smtp.plaintext_banner is not None:
        raise AssertionError(
            f"{where}: port 465 speaks plaintext, not implicit TLS: it greeted "
            f"'{smtp.plaintext_banner.code} {smtp.plaintext_banner.text()}' before any TLS"
        )
    assert not _closed(smtp), (
        f"{where}: port 465 is closed ({smtp.failure and smtp.failure.message})"
    )
    if smtp.tls is None:
        if smtp.tls_error is not None:
            raise AssertionError(f"{where}: no TLS handshake on port 465: {smtp.tls_error}")
        _could_not_test(smtp, "the TLS handshake")
    banner = _seen(smtp, smtp.banner, "the greeting over TLS")
    assert banner.code == 220, (
        f"{where}: the greeting over TLS is {banner.code} {banner.text()}, not 220"
    )


@pytest.mark.requirement("SUBMIT-587-STARTTLS")
def test_submission_starttls(smtp: SmtpObservation) -> None:
    """Port 587 advertises STARTTLS, so mail clients can encrypt before they log in."""
    if _closed(smtp):
        not_applicable(f"{smtp.endpoint}: port 587 is closed (no submission service there)")
    ehlo = _seen(smtp, smtp.ehlo, "EHLO")
    assert smtp.starttls_offered, (
        f"{smtp.endpoint}: port 587 does not advertise STARTTLS; EHLO answered "
        f"{ehlo.code} with keywords {', '.join(ehlo.keywords) or '(none)'}"
    )


@pytest.mark.requirement("SUBMIT-NO-CLEARTEXT-AUTH")
def test_submission_no_auth_before_tls(smtp: SmtpObservation) -> None:
    """Port 587 offers no AUTH mechanism before STARTTLS has completed."""
    if _closed(smtp):
        not_applicable(f"{smtp.endpoint}: port 587 is closed (no submission service there)")
    if smtp.ehlo_plain is None:
        _could_not_test(smtp, "EHLO")
    mechanisms = smtp.auth_mechanisms(smtp.ehlo_plain)
    cleartext = [m for m in mechanisms if m in CLEARTEXT_PASSWORD_MECHANISMS]
    note = f" ({' and '.join(cleartext)} send the password in the clear)" if cleartext else ""
    assert not mechanisms, (
        f"{smtp.endpoint}: AUTH {' '.join(mechanisms)} is advertised before STARTTLS{note}; "
        f"offer AUTH only inside TLS"
    )


@pytest.mark.requirement("SUBMIT-TLS12")
def test_submission_refuses_old_tls(tlsversions: TlsScan, smtp: SmtpObservation) -> None:
    """SSL 2.0, SSL 3.0, TLS 1.0 and TLS 1.1 are each refused (one ClientHello per version)."""
    reason = _no_tls_here(smtp)
    if reason:
        not_applicable(f"{tlsversions.endpoint}: no TLS to test: {reason}")
    if tlsversions.skipped:
        inconclusive(f"{tlsversions.endpoint}: {tlsversions.skipped}")
    assert not tlsversions.tls_unusable, f"{tlsversions.endpoint}: {tlsversions.stopped}"
    names = {"sslv2": "SSL 2.0", "sslv3": "SSL 3.0", "tls10": "TLS 1.0", "tls11": "TLS 1.1"}
    answers = {q: tlsversions.answer(q) for q in names}
    accepted = [f"{names[q]} ({a.how})" for q, a in answers.items() if a.value == "yes"]
    assert not accepted, f"{tlsversions.endpoint}: accepts " + "; ".join(accepted)
    unknown = [f"{names[q]}: {a.how}" for q, a in answers.items() if a.value == "unknown"]
    if unknown:
        inconclusive(f"{tlsversions.endpoint}: could not test " + "; ".join(unknown))
    if not tlsversions.handshake_seen:
        inconclusive(
            f"{tlsversions.endpoint}: the server accepted none of our offers, so its refusals "
            "say nothing"
        )


@pytest.mark.requirement("SUBMIT-SRV")
def test_submission_srv_ports(submission_discovery: SubmissionDiscovery) -> None:
    """`_submissions._tcp` points to port 465, and `_submission._tcp` (if any) to port 587."""
    d = submission_discovery
    if d.srv_failure:
        inconclusive(f"{d.domain}: {d.srv_failure}")
    implicit = d.records("_submissions._tcp")
    starttls = d.records("_submission._tcp")
    if not implicit and not starttls:
        not_applicable(f"{d.domain}: no _submission._tcp or _submissions._tcp SRV records")
    if all(r.not_offered for r in (*implicit, *starttls)):
        not_applicable(f"{d.domain}: its SRV records declare that no submission is offered ('.')")
    problems = [
        f"_submissions._tcp.{d.domain} SRV {r} points to port {r.port}, not 465"
        for r in implicit
        if not r.not_offered and r.port != 465
    ] + [
        f"_submission._tcp.{d.domain} SRV {r} points to port {r.port}, not 587"
        for r in starttls
        if not r.not_offered and r.port != 587
    ]
    if not implicit:
        problems.append(f"no _submissions._tcp.{d.domain} SRV record (implicit TLS, port 465)")
    elif all(r.not_offered for r in implicit):
        problems.append(f"_submissions._tcp.{d.domain} declares implicit TLS not offered ('.')")
    if problems:
        warn(f"{d.domain}: " + "; ".join(problems))
