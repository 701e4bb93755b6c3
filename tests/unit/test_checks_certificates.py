"""The MX and submission certificate checks as pure functions: a session serving a chain made
by tests.support.certs (plus the discovery, the CA bundle or the domain's settings where a check
reads them) in, a verdict out (one row a case)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from mailtls.inventory import Domain
from mailtls.observations import Endpoint
from mailtls.verdicts import Verdict
from tests.support import factories as f
from tests.support.certs import make_cert, make_key
from tests.support.verdict import assert_verdict, case_ids, check_module

MX = check_module("test_certificates")
SUB = check_module("test_submission_certificates")
NOW = dt.datetime.now(dt.UTC)
ROOT = make_cert("mailtls test root", sans=[], ca=True)
GOOD = make_cert(f.MX, issuer=ROOT, ca=False, days=90)
SELF = make_cert(f.MX, days=90)
OTHER_NAME = make_cert("other.example.net", issuer=ROOT, ca=False, days=90)
EXPIRED = make_cert(f.MX, issuer=ROOT, ca=False, not_before=NOW - dt.timedelta(days=90), days=-1)
NOT_YET = make_cert(f.MX, issuer=ROOT, ca=False, not_before=NOW + dt.timedelta(days=2))
SOON = make_cert(f.MX, issuer=ROOT, ca=False, days=30)
WEAK_RSA = make_cert(f.MX, key=make_key("rsa", bits=1024), issuer=ROOT, ca=False, days=90)
RSA_2048 = make_cert(f.MX, key=make_key("rsa"), issuer=ROOT, ca=False, days=90)
SUBMIT_HOST = "smtp.example.org"
SUB_GOOD = make_cert(SUBMIT_HOST, issuer=ROOT, ca=False, days=90)
DANE_EE = f.discovery(f.mx_host(tlsa=["3 1 1 " + "ab" * 32]))
DANE_TA = f.discovery(f.mx_host(tlsa=["2 1 1 " + "ab" * 32]))
STS = f.discovery(mta_sts=True)
P587 = Endpoint(f.IP, 587, SUBMIT_HOST)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """What the checks read of the run: the CA bundle (our test root only)."""
    bundle = tmp_path_factory.mktemp("ca") / "bundle.pem"
    bundle.write_bytes(ROOT.cert.public_bytes(Encoding.PEM))
    return SimpleNamespace(ca_bundle=Path(bundle))


def _mx(cert: Any, found: Any = None) -> dict[str, Any]:
    """The fixtures of an MX certificate check: the session, the discovery and the target."""
    chain = (cert.der,) if cert is not None else ()
    smtp = f.session(chain=chain) if cert is not None else f.session(starttls=False)
    return {"smtp": smtp, "discovery": found or f.discovery(), "target": f.mx_target()}


def _sub(cert: Any) -> dict[str, Any]:
    chain = (cert.der,) if cert is not None else ()
    smtp = f.session(endpoint=P587, chain=chain, starttls=cert is not None)
    return {"smtp": smtp, "target": f.submission_target(SUBMIT_HOST)}


def _only(fixtures: dict[str, Any], *names: str, **extra: Any) -> dict[str, Any]:
    return {k: v for k, v in fixtures.items() if k in names} | extra


MARGIN = Domain(f.DOMAIN, expiry_warning_days=60)

# (check, fixtures (a function of the run), verdict, a phrase of the message)
Case = tuple[Callable[..., None], Callable[[Any], dict[str, Any]], Verdict, str]
CASES: list[Case] = [
    (MX.test_certificate_trusted, lambda r: _mx(GOOD) | {"mailtls_run": r}, "pass", ""),
    (
        MX.test_certificate_trusted,
        lambda r: _mx(SELF) | {"mailtls_run": r},
        "warn",
        "certificate not trusted: self-signed certificate (CN=mx.example.org), not issued by a trusted CA; advisory only",
    ),
    (
        MX.test_certificate_trusted,
        lambda r: _mx(SELF, STS) | {"mailtls_run": r},
        "fail",
        "this fails because MTA-STS is advertised for example.org",
    ),
    (
        MX.test_certificate_trusted,
        lambda r: _mx(SELF, DANE_TA) | {"mailtls_run": r},
        "fail",
        "this fails because DANE-TA(2) TLSA records are published",
    ),
    (
        MX.test_certificate_trusted,
        lambda r: _mx(None) | {"mailtls_run": r},
        "not_applicable",
        "no TLS session, so no certificate",
    ),
    (MX.test_certificate_name, lambda r: _mx(GOOD), "pass", ""),
    (
        MX.test_certificate_name,
        lambda r: _mx(OTHER_NAME),
        "warn",
        "certificate names other.example.net do not match mx.example.org; advisory only",
    ),
    (MX.test_certificate_name, lambda r: _mx(OTHER_NAME, STS), "fail", "because MTA-STS"),
    (
        MX.test_certificate_name,
        lambda r: _mx(OTHER_NAME, DANE_EE),
        "not_applicable",
        "DANE-EE(3) ignores names",
    ),
    (MX.test_certificate_in_validity_period, lambda r: _mx(GOOD), "pass", ""),
    (MX.test_certificate_in_validity_period, lambda r: _mx(EXPIRED), "warn", "expired on"),
    (MX.test_certificate_in_validity_period, lambda r: _mx(EXPIRED, STS), "fail", "expired on"),
    (MX.test_certificate_in_validity_period, lambda r: _mx(NOT_YET), "warn", "not valid before"),
    (
        MX.test_certificate_in_validity_period,
        lambda r: _mx(EXPIRED, DANE_EE),
        "not_applicable",
        "DANE-EE(3) ignores dates",
    ),
    (
        MX.test_certificate_expiry_margin,
        lambda r: _only(_mx(GOOD), "smtp", domain_settings=MARGIN),
        "pass",
        "",
    ),
    (
        MX.test_certificate_expiry_margin,
        lambda r: _only(_mx(SOON), "smtp", domain_settings=MARGIN),
        "warn",
        "within the 60-day margin",
    ),
    (
        MX.test_certificate_expiry_margin,
        lambda r: _only(_mx(EXPIRED), "smtp", domain_settings=MARGIN),
        "not_applicable",
        "already expired (see CERT-MX-VALIDITY)",
    ),
    (MX.test_certificate_key, lambda r: _only(_mx(GOOD), "smtp", profile="nist"), "pass", ""),
    (
        MX.test_certificate_key,
        lambda r: _only(_mx(WEAK_RSA), "smtp", profile="nist"),
        "fail",
        "RSA key of 1024 bits is below 2048",
    ),
    (MX.test_certificate_key, lambda r: _only(_mx(RSA_2048), "smtp", profile="nist"), "pass", ""),
    (
        MX.test_certificate_key,
        lambda r: _only(_mx(RSA_2048), "smtp", profile="ncsc-nl"),
        "warn",
        "RSA 2048-3071 is only 'sufficient' under ncsc-nl",
    ),
    # SHA-1 signing is refused by this cryptography build: the weak-hash case is left to the
    # testbed (tests/e2e) and to tests/unit/test_certs.py's summaries.
    (MX.test_certificate_signatures, lambda r: _only(_mx(GOOD), "smtp"), "pass", ""),
    (
        MX.test_certificate_signatures,
        lambda r: _only(_mx(None), "smtp"),
        "not_applicable",
        "no TLS session",
    ),
    # the submission ports: trust, name and dates are required, never advisory
    (
        SUB.test_submission_certificate_trusted,
        lambda r: _only(_sub(SUB_GOOD), "smtp", mailtls_run=r),
        "pass",
        "",
    ),
    (
        SUB.test_submission_certificate_trusted,
        lambda r: _only(_sub(make_cert(SUBMIT_HOST)), "smtp", mailtls_run=r),
        "fail",
        "certificate not trusted: self-signed certificate (CN=smtp.example.org)",
    ),
    (
        SUB.test_submission_certificate_trusted,
        lambda r: _only(_sub(None), "smtp", mailtls_run=r),
        "not_applicable",
        "no TLS session on this port",
    ),
    (SUB.test_submission_certificate_name, lambda r: _sub(SUB_GOOD), "pass", ""),
    (
        SUB.test_submission_certificate_name,
        lambda r: _sub(GOOD),
        "fail",
        "certificate names mx.example.org do not match smtp.example.org",
    ),
    (
        SUB.test_submission_certificate_in_validity_period,
        lambda r: _only(_sub(SUB_GOOD), "smtp"),
        "pass",
        "",
    ),
    (
        SUB.test_submission_certificate_in_validity_period,
        lambda r: _only(_sub(EXPIRED), "smtp"),
        "fail",
        "certificate expired on",
    ),
    (
        SUB.test_submission_certificate_in_validity_period,
        lambda r: _only(_sub(NOT_YET), "smtp"),
        "fail",
        "certificate not valid before",
    ),
    (
        SUB.test_submission_certificate_expiry_margin,
        lambda r: _only(_sub(SOON), "smtp", domain_settings=MARGIN),
        "warn",
        "within the 60-day margin",
    ),
    (
        SUB.test_submission_certificate_key,
        lambda r: _only(_sub(WEAK_RSA), "smtp", profile="nist"),
        "fail",
        "below 2048",
    ),
    (
        SUB.test_submission_certificate_signatures,
        lambda r: _only(_sub(SUB_GOOD), "smtp"),
        "pass",
        "",
    ),
]


@pytest.mark.parametrize(("check", "fixtures", "verdict", "phrase"), CASES, ids=case_ids(CASES))
def test_certificate_checks(
    check: Callable[..., None],
    fixtures: Callable[[Any], dict[str, Any]],
    verdict: Verdict,
    phrase: str,
    run: SimpleNamespace,
) -> None:
    assert_verdict(check, fixtures(run), verdict, phrase)
