"""How the TLS checks treat questions the scan left open: the connection limit may turn a
warn-at-worst question into a warning; rate limiting never does (it stays an error)."""

from __future__ import annotations

from types import ModuleType

import pytest

from mailtls import requirements
from mailtls.observations import Answer, Endpoint, TlsScan
from mailtls.verdicts import Advisory, Inconclusive
from tests.support.verdict import check_module

LIMIT = "not tested: the limit of 10 connections per address was reached (2 SMTP session(s), 8 hello probe(s))"
RATE = "inconclusive: the server answered 421 4.7.0 Too many connections (connection 6, at banner)"


def _checks() -> ModuleType:
    return check_module("test_tls")


def _scan(stopped: str, **answers: str) -> TlsScan:
    return TlsScan(
        endpoint=Endpoint("192.0.2.1", 25, "mx.example"),
        started="t0",
        finished="t1",
        hellos=(),
        answers=tuple(Answer(q, v, "hello 3") for q, v in answers.items()),  # type: ignore[arg-type]
        accepted=(),
        dhe_group=None,
        dhe_bits=None,
        ec_groups=("x25519",),
        connections=8,
        session_connections=2,
        session_tls="TLSv1.3",
        budget=10,
        # Typed, as the scan records them: the limit names the questions it left open; a stop
        # (rate limiting) leaves every open question open.
        stopped=None if stopped == LIMIT else stopped,
        stop_kind=None if stopped == LIMIT else "inconclusive",
        budget_open=("chacha13", "ec_nist") if stopped == LIMIT else (),
        budget_note=LIMIT if stopped == LIMIT else None,
    )


NIST_DONE = {"tls12": "yes", "tls13": "yes", "nist_bad": "no", "chacha12": "no", "ec_bad": "no"}


@pytest.mark.parametrize(("stopped", "raised"), [(LIMIT, Advisory), (RATE, Inconclusive)])
def test_chacha13_left_open(stopped: str, raised: type[Exception]) -> None:
    checks = _checks()
    req = requirements.get("TLS-CS-NIST-APPROVED")
    with pytest.raises(raised) as exc:
        checks.test_nist_approved_suites(_scan(stopped, **NIST_DONE), "nist", req)
    assert ("at most a warning" in str(exc.value)) == (raised is Advisory)


@pytest.mark.parametrize(("stopped", "raised"), [(LIMIT, Advisory), (RATE, Inconclusive)])
def test_p256_left_open(stopped: str, raised: type[Exception]) -> None:
    with pytest.raises(raised):
        _checks().test_ecdhe_groups(_scan(stopped, **NIST_DONE), "nist")


def test_p256_left_open_passes_where_the_profile_does_not_ask_for_it() -> None:
    _checks().test_ecdhe_groups(_scan(LIMIT, **NIST_DONE), "ncsc-nl")


def test_chacha12_settles_nist_without_asking_chacha13() -> None:
    """ChaCha20 in TLS 1.2 decides the row; TLS 1.3 (never asked then) is not needed."""
    answers = {**NIST_DONE, "chacha12": "yes"}
    scan = _scan(RATE, **answers)
    scan = TlsScan(**{**scan.__dict__, "stopped": None, "stop_kind": None})
    with pytest.raises(Advisory) as exc:
        _checks().test_nist_approved_suites(scan, "nist", requirements.get("TLS-CS-NIST-APPROVED"))
    assert "TLS 1.2" in str(exc.value)
