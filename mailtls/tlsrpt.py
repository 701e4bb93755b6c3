"""The TLS-RPT record (RFC 8460 §3), as pure functions.

``_smtp._tls.<domain>`` TXT: records not beginning with ``v=TLSRPTv1;`` are discarded; exactly
one must remain, or the domain does not implement TLS-RPT. The record is US-ASCII::

    tlsrpt-record = %s"v=TLSRPTv1" 1*(field-delim tlsrpt-field) [field-delim]
    field-delim   = *WSP ";" *WSP
    tlsrpt-rua    = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
    tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value
    tlsrpt-ext-name  = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    tlsrpt-ext-value = 1*(%x21-3A / %x3C / %x3E-7E)

Each ``rua`` URI is a URI (RFC 3986) with the scheme ``mailto`` or ``https``; commas, ``!`` and
``;`` inside a URI are percent-encoded. Unknown (extension) fields are ignored once they follow
the grammar; for a repeated field the first one counts (the others are kept for the evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailtls.records import RecordError, decode, fields, version_tag

TAG = version_tag("TLSRPTv1")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_URI_SEP = re.compile(r"[ \t]*,[ \t]*")
# RFC 3986 §3.1 and §2: scheme, then unreserved / pct-encoded / sub-delims / gen-delims.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_URI_CHARS = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#\[\]]|%[0-9A-Fa-f]{2})*")
_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_IP_LITERAL = re.compile(r"\[[0-9A-Fa-f:.vV]+\]")
_PATH = re.compile(r"(?:/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})*)*")
_QUERY = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LOCAL = re.compile(r"(?:[A-Za-z0-9\-._~!$&'*+=]|%[0-9A-Fa-f]{2})+")


@dataclass(frozen=True)
class TlsRptRecord:
    rua: tuple[str, ...]
    extensions: tuple[tuple[str, str], ...] = ()
    repeated: tuple[str, ...] = ()  # fields given more than once (the first one counts)


def _https(uri: str, rest: str) -> None:
    if not rest.startswith("//"):
        raise RecordError(f"rua URI {uri!r}: an https URI needs //host")
    remainder, _f, fragment = rest[2:].partition("#")
    remainder, _q, query = remainder.partition("?")
    authority, slash, path = remainder.partition("/")
    path = slash + path
    if "@" in authority:
        raise RecordError(f"rua URI {uri!r}: user information in a report URL")
    host, port = authority, ""
    if authority.startswith("["):
        host, _b, port = authority.partition("]")
        host += "]"
    elif ":" in authority:
        host, _c, port = authority.rpartition(":")
    if port.startswith(":"):
        port = port[1:]
    if not host or not (_IP_LITERAL.fullmatch(host) or _REG_NAME.fullmatch(host)):
        raise RecordError(f"rua URI {uri!r}: {host!r} is not a host (RFC 3986 §3.2.2)")
    if port and not port.isdigit():
        raise RecordError(f"rua URI {uri!r}: port {port!r} is not a number")
    if not _PATH.fullmatch(path) or not _QUERY.fullmatch(query) or not _QUERY.fullmatch(fragment):
        raise RecordError(f"rua URI {uri!r}: the path or query is not RFC 3986 syntax")


def _mailto(uri: str, rest: str) -> None:
    address = rest.split("?", 1)[0]
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not _LOCAL.fullmatch(local)
        or not (_DOMAIN.fullmatch(domain) or _IP_LITERAL.fullmatch(domain))
    ):
        raise RecordError(f"rua URI {uri!r} is not mailto:<local-part>@<domain> (RFC 6068)")


def check_uri(uri: str) -> None:
    """RFC 3986 URI syntax, scheme mailto or https (RFC 8460 §3); RecordError otherwise."""
    scheme = _SCHEME.match(uri)
    if scheme is None:
        raise RecordError(f"rua URI {uri!r} has no scheme (RFC 3986 §3.1)")
    if "!" in uri:
        raise RecordError(f"rua URI {uri!r}: '!' must be percent-encoded (RFC 8460 §3)")
    if not _URI_CHARS.fullmatch(uri) or uri.count("#") > 1:
        raise RecordError(
            f"rua URI {uri!r} holds characters a URI cannot (RFC 3986 §2; '%' needs two hex digits)"
        )
    rest = uri[scheme.end() :]
    name = scheme.group(1).lower()
    if name == "https":
        _https(uri, rest)
    elif name == "mailto":
        _mailto(uri, rest)
    else:
        raise RecordError(f"rua URI {uri!r} must be mailto: or https: (RFC 8460 §3)")


def parse(raw: bytes) -> TlsRptRecord:
    """Parse one selected record (its joined bytes); RecordError says what is wrong."""
    text = decode(raw)
    parsed = fields(text)
    if not parsed or parsed[0] != ("v", "TLSRPTv1"):
        raise RecordError("the record must start with v=TLSRPTv1")
    if len(parsed) < 2:
        raise RecordError("the record has no field after v=TLSRPTv1 (rua= is required)")
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in parsed[1:]:
        if name != "rua" and not (_EXT_NAME.fullmatch(name) and _EXT_VALUE.fullmatch(value)):
            raise RecordError(f"field {name}={value!r} does not follow the RFC 8460 grammar")
        if name in seen:
            repeated.append(name)
            continue
        seen[name] = value
    if "rua" not in seen:
        raise RecordError("the required rua= field is missing")
    if not seen["rua"]:
        raise RecordError("rua= is empty")
    uris = tuple(_URI_SEP.split(seen["rua"]))
    for uri in uris:
        check_uri(uri)
    ext = tuple((k, v) for k, v in seen.items() if k != "rua")
    return TlsRptRecord(uris, ext, tuple(repeated))
