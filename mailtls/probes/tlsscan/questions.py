"""What a hello scan asks: the questions the checks read, which suites answer which, and the
exact offer of one hello (``Hello``). Pure data and functions: no sockets, no state."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mailtls.tls._wire import SSL2, SSL3, TLS10, TLS11, TLS12, TLS13
from mailtls.tls.flight import ServerFlight
from mailtls.tls.groups import (
    ALL_CLASSIC_GROUPS,
    FFDHE2048,
    FFDHE3072,
    FFDHE4096,
    FFDHE6144,
    FFDHE8192,
    NAMED_GROUPS,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    X448,
    X25519,
    group_name,
)
from mailtls.tls.hello import build_client_hello, build_sslv2_client_hello
from mailtls.tls.suites import (
    SSL2_CIPHER_KINDS,
    SUITES,
    CipherSuite,
    is_nist_approved,
    is_weak,
    suite_name,
)

#: Curves NCSC-NL rates Good (secp521r1 treated as Good, as internet.nl does).
GOOD_CURVES = frozenset({SECP256R1, SECP384R1, SECP521R1, X25519, X448})
NIST_CURVES = (SECP256R1, SECP384R1)
FF_GROUPS = (FFDHE2048, FFDHE3072, FFDHE4096, FFDHE6144, FFDHE8192)
EC_GROUPS = tuple(c for c, g in NAMED_GROUPS.items() if g.kind == "ec")
BAD_CURVES = tuple(c for c in EC_GROUPS if c not in GOOD_CURVES)
#: Every classic group, the NIST curves first, so that an ECDHE answer tells us about them.
BROAD_GROUPS = (*NIST_CURVES, *(g for g in ALL_CLASSIC_GROUPS if g not in NIST_CURVES))
CHACHA13 = 0x1303

#: The questions a scan answers; the checks read them by these names.
QUESTIONS = {
    "sslv2": "SSL 2.0 accepted",
    "sslv3": "SSL 3.0 accepted",
    "tls10": "TLS 1.0 accepted",
    "tls11": "TLS 1.1 accepted",
    "tls12": "TLS 1.2 accepted",
    "tls13": "TLS 1.3 accepted",
    "weak": "a weak suite (NULL, anonymous, EXPORT, DES, 3DES, RC4, RC2, IDEA, MD5) accepted",
    "nonfs": "a suite without forward secrecy (static RSA or static (EC)DH) accepted",
    "nist_bad": "a suite outside SP 800-52r2 §3.3.1 (other than ChaCha20) accepted",
    "chacha12": "ChaCha20-Poly1305 accepted in TLS 1.2",
    "chacha13": "ChaCha20-Poly1305 accepted in TLS 1.3",
    "dhe": "DHE key exchange accepted",
    "ec_bad": "ECDHE with a curve outside the Good list accepted",
    "ec_nist": "ECDHE with P-256 or P-384 accepted",
}
VERSION_QUESTION = {SSL2: "sslv2", SSL3: "sslv3", TLS10: "tls10", TLS11: "tls11", TLS12: "tls12", TLS13: "tls13"}  # fmt: skip


def _usable(s: CipherSuite) -> bool:
    """Suites an ordinary certificate-authenticated server could pick (no PSK/SRP/Kerberos)."""
    return s.kex not in ("PSK", "SRP", "KRB5", "ECCPWD", "TLS13") and s.auth != "PSK"


def _chacha(s: CipherSuite) -> bool:
    return s.cipher.startswith("CHACHA20")


def categories(s: CipherSuite) -> frozenset[str]:
    """The scan questions a server choosing this TLS <= 1.2 suite answers with 'yes'."""
    out = set()
    if is_weak(s):
        out.add("weak")
    if not s.forward_secret:
        out.add("nonfs")
    if _chacha(s):
        out.add("chacha12")
    elif not is_nist_approved(s):
        out.add("nist_bad")
    if s.kex == "DHE" and s.auth != "anon":
        out.add("dhe")
    return frozenset(out)


#: Every TLS <= 1.2 suite worth offering (TLS 1.3 suites, even the integrity-only ones of
#: RFC 9150, are never negotiated in a TLS 1.2 hello).
LEGACY_SUITES: tuple[int, ...] = tuple(
    c for c, s in SUITES.items() if s.kex != "TLS13" and (_usable(s) or is_weak(s))
)
#: The bundle: every suite that answers a suite question with yes, weak ones first.
BUNDLE_QUESTIONS = ("weak", "nist_bad", "nonfs", "chacha12")
DHE_SUITES = tuple(
    c for c, s in SUITES.items() if _usable(s) and "dhe" in categories(s) and not is_weak(s)
)
ECDHE_SUITES = tuple(
    c
    for c, s in SUITES.items()
    if _usable(s) and s.kex == "ECDHE" and s.auth != "anon" and not is_weak(s)
)
APPROVED_12 = tuple(
    sorted(
        (c for c, s in SUITES.items() if _usable(s) and is_nist_approved(s) and s.forward_secret),
        key=lambda c: (SUITES[c].kex != "ECDHE", SUITES[c].kex != "DHE"),
    )
)
TLS13_SUITES = (0x1301, 0x1302, 0x1303, 0x1304, 0x1305)


def weak_first(codes: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(codes, key=lambda c: not is_weak(SUITES[c]) if c in SUITES else True))


@dataclass(frozen=True)
class Hello:
    """One hello to send: the question(s) it asks and the exact offer."""

    purpose: str
    version: int  # highest offered; SSL2 for an SSL 2.0 CLIENT-HELLO
    suites: tuple[int, ...]
    groups: tuple[int, ...] = BROAD_GROUPS
    refusal_answers: tuple[str, ...] = ()  # questions a refusal answers with 'no'
    key_shares: tuple[int, ...] | None = None  # TLS 1.3: None = builder default

    def wire(self, server_name: str | None) -> bytes:
        if self.version == SSL2:
            return build_sslv2_client_hello(self.suites)
        return build_client_hello(
            self.version,
            self.suites,
            server_name=server_name,
            groups=self.groups,
            key_shares=self.key_shares,
        )

    def offered_names(self) -> tuple[str, ...]:
        if self.version == SSL2:
            return tuple(SSL2_CIPHER_KINDS.get(k, f"0x{k:06x}") for k in self.suites)
        return tuple(suite_name(c) for c in self.suites)


def group_text(flight: ServerFlight) -> str | None:
    if flight.dh_prime is not None:
        if flight.kex_group in FF_GROUPS:
            return group_name(flight.kex_group)
        return f"non-RFC 7919 {flight.dh_bits}-bit group"
    return group_name(flight.kex_group) if flight.kex_group is not None else None
