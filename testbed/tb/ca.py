"""The testbed's private CA: a root, an intermediate, and leaf certificates per host name.

Everything is generated afresh at every `up` (keys are cheap; nothing is reused between runs).
Leaf kinds (the `kind:` of a listener or a `certs:` entry in scenarios.yaml):

  good            ECDSA P-256, SHA-256, valid 200 days, issued by the intermediate
  rsa             RSA-2048, otherwise like good (the legacy TLS servers need an RSA key)
  expired         valid from -400 to -10 days
  expiring20      expires in 20 days
  wrongname       SAN is other.<host> only (the host name is absent)
  selfsigned      self-signed, served alone
  nointermediate  issued by the intermediate, served without it
  rsa1024         RSA-1024 key
  sha1            signed with SHA-1 (by the intermediate)
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KINDS = (
    "good",
    "rsa",
    "expired",
    "expiring20",
    "wrongname",
    "selfsigned",
    "nointermediate",
    "rsa1024",
    "sha1",
)
ROOT_CN = "mailtls testbed root"
INTER_CN = "mailtls testbed intermediate"
PEM = serialization.Encoding.PEM


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailtls testbed"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _pem_key(key: Any) -> bytes:
    return key.private_bytes(  # type: ignore[no-any-return]
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _ca(
    subject: str, issuer: tuple[x509.Certificate, Any] | None, path_len: int
) -> tuple[x509.Certificate, Any]:
    now = _now()
    key = ec.generate_private_key(ec.SECP256R1())
    issuer_name, signer = (issuer[0].subject, issuer[1]) if issuer else (_name(subject), key)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3650))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()), critical=False
        )
        .sign(signer, hashes.SHA256())
    )
    return cert, key


class TestCA:
    """Root + intermediate in ``folder``; ``ca.pem`` there is the root (the suite's CA bundle)."""

    __test__ = False  # not a pytest test class

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.root, self.root_key = _ca(ROOT_CN, None, 1)
        self.inter, self.inter_key = _ca(INTER_CN, (self.root, self.root_key), 0)
        self.ca_pem = folder / "ca.pem"
        self.ca_pem.write_bytes(self.root.public_bytes(PEM))
        self.inter_pem = folder / "intermediate.pem"
        self.inter_pem.write_bytes(self.inter.public_bytes(PEM))

    def _resign_sha1(self, cert: x509.Certificate, host: str) -> x509.Certificate:
        """`cryptography` refuses SHA-1 signatures: the openssl command re-signs the certificate
        with the intermediate's key (it adds the authority and subject key identifiers)."""
        inter_key = self.folder / "intermediate.key"
        inter_key.write_bytes(_pem_key(self.inter_key))
        inter_key.chmod(0o600)
        pre = self.folder / f"{host}.pre.crt"
        pre.write_bytes(cert.public_bytes(PEM))
        out = subprocess.run(
            [
                "openssl",
                "x509",
                "-in",
                str(pre),
                "-CA",
                str(self.inter_pem),
                "-CAkey",
                str(inter_key),
                "-sha1",
                "-days",
                "200",
                "-set_serial",
                str(x509.random_serial_number()),
            ],
            check=True,
            capture_output=True,
        ).stdout
        pre.unlink()
        return x509.load_pem_x509_certificate(out)

    def leaf(self, host: str, kind: str = "good", sans: list[str] | None = None) -> dict[str, str]:
        """Write <host>.key, <host>.crt (the leaf alone) and <host>.chain.pem (what is served).

        Returns those paths plus ``inter`` (the intermediate to serve after the leaf, "" if
        none), ``kind`` and ``spki_sha256`` (hex; the data of a TLSA 3 1 1 record).
        """
        if kind not in KINDS:
            raise ValueError(f"unknown certificate kind {kind!r} for {host}; known: {KINDS}")
        now = _now()
        key: Any
        if kind in ("rsa", "rsa1024"):
            key = rsa.generate_private_key(65537, 1024 if kind == "rsa1024" else 2048)
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        start, end = now - dt.timedelta(days=1), now + dt.timedelta(days=200)
        if kind == "expired":
            start, end = now - dt.timedelta(days=400), now - dt.timedelta(days=10)
        elif kind == "expiring20":
            end = now + dt.timedelta(days=20)
        names = [f"other.{host}"] if kind == "wrongname" else [host, *(sans or [])]
        issuer, signer = self.inter.subject, self.inter_key
        if kind in ("selfsigned", "sha1"):  # sha1: self-signed first, re-signed by openssl below
            issuer, signer = _name(host), key
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(host))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        )
        if kind != "sha1":
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
                critical=False,
            )
        cert = builder.sign(signer, hashes.SHA256())
        if kind == "sha1":
            cert = self._resign_sha1(cert, host)
        base = self.folder / host
        key_path, cert_path, chain_path = (
            Path(f"{base}.key"),
            Path(f"{base}.crt"),
            Path(f"{base}.chain.pem"),
        )
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        cert_path.write_bytes(cert.public_bytes(PEM))
        served = cert.public_bytes(PEM)
        inter = ""
        if kind not in ("selfsigned", "nointermediate"):
            served += self.inter.public_bytes(PEM)
            inter = str(self.inter_pem)
        chain_path.write_bytes(served)
        spki = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = hashes.Hash(hashes.SHA256())
        digest.update(spki)
        return {
            "key": str(key_path),
            "cert": str(cert_path),
            "chain": str(chain_path),
            "inter": inter,
            "kind": kind,
            "spki_sha256": digest.finalize().hex(),
        }
