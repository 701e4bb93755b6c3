"""Our own ClientHello codec for hello probes: build any offer, read the server's first flight.

A hello probe sends ONE crafted ClientHello on an open socket (after STARTTLS) and reads the
answer without ever finishing the handshake. That is the only way to get true negatives for
SSL 2.0/3.0, RC4, 3DES, EXPORT, NULL and anonymous suites, which Python's `ssl` on OpenSSL 3
cannot offer. Building is here; reading the reply is `mailtls.tls.flight` (re-exported).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailtls.tls._wire import (
    CT_HANDSHAKE,
    EXT_EC_POINT_FORMATS,
    EXT_ENCRYPT_THEN_MAC,
    EXT_EXTENDED_MASTER_SECRET,
    EXT_KEY_SHARE,
    EXT_PADDING,
    EXT_PSK_KEY_EXCHANGE_MODES,
    EXT_RENEGOTIATION_INFO,
    EXT_SERVER_NAME,
    EXT_SIGNATURE_ALGORITHMS,
    EXT_SUPPORTED_GROUPS,
    EXT_SUPPORTED_VERSIONS,
    HS_CLIENT_HELLO,
    SSL2,
    SSL3,
    TLS10,
    TLS11,
    TLS12,
    TLS13,
    alert_name,
    version_name,
)
from mailtls.tls.flight import ServerFlight, read_server_flight
from mailtls.tls.groups import (
    DEFAULT_GROUPS,
    DEFAULT_SIG_ALGS,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    X448,
    X25519,
)
from mailtls.tls.suites import SCSV_RENEGOTIATION, SSL2_CIPHER_KINDS

__all__ = [
    "SSL2",
    "SSL3",
    "TLS10",
    "TLS11",
    "TLS12",
    "TLS13",
    "ServerFlight",
    "alert_name",
    "build_client_hello",
    "build_sslv2_client_hello",
    "read_server_flight",
    "version_name",
]

Extension = tuple[int, bytes]
KeyShareSpec = int | tuple[int, bytes]

_MAX_FRAGMENT = 2**14
_VALID_VERSIONS = (SSL3, TLS10, TLS11, TLS12, TLS13)


def _u8(n: int) -> bytes:
    return struct.pack("!B", n)


def _u16(n: int) -> bytes:
    return struct.pack("!H", n)


def _u24(n: int) -> bytes:
    return struct.pack("!I", n)[1:]


def _vec8(data: bytes) -> bytes:
    if len(data) > 0xFF:
        raise ValueError("vector longer than 255 bytes")
    return _u8(len(data)) + data


def _vec16(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise ValueError("vector longer than 65535 bytes")
    return _u16(len(data)) + data


def _u16_list(values: Sequence[int]) -> bytes:
    for value in values:
        if not 0 <= value <= 0xFFFF:
            raise ValueError(f"not a 16-bit code point: {value!r}")
    return b"".join(_u16(v) for v in values)


def _ext(ext_type: int, body: bytes) -> bytes:
    return _u16(ext_type) + _vec16(body)


def _server_name_ext(server_name: str) -> bytes:
    try:
        host = server_name.rstrip(".").encode("ascii")
    except UnicodeEncodeError:
        raise ValueError(
            f"server_name must be an A-label (IDNA) host name: {server_name!r}"
        ) from None
    if not host:
        raise ValueError("server_name is empty")
    entry = _u8(0) + _vec16(host)  # name_type host_name
    return _ext(EXT_SERVER_NAME, _vec16(entry))


def _public_key(group: int) -> bytes:
    """A fresh public key for `group` in key_share encoding (we never use the private key)."""
    if group == X25519:
        return (
            x25519.X25519PrivateKey.generate()
            .public_key()
            .public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
    if group == X448:
        return (
            x448.X448PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        )
    curves: dict[int, ec.EllipticCurve] = {
        SECP256R1: ec.SECP256R1(),
        SECP384R1: ec.SECP384R1(),
        SECP521R1: ec.SECP521R1(),
    }
    if group in curves:
        key = ec.generate_private_key(curves[group]).public_key()
        return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    raise ValueError(f"cannot generate a key share for group 0x{group:04x}; pass (group, bytes)")


def _key_share_ext(shares: Sequence[KeyShareSpec]) -> bytes:
    entries = b""
    for share in shares:
        group, key = share if isinstance(share, tuple) else (share, _public_key(share))
        entries += _u16(group) + _vec16(key)
    return _ext(EXT_KEY_SHARE, _vec16(entries))


def _tls_extensions(
    version: int,
    server_name: str | None,
    groups: Sequence[int],
    sig_algs: Sequence[int],
    versions: Sequence[int],
    key_shares: Sequence[KeyShareSpec],
    ems_etm: bool,
) -> list[bytes]:
    exts: list[bytes] = []
    if server_name:
        exts.append(_server_name_ext(server_name))
    if groups:
        exts.append(_ext(EXT_SUPPORTED_GROUPS, _vec16(_u16_list(groups))))
        exts.append(_ext(EXT_EC_POINT_FORMATS, _vec8(b"\x00")))  # uncompressed
    if sig_algs and (version >= TLS12 or versions):
        exts.append(_ext(EXT_SIGNATURE_ALGORITHMS, _vec16(_u16_list(sig_algs))))
    exts.append(_ext(EXT_RENEGOTIATION_INFO, _vec8(b"")))
    if ems_etm:
        exts.append(_ext(EXT_EXTENDED_MASTER_SECRET, b""))
        exts.append(_ext(EXT_ENCRYPT_THEN_MAC, b""))
    if versions:
        exts.append(_ext(EXT_SUPPORTED_VERSIONS, _vec8(_u16_list(versions))))
        exts.append(_ext(EXT_PSK_KEY_EXCHANGE_MODES, _vec8(b"\x01")))  # psk_dhe_ke
        exts.append(_key_share_ext(key_shares))
    return exts


def _padding(hello_len_without_padding: int) -> bytes:
    """RFC 7685 padding: keep the handshake message out of 256..511 bytes (old F5 bug)."""
    if not 256 <= hello_len_without_padding < 512:
        return b""
    pad = max(512 - hello_len_without_padding - 4, 1)
    return _ext(EXT_PADDING, b"\x00" * pad)


def _records(content_type: int, record_version: int, payload: bytes) -> bytes:
    out = b""
    for start in range(0, len(payload), _MAX_FRAGMENT):
        chunk = payload[start : start + _MAX_FRAGMENT]
        out += _u8(content_type) + _u16(record_version) + _u16(len(chunk)) + chunk
    return out


def _default_shares(groups: Sequence[int]) -> tuple[int, ...]:
    shares = tuple(g for g in (X25519, SECP256R1) if g in groups)
    return shares or ((groups[0],) if groups else ())


def build_client_hello(
    version: int,
    suites: Sequence[int],
    *,
    server_name: str | None,
    groups: Sequence[int] = DEFAULT_GROUPS,
    sig_algs: Sequence[int] = DEFAULT_SIG_ALGS,
    tls13: bool = False,
    key_shares: Sequence[KeyShareSpec] | None = None,
    random: bytes | None = None,
    extra_extensions: Sequence[Extension] = (),
    supported_versions: Sequence[int] | None = None,
    extended_master_secret: bool = True,
) -> bytes:
    """A complete ClientHello record (or records, past 16 KiB) offering exactly `suites`.

    version: the highest version offered (SSL3..TLS13). SSL 3.0 hellos carry no extensions and
        get TLS_EMPTY_RENEGOTIATION_INFO_SCSV appended. TLS 1.3 (version == TLS13, or tls13=True
        with a lower `version` to offer both) is offered RFC 8446 style: legacy_version 0x0303,
        supported_versions, key_share, psk_key_exchange_modes and a 32-byte legacy session id.
    supported_versions: overrides the supported_versions list when TLS 1.3 is offered.
    key_shares: groups to send a fresh public key for (x25519, x448, secp256r1/384r1/521r1), or
        (group, raw key bytes) pairs; default x25519 and secp256r1 when those are in `groups`.
    extended_master_secret: also offer extended_master_secret and encrypt_then_mac, whose echo
        in the ServerHello the TLS-EMS and TLS-CBC-ETM checks read.
    The record-layer version is 0x0300 for SSL 3.0 and 0x0301 otherwise (what servers expect).
    """
    if version not in _VALID_VERSIONS:
        raise ValueError(f"cannot build a ClientHello for version 0x{version:04x}")
    if random is None:
        random = os.urandom(32)
    if len(random) != 32:
        raise ValueError("random must be 32 bytes")
    offer_13 = version == TLS13 or tls13
    versions: tuple[int, ...] = ()
    if offer_13:
        versions = (
            tuple(supported_versions)
            if supported_versions is not None
            else ((TLS13,) if version == TLS13 else (TLS13, version))
        )
    suite_list = list(suites)
    if version == SSL3 and SCSV_RENEGOTIATION not in suite_list:
        suite_list.append(SCSV_RENEGOTIATION)
    session_id = os.urandom(32) if offer_13 else b""
    body = (
        _u16(min(version, TLS12))
        + random
        + _vec8(session_id)
        + _vec16(_u16_list(suite_list))
        + _vec8(b"\x00")  # compression: null only
    )
    if version != SSL3:
        shares = _default_shares(groups) if key_shares is None else tuple(key_shares)
        exts = _tls_extensions(
            version, server_name, groups, sig_algs, versions, shares, extended_master_secret
        )
        exts += [_ext(t, data) for t, data in extra_extensions]
        ext_bytes = b"".join(exts)
        ext_bytes += _padding(4 + len(body) + 2 + len(ext_bytes))
        body += _vec16(ext_bytes)
    handshake = _u8(HS_CLIENT_HELLO) + _u24(len(body)) + body
    return _records(CT_HANDSHAKE, SSL3 if version == SSL3 else TLS10, handshake)


def build_sslv2_client_hello(
    suites: Sequence[int] = tuple(SSL2_CIPHER_KINDS), *, challenge: bytes | None = None
) -> bytes:
    """An SSL 2.0 CLIENT-HELLO (2-byte record header) offering 3-byte SSLv2 cipher kinds."""
    if challenge is None:
        challenge = os.urandom(16)
    if not 16 <= len(challenge) <= 32:
        raise ValueError("SSLv2 challenge must be 16..32 bytes")
    specs = b""
    for kind in suites:
        if not 0 <= kind <= 0xFFFFFF:
            raise ValueError(f"not a 24-bit SSLv2 cipher kind: {kind!r}")
        specs += struct.pack("!I", kind)[1:]
    msg = (
        _u8(1)  # MSG-CLIENT-HELLO
        + _u16(SSL2)
        + _u16(len(specs))
        + _u16(0)  # session id length
        + _u16(len(challenge))
        + specs
        + challenge
    )
    if len(msg) > 0x7FFF:
        raise ValueError("SSLv2 hello too long")
    return _u16(0x8000 | len(msg)) + msg
