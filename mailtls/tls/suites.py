"""The cipher-suite registry as data, and pure classifications of suites.

Every `CipherSuite` is derived from its IANA name (``TLS_<kex>_<auth>_WITH_<cipher>_<mac>``)
listed in `_suite_names`; no flag is typed by hand. The classifications implement:

- `is_weak`: TLS-CS-NO-WEAK (NULL, anonymous, EXPORT, DES, 3DES, RC4, RC2, IDEA, MD5 MAC);
- `is_forward_secret`: TLS-CS-FORWARD-SECRECY (ephemeral (EC)DH or TLS 1.3);
- `is_nist_approved`: SP 800-52r2 §3.3.1 (ChaCha20 absent; Appendix D static RSA behind a flag);
- `ncsc_nl_level`: NCSC-NL TLS guidelines v2.1, Appendix C as rendered by internet.nl
  (REQUIREMENTS.md part (b)).

Named groups and signature schemes live in `groups` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mailtls.tls._suite_names import IANA_SUITES
from mailtls.tls._wire import SSL3, TLS10, TLS11, TLS12, TLS13
from mailtls.tls.groups import (
    ALL_CLASSIC_GROUPS,
    DEFAULT_GROUPS,
    DEFAULT_SIG_ALGS,
    GROUP_CODES,
    NAMED_GROUPS,
    SHA2_SIG_ALGS,
    SIGNATURE_SCHEMES,
    NamedGroup,
    SignatureScheme,
    ffdhe_primes,
    group_name,
    identify_ff_group,
    signature_scheme_name,
)

__all__ = [
    "ALL_CLASSIC_GROUPS",
    "DEFAULT_GROUPS",
    "DEFAULT_SIG_ALGS",
    "GROUP_CODES",
    "MODERN_SUITES",
    "NAMED_GROUPS",
    "NON_FS_SUITES",
    "SCSV_FALLBACK",
    "SCSV_RENEGOTIATION",
    "SHA2_SIG_ALGS",
    "SIGNATURE_SCHEMES",
    "SSL2_CIPHER_KINDS",
    "SSL3",
    "SUITES",
    "TLS10",
    "TLS11",
    "TLS12",
    "TLS13",
    "WEAK_SUITES",
    "CipherSuite",
    "NamedGroup",
    "NcscLevel",
    "SignatureScheme",
    "ffdhe_primes",
    "group_name",
    "identify_ff_group",
    "is_forward_secret",
    "is_nist_approved",
    "is_weak",
    "ncsc_nl_level",
    "signature_scheme_name",
    "suite_by_name",
    "suite_name",
    "suites_for_version",
]


#: Signalling values sent in the cipher-suite list; not suites, so not in `SUITES`.
SCSV_RENEGOTIATION = 0x00FF  # TLS_EMPTY_RENEGOTIATION_INFO_SCSV, RFC 5746
SCSV_FALLBACK = 0x5600  # TLS_FALLBACK_SCSV, RFC 7507

#: SSL 2.0 cipher kinds (3 bytes each), for the SSLv2 probe.
SSL2_CIPHER_KINDS: dict[int, str] = {
    0x010080: "SSL_CK_RC4_128_WITH_MD5",
    0x020080: "SSL_CK_RC4_128_EXPORT40_WITH_MD5",
    0x030080: "SSL_CK_RC2_128_CBC_WITH_MD5",
    0x040080: "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5",
    0x050080: "SSL_CK_IDEA_128_CBC_WITH_MD5",
    0x060040: "SSL_CK_DES_64_CBC_WITH_MD5",
    0x0700C0: "SSL_CK_DES_192_EDE3_CBC_WITH_MD5",
}

NcscLevel = Literal["good", "sufficient", "phase_out", "insufficient"]


@dataclass(frozen=True)
class CipherSuite:
    """One cipher suite, its components parsed from the IANA name.

    kex: key establishment: NULL, RSA, DH, DHE, ECDH, ECDHE, PSK, SRP, KRB5, ECCPWD or TLS13
        (anonymous DH/ECDH are DHE/ECDHE with auth "anon"; DHE_PSK is DHE with auth "PSK").
    auth: server authentication: RSA, DSS, ECDSA, anon, PSK, SRP, KRB5, ECCPWD, NULL or TLS13.
    cipher: bulk cipher as in the name (AES_128_GCM, 3DES_EDE_CBC, RC4_40, DES40_CBC, NULL ...).
    mac: MAC hash for CBC/stream suites, PRF hash for AEAD suites (MD5, SHA, SHA256, SHA384, SM3).
    min_version: lowest protocol version the suite is defined for.
    forward_secret: ephemeral key exchange (DHE, ECDHE, TLS 1.3), anonymous ones included.
    """

    code: int
    name: str
    openssl_name: str | None
    kex: str
    auth: str
    cipher: str
    mac: str
    min_version: int
    export: bool
    anonymous: bool
    aead: bool
    forward_secret: bool


_KEX_AUTH: dict[str, tuple[str, str]] = {
    "NULL": ("NULL", "NULL"),
    "RSA": ("RSA", "RSA"),
    "DH_DSS": ("DH", "DSS"),
    "DH_RSA": ("DH", "RSA"),
    "DHE_DSS": ("DHE", "DSS"),
    "DHE_RSA": ("DHE", "RSA"),
    "DH_anon": ("DHE", "anon"),
    "ECDH_ECDSA": ("ECDH", "ECDSA"),
    "ECDH_RSA": ("ECDH", "RSA"),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA"),
    "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDH_anon": ("ECDHE", "anon"),
    "PSK": ("PSK", "PSK"),
    "DHE_PSK": ("DHE", "PSK"),
    "PSK_DHE": ("DHE", "PSK"),  # 0xC0AA/0xC0AB are registered with this word order
    "RSA_PSK": ("RSA", "PSK"),
    "ECDHE_PSK": ("ECDHE", "PSK"),
    "SRP_SHA": ("SRP", "SRP"),
    "SRP_SHA_RSA": ("SRP", "RSA"),
    "SRP_SHA_DSS": ("SRP", "DSS"),
    "KRB5": ("KRB5", "KRB5"),
    "ECCPWD": ("ECCPWD", "ECCPWD"),
}
_HASHES = frozenset({"MD5", "SHA", "SHA256", "SHA384", "SM3"})
_AEAD_MARKERS = ("GCM", "CCM", "POLY1305")
_EPHEMERAL = frozenset({"DHE", "ECDHE", "TLS13"})


def _split_cipher_mac(text: str) -> tuple[str, str]:
    """``AES_128_CBC_SHA`` -> (AES_128_CBC, SHA); CCM names without a hash use SHA-256 (RFC 6655)."""
    if text in ("NULL", "NULL_NULL"):  # TLS_NULL_WITH_NULL_NULL
        return "NULL", "NULL"
    head, _, last = text.rpartition("_")
    if last in _HASHES and head:
        return ("NULL" if head in _HASHES else head), last
    return text, "SHA256"


def _min_version(kex: str, auth: str, mac: str, aead: bool) -> int:
    if kex == "TLS13":
        return TLS13
    if aead or mac in ("SHA256", "SHA384"):
        # The PSK CBC suites with SHA-256/384 (RFC 5487, RFC 5489) are defined from TLS 1.0.
        return TLS10 if auth == "PSK" and not aead else TLS12
    if kex in ("ECDH", "ECDHE", "PSK", "SRP", "KRB5", "ECCPWD") or auth == "PSK":
        return TLS10
    return SSL3


def parse_suite(code: int, name: str, openssl_name: str | None = None) -> CipherSuite:
    """Derive a `CipherSuite` from its IANA name; ValueError for a name we cannot read."""
    if not name.startswith("TLS_"):
        raise ValueError(f"not an IANA cipher suite name: {name!r}")
    body = name[4:]
    left, sep, right = body.partition("_WITH_")
    if sep:
        words = [w for w in left.split("_") if not w.startswith("EXPORT")]
        export = "EXPORT" in left
        key = "_".join(words)
        if key not in _KEX_AUTH:
            raise ValueError(f"unknown key exchange in {name!r}")
        kex, auth = _KEX_AUTH[key]
    else:  # TLS 1.3 style: TLS_AES_128_GCM_SHA256, TLS_SHA256_SHA256 (integrity only)
        kex, auth, export, right = "TLS13", "TLS13", False, body
    cipher, mac = _split_cipher_mac(right)
    aead = any(marker in cipher for marker in _AEAD_MARKERS)
    return CipherSuite(
        code=code,
        name=name,
        openssl_name=openssl_name,
        kex=kex,
        auth=auth,
        cipher=cipher,
        mac=mac,
        min_version=_min_version(kex, auth, mac, aead),
        export=export,
        anonymous=auth in ("anon", "NULL"),
        aead=aead,
        forward_secret=kex in _EPHEMERAL,
    )


def _load(table: str) -> dict[int, CipherSuite]:
    suites: dict[int, CipherSuite] = {}
    for line in table.splitlines():
        fields = line.split()
        if not fields:
            continue
        code = int(fields[0], 16)
        if code in suites:
            raise ValueError(f"duplicate cipher suite code 0x{code:04x}")
        suites[code] = parse_suite(code, fields[1], fields[2] if len(fields) > 2 else None)
    return suites


#: Every known suite by code.
SUITES: dict[int, CipherSuite] = _load(IANA_SUITES)
_BY_NAME: dict[str, CipherSuite] = {s.name: s for s in SUITES.values()} | {
    s.openssl_name: s for s in SUITES.values() if s.openssl_name
}


def suite_by_name(name: str) -> CipherSuite | None:
    """Look a suite up by IANA or OpenSSL name."""
    return _BY_NAME.get(name)


def suite_name(code: int) -> str:
    """IANA name for a code (SCSVs included), or ``unknown(0x....)``."""
    if code == SCSV_RENEGOTIATION:
        return "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"
    if code == SCSV_FALLBACK:
        return "TLS_FALLBACK_SCSV"
    suite = SUITES.get(code)
    return suite.name if suite else f"unknown(0x{code:04x})"


def _cipher_family(cipher: str) -> str:
    """AES_128_GCM -> AES; 3DES_EDE_CBC -> 3DES; DES40_CBC -> DES; RC4_128 -> RC4."""
    first = cipher.split("_", 1)[0]
    return "DES" if first.startswith("DES") else first


_WEAK_FAMILIES = frozenset({"NULL", "DES", "3DES", "RC4", "RC2", "IDEA"})


def is_weak(s: CipherSuite) -> bool:
    """TLS-CS-NO-WEAK: NULL, anonymous, EXPORT, DES, 3DES, RC4, RC2, IDEA or MD5-based."""
    return _cipher_family(s.cipher) in _WEAK_FAMILIES or s.anonymous or s.export or s.mac == "MD5"


def is_forward_secret(s: CipherSuite) -> bool:
    """Ephemeral (EC)DH key exchange, or TLS 1.3."""
    return s.forward_secret


def _names(prefixes: Iterable[str], tails: Iterable[str]) -> frozenset[str]:
    tails = tuple(tails)
    return frozenset(f"TLS_{p}_WITH_{t}" for p in prefixes for t in tails)


_AES_GCM = ("AES_128_GCM_SHA256", "AES_256_GCM_SHA384")
_AES_CCM = ("AES_128_CCM", "AES_256_CCM", "AES_128_CCM_8", "AES_256_CCM_8")
_AES_CBC_SHA = ("AES_128_CBC_SHA", "AES_256_CBC_SHA")
_AES_CBC_SHA2_ECC = ("AES_128_CBC_SHA256", "AES_256_CBC_SHA384")
_AES_CBC_SHA2_FF = ("AES_128_CBC_SHA256", "AES_256_CBC_SHA256")

#: SP 800-52r2 §3.3.1.1 (TLS 1.3 list and the TLS 1.0-1.2 lists per certificate type).
NIST_APPROVED_NAMES: frozenset[str] = frozenset(
    {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_AES_128_CCM_SHA256",
        "TLS_AES_128_CCM_8_SHA256",
    }
) | (
    _names(["ECDHE_ECDSA"], _AES_GCM + _AES_CCM + _AES_CBC_SHA2_ECC + _AES_CBC_SHA)
    | _names(["ECDHE_RSA"], _AES_GCM + _AES_CBC_SHA2_ECC + _AES_CBC_SHA)
    | _names(["DHE_RSA"], _AES_GCM + _AES_CCM + _AES_CBC_SHA2_FF + _AES_CBC_SHA)
    | _names(["DHE_DSS", "DH_DSS", "DH_RSA"], _AES_GCM + _AES_CBC_SHA2_FF + _AES_CBC_SHA)
    | _names(["ECDH_ECDSA", "ECDH_RSA"], _AES_GCM + _AES_CBC_SHA2_ECC + _AES_CBC_SHA)
)
#: SP 800-52r2 Appendix D: transitional static-RSA key transport suites.
NIST_APPENDIX_D_NAMES: frozenset[str] = _names(
    ["RSA"], _AES_GCM + _AES_CCM + _AES_CBC_SHA2_FF + _AES_CBC_SHA
)


def is_nist_approved(s: CipherSuite, allow_appendix_d: bool = False) -> bool:
    """In the SP 800-52r2 §3.3.1 list (ChaCha20 is not); Appendix D only when allowed."""
    if s.name in NIST_APPROVED_NAMES:
        return True
    return allow_appendix_d and s.name in NIST_APPENDIX_D_NAMES


_LEVELS: tuple[NcscLevel, ...] = ("insufficient", "phase_out", "sufficient", "good")


def _ncsc_kex_level(s: CipherSuite) -> NcscLevel:
    if s.kex == "TLS13" or (s.kex == "ECDHE" and s.auth in ("ECDSA", "RSA")):
        return "good"
    if s.kex == "DHE" and s.auth == "RSA":
        return "sufficient"
    if s.kex == "RSA" and s.auth == "RSA":
        return "phase_out"  # RSA key exchange is Phase out; RSA certificates are fine
    return "insufficient"  # static (EC)DH, DSS, anon, PSK, SRP, KRB5, ECCPWD, NULL


def _ncsc_cipher_level(s: CipherSuite) -> NcscLevel:
    c = s.cipher
    if s.mac == "MD5" or c.endswith("CCM_8"):
        return "insufficient"  # footnote 31: CCM_8 Insufficient
    if c in ("AES_128_GCM", "AES_256_GCM", "CHACHA20_POLY1305", "AES_128_CCM", "AES_256_CCM"):
        return "good"  # footnote 31: CCM on a par with GCM
    if c in ("AES_128_CBC", "AES_256_CBC") or c.startswith("CAMELLIA_"):
        return "sufficient"  # footnote 31: CAMELLIA Sufficient
    if c == "3DES_EDE_CBC":
        return "phase_out"
    return "insufficient"


def ncsc_nl_level(s: CipherSuite) -> NcscLevel:
    """NCSC-NL v2.1 level: the worse of the key-exchange and the cipher/MAC levels.

    Reproduces the internet.nl rendering of Appendix C in REQUIREMENTS.md part (b): ECDHE with
    GCM/ChaCha20 Good (internet.nl grades TLS 1.2 itself separately), ECDHE-CBC and DHE-RSA
    Sufficient, 3DES and static RSA Phase out, everything else Insufficient.
    """
    if s.export or s.anonymous:
        return "insufficient"
    level = min(_LEVELS.index(_ncsc_kex_level(s)), _LEVELS.index(_ncsc_cipher_level(s)))
    return _LEVELS[level]


def suites_for_version(codes: Iterable[int], version: int) -> tuple[int, ...]:
    """The codes defined for `version` or earlier (unknown codes and SCSVs are kept)."""
    return tuple(c for c in codes if c not in SUITES or SUITES[c].min_version <= version)


#: All weak suites (TLS-CS-NO-WEAK), registry order. One hello offers them all.
WEAK_SUITES: tuple[int, ...] = tuple(c for c, s in SUITES.items() if is_weak(s))
#: Non-forward-secret, non-weak TLS <= 1.2 suites (TLS-CS-FORWARD-SECRECY).
NON_FS_SUITES: tuple[int, ...] = tuple(
    c for c, s in SUITES.items() if not is_weak(s) and not s.forward_secret and s.kex != "TLS13"
)
#: A modern client's offer, best first: TLS 1.3, then ECDHE/DHE AEAD, then ECDHE/DHE CBC.
MODERN_SUITES: tuple[int, ...] = (
    0x1302, 0x1303, 0x1301, 0x1304,
    0xC02C, 0xC030, 0xCCA9, 0xCCA8, 0xC02B, 0xC02F, 0xC0AD, 0xC0AC,
    0x009F, 0xCCAA, 0x009E, 0xC09F, 0xC09E,
    0xC024, 0xC028, 0xC023, 0xC027, 0xC00A, 0xC014, 0xC009, 0xC013,
    0x006B, 0x0067, 0x0039, 0x0033,
)  # fmt: skip
