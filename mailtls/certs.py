"""Certificate facts and judgements that need no network: summary, PKIX validation, names.

Validation uses ``cryptography.x509.verification`` against the ``--ca-bundle`` roots. Trust is
judged apart from the name: the chain is verified for one of the leaf's own SAN names, and the
MX name is matched separately with RFC 6125/9525 rules (SAN dNSName only, never the CN; a
wildcard is the whole left-most label and covers exactly one label).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509 import DNSName
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError


@dataclass(frozen=True)
class CertSummary:
    subject: str
    issuer: str
    sans: tuple[str, ...]
    not_before: dt.datetime
    not_after: dt.datetime
    key_type: str
    key_bits: int
    curve: str | None
    signature_hash: str | None
    self_signed: bool
    sha256: str

    def line(self) -> str:
        key = f"{self.key_type}-{self.key_bits}" + (f" {self.curve}" if self.curve else "")
        return (
            f"{self.subject} (SAN {', '.join(self.sans) or 'none'}); issuer {self.issuer}; "
            f"valid {self.not_before:%Y-%m-%d} to {self.not_after:%Y-%m-%d}; {key}; "
            f"signed with {self.signature_hash or '?'}; SHA-256 {self.sha256}"
        )


def _key(cert: x509.Certificate) -> tuple[str, int, str | None]:
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size, None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.key_size, key.curve.name
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256, None
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456, None
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size, None
    return type(key).__name__, 0, None


def _sans(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    return tuple(ext.value.get_values_for_type(x509.DNSName))


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, Exception):
        return False
    return True


def summarize(der: bytes) -> CertSummary:
    cert = x509.load_der_x509_certificate(der)
    key_type, bits, curve = _key(cert)
    algo = cert.signature_hash_algorithm
    return CertSummary(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sans=_sans(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_type=key_type,
        key_bits=bits,
        curve=curve,
        signature_hash=algo.name if algo else None,
        self_signed=_self_signed(cert),
        sha256=hashlib.sha256(der).hexdigest(),
    )


def name_matches(pattern: str, host: str) -> bool:
    """RFC 6125 §6.4 / RFC 9525: a DNS-ID matches the host; ``*`` only as the whole left-most label."""
    p = pattern.rstrip(".").lower()
    h = host.rstrip(".").lower()
    if "*" not in p:
        return p == h
    first, _, rest = p.partition(".")
    if first != "*" or "*" in rest or rest.count(".") < 1:
        return False
    label, _, host_rest = h.partition(".")
    return bool(label) and host_rest == rest


def matching_name(sans: Sequence[str], host: str) -> str | None:
    return next((s for s in sans if name_matches(s, host)), None)


@dataclass(frozen=True)
class Validation:
    trusted: bool
    reason: str  # why not trusted, or the path that was built


def load_roots(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


def validate(
    chain_der: Sequence[bytes], roots: list[x509.Certificate], at: dt.datetime
) -> Validation:
    """Does the served chain lead to a trusted root? Name and dates are judged elsewhere."""
    if not chain_der:
        return Validation(False, "the server sent no certificate")
    certs = [x509.load_der_x509_certificate(d) for d in chain_der]
    leaf, rest = certs[0], certs[1:]
    sans = _sans(leaf)
    if not sans:
        return Validation(False, "the leaf certificate has no subjectAltName dNSName")
    summary = summarize(chain_der[0])
    # Verify at a time inside the leaf's validity, so that expiry is CERT-MX-VALIDITY's finding.
    margin = dt.timedelta(minutes=1)
    when = min(max(at, summary.not_before + margin), summary.not_after - margin)
    try:
        verifier = (
            PolicyBuilder()
            .store(Store(roots))
            .time(when)
            .build_server_verifier(DNSName(sans[0].replace("*", "wildcard", 1)))
        )
        path = verifier.verify(leaf, rest)
    except VerificationError as exc:
        return Validation(False, _explain(certs, roots, str(exc)))
    except ValueError as exc:
        return Validation(False, f"the chain could not be checked: {exc}")
    return Validation(True, " → ".join(c.subject.rfc4514_string() for c in path))


def _explain(certs: list[x509.Certificate], roots: list[x509.Certificate], detail: str) -> str:
    leaf = certs[0]
    known = {c.subject for c in certs} | {r.subject for r in roots}
    if _self_signed(leaf) and len(certs) == 1:
        return (
            f"self-signed certificate ({leaf.subject.rfc4514_string()}), not issued by a trusted CA"
        )
    if leaf.issuer not in known:
        return (
            f"incomplete chain: the issuer {leaf.issuer.rfc4514_string()} was not sent "
            f"(missing intermediate certificate) and is not a trusted root"
        )
    for i in range(len(certs) - 1):
        if certs[i].issuer != certs[i + 1].subject:
            return f"chain in the wrong order or with an unrelated certificate at position {i + 1} ({detail})"
    top = certs[-1]
    if top.issuer not in {r.subject for r in roots}:
        return f"the chain ends at {top.issuer.rfc4514_string()}, which is not in the CA bundle"
    if "Forbidden signature algorithm" in detail:
        return (
            "not trusted: a certificate in the chain is signed with a forbidden algorithm "
            "(SHA-1 or MD5; see CERT-MX-SIGHASH), which current validators refuse"
        )
    return f"not trusted: {detail}"


KeyRating = tuple[Literal["pass", "warn", "fail"], str]


def rate_key(leaf: CertSummary, profile: str) -> KeyRating:
    """The leaf key against SP 800-52r2 / NCSC-NL: RSA >= 2048 (3072 outside ``nist``), ECDSA on
    P-256/P-384 (P-521 accepted), Ed25519/Ed448; secp224r1 is being phased out (warn)."""
    key = f"{leaf.key_type}-{leaf.key_bits}" + (f" ({leaf.curve})" if leaf.curve else "")
    if leaf.key_type == "RSA":
        if leaf.key_bits < 2048:
            return "fail", f"RSA key of {leaf.key_bits} bits is below 2048"
        if leaf.key_bits < 3072 and profile != "nist":
            return "warn", f"{key}: RSA 2048-3071 is only 'sufficient' under {profile}"
        return "pass", key
    if leaf.key_type == "EC":
        if leaf.curve == "secp224r1":
            return "warn", f"{key}: secp224r1 is being phased out"
        if leaf.curve not in ("secp256r1", "secp384r1", "secp521r1"):
            return "fail", f"curve {key} is not approved"
        return "pass", key
    if leaf.key_type in ("Ed25519", "Ed448"):
        return "pass", key
    return "fail", f"unexpected key type {key}"


def weak_signatures(chain_der: Sequence[bytes]) -> list[str]:
    """Certificates served (other than a self-signed root) signed with SHA-1 or MD5."""
    weak = []
    for i, der in enumerate(chain_der):
        s = summarize(der)
        if not (s.self_signed and i > 0) and s.signature_hash in ("sha1", "md5"):
            weak.append(f"#{i} {s.subject} signed with {s.signature_hash}")
    return weak
