"""Pure parser for DKIM key records (RFC 6376 §3.2 tag-lists, §3.6.1 key records; RFC 8301;
RFC 8463 Ed25519) and the decoder of the public key they publish.

No network here: :mod:`mailtls.probes.senderauth` queries ``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Literal

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key

_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_FWS = " \t\r\n"
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


class DkimError(ValueError):
    """A key record that does not follow the RFC 6376 grammar; verifiers ignore it."""


def tag_list(value: str) -> tuple[tuple[str, str], ...]:
    """An RFC 6376 §3.2 tag-list as (name, value) pairs; duplicate names make it invalid."""
    pairs: list[tuple[str, str]] = []
    parts = value.split(";")
    if parts and not parts[-1].strip(_FWS):
        parts = parts[:-1]  # one trailing ';' is allowed
    for part in parts:
        name, eq, val = part.partition("=")
        name, val = name.strip(_FWS), val.strip(_FWS)
        if not eq or not _TAG_NAME.match(name):
            raise DkimError(f"{part.strip(_FWS)!r} is not a tag=value pair")
        if any(not (0x21 <= ord(c) <= 0x7E and c != ";") and c not in _FWS for c in val):
            raise DkimError(f"tag {name}: value {val!r} has characters outside the grammar")
        if any(name == seen for seen, _ in pairs):
            raise DkimError(f"tag {name}= appears more than once (the whole record is invalid)")
        pairs.append((name, val))
    return tuple(pairs)


@dataclass(frozen=True)
class DkimKey:
    """A parsed key record. ``public_key`` is the base64 text of ``p=`` without whitespace."""

    key_type: str  # k= (default rsa), lower case
    public_key: str
    hashes: tuple[str, ...] | None  # h= (None: every algorithm allowed)
    flags: tuple[str, ...]  # t= (y: testing, s: strict)
    services: tuple[str, ...]  # s= (default *)
    version: str | None  # v= if given (DKIM1)

    @property
    def revoked(self) -> bool:
        """An empty ``p=`` means the key was revoked (RFC 6376 §3.6.1)."""
        return self.public_key == ""

    @property
    def testing(self) -> bool:
        """``t=y``: verifiers treat signed mail as unsigned (RFC 6376 §3.6.1)."""
        return "y" in self.flags

    @property
    def sha1_only(self) -> bool:
        """``h=`` allows SHA-1 and nothing else (RFC 8301 §3.1: rsa-sha1 must not be used)."""
        return self.hashes is not None and set(self.hashes) == {"sha1"}


def _colon_list(value: str) -> tuple[str, ...]:
    return tuple(x.strip(_FWS).lower() for x in value.split(":") if x.strip(_FWS))


def parse_key(value: str) -> DkimKey:
    """Parse the joined text of one ``_domainkey`` TXT record."""
    tags = tag_list(value)
    found = dict(tags)
    if "v" in found and (tags[0][0] != "v" or found["v"] != "DKIM1"):
        raise DkimError("v= must be the first tag and equal DKIM1")
    if "p" not in found:
        raise DkimError("the required p= tag (the public key) is missing")
    key = re.sub(r"[ \t\r\n]", "", found["p"])
    if not _B64.match(key) or (key and len(key) % 4):
        raise DkimError("p= is not base64")
    return DkimKey(
        key_type=found.get("k", "rsa").strip(_FWS).lower() or "rsa",
        public_key=key,
        hashes=_colon_list(found["h"]) if "h" in found else None,
        flags=_colon_list(found.get("t", "")),
        services=_colon_list(found.get("s", "*")),
        version=found.get("v"),
    )


@dataclass(frozen=True)
class KeyInfo:
    """The decoded public key: algorithm and size in bits."""

    algorithm: Literal["rsa", "ed25519"]
    bits: int
    exponent: int | None = None  # RSA public exponent

    def describe(self) -> str:
        if self.algorithm == "rsa":
            return f"RSA {self.bits} bits (e={self.exponent})"
        return "Ed25519 (256 bits)"


def decode_key(key: DkimKey) -> KeyInfo:
    """Decode ``p=``: RSA as DER SubjectPublicKeyInfo (or a bare RSAPublicKey), Ed25519 as the
    raw 32-byte key (RFC 8463 §4). Raise :class:`DkimError` when it does not decode."""
    if key.revoked:
        raise DkimError("the key is revoked (empty p=)")
    try:
        raw = base64.b64decode(key.public_key, validate=True)
    except (binascii.Error, ValueError):
        raise DkimError("p= is not base64") from None
    if key.key_type == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise DkimError(f"p= is {len(raw)} bytes, not a 32-byte Ed25519 key") from None
        return KeyInfo("ed25519", 256)
    if key.key_type != "rsa":
        raise DkimError(f"unknown key type k={key.key_type}")
    try:
        public = load_der_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        pem = "-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(raw).decode("ascii")
        try:
            public = load_pem_public_key((pem + "-----END RSA PUBLIC KEY-----\n").encode())
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise DkimError("p= does not decode as an RSA public key") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise DkimError(f"k=rsa, but p= holds a {type(public).__name__}")
    return KeyInfo("rsa", public.key_size, public.public_numbers().e)
