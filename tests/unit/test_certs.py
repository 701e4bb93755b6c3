"""Certificate logic without network: RFC 6125/9525 name matching, summaries, chain validation."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from mailtls import certs
from tests.support.certs import PrivateKey, make_cert

NOW = dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("pattern", "host", "ok"),
    [
        ("mx.example.com", "mx.example.com", True),
        ("MX.Example.COM.", "mx.example.com", True),
        ("*.example.com", "mx.example.com", True),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", "example.com", False),
        ("m*.example.com", "mx.example.com", False),
        ("*.com", "example.com", False),
        ("mx.*.com", "mx.example.com", False),
        ("other.example.com", "mx.example.com", False),
    ],
)
def test_name_matching(pattern: str, host: str, ok: bool) -> None:
    assert certs.name_matches(pattern, host) is ok


def _cert(
    key: PrivateKey,
    cn: str,
    sans: list[str],
    hash_: hashes.HashAlgorithm,
    ca: bool = False,
    days: int = 90,
) -> bytes:
    return make_cert(cn, key=key, sans=sans, hash_alg=hash_, ca=ca, days=days).der


def test_summary_reports_key_and_signature() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    s = certs.summarize(_cert(key, "mx.example", ["mx.example"], hashes.SHA256()))
    assert (s.key_type, s.key_bits, s.signature_hash, s.self_signed) == (
        "RSA",
        1024,
        "sha256",
        True,
    )
    ec_key = ec.generate_private_key(ec.SECP384R1())
    s2 = certs.summarize(_cert(ec_key, "mx.example", [], hashes.SHA384()))
    assert (s2.key_type, s2.curve, s2.sans) == ("EC", "secp384r1", ())


def test_self_signed_leaf_is_not_trusted() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    der = _cert(key, "mx.example", ["mx.example"], hashes.SHA256())
    other = ec.generate_private_key(ec.SECP256R1())
    root = x509.load_der_x509_certificate(_cert(other, "root", [], hashes.SHA256(), ca=True))
    result = certs.validate([der], [root], NOW)
    assert not result.trusted and "self-signed" in result.reason


def test_no_certificate_is_not_trusted() -> None:
    assert certs.validate([], [], NOW).trusted is False
