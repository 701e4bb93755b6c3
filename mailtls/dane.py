"""DANE for SMTP (RFC 7672, RFC 7671, RFC 6698): TLSA records matched against the served chain.

Pure functions: the records come from the discovery's TLSA answer and the chain from the SMTP
session (no extra connection). For every record we compute, per certificate of the chain, the
association data the record's selector and matching type call for, so that the evidence shows
the digest we computed next to the one published and says why they differ.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mailtls.observations import DnsAnswer, MxHost

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
MATCHING = {0: "Full", 1: "SHA2-256", 2: "SHA2-512"}
USABLE_FOR_SMTP = frozenset({2, 3})  # RFC 7672 §3.1.3: PKIX-TA(0) and PKIX-EE(1) are unusable


@dataclass(frozen=True)
class Tlsa:
    usage: int
    selector: int
    mtype: int
    data: bytes
    text: str  # as published

    @property
    def label(self) -> str:
        u, s, m = (
            USAGES.get(self.usage, "?"),
            SELECTORS.get(self.selector, "?"),
            MATCHING.get(self.mtype, "?"),
        )
        return f"{self.usage} {self.selector} {self.mtype} ({u} {s} {m})"


def parse_tlsa(text: str) -> Tlsa | None:
    """A TLSA record in presentation form (dnspython splits long hex into chunks)."""
    parts = text.split()
    if len(parts) < 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    try:
        data = bytes.fromhex("".join(parts[3:]))
    except ValueError:
        return None
    usage, selector, mtype = (int(p) for p in parts[:3])
    return Tlsa(usage, selector, mtype, data, text)


def association(der: bytes, selector: int, mtype: int) -> bytes | None:
    """The data a TLSA record with this selector and matching type holds for a certificate."""
    if selector == 0:
        content = der
    elif selector == 1:
        cert = x509.load_der_x509_certificate(der)
        content = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    else:
        return None
    if mtype == 0:
        return content
    if mtype == 1:
        return hashlib.sha256(content).digest()
    if mtype == 2:
        return hashlib.sha512(content).digest()
    return None


@dataclass(frozen=True)
class RecordMatch:
    """One TLSA record against the served chain: what we computed and what matched."""

    record: Tlsa
    usable: bool
    matched_position: int | None  # chain position (0 = leaf) of the matching certificate
    computed: tuple[tuple[int, str], ...]  # (chain position, hex digest we computed)
    why: str

    @property
    def matches(self) -> bool:
        return self.matched_position is not None


def _short(data: bytes) -> str:
    h = data.hex()
    return h if len(h) <= 128 else f"{h[:64]}…({len(data)} bytes)"


def match_record(record: Tlsa, chain: tuple[bytes, ...]) -> RecordMatch:
    """Match per RFC 7672: DANE-EE(3) against the leaf only; DANE-TA(2) against a certificate
    the server sent above the leaf (RFC 7672 §3.1.2: the TA must be in the served chain unless
    the record holds a full public key, which we do not treat specially); 0/1 are unusable."""
    usable = record.usage in USABLE_FOR_SMTP
    if record.usage == 3:
        positions = [0]
    elif record.usage == 2:
        positions = list(range(1, len(chain)))
    else:
        positions = list(range(len(chain)))
    computed: list[tuple[int, str]] = []
    for pos in positions:
        if pos >= len(chain):
            continue
        data = association(chain[pos], record.selector, record.mtype)
        if data is None:
            return RecordMatch(
                record, False, None, (), f"unknown selector {record.selector} or matching type "
                f"{record.mtype}: ignored by senders"
            )  # fmt: skip
        computed.append((pos, _short(data)))
        if data == record.data:
            where = "the leaf" if pos == 0 else f"chain certificate #{pos}"
            note = (
                ""
                if usable
                else f", but usage {record.usage} is unusable for SMTP (RFC 7672 §3.1.3)"
            )
            return RecordMatch(record, usable, pos, tuple(computed), f"matches {where}{note}")
    if not positions or (record.usage == 2 and len(chain) < 2):
        why = "the server sent no certificate above the leaf for this DANE-TA record to match"
    else:
        what = "the leaf" if record.usage == 3 else "any served certificate"
        why = f"does not match {what}: published {_short(record.data)}, computed " + ", ".join(
            f"#{p} {d}" for p, d in computed
        )
    if not usable:
        why += f"; usage {record.usage} is unusable for SMTP anyway (RFC 7672 §3.1.3)"
    return RecordMatch(record, usable, None, tuple(computed), why)


def match_all(records: tuple[Tlsa, ...], chain: tuple[bytes, ...]) -> tuple[RecordMatch, ...]:
    return tuple(match_record(r, chain) for r in records)


@dataclass(frozen=True)
class DaneAssessment:
    """One MX host's TLSA RRset, parsed, and matched against the chain it served (if any)."""

    host: str
    owner: str  # _25._tcp.<host>
    tlsa: DnsAnswer | None
    zone_secure: bool  # the host's address answer was DNSSEC-secure
    records: tuple[Tlsa, ...]
    unparsed: tuple[str, ...]
    chain_len: int  # certificates served in the SMTP session (0: no chain observed)
    matches: tuple[RecordMatch, ...]

    @property
    def secure_rrset(self) -> bool:
        return self.tlsa is not None and self.tlsa.status == "ok" and self.tlsa.authenticated

    @property
    def usable(self) -> tuple[Tlsa, ...]:
        return tuple(r for r in self.records if r.usage in USABLE_FOR_SMTP)


def assess(host: MxHost, chain: tuple[bytes, ...]) -> DaneAssessment:
    answer = host.tlsa
    texts = answer.records if answer is not None and answer.status == "ok" else ()
    parsed = [(t, parse_tlsa(t)) for t in texts]
    records = tuple(r for _, r in parsed if r is not None)
    addresses = [a for a in (host.a, host.aaaa) if a is not None and a.status == "ok"]
    return DaneAssessment(
        host=host.name,
        owner=f"_25._tcp.{host.name}",
        tlsa=answer,
        zone_secure=bool(addresses) and all(a.authenticated for a in addresses),
        records=records,
        unparsed=tuple(t for t, r in parsed if r is None),
        chain_len=len(chain),
        matches=match_all(records, chain) if chain else (),
    )
