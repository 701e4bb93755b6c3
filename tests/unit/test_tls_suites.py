"""The cipher-suite, group and signature-scheme registries and their classifications (pure)."""

from __future__ import annotations

import base64
import shutil
import subprocess

import pytest

from mailtls.tls import suites as S
from mailtls.tls.suites import (
    SUITES,
    CipherSuite,
    identify_ff_group,
    is_forward_secret,
    is_nist_approved,
    is_weak,
    ncsc_nl_level,
    suite_by_name,
)


def s(name: str) -> CipherSuite:
    suite = suite_by_name(name)
    assert suite is not None, name
    return suite


# --- the registry ---------------------------------------------------------------------------


def test_registry_is_large_unique_and_parsed() -> None:
    assert len(SUITES) >= 300
    names = [x.name for x in SUITES.values()]
    assert len(names) == len(set(names))
    ossl = [x.openssl_name for x in SUITES.values() if x.openssl_name]
    assert len(ossl) == len(set(ossl))
    assert all(0 <= code <= 0xFFFF and SUITES[code].code == code for code in SUITES)
    assert S.SCSV_RENEGOTIATION not in SUITES and S.SCSV_FALLBACK not in SUITES


def test_registry_agrees_with_tlslite_codes() -> None:
    """An independent source (tlslite-ng's constants) names every shared code the same."""
    constants = pytest.importorskip("tlslite.constants")
    theirs: dict[int, set[str]] = {}
    for attr in dir(constants.CipherSuite):
        value = getattr(constants.CipherSuite, attr)
        if attr.startswith("TLS_") and isinstance(value, int):
            theirs.setdefault(value, set()).add(attr.upper())
    shared = set(theirs) & set(SUITES)
    assert len(shared) > 100
    for code in shared:
        assert SUITES[code].name.upper() in theirs[code], hex(code)


def test_components_parsed_from_names() -> None:
    x = s("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")
    assert (x.code, x.kex, x.auth, x.cipher, x.mac, x.aead) == (
        0xC02F,
        "ECDHE",
        "RSA",
        "AES_128_GCM",
        "SHA256",
        True,
    )
    assert x.openssl_name == "ECDHE-RSA-AES128-GCM-SHA256" and x.min_version == S.TLS12
    rc4 = s("RC4-MD5")
    assert (rc4.kex, rc4.cipher, rc4.mac, rc4.min_version) == ("RSA", "RC4_128", "MD5", S.SSL3)
    exp = s("TLS_DHE_DSS_EXPORT1024_WITH_DES_CBC_SHA")
    assert exp.export and exp.kex == "DHE" and exp.auth == "DSS" and exp.cipher == "DES_CBC"
    adh = s("TLS_DH_anon_WITH_AES_128_GCM_SHA256")
    assert adh.anonymous and adh.kex == "DHE" and adh.auth == "anon"
    t13 = s("TLS_CHACHA20_POLY1305_SHA256")
    assert (t13.kex, t13.cipher, t13.min_version) == ("TLS13", "CHACHA20_POLY1305", S.TLS13)
    ccm = s("TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8")
    assert ccm.cipher == "AES_256_CCM_8" and ccm.aead and ccm.mac == "SHA256"
    null = SUITES[0x0000]
    assert (null.kex, null.cipher, null.mac) == ("NULL", "NULL", "NULL") and null.anonymous
    assert s("TLS_PSK_DHE_WITH_AES_128_CCM_8").kex == "DHE"
    assert s("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA").min_version == S.TLS10
    assert s("TLS_RSA_WITH_AES_128_CBC_SHA").min_version == S.SSL3


def test_unknown_names_are_rejected() -> None:
    with pytest.raises(ValueError):
        S.parse_suite(1, "TLS_FOO_WITH_AES_128_CBC_SHA")
    with pytest.raises(ValueError):
        S.parse_suite(1, "SSL_RSA_WITH_RC4_128_MD5")
    assert S.suite_name(0xFFFE) == "unknown(0xfffe)"
    assert S.suite_name(0x00FF) == "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"


# --- TLS-CS-NO-WEAK ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "TLS_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_RSA_WITH_NULL_SHA256",
        "TLS_NULL_WITH_NULL_NULL",
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5",
        "TLS_RSA_WITH_DES_CBC_SHA",
        "TLS_RSA_WITH_IDEA_CBC_SHA",
        "TLS_DH_anon_WITH_AES_256_GCM_SHA384",
        "TLS_ECDH_anon_WITH_AES_128_CBC_SHA",
        "TLS_KRB5_WITH_3DES_EDE_CBC_MD5",
        "TLS_ECDHE_ECDSA_WITH_NULL_SHA",
        "TLS_SHA256_SHA256",
    ],
)
def test_weak(name: str) -> None:
    assert is_weak(s(name))
    assert s(name).code in S.WEAK_SUITES


@pytest.mark.parametrize(
    "name",
    [
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA",
        "TLS_RSA_WITH_SEED_CBC_SHA",
        "TLS_AES_128_CCM_8_SHA256",
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
    ],
)
def test_not_weak(name: str) -> None:
    assert not is_weak(s(name))


def test_weak_set_is_exactly_the_definition() -> None:
    families = ("NULL", "DES", "3DES", "RC4", "RC2", "IDEA")
    for suite in SUITES.values():
        expected = (
            suite.cipher.split("_")[0].startswith(families)
            or suite.anonymous
            or suite.export
            or suite.mac == "MD5"
        )
        assert is_weak(suite) == expected, suite.name
    assert set(S.WEAK_SUITES) == {c for c, x in SUITES.items() if is_weak(x)}


# --- forward secrecy ---------------------------------------------------------------------


def test_forward_secrecy() -> None:
    assert is_forward_secret(s("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
    assert is_forward_secret(s("TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"))
    assert is_forward_secret(s("TLS_AES_256_GCM_SHA384"))
    for static in (
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_DH_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_PSK_WITH_AES_128_GCM_SHA256",
    ):
        assert not is_forward_secret(s(static)), static
    assert s("TLS_RSA_WITH_AES_128_GCM_SHA256").code in S.NON_FS_SUITES
    for code in S.NON_FS_SUITES:
        assert not is_weak(SUITES[code]) and not is_forward_secret(SUITES[code])


def test_modern_offer_is_strong() -> None:
    for code in S.MODERN_SUITES:
        assert not is_weak(SUITES[code]) and is_forward_secret(SUITES[code])


# --- SP 800-52r2 ------------------------------------------------------------------------------


def test_nist_list() -> None:
    assert is_nist_approved(s("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"))
    assert is_nist_approved(s("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"))
    assert is_nist_approved(s("TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"))
    assert is_nist_approved(s("TLS_AES_128_CCM_8_SHA256"))
    assert not is_nist_approved(s("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"))
    assert not is_nist_approved(s("TLS_CHACHA20_POLY1305_SHA256"))
    assert not is_nist_approved(s("TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"))
    assert not is_nist_approved(s("TLS_RSA_WITH_3DES_EDE_CBC_SHA"), allow_appendix_d=True)
    rsa = s("TLS_RSA_WITH_AES_128_GCM_SHA256")
    assert not is_nist_approved(rsa) and is_nist_approved(rsa, allow_appendix_d=True)
    for name in S.NIST_APPROVED_NAMES | S.NIST_APPENDIX_D_NAMES:
        assert not is_weak(s(name)), name
    assert len(S.NIST_APPROVED_NAMES) == 60 and len(S.NIST_APPENDIX_D_NAMES) == 10


# --- NCSC-NL v2.1 (REQUIREMENTS.md part (b)) -----------------------------------------------

_GOOD = [
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_AES_128_GCM_SHA256",
]
_SUFFICIENT = [
    "ECDHE-ECDSA-AES256-SHA384",
    "ECDHE-RSA-AES256-SHA384",
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "DHE-RSA-AES256-GCM-SHA384",
    "DHE-RSA-CHACHA20-POLY1305",
    "DHE-RSA-AES128-GCM-SHA256",
    "DHE-RSA-AES256-SHA256",
    "DHE-RSA-AES128-SHA256",
    "DHE-RSA-AES256-SHA",
    "DHE-RSA-AES128-SHA",
]
_PHASE_OUT = [
    "ECDHE-ECDSA-DES-CBC3-SHA",
    "ECDHE-RSA-DES-CBC3-SHA",
    "EDH-RSA-DES-CBC3-SHA",
    "AES256-GCM-SHA384",
    "AES128-GCM-SHA256",
    "AES256-SHA256",
    "AES256-SHA",
    "AES128-SHA256",
    "AES128-SHA",
    "DES-CBC3-SHA",
]


@pytest.mark.parametrize("name", _GOOD)
def test_ncsc_good(name: str) -> None:
    assert ncsc_nl_level(s(name)) == "good"


@pytest.mark.parametrize("name", _SUFFICIENT)
def test_ncsc_sufficient(name: str) -> None:
    assert ncsc_nl_level(s(name)) == "sufficient"


@pytest.mark.parametrize("name", _PHASE_OUT)
def test_ncsc_phase_out(name: str) -> None:
    assert ncsc_nl_level(s(name)) == "phase_out"


def test_ncsc_footnotes_and_insufficient() -> None:
    assert ncsc_nl_level(s("TLS_ECDHE_ECDSA_WITH_AES_128_CCM")) == "good"  # CCM ~ GCM
    assert ncsc_nl_level(s("TLS_AES_128_CCM_SHA256")) == "good"
    assert ncsc_nl_level(s("TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8")) == "insufficient"
    assert ncsc_nl_level(s("TLS_AES_128_CCM_8_SHA256")) == "insufficient"
    assert ncsc_nl_level(s("TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256")) == "sufficient"
    for name in (
        "RC4-SHA",
        "NULL-SHA256",
        "TLS_RSA_EXPORT_WITH_RC4_40_MD5",
        "ADH-AES128-GCM-SHA256",
        "PSK-AES128-GCM-SHA256",
        "SRP-AES-128-CBC-SHA",
        "DHE-DSS-AES128-GCM-SHA256",
        "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256",
    ):
        assert ncsc_nl_level(s(name)) == "insufficient", name
    listed = set(_GOOD) | set(_SUFFICIENT) | set(_PHASE_OUT)
    # Anything outside part (b)'s lists and the footnotes is Insufficient.
    for suite in SUITES.values():
        if ncsc_nl_level(suite) != "insufficient":
            assert (
                suite.openssl_name in listed
                or suite.name in listed
                or "CAMELLIA" in suite.cipher
                or suite.cipher.endswith("_CCM")
                or suite.cipher == "AES_128_CCM"
                or suite.kex == "RSA"  # static RSA: Phase out at best
            ), suite.name


def test_suites_for_version() -> None:
    codes = (0x0005, 0x002F, 0xC013, 0xC02F, 0x1301, 0x00FF, 0xABCD)
    assert S.suites_for_version(codes, S.SSL3) == (0x0005, 0x002F, 0x00FF, 0xABCD)
    assert S.suites_for_version(codes, S.TLS10) == (0x0005, 0x002F, 0xC013, 0x00FF, 0xABCD)
    assert S.suites_for_version(codes, S.TLS12) == (0x0005, 0x002F, 0xC013, 0xC02F, 0x00FF, 0xABCD)
    assert S.suites_for_version(codes, S.TLS13) == codes


# --- groups and signature schemes --------------------------------------------------------------


def test_named_groups() -> None:
    for code, name, kind in (
        (23, "secp256r1", "ec"),
        (24, "secp384r1", "ec"),
        (25, "secp521r1", "ec"),
        (29, "x25519", "ec"),
        (30, "x448", "ec"),
        (21, "secp224r1", "ec"),
        (26, "brainpoolP256r1", "ec"),
        (256, "ffdhe2048", "ff"),
        (260, "ffdhe8192", "ff"),
        (0x11EC, "X25519MLKEM768", "hybrid"),
    ):
        group = S.NAMED_GROUPS[code]
        assert (group.name, group.kind) == (name, kind)
        assert S.GROUP_CODES[name] == code
    assert S.NAMED_GROUPS[258].bits == 4096
    assert S.group_name(0x9999) == "unknown(0x9999)"


def test_signature_schemes() -> None:
    assert S.SIGNATURE_SCHEMES[0x0804].name == "rsa_pss_rsae_sha256"
    assert S.SIGNATURE_SCHEMES[0x0201].hash == "sha1"
    assert all(
        S.SIGNATURE_SCHEMES[c].hash not in ("sha1", "md5", "sha224") for c in S.SHA2_SIG_ALGS
    )
    assert S.signature_scheme_name(0x0403) == "ecdsa_secp256r1_sha256"


def test_ffdhe_primes_shape() -> None:
    primes = S.ffdhe_primes()
    assert set(primes) == {"ffdhe2048", "ffdhe3072", "ffdhe4096", "ffdhe6144", "ffdhe8192"}
    for name, p in primes.items():
        bits = int(name[5:])
        assert p.bit_length() == bits
        text = f"{p:X}"
        assert text.startswith("FFFFFFFFFFFFFFFFADF85458A2BB4A9A") and text.endswith("F" * 16)
        assert pow(2, p - 1, p) == 1  # Fermat base 2: p is (probably) prime
        assert identify_ff_group(p, 2) == name
        assert identify_ff_group(p, 5) is None
    # RFC 7919 Appendix A.1 ffdhe2048 ends with ...886B4238 61285C97 FFFFFFFF FFFFFFFF
    assert f"{primes['ffdhe2048']:X}".endswith("886B423861285C97FFFFFFFFFFFFFFFF")
    assert identify_ff_group((1 << 2047) + 1, 2) is None


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl binary not installed")
@pytest.mark.parametrize("bits", [2048, 3072, 4096, 6144, 8192])
def test_ffdhe_primes_match_openssl(bits: int) -> None:
    pem = subprocess.run(
        ["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", f"group:ffdhe{bits}"],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    p, g = _dh_parameters(pem)
    assert identify_ff_group(p, g) == f"ffdhe{bits}"


def _dh_parameters(pem: bytes) -> tuple[int, int]:
    """(p, g) of a PEM "DH PARAMETERS" block: DER SEQUENCE { INTEGER p, INTEGER g, ... }
    (PKCS #3), read here because cryptography deprecates its finite-field DH API."""
    der = base64.b64decode(
        b"".join(line for line in pem.splitlines() if not line.startswith(b"-----"))
    )

    def header(at: int) -> tuple[int, int]:  # (length, offset of the content)
        length = der[at + 1]
        if length < 0x80:
            return length, at + 2
        n = length & 0x7F
        return int.from_bytes(der[at + 2 : at + 2 + n], "big"), at + 2 + n

    assert der[0] == 0x30
    _, at = header(0)
    ints = []
    for _ in range(2):
        assert der[at] == 0x02
        length, start = header(at)
        ints.append(int.from_bytes(der[start : start + length], "big"))
        at = start + length
    return ints[0], ints[1]
