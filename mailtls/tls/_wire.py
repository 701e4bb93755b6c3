"""Wire constants of the TLS record and handshake layers, and their human names."""

from __future__ import annotations

SSL2, SSL3, TLS10, TLS11, TLS12, TLS13 = 0x0002, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304

CT_CHANGE_CIPHER_SPEC, CT_ALERT, CT_HANDSHAKE, CT_APPLICATION_DATA, CT_HEARTBEAT = (
    20,
    21,
    22,
    23,
    24,
)

HS_HELLO_REQUEST, HS_CLIENT_HELLO, HS_SERVER_HELLO = 0, 1, 2
HS_CERTIFICATE, HS_SERVER_KEY_EXCHANGE, HS_CERTIFICATE_REQUEST, HS_SERVER_HELLO_DONE = (
    11,
    12,
    13,
    14,
)

EXT_SERVER_NAME = 0
EXT_STATUS_REQUEST = 5
EXT_SUPPORTED_GROUPS = 10
EXT_EC_POINT_FORMATS = 11
EXT_SIGNATURE_ALGORITHMS = 13
EXT_PADDING = 21
EXT_ENCRYPT_THEN_MAC = 22
EXT_EXTENDED_MASTER_SECRET = 23
EXT_SESSION_TICKET = 35
EXT_SUPPORTED_VERSIONS = 43
EXT_PSK_KEY_EXCHANGE_MODES = 45
EXT_KEY_SHARE = 51
EXT_RENEGOTIATION_INFO = 0xFF01

#: ServerHello.random of a HelloRetryRequest: SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3.
HRR_RANDOM = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

#: Largest TLSPlaintext/TLSCiphertext fragment a peer may send (2^14 + 2048).
MAX_RECORD_LENGTH = 2**14 + 2048

_VERSION_NAMES = {
    SSL2: "SSL 2.0",
    SSL3: "SSL 3.0",
    TLS10: "TLS 1.0",
    TLS11: "TLS 1.1",
    TLS12: "TLS 1.2",
    TLS13: "TLS 1.3",
}

ALERT_NAMES: dict[int, str] = {
    0: "close_notify",
    10: "unexpected_message",
    20: "bad_record_mac",
    21: "decryption_failed",
    22: "record_overflow",
    30: "decompression_failure",
    40: "handshake_failure",
    41: "no_certificate",
    42: "bad_certificate",
    43: "unsupported_certificate",
    44: "certificate_revoked",
    45: "certificate_expired",
    46: "certificate_unknown",
    47: "illegal_parameter",
    48: "unknown_ca",
    49: "access_denied",
    50: "decode_error",
    51: "decrypt_error",
    60: "export_restriction",
    70: "protocol_version",
    71: "insufficient_security",
    80: "internal_error",
    86: "inappropriate_fallback",
    90: "user_canceled",
    100: "no_renegotiation",
    109: "missing_extension",
    110: "unsupported_extension",
    111: "certificate_unobtainable",
    112: "unrecognized_name",
    113: "bad_certificate_status_response",
    114: "bad_certificate_hash_value",
    115: "unknown_psk_identity",
    116: "certificate_required",
    120: "no_application_protocol",
}


def version_name(version: int) -> str:
    """``TLS 1.2`` for 0x0303; ``0x7f1c`` for anything unknown."""
    return _VERSION_NAMES.get(version, f"0x{version:04x}")


def alert_name(description: int) -> str:
    """``handshake_failure`` for 40; ``unknown_alert(N)`` for anything unknown."""
    return ALERT_NAMES.get(description, f"unknown_alert({description})")
