"""The DKIM key-record and DMARC record parsers (RFC 6376 §3.2/§3.6.1, RFC 8301, RFC 8463,
RFC 7489 §6.3) and the Organizational Domain (Public Suffix List)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from mailtls import dkim, dmarc
from mailtls.dkim import DkimError
from mailtls.dmarc import DmarcError


def _rsa_p(bits: int, pkcs1: bool = False) -> str:
    key = rsa.generate_private_key(65537, bits).public_key()
    if pkcs1:
        der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    else:
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(der).decode()


def test_rsa_key_size_is_measured_from_the_decoded_key() -> None:
    p = _rsa_p(2048)
    key = dkim.parse_key(f"v=DKIM1; k=rsa; h=sha256; p={p[:100]} {p[100:]}")  # FWS inside p=
    info = dkim.decode_key(key)
    assert (info.algorithm, info.bits, info.exponent) == ("rsa", 2048, 65537)
    assert dkim.decode_key(dkim.parse_key(f"p={_rsa_p(1024, pkcs1=True)}")).bits == 1024


def test_ed25519_key() -> None:
    raw = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    key = dkim.parse_key(f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}")
    assert dkim.decode_key(key).algorithm == "ed25519"
    with pytest.raises(DkimError):
        dkim.decode_key(dkim.parse_key(f"k=ed25519; p={_rsa_p(1024)}"))


def test_key_flags() -> None:
    key = dkim.parse_key("v=DKIM1; h=sha1; t=y:s; p=")
    assert key.revoked and key.testing and key.sha1_only
    assert not dkim.parse_key("h=sha1:sha256; p=").sha1_only
    assert not dkim.parse_key("p=").sha1_only  # h= absent: every algorithm


@pytest.mark.parametrize(
    "record",
    [
        "k=rsa",  # p= missing
        "p=abc; p=def",  # duplicate tag
        "k=rsa; v=DKIM1; p=",  # v not first
        "v=DKIM2; p=",
        "p=***",
        "=x; p=",
        "1a=x; p=",
        "p=ab;;",
    ],
)
def test_dkim_errors(record: str) -> None:
    with pytest.raises(DkimError):
        dkim.parse_key(record)


def test_undecodable_keys() -> None:
    with pytest.raises(DkimError):
        dkim.decode_key(dkim.parse_key("p=" + base64.b64encode(b"not a key").decode()))
    with pytest.raises(DkimError):
        dkim.decode_key(dkim.parse_key("k=dsa; p=" + _rsa_p(1024)))


def test_dmarc_record() -> None:
    rec = dmarc.parse(
        "v=DMARC1; p=reject; sp=none; pct=50; rua=mailto:a@example.com,https://r.example/x!10m; fo=0:d"
    )
    assert (rec.policy, rec.subdomain_policy, rec.pct) == ("reject", "none", 50)
    assert rec.policy_for(subdomain=True) == "none" and rec.policy_for(subdomain=False) == "reject"
    assert rec.rua_mailto == ("mailto:a@example.com",)
    assert dmarc.parse("v=DMARC1;p=quarantine").policy_for(subdomain=True) == "quarantine"
    assert dmarc.parse("v=DMARC1; p=none; unknown=tag").pct == 100  # unknown tags ignored


@pytest.mark.parametrize(
    "record",
    [
        "p=reject; v=DMARC1",
        "v=DMARC1",
        "v=DMARC1; p=block",
        "v=DMARC1; p=reject; sp=maybe",
        "v=DMARC1; p=reject; pct=101",
        "v=DMARC1; p=reject; pct=-1",
        "v=DMARC1; p=reject; rua=example.com",
        "v=DMARC1; p=reject; adkim=x",
        "v=DMARC1; p=reject; p=none",
        "v=dmarc1; p=reject",
    ],
)
def test_dmarc_errors(record: str) -> None:
    with pytest.raises(DmarcError):
        dmarc.parse(record)


def test_dmarc_selection() -> None:
    assert dmarc.select(['"v=DMARC1; p=reject"', '"v=spf1 -all"', '"p=none; v=DMARC1"']) == [
        "v=DMARC1; p=reject"
    ]
    assert dmarc.select(['"v=DMARC1;" " p=none"']) == ["v=DMARC1; p=none"]


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("mail.example.co.uk", "example.co.uk"),
        ("a.b.example.com", "example.com"),
        ("example.com", "example.com"),
        ("sub.authgood.test", "authgood.test"),  # unlisted suffix: the default rule *
        ("authgood.test", "authgood.test"),
    ],
)
def test_organizational_domain(domain: str, org: str) -> None:
    assert dmarc.organizational_domain(domain) == org


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_fuzz_parsers_raise_only_their_errors(text: str) -> None:
    for candidate in (text, "v=DMARC1; " + text, "v=DKIM1; p=; " + text):
        try:
            dmarc.parse(candidate)
        except DmarcError:
            pass
        try:
            key = dkim.parse_key(candidate)
        except DkimError:
            continue
        try:
            dkim.decode_key(key)
        except DkimError:
            pass


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["none", "quarantine", "reject"]),
    st.integers(0, 100),
    st.lists(st.from_regex(r"[a-z]{1,8}@[a-z]{1,8}\.example", fullmatch=True), max_size=3),
)
def test_dmarc_round_trip(policy: str, pct: int, mailboxes: list[str]) -> None:
    rua = f"; rua={','.join('mailto:' + m for m in mailboxes)}" if mailboxes else ""
    rec = dmarc.parse(f"v=DMARC1; p={policy}; pct={pct}{rua}")
    text = "; ".join(f"{k}={v}" for k, v in rec.tags)
    assert dmarc.parse(text) == rec
