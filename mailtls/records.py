"""Pure parsers for the policy TXT records: MTA-STS (RFC 8461 §3.1) and TLS-RPT (RFC 8460 §3),
and for the SRV records of message submission (RFC 6186, RFC 2782).

Records arrive as DNS presentation text; the strings of one record are joined without spaces.
Records whose version does not match are discarded before counting, as the RFCs say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from mailtls.observations import SrvRecord

_STS_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
_EXT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_EXT_VALUE = re.compile(r"^[\x21-\x3a\x3c\x3e-\x7e]{1,}$")  # printable, no ';' '=' or space


class RecordError(ValueError):
    """A policy record that does not follow its grammar; the message says what is wrong."""


def txt_value(presentation: str) -> str:
    """The joined strings of one TXT record given in presentation form."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, presentation)
    except dns.exception.DNSException as exc:
        raise RecordError(f"unparsable TXT record {presentation!r}: {exc}") from None
    return b"".join(rdata.strings).decode("ascii", "backslashreplace")  # type: ignore[attr-defined]


def select(records: Sequence[str], version: str) -> list[str]:
    """Joined records that begin with ``v=<version>`` followed by ';' or the end."""
    out = []
    for rec in records:
        try:
            value = txt_value(rec)
        except RecordError:
            continue
        head = value.split(";", 1)[0].strip()
        if head == f"v={version}":
            out.append(value)
    return out


def _fields(value: str) -> list[tuple[str, str]]:
    fields = []
    for part in value.split(";"):
        part = part.strip(" \t")
        if not part:
            continue
        if "=" not in part:
            raise RecordError(f"field {part!r} is not name=value")
        name, _, val = part.partition("=")
        fields.append((name.strip(), val.strip()))
    return fields


@dataclass(frozen=True)
class StsRecord:
    id: str
    extensions: tuple[tuple[str, str], ...]


def parse_sts(value: str) -> StsRecord:
    fields = _fields(value)
    if not fields or fields[0] != ("v", "STSv1"):
        raise RecordError("the record must start with v=STSv1")
    ids = [v for k, v in fields if k == "id"]
    if not ids:
        raise RecordError("the required id= field is missing")
    if not _STS_ID.match(ids[0]):
        raise RecordError(f"id={ids[0]!r} must be 1-32 letters and digits")
    ext = tuple((k, v) for k, v in fields[1:] if k != "id")
    for k, v in ext:
        if not _EXT_NAME.match(k) or not _EXT_VALUE.match(v):
            raise RecordError(f"extension field {k}={v!r} does not follow the RFC 8461 grammar")
    return StsRecord(ids[0], ext)


@dataclass(frozen=True)
class TlsRptRecord:
    rua: tuple[str, ...]


def parse_tlsrpt(value: str) -> TlsRptRecord:
    fields = _fields(value)
    if not fields or fields[0] != ("v", "TLSRPTv1"):
        raise RecordError("the record must start with v=TLSRPTv1")
    ruas = [v for k, v in fields if k == "rua"]
    if not ruas or not ruas[0]:
        raise RecordError("the required rua= field is missing or empty")
    uris = tuple(u.strip(" \t") for u in ruas[0].split(","))
    for uri in uris:
        if "!" in uri:
            raise RecordError(f"rua URI {uri!r}: '!' must be percent-encoded")
        lower = uri.lower()
        if lower.startswith("mailto:"):
            if "@" not in uri[7:] or uri[7:].startswith("@") or uri.endswith("@"):
                raise RecordError(f"rua URI {uri!r} is not a mailto: address")
        elif lower.startswith("https://"):
            if len(uri) <= len("https://") or " " in uri:
                raise RecordError(f"rua URI {uri!r} is not an https: URL")
        else:
            raise RecordError(f"rua URI {uri!r} must be mailto: or https:")
    return TlsRptRecord(uris)


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
