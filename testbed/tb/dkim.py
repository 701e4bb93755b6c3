"""DKIM key records for the testbed, with keys generated at `up` (never committed).

A scenario's `dkim: {selector: spec}` publishes `<selector>._domainkey.<domain>` TXT. The spec is
a key kind - rsa512, rsa1024, rsa2048, ed25519 - or `revoked` (empty p=), or a mapping
`{key: <kind>, tags: "h=sha1; t=y"}` whose tags go before p=. RSA keys come from `openssl
genpkey` (OpenSSL still makes 512-bit keys; they exist only to be refused), Ed25519 from
`cryptography`. The private keys stay in <run>/dns/dkim/ and are reused until the next `up`.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

KINDS = ("rsa512", "rsa1024", "rsa2048", "ed25519", "revoked")


def spec_of(raw: Any) -> tuple[str, str]:
    """(key kind, extra tags) of one selector's spec."""
    kind, tags = (raw, "") if isinstance(raw, str) else (raw["key"], raw.get("tags", ""))
    if kind not in KINDS:
        raise ValueError(f"unknown DKIM key kind {kind!r}; known: {', '.join(KINDS)}")
    return kind, tags


def _private_key(folder: Path, name: str, kind: str) -> Any:
    path = folder / f"{name}.pem"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "ed25519":
            key = ed25519.Ed25519PrivateKey.generate()
            pem = key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            path.write_bytes(pem)
        else:
            bits = kind.removeprefix("rsa")
            subprocess.run(
                [
                    "openssl",
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    f"rsa_keygen_bits:{bits}",
                    "-out",
                    str(path),
                ],
                check=True,
                capture_output=True,
            )
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def public_key(folder: Path, name: str, kind: str) -> str:
    """The base64 p= value: DER SubjectPublicKeyInfo for RSA, the raw 32 bytes for Ed25519."""
    key = _private_key(folder, name, kind)
    if kind == "ed25519":
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    else:
        raw = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(raw).decode("ascii")


def record(folder: Path, domain: str, selector: str, raw: Any) -> str:
    """The text of the key record (before splitting into 255-byte strings)."""
    kind, tags = spec_of(raw)
    key_type = "ed25519" if kind == "ed25519" else "rsa"
    p = "" if kind == "revoked" else public_key(folder, f"{domain}_{selector}", kind)
    extra = f"{tags.strip().rstrip(';')}; " if tags.strip() else ""
    return f"v=DKIM1; k={key_type}; {extra}p={p}"
