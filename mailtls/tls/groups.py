"""Named groups (key exchange) and signature schemes as data; RFC 7919 FFDHE group lookup.

Codes are the IANA "TLS Supported Groups" and "TLS SignatureScheme" registries. Pure data and
pure functions: nothing here does I/O. `mailtls.tls.suites` re-exports all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

GroupKind = Literal["ec", "ff", "hybrid"]


@dataclass(frozen=True)
class NamedGroup:
    """One IANA named group.

    `bits` is the size of the classical component: the field size for elliptic curves (255 for
    x25519), the modulus size for finite-field groups, the ECDH part for PQ hybrids.
    """

    code: int
    name: str
    bits: int
    kind: GroupKind


def _g(code: int, name: str, bits: int, kind: GroupKind = "ec") -> NamedGroup:
    return NamedGroup(code, name, bits, kind)


NAMED_GROUPS: dict[int, NamedGroup] = {
    g.code: g
    for g in (
        _g(1, "sect163k1", 163),
        _g(2, "sect163r1", 163),
        _g(3, "sect163r2", 163),
        _g(4, "sect193r1", 193),
        _g(5, "sect193r2", 193),
        _g(6, "sect233k1", 233),
        _g(7, "sect233r1", 233),
        _g(8, "sect239k1", 239),
        _g(9, "sect283k1", 283),
        _g(10, "sect283r1", 283),
        _g(11, "sect409k1", 409),
        _g(12, "sect409r1", 409),
        _g(13, "sect571k1", 571),
        _g(14, "sect571r1", 571),
        _g(15, "secp160k1", 160),
        _g(16, "secp160r1", 160),
        _g(17, "secp160r2", 160),
        _g(18, "secp192k1", 192),
        _g(19, "secp192r1", 192),
        _g(20, "secp224k1", 224),
        _g(21, "secp224r1", 224),
        _g(22, "secp256k1", 256),
        _g(23, "secp256r1", 256),
        _g(24, "secp384r1", 384),
        _g(25, "secp521r1", 521),
        _g(26, "brainpoolP256r1", 256),
        _g(27, "brainpoolP384r1", 384),
        _g(28, "brainpoolP512r1", 512),
        _g(29, "x25519", 255),
        _g(30, "x448", 448),
        _g(31, "brainpoolP256r1tls13", 256),
        _g(32, "brainpoolP384r1tls13", 384),
        _g(33, "brainpoolP512r1tls13", 512),
        _g(256, "ffdhe2048", 2048, "ff"),
        _g(257, "ffdhe3072", 3072, "ff"),
        _g(258, "ffdhe4096", 4096, "ff"),
        _g(259, "ffdhe6144", 6144, "ff"),
        _g(260, "ffdhe8192", 8192, "ff"),
        _g(0x11EB, "SecP256r1MLKEM768", 256, "hybrid"),
        _g(0x11EC, "X25519MLKEM768", 255, "hybrid"),
        _g(0x11ED, "SecP384r1MLKEM1024", 384, "hybrid"),
    )
}
GROUP_CODES: dict[str, int] = {g.name: g.code for g in NAMED_GROUPS.values()}

SECP256R1, SECP384R1, SECP521R1, X25519, X448 = 23, 24, 25, 29, 30
FFDHE2048, FFDHE3072, FFDHE4096, FFDHE6144, FFDHE8192 = 256, 257, 258, 259, 260
X25519MLKEM768 = 0x11EC

#: Groups a modern client offers, best first.
DEFAULT_GROUPS: tuple[int, ...] = (
    X25519,
    SECP256R1,
    X448,
    SECP521R1,
    SECP384R1,
    FFDHE2048,
    FFDHE3072,
    FFDHE4096,
    FFDHE6144,
    FFDHE8192,
)
#: Every EC and FF group in the registry (for legacy offers that must not fail on groups).
ALL_CLASSIC_GROUPS: tuple[int, ...] = tuple(
    code for code, g in NAMED_GROUPS.items() if g.kind != "hybrid"
)


def group_name(code: int) -> str:
    """IANA name of a named group, or ``unknown(0x....)``."""
    group = NAMED_GROUPS.get(code)
    return group.name if group else f"unknown(0x{code:04x})"


@dataclass(frozen=True)
class SignatureScheme:
    """One TLS SignatureScheme (TLS 1.3) or (hash, signature) pair (TLS 1.2)."""

    code: int
    name: str
    hash: str  # "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "intrinsic"
    algorithm: str  # "rsa_pkcs1", "rsa_pss", "ecdsa", "dsa", "eddsa"


def _s(code: int, name: str, hash_: str, algorithm: str) -> SignatureScheme:
    return SignatureScheme(code, name, hash_, algorithm)


SIGNATURE_SCHEMES: dict[int, SignatureScheme] = {
    s.code: s
    for s in (
        _s(0x0101, "rsa_pkcs1_md5", "md5", "rsa_pkcs1"),
        _s(0x0102, "dsa_md5", "md5", "dsa"),
        _s(0x0103, "ecdsa_md5", "md5", "ecdsa"),
        _s(0x0201, "rsa_pkcs1_sha1", "sha1", "rsa_pkcs1"),
        _s(0x0202, "dsa_sha1", "sha1", "dsa"),
        _s(0x0203, "ecdsa_sha1", "sha1", "ecdsa"),
        _s(0x0301, "rsa_pkcs1_sha224", "sha224", "rsa_pkcs1"),
        _s(0x0302, "dsa_sha224", "sha224", "dsa"),
        _s(0x0303, "ecdsa_sha224", "sha224", "ecdsa"),
        _s(0x0401, "rsa_pkcs1_sha256", "sha256", "rsa_pkcs1"),
        _s(0x0402, "dsa_sha256", "sha256", "dsa"),
        _s(0x0403, "ecdsa_secp256r1_sha256", "sha256", "ecdsa"),
        _s(0x0501, "rsa_pkcs1_sha384", "sha384", "rsa_pkcs1"),
        _s(0x0502, "dsa_sha384", "sha384", "dsa"),
        _s(0x0503, "ecdsa_secp384r1_sha384", "sha384", "ecdsa"),
        _s(0x0601, "rsa_pkcs1_sha512", "sha512", "rsa_pkcs1"),
        _s(0x0602, "dsa_sha512", "sha512", "dsa"),
        _s(0x0603, "ecdsa_secp521r1_sha512", "sha512", "ecdsa"),
        _s(0x0804, "rsa_pss_rsae_sha256", "sha256", "rsa_pss"),
        _s(0x0805, "rsa_pss_rsae_sha384", "sha384", "rsa_pss"),
        _s(0x0806, "rsa_pss_rsae_sha512", "sha512", "rsa_pss"),
        _s(0x0807, "ed25519", "intrinsic", "eddsa"),
        _s(0x0808, "ed448", "intrinsic", "eddsa"),
        _s(0x0809, "rsa_pss_pss_sha256", "sha256", "rsa_pss"),
        _s(0x080A, "rsa_pss_pss_sha384", "sha384", "rsa_pss"),
        _s(0x080B, "rsa_pss_pss_sha512", "sha512", "rsa_pss"),
        _s(0x081A, "ecdsa_brainpoolP256r1tls13_sha256", "sha256", "ecdsa"),
        _s(0x081B, "ecdsa_brainpoolP384r1tls13_sha384", "sha384", "ecdsa"),
        _s(0x081C, "ecdsa_brainpoolP512r1tls13_sha512", "sha512", "ecdsa"),
    )
}

#: What we offer by default: SHA-2 first, then SHA-1 and SHA-224 so old servers still answer.
DEFAULT_SIG_ALGS: tuple[int, ...] = (
    0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0804, 0x0805, 0x0806,
    0x0809, 0x080A, 0x080B, 0x0401, 0x0501, 0x0601, 0x0402, 0x0502, 0x0602,
    0x0303, 0x0301, 0x0302, 0x0203, 0x0201, 0x0202,
)  # fmt: skip
#: Only SHA-256 or stronger (the TLS-KEX-HASH probe's offer).
SHA2_SIG_ALGS: tuple[int, ...] = tuple(
    c
    for c in DEFAULT_SIG_ALGS
    if SIGNATURE_SCHEMES[c].hash in ("sha256", "sha384", "sha512", "intrinsic")
)


def signature_scheme_name(code: int) -> str:
    """IANA name of a signature scheme, or ``unknown(0x....)``."""
    scheme = SIGNATURE_SCHEMES.get(code)
    return scheme.name if scheme else f"unknown(0x{code:04x})"


# RFC 7919 Appendix A defines each group as
#   p = 2^b - 2^{b-64} + {[2^{b-130} e] + X} * 2^64 - 1,  g = 2
# with the constants X below. We compute the primes from that definition (exact integer
# arithmetic) instead of pasting 5 KB of hex; a unit test compares them with OpenSSL's copies.
_FFDHE_X: dict[int, tuple[str, int]] = {
    2048: ("ffdhe2048", 560316),
    3072: ("ffdhe3072", 2625351),
    4096: ("ffdhe4096", 5736041),
    6144: ("ffdhe6144", 15705020),
    8192: ("ffdhe8192", 10965728),
}
_GUARD_BITS = 64


def _floor_e_times_2_pow(bits: int) -> int:
    """floor(e * 2**bits), from the series e = sum 1/k!, with guard bits for the truncation."""
    term = 1 << (bits + _GUARD_BITS)
    total = 0
    k = 0
    while term:
        total += term
        k += 1
        term //= k
    return total >> _GUARD_BITS


@cache
def ffdhe_primes() -> dict[str, int]:
    """The five RFC 7919 primes by group name (generator 2 for all)."""
    primes: dict[str, int] = {}
    for b, (name, x) in _FFDHE_X.items():
        primes[name] = (
            (1 << b) - (1 << (b - 64)) + (_floor_e_times_2_pow(b - 130) + x) * (1 << 64) - 1
        )
    return primes


def identify_ff_group(p: int, g: int) -> str | None:
    """The RFC 7919 group name for DH parameters (p, g), or None for any other group."""
    if g != 2:
        return None
    for name, prime in ffdhe_primes().items():
        if prime == p:
            return name
    return None
