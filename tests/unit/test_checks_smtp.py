"""The STARTTLS and submission checks as pure functions: an SMTP session (and for SUBMIT-TLS12
a hello scan, for SUBMIT-SRV a submission discovery) in, a verdict out (one row a case)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mailtls.observations import Endpoint, SmtpReply
from mailtls.verdicts import Verdict
from tests.support import factories as f
from tests.support.verdict import assert_verdict, case_ids, check_module

STARTTLS = check_module("test_starttls")
SUBMIT = check_module("test_submission")

P587 = Endpoint(f.IP, 587, "smtp.example.org")
P465 = Endpoint(f.IP, 465, "smtp.example.org", implicit_tls=True)
REFUSED = ("connect", "connect", "Connection refused", True)
BANNER_TIMEOUT = ("banner", "timeout", "no banner within 10 s")
OLD_NO = {"sslv2": "no", "sslv3": "no", "tls10": "no", "tls11": "no"}

# (check, fixtures, verdict, a phrase of the message)
CASES: list[tuple[Callable[..., None], dict[str, Any], Verdict, str]] = [
    (STARTTLS.test_starttls_offered, {"smtp": f.session()}, "pass", ""),
    (
        STARTTLS.test_starttls_offered,
        {"smtp": f.session(starttls=False)},
        "fail",
        "STARTTLS is not advertised; EHLO answered 250 with keywords PIPELINING",
    ),
    (
        STARTTLS.test_starttls_offered,
        {"smtp": f.stopped(*BANNER_TIMEOUT)},
        "error",
        "could not test: no banner within 10 s (at banner, before EHLO)",
    ),
    (STARTTLS.test_starttls_handshake, {"smtp": f.session()}, "pass", ""),
    (
        STARTTLS.test_starttls_handshake,
        {"smtp": f.session(starttls=False)},
        "not_applicable",
        "STARTTLS is not offered",
    ),
    (
        STARTTLS.test_starttls_handshake,
        {"smtp": f.session(tls=False, tls_error="handshake failure")},
        "fail",
        "the TLS handshake failed: handshake failure",
    ),
    (
        STARTTLS.test_starttls_handshake,
        {"smtp": f.session(tls=False, starttls_reply=SmtpReply(454, ("4.7.0 TLS not available",)))},
        "fail",
        "STARTTLS was rejected: 454",
    ),
    (
        STARTTLS.test_starttls_handshake,
        {"smtp": f.stopped("starttls", "reset", "connection reset")},
        "error",
        "before the TLS handshake",
    ),
    (STARTTLS.test_ehlo_after_tls, {"smtp": f.session()}, "pass", ""),
    (
        STARTTLS.test_ehlo_after_tls,
        {"smtp": f.session(starttls=False)},
        "not_applicable",
        "no TLS session",
    ),
    (
        STARTTLS.test_ehlo_after_tls,
        {"smtp": f.session(ehlo_tls=f.ehlo("STARTTLS"))},
        "warn",
        "STARTTLS is still advertised after TLS",
    ),
    (
        STARTTLS.test_ehlo_after_tls,
        {"smtp": f.session(ehlo_tls=SmtpReply(502, ("5.5.2 no",)))},
        "fail",
        "EHLO over TLS was rejected: 502",
    ),
    (
        STARTTLS.test_ehlo_after_tls,
        {"smtp": f.stopped("ehlo_tls", "timeout", "no EHLO reply")},
        "error",
        "before EHLO over TLS",
    ),
    # submission, port 465
    (SUBMIT.test_submissions_implicit_tls, {"smtp": f.session(endpoint=P465)}, "pass", ""),
    (
        SUBMIT.test_submissions_implicit_tls,
        {"smtp": f.session(endpoint=P465, tls=False, plaintext_banner=f.GREETING)},
        "fail",
        "port 465 speaks plaintext",
    ),
    (
        SUBMIT.test_submissions_implicit_tls,
        {"smtp": f.stopped(*REFUSED, endpoint=P465)},
        "fail",
        "port 465 is closed",
    ),
    (
        SUBMIT.test_submissions_implicit_tls,
        {"smtp": f.session(endpoint=P465, tls=False, tls_error="wrong version number")},
        "fail",
        "no TLS handshake on port 465: wrong version number",
    ),
    (
        SUBMIT.test_submissions_implicit_tls,
        {"smtp": f.stopped("tls", "timeout", "handshake timed out", endpoint=P465)},
        "error",
        "before the TLS handshake",
    ),
    (
        SUBMIT.test_submissions_implicit_tls,
        {"smtp": f.session(endpoint=P465, banner=SmtpReply(554, ("go away",)))},
        "fail",
        "the greeting over TLS is 554",
    ),
    # submission, port 587
    (SUBMIT.test_submission_starttls, {"smtp": f.session(endpoint=P587)}, "pass", ""),
    (
        SUBMIT.test_submission_starttls,
        {"smtp": f.session(endpoint=P587, starttls=False)},
        "fail",
        "port 587 does not advertise STARTTLS",
    ),
    (
        SUBMIT.test_submission_starttls,
        {"smtp": f.stopped(*REFUSED, endpoint=P587)},
        "not_applicable",
        "port 587 is closed",
    ),
    (
        SUBMIT.test_submission_starttls,
        {"smtp": f.stopped(*BANNER_TIMEOUT, endpoint=P587)},
        "error",
        "before EHLO",
    ),
    (SUBMIT.test_submission_no_auth_before_tls, {"smtp": f.session(endpoint=P587)}, "pass", ""),
    (
        SUBMIT.test_submission_no_auth_before_tls,
        {"smtp": f.session(endpoint=P587, ehlo_reply=f.ehlo("AUTH PLAIN LOGIN", "STARTTLS"))},
        "fail",
        "AUTH PLAIN LOGIN is advertised before STARTTLS (PLAIN and LOGIN send the password",
    ),
    (
        SUBMIT.test_submission_no_auth_before_tls,
        {"smtp": f.stopped(*REFUSED, endpoint=P587)},
        "not_applicable",
        "port 587 is closed",
    ),
    (
        SUBMIT.test_submission_no_auth_before_tls,
        {"smtp": f.stopped(*BANNER_TIMEOUT, endpoint=P587)},
        "error",
        "before EHLO",
    ),
    # SUBMIT-TLS12: a hello scan of the legacy versions
    (
        SUBMIT.test_submission_refuses_old_tls,
        {"smtp": f.session(endpoint=P587), "tlsversions": f.tls_scan(P587, **OLD_NO)},
        "pass",
        "",
    ),
    (
        SUBMIT.test_submission_refuses_old_tls,
        {
            "smtp": f.session(endpoint=P587),
            "tlsversions": f.tls_scan(P587, **(OLD_NO | {"tls10": "yes"})),
        },
        "fail",
        "accepts TLS 1.0 (hello 1)",
    ),
    (
        SUBMIT.test_submission_refuses_old_tls,
        {
            "smtp": f.session(endpoint=P587),
            "tlsversions": f.tls_scan(P587, stopped="421 after 2 hellos", sslv2="no"),
        },
        "error",
        "could not test SSL 3.0: 421 after 2 hellos",
    ),
    (
        SUBMIT.test_submission_refuses_old_tls,
        {
            "smtp": f.session(endpoint=P587, starttls=False),
            "tlsversions": f.tls_scan(P587, **OLD_NO),
        },
        "not_applicable",
        "port 587 does not offer STARTTLS",
    ),
    (
        SUBMIT.test_submission_refuses_old_tls,
        {
            "smtp": f.session(endpoint=P587),
            "tlsversions": f.tls_scan(P587, skipped="no STARTTLS in the scan's session"),
        },
        "error",
        "no STARTTLS in the scan's session",
    ),
    (
        SUBMIT.test_submission_refuses_old_tls,
        {
            "smtp": f.session(endpoint=P587, tls=False, tls_error="no shared cipher"),
            "tlsversions": f.tls_scan(P587, session_tls=None, **OLD_NO),
        },
        "error",
        "accepted none of our offers",
    ),
    # SUBMIT-SRV: the SRV records
    (
        SUBMIT.test_submission_srv_ports,
        {
            "submission_discovery": f.submission_discovery(
                ("_submissions._tcp", "0 1 465 smtp.example.org."),
                ("_submission._tcp", "0 1 587 smtp.example.org."),
            )
        },
        "pass",
        "",
    ),
    (
        SUBMIT.test_submission_srv_ports,
        {"submission_discovery": f.submission_discovery()},
        "not_applicable",
        "no _submission._tcp or _submissions._tcp SRV records",
    ),
    (
        SUBMIT.test_submission_srv_ports,
        {"submission_discovery": f.submission_discovery(("_submissions._tcp", "0 0 0 ."))},
        "not_applicable",
        "declare that no submission is offered",
    ),
    (
        SUBMIT.test_submission_srv_ports,
        {
            "submission_discovery": f.submission_discovery(
                ("_submissions._tcp", "0 1 587 smtp.example.org.")
            )
        },
        "warn",
        "points to port 587, not 465",
    ),
    (
        SUBMIT.test_submission_srv_ports,
        {
            "submission_discovery": f.submission_discovery(
                ("_submission._tcp", "0 1 587 smtp.example.org.")
            )
        },
        "warn",
        "no _submissions._tcp.example.org SRV record",
    ),
    (
        SUBMIT.test_submission_srv_ports,
        {"submission_discovery": f.submission_discovery(srv_status="servfail")},
        "error",
        "SERVFAIL",
    ),
]


@pytest.mark.parametrize(("check", "fixtures", "verdict", "phrase"), CASES, ids=case_ids(CASES))
def test_smtp_checks(
    check: Callable[..., None], fixtures: dict[str, Any], verdict: Verdict, phrase: str
) -> None:
    assert_verdict(check, fixtures, verdict, phrase)
