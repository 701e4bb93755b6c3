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
from mailtls.authevidence import render_auth
from mailtls.authobs import DkimLookup, DmarcLookup, SpfEvaluation
from mailtls.dane import DaneAssessment
from mailtls.htmlparts import dns_rows as _dns_rows
from mailtls.htmlparts import pre as _pre
from mailtls.htmlparts import table as _table
from mailtls.observations import (
    Discovery,
    DnsAnswer,
    HelloRecord,
    PolicyFetch,
    SmtpObservation,
    SubmissionDiscovery,
    TlsScan,
    TranscriptLine,
)
from mailtls.scheduler import ProbeCrash
from mailtls.sharing import SniProbe


def to_jsonable(obj: Any) -> Any:
    """A JSON-ready copy: dataclasses become dicts tagged with their type, DER becomes PEM,
    a policy body is given both exactly (base64) and readably (escaped).

    An observation that lists every DNS answer it used (``answers``: Discovery, submission
    discovery, SPF, DMARC) holds each answer there once, with its DNSSEC status and signatures;
    where the same answer appears again inside it (the MX answer, a host's A/AAAA/TLSA, the
    MTA-STS TXT), it is written as ``{"answer": i}``, its index in that ``answers`` list.
    """
    return _jsonable(obj, {})


def _answer_index(obj: object) -> dict[DnsAnswer, int] | None:
    """Each answer of ``obj.answers`` (when it is a list of DNS answers) with its index."""
    answers = getattr(obj, "answers", None)
    if not isinstance(answers, tuple) or not all(isinstance(a, DnsAnswer) for a in answers):
        return None
    index: dict[DnsAnswer, int] = {}
    for i, answer in enumerate(answers):
        index.setdefault(answer, i)
    return index


def _jsonable(obj: Any, refs: dict[DnsAnswer, int]) -> Any:
    if isinstance(obj, DnsAnswer) and obj in refs:
        return {"answer": refs[obj]}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        own = _answer_index(obj)
        inner = refs if own is None else own
        out: dict[str, Any] = {"type": type(obj).__name__}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.name == "chain_der":
                out["chain_pem"] = [ssl.DER_cert_to_PEM_cert(der) for der in value]
            elif isinstance(obj, PolicyFetch) and f.name == "body":
                out["body_base64"] = _jsonable(value, inner)  # the exact bytes
                out["body_escaped"] = obj.body_escaped  # the same, readable
            elif f.name == "answers" and own is not None:
                out[f.name] = [_jsonable(a, {}) for a in value]
            else:
                out[f.name] = _jsonable(value, inner)
        return out
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, tuple | list):
        return [_jsonable(x, refs) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _jsonable(v, refs) for k, v in obj.items()}
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


def transcript_text(lines: tuple[TranscriptLine, ...]) -> str:
    arrows = {"C": "C:", "S": "S:", "*": "--"}
    return "\n".join(f"{line.t:7.3f} {arrows[line.direction]} {line.text}" for line in lines)


def render_html(obs: object) -> str:
    if isinstance(obs, Discovery):
        rows = [("domain", obs.domain), ("mail routing", obs.kind)]
        if obs.error:
            rows.append(("problem", obs.error))
        for h in obs.hosts:
            rows.append((f"MX {h.preference} {h.name}", ", ".join(h.addresses) or "no addresses"))
        return "<h4>DNS discovery</h4>" + _table(rows + _dns_rows(obs.answers))
    if isinstance(obs, SubmissionDiscovery):
        rows = [("domain", obs.domain)]
        rows += [
            (
                f"submission host {h.name}",
                f"{', '.join(h.addresses) or 'no addresses'} (from {', '.join(h.sources)})",
            )
            for h in obs.hosts
        ]
        rows += [("problem", p) for p in obs.problems]
        return "<h4>Submission discovery</h4>" + _table(rows + _dns_rows(obs.answers))
    if isinstance(obs, SmtpObservation):
        rows = [
            ("endpoint", str(obs.endpoint)),
            ("started", obs.started),
            ("finished", obs.finished),
            ("connections", str(obs.connections)),
        ]
        if obs.implicit_tls:
            rows.append(("TLS", "implicit (handshake first, RFC 8314)"))
        else:
            rows.append(("STARTTLS offered", "yes" if obs.starttls_offered else "no"))
        for label, reply in (("EHLO before TLS", obs.ehlo_plain), ("EHLO in TLS", obs.ehlo_secure)):
            if reply is not None:
                rows.append((label, f"{reply.code} {' '.join(reply.keywords) or '(no keywords)'}"))
        if obs.plaintext_banner is not None:
            rows.append(
                ("plaintext greeting", f"{obs.plaintext_banner.code} {obs.plaintext_banner.text()}")
            )
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
    if isinstance(obs, PolicyFetch):
        return _render_policy(obs)
    if isinstance(obs, DaneAssessment):
        return _render_dane(obs)
    if isinstance(obs, TlsScan):
        return _render_scan(obs)
    if isinstance(obs, SpfEvaluation | DkimLookup | DmarcLookup):
        return render_auth(obs)
    if isinstance(obs, SniProbe):
        names = ", ".join(obs.names[:20]) + (
            f" and {len(obs.names) - 20} more" if len(obs.names) > 20 else ""
        )
        return "<h4>Shared address: certificate by SNI?</h4>" + _table(
            [
                ("address", f"{obs.address.ip}:{obs.address.port}"),
                ("names pointing at it", f"{len(obs.names)}: {names}"),
                ("session SNI", obs.names[0] if obs.names else "-"),
                (
                    "picks its certificate by SNI",
                    {True: "yes", False: "no", None: "not tested"}[obs.selects_by_sni],
                ),
                ("extra handshakes", str(len(obs.sessions))),
                ("finding", obs.note),
            ]
        )
    if isinstance(obs, dict):  # an observation read back from an evidence JSON (merge)
        return _pre(json.dumps(obs, indent=1, ensure_ascii=False))
    if isinstance(obs, ProbeCrash):
        return "<h4>Probe error</h4>" + _table(
            [("probe", obs.probe), ("target", obs.key), ("error", obs.message)]
        )
    return _pre(repr(obs))


def _hello_row(h: HelloRecord) -> str:
    answer: str = h.outcome
    if h.outcome == "accepted":
        answer += f": {h.version} {h.suite}" + (f", group {h.group}" if h.group else "")
    offer = f"{h.offered_version}, {len(h.offered_suites)} suite(s)" + (
        f", groups {', '.join(h.offered_groups)}" if h.offered_groups else ""
    )
    cells = [str(h.n), h.purpose, offer, answer, h.detail]
    tds = "".join(f"<td>{escape(c)}</td>" for c in cells)
    suites = escape(" ".join(h.offered_suites))
    return (
        f"<tr>{tds}</tr><tr><td></td><td colspan='4'><details><summary>suites offered</summary>"
        f"<code style='font-size:smaller'>{suites}</code></details></td></tr>"
    )


def _render_scan(scan: TlsScan) -> str:
    rows = [
        ("address", str(scan.endpoint)),
        ("started", scan.started),
        (
            "connections",
            f"{scan.session_connections} SMTP session(s) + {scan.connections} hello probe(s) "
            f"(limit {scan.budget} per address)",
        ),
    ]
    if scan.skipped:
        rows.append(("not scanned", scan.skipped))
    if scan.stopped:
        rows.append(("scan stopped", scan.stopped))
    if scan.budget_note:
        rows.append(("connection limit", scan.budget_note))
    rows += [(f"{a.question}: {a.value}", a.how) for a in scan.answers]
    if scan.accepted:
        rows.append(("suites accepted", "; ".join(f"{v} {s}" for v, s in scan.accepted)))
    if scan.dhe_group:
        rows.append(("DHE group", f"{scan.dhe_group} ({scan.dhe_bits} bits)"))
    if scan.ec_groups:
        rows.append(("ECDHE curves chosen", ", ".join(scan.ec_groups)))
    head = "".join(
        f"<th style='text-align:left'>{c}</th>" for c in ("#", "question", "offer", "answer", "")
    )
    hellos = "".join(_hello_row(h) for h in scan.hellos)
    return (
        "<h4>TLS hello probes</h4>"
        + _table(rows)
        + f"<table class='mailtls-hellos'><tr>{head}</tr>{hellos}</table>"
        + (_pre(transcript_text(scan.transcript)) if scan.transcript else "")
    )


def _render_dane(d: DaneAssessment) -> str:
    rows = [
        ("TLSA owner", d.owner),
        ("answer", d.tlsa.describe() if d.tlsa else "not queried (no address)"),
        ("DNSSEC", d.tlsa.dnssec if d.tlsa else "-"),
        ("MX host zone", "secure" if d.zone_secure else "not secure"),
        ("chain served", f"{d.chain_len} certificate(s)" if d.chain_len else "none observed"),
    ]
    rows += [("unparseable record", t) for t in d.unparsed]
    by_record = {m.record: m for m in d.matches}
    for r in d.records:
        m = by_record.get(r)
        verdict = "not matched (no chain)" if m is None else m.why
        rows.append((f"TLSA {r.label}", f"{r.text} -> {verdict}"))
        if m is not None:
            rows += [(f"  computed for #{pos}", digest) for pos, digest in m.computed]
    return "<h4>DANE TLSA</h4>" + _table(rows)


def _render_policy(f: PolicyFetch) -> str:
    rows = [("policy URL", f.url), ("fetched", f.fetched_at)]
    if f.skipped:
        return "<h4>MTA-STS policy</h4>" + _table([*rows, ("not fetched", f.skipped)])
    rows.append(("connected to", f"{f.address or '-'}:443 (SNI and name {f.host})"))
    if f.tls_version:
        rows.append(("TLS", f"{f.tls_version}, {len(f.chain_der)} certificate(s) served"))
    if f.failure:
        rows.append((f"failure ({f.failure_kind})", f.failure))
    if f.stop_kind is not None:
        rows.append(
            (
                "read",
                f"{f.body_bytes} body bytes; stopped: {f.stop_kind}; {f.elapsed_ms:g} ms of a "
                f"{f.deadline_s:g} s total deadline; reached {f.phase}",
            )
        )
    if f.status is not None:
        rows.append(("body SHA-256", f.body_sha256))
    exchange = "\n".join(f.request)
    if f.status is not None:
        shown = f.body_escaped
        exchange += f"\n\nHTTP/1.1 {f.status} {f.reason}\n"
        exchange += "\n".join(f"{k}: {v}" for k, v in f.headers)
        exchange += (
            "\n\n[body as received; bytes outside printable ASCII escaped]\n"
            + shown[:8192]
            + ("\n[... body shortened in the report]" if len(shown) > 8192 else "")
        )
    return (
        "<h4>MTA-STS policy</h4>"
        + _table(rows + _dns_rows(f.dns))
        + (_pre(exchange) if f.request else "")
    )
