"""Observations rendered as evidence: escaped HTML for the report, plain data for JSON.

Everything a remote server sent us is attacker-controlled text: it is escaped here, once, and
never interpolated raw into HTML anywhere else.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import ssl
from collections.abc import Iterator
from html import escape
from typing import Any

from mailtls import certs
from mailtls.observations import Discovery, DnsAnswer, SmtpObservation, TranscriptLine
from mailtls.scheduler import ProbeCrash


def to_jsonable(obj: Any) -> Any:
    """A JSON-ready copy: dataclasses become dicts tagged with their type, DER becomes PEM."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "chain_der":
                out["chain_pem"] = [ssl.DER_cert_to_PEM_cert(der) for der in value]
            else:
                out[f.name] = to_jsonable(value)
        return out
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, tuple | list):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


def digest(obs: object) -> str:
    """A short content digest of an observation: rows that share one refer to it once."""
    blob = json.dumps(to_jsonable(obs), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def chains(obs: object) -> Iterator[tuple[Any, tuple[bytes, ...]]]:
    """(endpoint, certificate chain) pairs an observation holds, whatever the probe.

    Duck-typed on purpose: any probe whose record has ``chain_der`` (or a ``tls`` session with
    one) and an ``endpoint`` contributes to the certificate-expiry view without report changes.
    """
    for holder in (obs, getattr(obs, "tls", None)):
        chain = getattr(holder, "chain_der", None)
        if isinstance(chain, tuple) and chain and all(isinstance(c, bytes) for c in chain):
            yield getattr(obs, "endpoint", None), chain


def _cert_rows(chain: tuple[bytes, ...]) -> list[tuple[str, str]]:
    rows = []
    for i, der in enumerate(chain):
        try:
            line = certs.summarize(der).line()
        except ValueError as exc:
            line = f"unparsable certificate ({exc})"
        rows.append(("leaf certificate" if i == 0 else f"chain certificate {i}", line))
    return rows


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th><td>{escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table class='mailtls-facts'>{cells}</table>"


def _pre(text: str) -> str:
    return f"<pre class='mailtls-transcript' style='white-space:pre-wrap'>{escape(text)}</pre>"


def transcript_text(lines: tuple[TranscriptLine, ...]) -> str:
    arrows = {"C": "C:", "S": "S:", "*": "--"}
    return "\n".join(f"{line.t:7.3f} {arrows[line.direction]} {line.text}" for line in lines)


def _dns_rows(answers: tuple[DnsAnswer, ...]) -> list[tuple[str, str]]:
    rows = []
    for a in answers:
        status = a.status.upper() if a.status != "ok" else "; ".join(a.records)
        chain = f" via {' → '.join(a.cname_chain)}" if a.cname_chain else ""
        rows.append(
            (
                f"{a.qname} {a.rdtype}",
                f"{status}{chain} [rcode {a.rcode}, DNSSEC {a.dnssec} (AD bit from {a.resolver}), "
                f"TTL {a.ttl}, at {a.queried_at}]" + (f" - {a.error}" if a.error else ""),
            )
        )
    return rows


def render_html(obs: object) -> str:
    if isinstance(obs, Discovery):
        rows = [("domain", obs.domain), ("mail routing", obs.kind)]
        if obs.error:
            rows.append(("problem", obs.error))
        for h in obs.hosts:
            rows.append((f"MX {h.preference} {h.name}", ", ".join(h.addresses) or "no addresses"))
        return "<h4>DNS discovery</h4>" + _table(rows + _dns_rows(obs.answers))
    if isinstance(obs, SmtpObservation):
        rows = [
            ("endpoint", str(obs.endpoint)),
            ("started", obs.started),
            ("finished", obs.finished),
            ("connections", str(obs.connections)),
        ]
        rows.append(("STARTTLS offered", "yes" if obs.starttls_offered else "no"))
        if obs.tls:
            rows += [
                ("TLS", f"{obs.tls.version} {obs.tls.cipher} ({obs.tls.cipher_bits} bits)"),
                ("SNI sent", obs.tls.server_name or "(none)"),
                ("certificates served", str(len(obs.tls.chain_der))),
            ]
            rows += _cert_rows(obs.tls.chain_der)
        if obs.tls_error:
            rows.append(("TLS error", obs.tls_error))
        if obs.failure:
            rows.append(("probe stopped", f"at {obs.failure.stage}: {obs.failure.message}"))
        for earlier in obs.earlier_attempts:
            rows.append(("earlier attempt", earlier))
        return "<h4>SMTP session</h4>" + _table(rows) + _pre(transcript_text(obs.transcript))
    if isinstance(obs, ProbeCrash):
        return "<h4>Probe error</h4>" + _table(
            [("probe", obs.probe), ("target", obs.key), ("error", obs.message)]
        )
    return _pre(repr(obs))
