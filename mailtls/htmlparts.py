"""Small HTML pieces shared by the evidence renderers: a facts table, a transcript block and
DNS answers as rows. Everything a server or a zone sent is escaped here."""

from __future__ import annotations

from html import escape

from mailtls.observations import DnsAnswer


def table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th><td>{escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table class='mailtls-facts'>{cells}</table>"


def pre(text: str) -> str:
    return f"<pre class='mailtls-transcript' style='white-space:pre-wrap'>{escape(text)}</pre>"


def dns_rows(answers: tuple[DnsAnswer, ...]) -> list[tuple[str, str]]:
    rows = []
    for a in answers:
        status = a.status.upper() if a.status != "ok" else "; ".join(a.records)
        chain = f" via {' → '.join(a.cname_chain)}" if a.cname_chain else ""
        rows.append(
            (
                f"{a.qname} {a.rdtype}",
                f"{status}{chain} [rcode {a.rcode}, DNSSEC {a.dnssec} (AD bit from {a.resolver}), "
                f"TTL {a.ttl}, at {a.queried_at}]"
                + (f" - {a.error}" if a.error else "")
                + "".join(f"; RRSIG {sig}" for sig in a.signatures),
            )
        )
    return rows
