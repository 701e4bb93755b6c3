"""The report's opening summary: run facts and a domains × requirement-families matrix."""

from __future__ import annotations

from collections import Counter, defaultdict
from html import escape

from mailtls import __version__, requirements
from mailtls.runstate import MailtlsRun

ORDER = ("pass", "warn", "fail", "not_applicable", "error")
SHORT = {"pass": "pass", "warn": "warn", "fail": "fail", "not_applicable": "n.a.", "error": "error"}


def summary_html(state: MailtlsRun) -> str:
    assert state.inventory is not None
    facts = [
        ("mailtls", __version__),
        ("inventory", str(state.inventory.path)),
        ("inventory SHA-256", state.inventory.sha256),
        ("profile", state.profile),
        ("resolver", str(state.resolver)),
        ("CA bundle", str(state.ca_bundle)),
        ("started", state.started),
        ("finished", state.finished or "(running)"),
    ]
    rows = "".join(
        f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
        for k, v in facts
    )
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    families: list[str] = []
    for res in state.results.values():
        fam = requirements.get(res["requirement"]).family
        if fam not in families:
            families.append(fam)
        counts[(res["domain"], fam)][res["verdict"]] += 1
    head = "".join(f"<th>{escape(f)}</th>" for f in families)
    body = []
    for dom in state.inventory.domains:
        cells = []
        for fam in families:
            c = counts.get((dom.name, fam), Counter())
            text = " ".join(f"{c[v]} {SHORT[v]}" for v in ORDER if c[v])
            cells.append(f"<td>{escape(text or '-')}</td>")
        body.append(f"<tr><th style='text-align:left'>{escape(dom.name)}</th>{''.join(cells)}</tr>")
    return (
        f"<h2>mailtls run</h2><table>{rows}</table>"
        f"<h2>Summary: domains × requirement families</h2>"
        f"<table class='mailtls-summary' border='1'><tr><th>domain</th>{head}</tr>{''.join(body)}</table>"
    )
