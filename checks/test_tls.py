"""TLS versions, cipher suites and key-exchange groups of every MX address (after STARTTLS).

Answers come from hello probes (``mailtls.probes.tlsscan``): one crafted ClientHello per
question, so that "refused SSL 3.0 / RC4 / 3DES" is true only because we really offered them.
A question the scan could not answer (rate limiting, the connection budget, a broken reply) is
an error that names the cause, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mailtls.observations import Answer, TlsScan
from mailtls.requirements import Requirement
from mailtls.tls.suites import CipherSuite, is_nist_approved, is_weak, suite_by_name
from mailtls.verdicts import fail, inconclusive, judge, not_applicable, warn


def _ready(scan: TlsScan) -> None:
    if scan.skip_kind == "no_starttls":
        not_applicable(f"{scan.endpoint}: STARTTLS is not offered (see SMTP-STARTTLS-OFFERED)")
    if scan.skipped:
        inconclusive(f"{scan.endpoint}: {scan.skipped}")
    if scan.tls_unusable:
        # Every full handshake was refused: no sender gets TLS here, whatever the hellos say.
        fail(f"{scan.endpoint}: {scan.stopped} (see SMTP-STARTTLS-HANDSHAKE)")
    if not scan.handshake_seen:
        inconclusive(
            f"{scan.endpoint}: not tested: the server accepted none of our offers, not even a "
            "modern one, so its refusals say nothing about what it supports"
        )


def _known(scan: TlsScan, question: str) -> Answer:
    a = scan.answer(question)
    if a.value == "unknown":
        inconclusive(f"{scan.endpoint}: {question} could not be tested: {a.how}")
    return a


def _yes(scan: TlsScan, question: str) -> bool:
    return _known(scan, question).value == "yes"


def _left_open_by_limit(scan: TlsScan, question: str) -> bool:
    """Unanswered only because the per-address connection limit was reached (not because the
    server rate-limited or broke the scan: that stays an error)."""
    return scan.answer(question).open_kind == "budget"


def _suites(scan: TlsScan, keep: Callable[[CipherSuite], bool]) -> str:
    """The accepted suites that `keep` selects, with the version they were accepted in."""
    names = [
        f"{suite} ({version})"
        for version, suite in scan.accepted
        if (s := suite_by_name(suite)) is not None and keep(s)
    ]
    return ", ".join(names) or "(not named within the connection budget)"


@pytest.mark.requirement("TLS-V-NO-SSL")
def test_no_ssl(tlsscan: TlsScan) -> None:
    """SSL 2.0 and SSL 3.0 are refused (SP 800-52r2 §3.1: servers shall not use them)."""
    _ready(tlsscan)
    ssl2, ssl3 = _yes(tlsscan, "sslv2"), _yes(tlsscan, "sslv3")
    accepted = [name for name, yes in (("SSL 2.0", ssl2), ("SSL 3.0", ssl3)) if yes]
    assert not accepted, (
        f"{tlsscan.endpoint}: accepts {' and '.join(accepted)} "
        f"({tlsscan.answer('sslv3' if ssl3 else 'sslv2').how})"
    )


@pytest.mark.requirement("TLS-V-NO-TLS10-11")
def test_no_tls10_tls11(tlsscan: TlsScan, profile: str, requirement: Requirement) -> None:
    """TLS 1.0 and 1.1 are refused (SP 800-52r2 §3.1; RFC 8996; NCSC-NL: phase out)."""
    _ready(tlsscan)
    tls10, tls11 = _yes(tlsscan, "tls10"), _yes(tlsscan, "tls11")
    if not (tls10 or tls11):
        return
    accepted = " and ".join(n for n, yes in (("TLS 1.0", tls10), ("TLS 1.1", tls11)) if yes)
    worst = "tls10" if tls10 else "tls11"  # the catalogue never rates TLS 1.1 worse than 1.0
    judge(
        requirement.param(profile, worst, "fail"),
        f"{tlsscan.endpoint}: accepts {accepted} (profile {profile}: "
        f"{requirement.profiles[profile].verdict or requirement.rule})",
    )


@pytest.mark.requirement("TLS-V-TLS12")
def test_tls12_supported(tlsscan: TlsScan) -> None:
    """TLS 1.2 is negotiated, or the server is TLS 1.3-only (SP 800-52r2 §3.1, RFC 8461 §7.2)."""
    _ready(tlsscan)
    if _yes(tlsscan, "tls12"):
        return
    assert _yes(tlsscan, "tls13"), (
        f"{tlsscan.endpoint}: neither TLS 1.2 nor TLS 1.3 is accepted "
        f"({tlsscan.answer('tls12').how})"
    )


@pytest.mark.requirement("TLS-V-TLS13")
def test_tls13_supported(tlsscan: TlsScan, profile: str, requirement: Requirement) -> None:
    """TLS 1.3 is negotiated (SP 800-52r2 §3.1: required since 2024-01-01; NCSC-NL: Good)."""
    _ready(tlsscan)
    if _yes(tlsscan, "tls13"):
        return
    judge(
        requirement.param(profile, "absent", "fail"),
        f"{tlsscan.endpoint}: TLS 1.3 is not supported ({tlsscan.answer('tls13').how}); "
        f"profile {profile}: {requirement.profiles[profile].verdict or requirement.rule}",
    )


@pytest.mark.requirement("TLS-CS-NO-WEAK")
def test_no_weak_suites(tlsscan: TlsScan) -> None:
    """No NULL, anonymous, EXPORT, DES, 3DES, RC4, RC2, IDEA or MD5 suite is accepted."""
    _ready(tlsscan)
    assert not _yes(tlsscan, "weak"), (
        f"{tlsscan.endpoint}: accepts weak cipher suites: {_suites(tlsscan, is_weak)}"
        + (" and SSL 2.0 ciphers" if tlsscan.answer("sslv2").value == "yes" else "")
        + f" ({tlsscan.answer('weak').how})"
    )


@pytest.mark.requirement("TLS-CS-FORWARD-SECRECY")
def test_forward_secrecy(tlsscan: TlsScan) -> None:
    """Only ephemeral (EC)DHE key exchange (or TLS 1.3) is accepted."""
    _ready(tlsscan)
    if _yes(tlsscan, "nonfs"):
        warn(
            f"{tlsscan.endpoint}: accepts suites without forward secrecy: "
            f"{_suites(tlsscan, lambda s: not s.forward_secret)}"
        )


@pytest.mark.requirement("TLS-CS-NIST-APPROVED")
def test_nist_approved_suites(tlsscan: TlsScan, profile: str, requirement: Requirement) -> None:
    """Every accepted suite is on the SP 800-52r2 §3.3.1 list (profile nist)."""
    if not requirement.param(profile, "applies", True):
        not_applicable(
            f"profile {profile}: the SP 800-52r2 list is a NIST rule; weak suites are judged by "
            "TLS-CS-NO-WEAK"
        )
    _ready(tlsscan)
    assert not _yes(tlsscan, "nist_bad"), (
        f"{tlsscan.endpoint}: accepts suites outside SP 800-52r2 §3.3.1: "
        f"{_suites(tlsscan, lambda s: not is_nist_approved(s) and 'CHACHA20' not in s.cipher)}"
        " (static-RSA suites are allowed only under the Appendix D transition)"
    )
    level = requirement.param(profile, "chacha20", "warn")
    # ChaCha20 in TLS 1.2 settles the verdict; TLS 1.3 is asked only when it does not.
    chacha = ["TLS 1.2"] if _yes(tlsscan, "chacha12") else []
    if not chacha and _left_open_by_limit(tlsscan, "chacha13"):
        # Everything that could fail is answered; the open question can at worst warn.
        judge(
            level if level == "pass" else "warn",
            f"{tlsscan.endpoint}: no suite outside SP 800-52r2 in TLS 1.2; ChaCha20 in TLS 1.3 "
            f"was not tested ({tlsscan.answer('chacha13').how}), so this is at most a warning",
        )
        return
    if not chacha and _yes(tlsscan, "chacha13"):
        chacha = ["TLS 1.3"]
    if chacha:
        judge(
            level,
            f"{tlsscan.endpoint}: accepts ChaCha20-Poly1305 in {' and '.join(chacha)}, which "
            "SP 800-52r2 does not list (NCSC-NL rates it Good)",
        )


@pytest.mark.requirement("TLS-KEX-GROUPS-EC")
def test_ecdhe_groups(tlsscan: TlsScan, profile: str) -> None:
    """ECDHE uses only Good curves, and P-256 or P-384 is among them."""
    _ready(tlsscan)
    bad = _yes(tlsscan, "ec_bad")
    if not _left_open_by_limit(tlsscan, "ec_nist"):
        _known(tlsscan, "ec_nist")  # rate limited or broken: an error, as for every question
    # P-256/P-384 missing is at worst a warning: an open question there does not make an error.
    nist = tlsscan.answer("ec_nist").value == "yes" or _left_open_by_limit(tlsscan, "ec_nist")
    if not (bad or nist or tlsscan.ec_groups):
        if tlsscan.answer("tls12").value == "no" and tlsscan.answer("tls13").value == "yes":
            not_applicable(
                f"{tlsscan.endpoint}: TLS 1.3 only; the curves are probed in TLS 1.2 hellos, "
                "and TLS 1.3 key-share groups are not probed within the connection limit"
            )
        not_applicable(f"{tlsscan.endpoint}: no ECDHE key exchange was accepted (TLS 1.2)")
    seen = ", ".join(tlsscan.ec_groups) or "(none named)"
    if bad:
        others = [g for g in tlsscan.ec_groups if g not in _GOOD_NAMES]
        assert others == ["secp224r1"], (
            f"{tlsscan.endpoint}: accepts ECDHE with curves outside the Good list: "
            f"{', '.join(others)} (all curves seen: {seen})"
        )
        warn(f"{tlsscan.endpoint}: accepts ECDHE with secp224r1 (phase out); curves seen: {seen}")
    if _left_open_by_limit(tlsscan, "ec_nist") and profile == "nist":
        warn(
            f"{tlsscan.endpoint}: curves seen: {seen}; whether P-256 or P-384 is accepted was not "
            f"tested ({tlsscan.answer('ec_nist').how}), so this is at most a warning"
        )
    if not nist and profile == "nist":
        warn(
            f"{tlsscan.endpoint}: neither P-256 nor P-384 is accepted for ECDHE "
            f"({tlsscan.answer('ec_nist').how}); curves seen: {seen}"
        )


_GOOD_NAMES = frozenset({"secp256r1", "secp384r1", "secp521r1", "x25519", "x448"})


@pytest.mark.requirement("TLS-KEX-GROUPS-FF")
def test_dhe_group(tlsscan: TlsScan) -> None:
    """If DHE is accepted, its group is an RFC 7919 group of 3072 bits or more."""
    _ready(tlsscan)
    if not _yes(tlsscan, "dhe"):
        not_applicable(f"{tlsscan.endpoint}: DHE is not accepted ({tlsscan.answer('dhe').how})")
    group = tlsscan.dhe_group
    if group is None:
        inconclusive(f"{tlsscan.endpoint}: DHE was accepted but no ServerKeyExchange was read")
    if group in ("ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"):
        return
    if group == "ffdhe2048":
        warn(f"{tlsscan.endpoint}: DHE uses ffdhe2048 (phase out; use ffdhe3072 or larger)")
    raise AssertionError(
        f"{tlsscan.endpoint}: DHE uses a {group}, not one of the RFC 7919 groups of 3072 bits "
        "or more (precomputation attacks such as Logjam target home-made and small groups)"
    )
