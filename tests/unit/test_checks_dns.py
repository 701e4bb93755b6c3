"""The MX and DNSSEC checks as pure functions: a discovery in, a verdict out (one row a case)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mailtls.verdicts import Verdict
from tests.support import factories as f
from tests.support.verdict import assert_verdict, case_ids, check_module

MX = check_module("test_mx")
DNSSEC = check_module("test_dnssec")

SERVFAIL = f.discovery(kind="error", mx_status="servfail", error="SERVFAIL from 127.0.0.1:53")
NXDOMAIN = f.discovery(kind="error", mx_status="nxdomain", error="example.org does not exist")
IMPLICIT = f.discovery(f.mx_host("example.org", preference=0), kind="implicit")
NULL = f.discovery(kind="null", null_mx=True)

# (check, discovery, target or None, verdict, a phrase of the message)
CASES: list[tuple[Callable[..., None], Any, Any, Verdict, str]] = [
    (MX.test_mx_resolves, f.discovery(), None, "pass", ""),
    (MX.test_mx_resolves, NXDOMAIN, None, "fail", "does not exist (NXDOMAIN"),
    (MX.test_mx_resolves, SERVFAIL, None, "error", "SERVFAIL"),
    (MX.test_mx_resolves, NULL, None, "not_applicable", "null MX"),
    (MX.test_mx_resolves, IMPLICIT, None, "not_applicable", "implicit MX"),
    (
        MX.test_mx_resolves,
        f.discovery(f.mx_host(a_status="nxdomain")),
        None,
        "fail",
        "no MX host has an A or AAAA record (unresolvable: mx.example.org)",
    ),
    (
        MX.test_mx_resolves,
        f.discovery(f.mx_host(a_status="servfail")),
        None,
        "error",
        "no MX host address could be looked up",
    ),
    (MX.test_null_mx_alone, f.discovery(), None, "pass", ""),
    (
        MX.test_null_mx_alone,
        f.discovery(null_mx=True, other_mx_with_null=("mx.example.org",)),
        None,
        "fail",
        "null MX together with other MX records (mx.example.org)",
    ),
    (MX.test_null_mx_alone, SERVFAIL, None, "error", "SERVFAIL"),
    (MX.test_null_mx_alone, NXDOMAIN, None, "pass", ""),
    (MX.test_no_implicit_mx, f.discovery(), None, "pass", ""),
    (MX.test_no_implicit_mx, IMPLICIT, None, "warn", "senders deliver to its own addresses"),
    (MX.test_no_implicit_mx, NXDOMAIN, None, "not_applicable", "does not exist"),
    (MX.test_no_implicit_mx, SERVFAIL, None, "error", "SERVFAIL"),
    (DNSSEC.test_domain_signed, f.discovery(), None, "pass", ""),
    (DNSSEC.test_domain_signed, f.discovery(secure=False), None, "fail", "DNSSEC insecure"),
    (
        DNSSEC.test_domain_signed,
        f.discovery(kind="error", mx_status="servfail", bogus=True, error="bogus"),
        None,
        "fail",
        "cannot resolve this domain at all",
    ),
    (DNSSEC.test_domain_signed, SERVFAIL, None, "error", "SERVFAIL"),
    (DNSSEC.test_mx_host_signed, f.discovery(), f.mx_target(), "pass", ""),
    (
        DNSSEC.test_mx_host_signed,
        f.discovery(f.mx_host(secure=False)),
        f.mx_target(),
        "warn",
        "DANE is impossible for this MX",
    ),
    (
        DNSSEC.test_mx_host_signed,
        f.discovery(),
        f.mx_target("other.example.org"),
        "not_applicable",
        "no MX host to check",
    ),
    (
        DNSSEC.test_mx_host_signed,
        f.discovery(f.mx_host(a_status="servfail", aaaa_status="servfail")),
        f.mx_target(),
        "error",
        "SERVFAIL",
    ),
    (
        DNSSEC.test_mx_host_signed,
        f.discovery(f.mx_host(a_status="nxdomain", aaaa_status="nxdomain")),
        f.mx_target(),
        "not_applicable",
        "has no address records",
    ),
]


@pytest.mark.parametrize(
    ("check", "found", "target", "verdict", "phrase"), CASES, ids=case_ids(CASES)
)
def test_dns_checks(
    check: Callable[..., None], found: Any, target: Any, verdict: Verdict, phrase: str
) -> None:
    fixtures = {"discovery": found} if target is None else {"discovery": found, "target": target}
    assert_verdict(check, fixtures, verdict, phrase)
