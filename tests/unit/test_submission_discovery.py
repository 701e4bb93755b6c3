"""Pure logic of submission discovery: SRV parsing, host collection, targets, AUTH keywords."""

from __future__ import annotations

import pytest

from mailtls.discovery import srv_records, submission_host_names
from mailtls.observations import (
    DnsAnswer,
    DnsStatus,
    Endpoint,
    SmtpObservation,
    SmtpReply,
    SrvRecord,
    SubmissionDiscovery,
    SubmissionHost,
)
from mailtls.records import parse_srv
from mailtls.targets import submission_targets


def _srv(owner: str, *records: str, status: DnsStatus = "ok") -> DnsAnswer:
    return DnsAnswer(f"{owner}.example.org", "SRV", status, "NOERROR", records, 300, True, "r:53")


def _addr(name: str, *ips: str) -> DnsAnswer:
    return DnsAnswer(name, "A", "ok" if ips else "nxdomain", "NOERROR", ips, 300, True, "r:53")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("0 1 465 Smtp.Example.org.", SrvRecord(0, 1, 465, "smtp.example.org")),
        ("10 0 587 mail.example.org", SrvRecord(10, 0, 587, "mail.example.org")),
        ("0 0 0 .", SrvRecord(0, 0, 0, ".")),
        ("0 1 465", None),
        ("0 1 70000 smtp.example.org.", None),
        ("a b c d", None),
        ("0 1 465 smtp..example.org.", None),
        ("", None),
    ],
)
def test_parse_srv(text: str, want: SrvRecord | None) -> None:
    assert parse_srv(text) == want


def test_hosts_from_inventory_and_both_srv_owners_once_each() -> None:
    srv = {
        "_submission._tcp": _srv("_submission._tcp", "0 1 587 smtp.example.org.", "garbage"),
        "_submissions._tcp": _srv("_submissions._tcp", "0 1 465 smtp.example.org.", "0 0 0 ."),
    }
    names, problems = submission_host_names(["mail.example.org", "smtp.example.org"], srv)  # type: ignore[arg-type]
    assert names == [
        ("mail.example.org", ("inventory",)),
        ("smtp.example.org", ("inventory", "_submission._tcp", "_submissions._tcp")),
    ]
    assert len(problems) == 1 and "garbage" in problems[0]


def _discovery(
    hosts: tuple[SubmissionHost, ...], sub: DnsAnswer, subs: DnsAnswer
) -> SubmissionDiscovery:
    return SubmissionDiscovery(
        "example.org",
        (),
        sub,
        subs,
        hosts,
        submission_records=srv_records(sub),
        submissions_records=srv_records(subs),
    )


def test_every_ip_on_both_ports_with_readable_unique_ids() -> None:
    host = SubmissionHost(
        "smtp.example.org", ("_submissions._tcp",), ("192.0.2.1", "2001:db8::1"), None, None
    )
    found = _discovery(
        (host,), _srv("_submission._tcp", status="nxdomain"), _srv("_submissions._tcp")
    )
    targets = submission_targets(found)
    assert [(t.ip, t.port, t.implicit_tls) for t in targets] == [
        ("192.0.2.1", 587, False),
        ("192.0.2.1", 465, True),
        ("2001:db8::1", 587, False),
        ("2001:db8::1", 465, True),
    ]
    assert targets[1].id == "example.org-smtp.example.org-192.0.2.1-465"
    assert len({t.id for t in targets}) == len(targets)
    assert targets[1].endpoint == Endpoint("192.0.2.1", 465, "smtp.example.org", True)


def test_no_hosts_is_one_not_applicable_target_saying_why() -> None:
    nothing = _discovery(
        (), _srv("_submission._tcp", status="nxdomain"), _srv("_submissions._tcp", status="nodata")
    )
    [target] = submission_targets(nothing)
    assert target.unavailable_verdict == "not_applicable" and target.port is None
    assert "no submission hosts" in (target.unavailable or "")
    declined = _discovery(
        (), _srv("_submission._tcp", "0 0 0 ."), _srv("_submissions._tcp", "0 0 0 .")
    )
    [target] = submission_targets(declined)
    assert "SRV target '.'" in (target.unavailable or "")


def test_failed_srv_lookup_and_unresolvable_host_are_errors() -> None:
    host = SubmissionHost("gone.example.org", ("inventory",), (), _addr("gone.example.org"), None)
    found = _discovery(
        (host,), _srv("_submission._tcp", status="servfail"), _srv("_submissions._tcp")
    )
    verdicts = {t.tag: t.unavailable_verdict for t in submission_targets(found)}
    assert verdicts == {"dns-error": "error", "no-address": "error"}


@pytest.mark.parametrize(
    ("lines", "want"),
    [
        (("mx", "PIPELINING", "AUTH PLAIN LOGIN", "STARTTLS"), ("PLAIN", "LOGIN")),
        (("mx", "AUTH=LOGIN PLAIN", "AUTH LOGIN PLAIN"), ("LOGIN", "PLAIN")),
        (("mx", "auth cram-md5"), ("CRAM-MD5",)),
        (("mx", "AUTHX PLAIN", "8BITMIME"), ()),
        (("AUTH PLAIN",), ()),  # the first line is the greeting, not a keyword
    ],
)
def test_auth_mechanisms(lines: tuple[str, ...], want: tuple[str, ...]) -> None:
    obs = SmtpObservation(Endpoint("192.0.2.1", 587, "smtp.example.org"), "", "", ())
    assert obs.auth_mechanisms(SmtpReply(250, lines)) == want
    assert obs.auth_mechanisms(SmtpReply(502, lines)) == ()
