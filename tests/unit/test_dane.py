"""DANE matching (mailtls/dane.py) against certificates made here with cryptography."""

from __future__ import annotations

import hashlib

from mailtls.dane import association, match_record, parse_tlsa
from tests.support.certs import make_cert


def _cert(cn: str) -> tuple[bytes, bytes]:
    """A certificate as DER, and its SubjectPublicKeyInfo."""
    made = make_cert(cn)
    return made.der, made.spki


def test_parse_joins_chunked_hex_and_rejects_junk() -> None:
    r = parse_tlsa("3 1 1 ABCD ef01")
    assert r is not None and (r.usage, r.selector, r.mtype, r.data) == (
        3,
        1,
        1,
        b"\xab\xcd\xef\x01",
    )
    assert parse_tlsa("3 1 1 zz") is None
    assert parse_tlsa("3 1") is None
    assert parse_tlsa("x 1 1 00") is None


def test_association_per_selector_and_matching_type() -> None:
    der, spki = _cert("mx.example")
    assert association(der, 0, 0) == der
    assert association(der, 1, 0) == spki
    assert association(der, 1, 1) == hashlib.sha256(spki).digest()
    assert association(der, 0, 2) == hashlib.sha512(der).digest()
    assert association(der, 2, 1) is None and association(der, 1, 3) is None


def test_dane_ee_matches_the_leaf_only_and_ta_only_above_it() -> None:
    leaf, leaf_spki = _cert("mx.example")
    inter, inter_spki = _cert("intermediate.example")
    chain = (leaf, inter)
    ee = parse_tlsa(f"3 1 1 {hashlib.sha256(leaf_spki).hexdigest()}")
    ta = parse_tlsa(f"2 1 1 {hashlib.sha256(inter_spki).hexdigest()}")
    ee_on_inter = parse_tlsa(f"3 1 1 {hashlib.sha256(inter_spki).hexdigest()}")
    ta_on_leaf = parse_tlsa(f"2 1 1 {hashlib.sha256(leaf_spki).hexdigest()}")
    assert ee and ta and ee_on_inter and ta_on_leaf
    assert match_record(ee, chain).matched_position == 0
    assert match_record(ta, chain).matched_position == 1
    assert not match_record(ee_on_inter, chain).matches  # DANE-EE is about the leaf
    assert not match_record(ta_on_leaf, chain).matches  # a TA is above the leaf
    assert "no certificate above the leaf" in match_record(ta, (leaf,)).why


def test_mismatch_names_both_digests_and_pkix_is_unusable() -> None:
    leaf, leaf_spki = _cert("mx.example")
    wrong = parse_tlsa("3 1 1 " + "ab" * 32)
    assert wrong is not None
    m = match_record(wrong, (leaf,))
    assert not m.matches and "ab" * 32 in m.why and hashlib.sha256(leaf_spki).hexdigest() in m.why
    pkix = parse_tlsa(f"1 1 1 {hashlib.sha256(leaf_spki).hexdigest()}")
    assert pkix is not None
    p = match_record(pkix, (leaf,))
    assert p.matches and not p.usable and "unusable for SMTP" in p.why
