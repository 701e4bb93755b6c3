"""What the TXT-record standards share: DNS text to bytes, record selection by version tag,
strict US-ASCII decoding, the ``name=value`` field list; and the SRV records of message
submission (RFC 6186, RFC 2782).

MTA-STS (RFC 8461 §3.1, ``mailtls/mtasts.py``) and TLS-RPT (RFC 8460 §3, ``mailtls/tlsrpt.py``)
both say: join the strings of one record without spaces, discard the records that do not begin
with the version tag, and act as if nothing were published unless exactly one remains. Both
grammars are US-ASCII; a record with other bytes (non-ASCII, NUL) is not well formed, and it is
shown with those bytes escaped, never decoded into something that looks valid.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from mailtls.observations import SrvRecord, escape_bytes

# field-delim = *WSP ";" *WSP (RFC 8461 §3.1 and RFC 8460 §3 ABNF)
_DELIM = re.compile(r"[ \t]*;[ \t]*")


#: Bytes as printable ASCII (``\\xNN`` for the rest), the way every record problem shows them.
escape = escape_bytes


class RecordError(ValueError):
    """A record that does not follow its grammar; the message says what is wrong."""


def version_tag(version: str) -> re.Pattern[bytes]:
    """The start of a record of this version: ``v=<version>`` then ``*WSP ";"`` (the RFCs'
    "records that do not begin with v=<version>; are discarded", with the ABNF's delimiter).
    Case-sensitive: the ABNF writes the tag as %s"v=..."."""
    return re.compile(rb"v=" + re.escape(version.encode("ascii")) + rb"[ \t]*;")


def txt_bytes(presentation: str) -> bytes:
    """The joined strings of one TXT record given in presentation form, as the bytes sent."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, presentation)
    except dns.exception.DNSException as exc:
        raise RecordError(f"unparsable TXT record {presentation!r}: {exc}") from None
    return b"".join(rdata.strings)  # type: ignore[attr-defined]


def select(records: Sequence[str], tag: re.Pattern[bytes]) -> list[bytes]:
    """The joined records (raw bytes) that begin with ``tag``; every other one is discarded."""
    out = []
    for rec in records:
        try:
            value = txt_bytes(rec)
        except RecordError:
            continue
        if tag.match(value):
            out.append(value)
    return out


def decode(raw: bytes) -> str:
    """The record as text: US-ASCII printable characters and tab only, else RecordError."""
    bad = next((i for i, b in enumerate(raw) if not (0x20 <= b < 0x7F or b == 0x09)), None)
    if bad is not None:
        raise RecordError(
            f"byte {bad} (0x{raw[bad]:02x}) is not printable US-ASCII; the record is "
            f"'{escape(raw)}'"
        )
    return raw.decode("ascii")


def fields(text: str) -> list[tuple[str, str]]:
    """``name=value`` fields separated by ``*WSP ";" *WSP``; one trailing delimiter allowed."""
    parts = _DELIM.split(text)
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()
    out = []
    for part in parts:
        name, sep, value = part.partition("=")
        if not sep:
            raise RecordError(f"field {part!r} is not name=value")
        out.append((name, value))
    return out


def parse_srv(presentation: str) -> SrvRecord | None:
    """One SRV record in presentation form ("prio weight port target."); None if malformed.

    The target is returned in lower case without its trailing dot; a target of "." (RFC 2782:
    the service is decidedly not available at this domain) is kept as ".".
    """
    parts = presentation.split()
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    prio, weight, port = (int(p) for p in parts[:3])
    if prio > 0xFFFF or weight > 0xFFFF or port > 0xFFFF:
        return None
    target = parts[3].lower()
    if target != ".":
        target = target.rstrip(".")
        if not target or ".." in target:
            return None
    return SrvRecord(prio, weight, port, target)
