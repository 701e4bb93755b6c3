"""The testbed's private CA: a root, an intermediate, and leaf certificates per host name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailtls testbed"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(
    subject: str,
    issuer_cert: x509.Certificate | None,
    issuer_key: ec.EllipticCurvePrivateKey | None,
    path_len: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name = issuer_cert.subject if issuer_cert else _name(subject)
    signer = issuer_key or key
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=3650))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(signer, hashes.SHA256())
    )
    return cert, key


class TestCA:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.root, self.root_key = _ca("mailtls testbed root", None, None, 1)
        self.inter, self.inter_key = _ca(
            "mailtls testbed intermediate", self.root, self.root_key, 0
        )
        (folder / "ca.pem").write_bytes(self.root.public_bytes(serialization.Encoding.PEM))

    def leaf(self, host: str, kind: str = "good") -> dict[str, str]:
        """Key, leaf and chain files for ``host``; returns their paths.

        kind: good | expired | expiring20 | wrongname | selfsigned | nointermediate
        """
        key = ec.generate_private_key(ec.SECP256R1())
        start, end = NOW - dt.timedelta(days=1), NOW + dt.timedelta(days=200)
        if kind == "expired":
            start, end = NOW - dt.timedelta(days=400), NOW - dt.timedelta(days=10)
        elif kind == "expiring20":
            end = NOW + dt.timedelta(days=20)
        san = f"other.{host}" if kind == "wrongname" else host
        issuer, signer = self.inter.subject, self.inter_key
        if kind == "selfsigned":
            issuer, signer = _name(host), key
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
            .sign(signer, hashes.SHA256())
        )
        base = self.folder / host
        key_path, cert_path, chain_path = (
            Path(f"{base}.key"),
            Path(f"{base}.crt"),
            Path(f"{base}.chain.pem"),
        )
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        served = cert.public_bytes(serialization.Encoding.PEM)
        if kind not in ("selfsigned", "nointermediate"):
            served += self.inter.public_bytes(serialization.Encoding.PEM)
        chain_path.write_bytes(served)
        return {"key": str(key_path), "cert": str(cert_path), "chain": str(chain_path)}
