"""The one certificate builder of the project's tests (cryptography, no openssl command).

``make_cert("mx.example")`` is a self-signed P-256 leaf naming its host, valid from a day ago
for 30 days; keywords change the key, names, dates, hash, CA flag or issuer. ``Cert.write``
puts PEM files where a server (ssl, openssl s_server, tlslite) can load them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
_KEY_USAGES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def make_key(kind: Literal["ec", "rsa"] = "ec", *, bits: int = 2048) -> PrivateKey:
    """A fresh key: P-256 ("ec"), or RSA of ``bits`` bits ("rsa"; tlslite's suites need RSA)."""
    if kind == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class Cert:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    @property
    def spki(self) -> bytes:
        """The DER SubjectPublicKeyInfo (what a TLSA selector 1 record hashes)."""
        return self.cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def write(self, directory: Path, stem: str = "cert") -> tuple[Path, Path]:
        """``<stem>.crt`` and ``<stem>.key`` (PEM, unencrypted PKCS#8) in ``directory``."""
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return cert_path, key_path


def make_cert(
    name: str,
    *,
    key: PrivateKey | None = None,
    sans: Sequence[str] | None = None,
    issuer: Cert | None = None,
    hash_alg: hashes.HashAlgorithm | None = None,
    ca: bool | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    days: float = 30,
) -> Cert:
    """A certificate for CN ``name``.

    ``sans`` defaults to ``[name]`` (``[]`` for none); ``issuer`` signs it (default: self-signed);
    ``ca`` adds BasicConstraints (None: no extension; True also adds KeyUsage for signing
    certificates); a certificate with an issuer gets the key identifiers; the validity runs from ``not_before``
    (default a day ago) to ``not_after`` (default ``days`` from now)."""
    key = key or make_key()
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - dt.timedelta(days=1))
        .not_valid_after(not_after or now + dt.timedelta(days=days))
    )
    if ca is not None:
        builder = builder.add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
    if ca:
        usage = dict.fromkeys(_KEY_USAGES, False) | {"key_cert_sign": True, "crl_sign": True}
        builder = builder.add_extension(x509.KeyUsage(**usage), critical=True)
    if issuer is not None:  # a verifier (webpki rules) wants the key identifiers on a chain
        builder = builder.add_extension(
            x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
        ).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    names = [name] if sans is None else list(sans)
    if names:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
        )
    signer = issuer.key if issuer else key
    return Cert(builder.sign(signer, hash_alg or hashes.SHA256()), key)
