"""The hello scan's pure parts: which question a chosen suite answers, and what a bundle offers."""

from __future__ import annotations

from mailtls.observations import Answer, Endpoint, SmtpObservation, SmtpReply, TlsScan, TlsSession
from mailtls.probes.smtp import SmtpSettings
from mailtls.probes.tlsscan import (
    BAD_CURVES,
    DHE_SUITES,
    ECDHE_SUITES,
    GOOD_CURVES,
    LEGACY_SUITES,
    Connector,
    Ledger,
    bundle,
    categories,
    why_skip,
)
from mailtls.tls.suites import SUITES, WEAK_SUITES, suite_by_name


def _cats(name: str) -> frozenset[str]:
    suite = suite_by_name(name)
    assert suite is not None, name
    return categories(suite)


def test_categories_of_typical_suites() -> None:
    assert _cats("TLS_RSA_WITH_RC4_128_SHA") == {"weak", "nonfs", "nist_bad"}
    assert _cats("TLS_DH_anon_WITH_AES_128_CBC_SHA") == {"weak", "nist_bad"}
    assert _cats("TLS_RSA_WITH_AES_128_GCM_SHA256") == {"nonfs", "nist_bad"}  # Appendix D
    assert _cats("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256") == {"chacha12"}
    assert _cats("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") == frozenset()
    assert _cats("TLS_DHE_RSA_WITH_AES_256_GCM_SHA384") == {"dhe"}
    assert _cats("TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA") == {"dhe", "nist_bad"}
    assert _cats("TLS_RSA_WITH_NULL_SHA256") == {"weak", "nonfs", "nist_bad"}


def test_offers_contain_no_suite_an_ordinary_server_cannot_choose() -> None:
    for code in LEGACY_SUITES:
        s = SUITES[code]
        assert s.kex != "TLS13"
        assert s.kex not in ("PSK", "SRP", "KRB5", "ECCPWD") or code in WEAK_SUITES
    assert all(SUITES[c].kex == "DHE" and SUITES[c].auth != "anon" for c in DHE_SUITES)
    assert all(SUITES[c].kex == "ECDHE" for c in ECDHE_SUITES)
    assert not set(BAD_CURVES) & GOOD_CURVES


def _connector() -> Connector:
    endpoint = Endpoint("192.0.2.1", 25, "mx.example")
    return Connector(endpoint, SmtpSettings("probe", 1.0), Ledger(), 10, 1)


def test_first_bundle_offers_every_bad_suite_weak_first() -> None:
    hello = bundle("all", ["weak", "nist_bad", "nonfs", "chacha12"])
    assert hello is not None
    offered = set(hello.suites)
    assert set(WEAK_SUITES) & set(LEGACY_SUITES) <= offered
    assert suite_by_name("TLS_RSA_WITH_AES_128_GCM_SHA256").code in offered  # type: ignore[union-attr]
    assert suite_by_name("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256").code not in offered  # type: ignore[union-attr]
    weak_flags = [SUITES[c].code in WEAK_SUITES for c in hello.suites]
    assert weak_flags == sorted(weak_flags, reverse=True)  # all weak suites come first
    assert set(hello.refusal_answers) == {"weak", "nist_bad", "nonfs", "chacha12"}


def test_bundle_leaves_out_suites_already_seen_and_listing_answers_nothing() -> None:
    rc4 = suite_by_name("TLS_RSA_WITH_RC4_128_SHA")
    assert rc4 is not None
    hello = bundle("more", ["weak"], seen={rc4.code}, listing=True)
    assert hello is not None and rc4.code not in hello.suites
    assert hello.refusal_answers == ()  # a refusal while listing proves nothing new


def test_yes_is_never_overwritten_by_no() -> None:
    ledger = Ledger()
    ledger.answer("weak", "yes", "hello 2")
    ledger.answer("weak", "no", "hello 3")
    assert ledger.value("weak") == "yes"


def test_budget_counts_the_smtp_session_and_holds_for_priorities() -> None:
    connector = _connector()  # budget 10, one SMTP session already made
    assert [connector.reserve() for _ in range(8)] == list(range(1, 9))
    assert connector.reserve(hold=1) is None  # the last one is kept for a more important question
    assert connector.budget_note and "limit of 10" in connector.budget_note
    assert connector.reserve() == 9
    assert connector.reserve() is None


def _session(**kw: object) -> SmtpObservation:
    return SmtpObservation(Endpoint("192.0.2.1", 25, "mx"), "t0", "t1", (), **kw)  # type: ignore[arg-type]


def testwhy_skip() -> None:
    ehlo = SmtpReply(250, ("mx", "PIPELINING"))
    assert why_skip([_session(ehlo=ehlo)]) == ("no_starttls", "STARTTLS is not offered")
    ehlo_tls = SmtpReply(250, ("mx", "STARTTLS"))
    refused = why_skip([_session(ehlo=ehlo_tls, starttls=SmtpReply(454, ("busy",)))])
    assert refused is not None and refused[0] == "not_tested" and "454" in refused[1]
    tls = TlsSession("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, "mx", (), 1.0)
    ok = _session(ehlo=ehlo_tls, starttls=SmtpReply(220, ("go",)), tls=tls)
    assert why_skip([ok]) is None
    assert why_skip([]) == ("not_tested", "not tested: no SMTP session was made to this address")


def _result(**kw: object) -> TlsScan:
    base: dict[str, object] = dict(
        endpoint=Endpoint("192.0.2.1", 25, "mx"), started="t0", finished="t1", hellos=(),
        answers=(Answer("tls13", "yes", "session"),), accepted=(), dhe_group=None, dhe_bits=None,
        ec_groups=(), connections=9, session_connections=1, session_tls="TLSv1.3", budget=10,
    )  # fmt: skip
    return TlsScan(**{**base, **kw})  # type: ignore[arg-type]


def test_why_a_question_is_open_is_a_typed_field() -> None:
    """Checks branch on open_kind, never on the text of `how`."""
    limit = _result(budget_open=("ec_nist",), budget_note="the limit of 10 was reached")
    assert limit.answer("ec_nist").open_kind == "budget"
    assert limit.answer("chacha13").open_kind == "not_asked"  # the limit did not stop *this* one
    assert limit.answer("tls13").open_kind is None
    stopped = _result(stop_kind="inconclusive", stopped="inconclusive: 421")
    assert stopped.answer("weak").open_kind == "stopped"
    assert stopped.answer("weak").how == "inconclusive: 421"
    unusable = _result(stop_kind="no_handshake", stopped="TLS is unusable: ...")
    assert unusable.tls_unusable and not stopped.tls_unusable
    skipped = _result(skip_kind="no_starttls", skipped="STARTTLS is not offered")
    assert skipped.answer("weak").open_kind == "skipped"
