"""The scan's ledger without sockets: what a server's first flight answers, what a refusal
answers, protocol violations, and that concurrent lanes never lose or corrupt an answer."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from mailtls.probes.tlsscan import QUESTIONS, Hello, Ledger, bundle, version_hello
from mailtls.tls._wire import TLS10, TLS11, TLS12
from mailtls.tls.flight import ServerFlight
from mailtls.tls.groups import SECP256R1, X25519
from mailtls.tls.suites import suite_by_name


def _code(name: str) -> int:
    suite = suite_by_name(name)
    assert suite is not None, name
    return suite.code


RC4 = _code("TLS_RSA_WITH_RC4_128_SHA")
ECDHE_GCM = _code("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")


def test_a_refusal_answers_the_hellos_refusal_questions_with_no() -> None:
    ledger = Ledger()
    ledger.learn(1, version_hello(TLS10), ServerFlight(outcome="refused", alert=(2, 40)))
    assert ledger.value("tls10") == "no"
    assert ledger.how("tls10") == "hello 1 (version: TLS 1.0 as the highest)"
    assert ledger.open("tls11") and ledger.value("tls11") == "unknown"
    (record,) = ledger.hellos()
    assert record.n == 1 and record.outcome == "refused" and record.offered_version == "TLS 1.0"


def test_an_error_answers_nothing() -> None:
    ledger = Ledger()
    ledger.learn(1, version_hello(TLS11), ServerFlight(outcome="error", error="timed out"))
    assert ledger.answers() == () and len(ledger.hellos()) == 1


def test_an_accepted_weak_suite_answers_its_categories_and_the_version() -> None:
    ledger = Ledger()
    hello = bundle("suites", ["weak", "nist_bad", "nonfs", "chacha12"])
    assert hello is not None
    ledger.learn(2, hello, ServerFlight(outcome="accepted", version=TLS12, cipher_suite=RC4))
    assert {a.question: a.value for a in ledger.answers()} == {
        "tls12": "yes",
        "weak": "yes",
        "nonfs": "yes",
        "nist_bad": "yes",
    }
    assert ledger.accepted() == (("TLS 1.2", "TLS_RSA_WITH_RC4_128_SHA"),)
    assert RC4 in ledger.view().accepted_codes
    assert [a.question for a in ledger.answers()] == [
        q for q in QUESTIONS if q in ledger.view().answers
    ]


def test_a_lower_version_than_offered_answers_the_offered_one_no() -> None:
    ledger = Ledger()
    hello = version_hello(TLS11)
    flight = ServerFlight(outcome="accepted", version=TLS10, cipher_suite=hello.suites[-1])
    ledger.learn(3, hello, flight)
    assert ledger.value("tls10") == "yes"
    assert ledger.value("tls11") == "no"
    assert "the server chose TLS 1.0" in ledger.how("tls11")


def test_a_suite_we_did_not_offer_is_a_protocol_violation_not_an_answer() -> None:
    ledger = Ledger()
    hello = Hello("ECDHE", TLS12, (ECDHE_GCM,), refusal_answers=("ec_nist",))
    ledger.learn(4, hello, ServerFlight(outcome="accepted", version=TLS12, cipher_suite=RC4))
    (record,) = ledger.hellos()
    assert record.outcome == "error" and "a suite we did not offer" in (record.detail or "")
    assert ledger.open("weak") and ledger.accepted() == ()


def test_curves_are_learned_once_each() -> None:
    ledger = Ledger()
    hello = Hello("ECDHE", TLS12, (ECDHE_GCM,), refusal_answers=("ec_nist",))
    for n, group in enumerate((SECP256R1, X25519, SECP256R1), start=1):
        flight = ServerFlight(
            outcome="accepted", version=TLS12, cipher_suite=ECDHE_GCM, kex_group=group
        )
        ledger.learn(n, hello, flight)
    assert ledger.ec_groups() == ("secp256r1", "x25519")
    assert ledger.value("ec_nist") == "yes" and ledger.open("ec_bad")


def test_the_budget_leaves_open_only_questions_still_unanswered() -> None:
    ledger = Ledger()
    ledger.answer("dhe", "no", "hello 5")
    ledger.left_open_by_budget(("dhe", "ec_bad"))
    assert ledger.budget_open() == ("ec_bad",)
    ledger.answer("ec_bad", "yes", "hello 6")
    assert ledger.budget_open() == ()


@pytest.mark.parametrize(
    "call",
    [
        lambda ledger: ledger.open("weak"),
        lambda ledger: ledger.value("weak"),
        lambda ledger: ledger.view(),
        lambda ledger: ledger.answer("weak", "yes", "hello 1"),
        lambda ledger: ledger.answers(),
    ],
    ids=["open", "value", "view", "answer", "answers"],
)
def test_reads_and_writes_wait_for_the_ledgers_lock(call: Callable[[Ledger], object]) -> None:
    """Two lanes share one ledger: every read and write takes its lock, so none sees a half
    update. While the lock is held (as a writer in the other lane holds it), the call waits."""
    ledger = Ledger()
    done = threading.Event()

    def other_lane() -> None:
        call(ledger)
        done.set()

    with ledger._lock:
        thread = threading.Thread(target=other_lane)
        thread.start()
        assert not done.wait(0.2), "the call did not wait for the lock"
    thread.join(5)
    assert done.is_set()
