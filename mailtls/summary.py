"""The report's opening sections, drawn before any row of the results table.

In order: run facts and the gate; a domains × requirement-families matrix; the findings (fail,
error, warn, waived) grouped by requirement with the fix in one line; the certificate-expiry
view; every result by domain, drawn on demand. Explanations come from the catalogue. Server text
is escaped here with :func:`html.escape`, or travels as JSON that the page's script only ever
puts into ``textContent``; evidence HTML comes pre-escaped from :mod:`mailtls.evidence`.

Why this shape (measured, see README "Report at scale"): pytest-html 4 draws every table row in
JavaScript on load and again on every click, so a 30,000-row table cannot open fast. The table
therefore holds the findings only; passing and not-applicable rows, and the evidence (one copy
per observation, shared by every row that used it), sit in inert packed JSON (gzip, base64)
until asked for. The rows are stated compactly: every string once in a table, rows as indexes.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from importlib import resources
from typing import Any

from mailtls import __version__, requirements
from mailtls.evidence import digest, render_html
from mailtls.evidencejson import Interned
from mailtls.expiry import SeenCertificate, seen_certificates
from mailtls.results import Result
from mailtls.runstate import MailtlsRun

ORDER = ("fail", "error", "warn", "pass", "not_applicable")
SHORT = {"pass": "pass", "warn": "warn", "fail": "fail", "not_applicable": "n.a.", "error": "error"}
SEVERITY_RANK = {s: i for i, s in enumerate(requirements.SEVERITIES)}
FINDINGS = ("fail", "error", "warn")
FINDINGS_TABLE = "<h2>Findings table"  # where mailtls's part ends and pytest-html's table begins
TABLE_LIMIT = 1500  # findings drawn by pytest-html on open; more start filtered (see report.js)


class EvidenceIndex:
    """Observations by content digest: one copy in the report however many rows use it."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[object, str]] = {}
        self.by_digest: dict[str, object] = {}

    def ref(self, obs: object) -> str:
        hit = self._by_id.get(id(obs))
        if hit is None:
            hit = (obs, digest(obs))  # holding obs keeps its id() unique for the whole run
            self._by_id[id(obs)] = hit
            self.by_digest.setdefault(hit[1], obs)
        return hit[1]


def script_json(element_id: str, data: Any) -> str:
    """Data the page's script reads: inert (not executed), and no text can close the tag."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def script_packed(element_id: str, data: Any) -> str:
    """Large data the page's script inflates when the reader asks for it: JSON, gzip, base64.

    Inert like :func:`script_json`, and the base64 alphabet cannot close the tag or form markup.
    gzip's timestamp is zero, so the same data always packs to the same bytes (merge = run).
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    blob = base64.b64encode(gzip.compress(text, compresslevel=6, mtime=0)).decode("ascii")
    return f'<script type="application/gzip+base64" id="{escape(element_id)}">{blob}</script>'


def unpack(blob: str) -> Any:
    """The data :func:`script_packed` packed (the script element's text); for tests and tools."""
    return json.loads(gzip.decompress(base64.b64decode(blob, validate=True)).decode("utf-8"))


def asset(name: str) -> str:
    return resources.files("mailtls").joinpath("assets", name).read_text("utf-8")


def verdict_label(res: Result) -> str:
    return SHORT[res.verdict] + (" (waived)" if res.waived else "")


def evidence_buttons(digests: Iterable[str]) -> str:
    return "".join(
        f'<button type="button" class="mt-ev" data-ev="{escape(d)}">evidence {escape(d[:8])}</button>'
        for d in digests
    )


# ---------------------------------------------------------------- run facts and gate


def _facts(state: MailtlsRun) -> str:
    assert state.inventory is not None
    used = Counter(state.profile_for(d.name) for d in state.inventory.domains)
    profiles = ", ".join(f"{p} ({n} domain{'s' if n > 1 else ''})" for p, n in used.most_common())
    facts = [
        ("mailtls", __version__),
        ("inventory", str(state.inventory.path)),
        ("inventory SHA-256", state.inventory.sha256),
        ("profile", f"default {state.profile}; used: {profiles}"),
        ("resolver", str(state.resolver)),
        ("CA bundle", str(state.ca_bundle)),
        ("started", state.started),
        ("finished", state.finished or "(running)"),
    ]
    rows = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in facts)
    gate = state.gate
    if gate is None:
        verdict = "not decided"
    else:
        verdict = "FAILED" if gate.failed else "passed"
        verdict += f" ({len(gate.gating)} gating result(s)"
        verdict += ", compared with the baseline)" if state.baseline is not None else ")"
    notes = "".join(f"<li>{escape(n)}</li>" for n in state.waiver_notes())
    notes_html = f"<p>Waivers:</p><ul class='mt-notes'>{notes}</ul>" if notes else ""
    return (
        f"<h2>mailtls run</h2><table class='mt-facts'>{rows}</table>"
        f"<p class='mt-gate mt-{'fail' if gate and gate.failed else 'pass'}'>Gate: "
        f"{escape(verdict)}</p>{notes_html}"
    )


# ---------------------------------------------------------------- matrix


HEADLINE = "DOWNGRADE-PROTECTED"  # the first column: can senders be silently downgraded?


def _worst(counts: Counter[str]) -> str:
    return next((v for v in ORDER if counts[v]), "none")


def _matrix(state: MailtlsRun, results: Sequence[Result]) -> str:
    assert state.inventory is not None
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    families: list[str] = []
    headline: dict[str, Result] = {}
    for res in results:
        if res.requirement == HEADLINE:
            headline[res.domain] = res
        fam = requirements.get(res.requirement).family
        if fam not in families:
            families.append(fam)
        counts[(res.domain, fam)][res.gating_verdict] += 1  # waived: visible, not red
    head = "".join(f"<th>{escape(f)}</th>" for f in families)
    if headline:
        head = f"<th title='{HEADLINE}'>downgrade-protected?</th>" + head
    body = []
    for dom in state.inventory.domains:
        cells = []
        if headline:
            h = headline.get(dom.name)
            word = verdict_label(h) if h else "-"
            why = (h.message if h else "") or "every MX is protected by DANE or MTA-STS enforce"
            short = why if len(why) <= 160 else why[:157] + "..."
            cls = h.gating_verdict if h else "none"
            cells.append(f"<td class='mt-{escape(cls)}'><b>{escape(word)}</b> {escape(short)}</td>")
        for fam in families:
            c = counts.get((dom.name, fam), Counter())
            text = " ".join(f"{c[v]} {SHORT[v]}" for v in ORDER if c[v]) or "-"
            cells.append(f"<td class='mt-{_worst(c)}'>{escape(text)}</td>")
        link = f"<a href='#dom-{escape(dom.name)}'>{escape(dom.name)}</a>"
        body.append(f"<tr><th>{link}</th>{''.join(cells)}</tr>")
    return (
        "<h2>Summary: domains × requirement families</h2>"
        "<p>Counts of pass / warn / fail / n.a. / error per domain; a waived failure counts as "
        "pass here and is listed under Findings. Click a domain for all its results.</p>"
        f"<div class='mt-scroll'><table class='mt-matrix'><tr><th>domain</th>{head}</tr>"
        f"{''.join(body)}</table></div>"
    )


# ---------------------------------------------------------------- findings by requirement


@dataclass
class _Group:
    req: requirements.Requirement
    rows: list[Result]

    def sort_key(self) -> tuple[int, int, str]:
        gating = any(r.verdict in ("fail", "error") and not r.waived for r in self.rows)
        severity = min(SEVERITY_RANK[r.severity] for r in self.rows)
        return (0 if gating else 1, severity, self.req.id)


def _finding_row(res: Result, index: EvidenceIndex) -> str:
    refs = [index.ref(e) for e in res.evidence]
    cells = (
        res.domain,
        res.host or "",
        res.ip or "",
        res.profile,
        res.severity,
        verdict_label(res),
        res.message,
    )
    tds = "".join(f"<td>{escape(str(c))}</td>" for c in cells)
    # The buttons are drawn by report.js when the group is opened (they need it to work anyway):
    # a fifth of the findings' bytes instead of buttons on every row.
    evidence = f"<td class='mt-evs' data-ev='{escape(' '.join(refs))}'></td>"
    return f"<tr class='mt-{escape(res.verdict)}'>{tds}{evidence}</tr>"


def _citations(req: requirements.Requirement) -> str:
    items = "".join(
        f"<li>{escape(c.display())} <span class='mt-conf'>[{'verified' if c.verified else 'unconfirmed'}]</span></li>"
        for c in req.citations
    )
    return f"<ul class='mt-cites'>{items}</ul>"


def _group_html(group: _Group, index: EvidenceIndex) -> str:
    req = group.req
    counts = Counter(verdict_label(r) for r in group.rows)
    tally = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
    severities = sorted({r.severity for r in group.rows}, key=SEVERITY_RANK.__getitem__)
    profiles = sorted({r.profile for r in group.rows})
    rules = "".join(
        f"<p><b>Rule ({escape(p)}):</b> {escape(req.rule_for(p))}</p>" for p in profiles
    )
    rows = "".join(_finding_row(r, index) for r in group.rows)
    return (
        f"<details class='mt-group' id='req-{escape(req.id)}'><summary><b>{escape(req.id)}</b> "
        f"<span class='mt-sev'>{escape('/'.join(severities))}</span> {escape(req.title)} - "
        f"<b>{escape(tally)}</b><br><span class='mt-fix'>Fix: {escape(req.fix)}</span></summary>"
        f"{_citations(req)}<p><b>Why it matters:</b> {escape(req.why)}</p>{rules}"
        "<table class='mt-rows'><tr><th>domain</th><th>host</th><th>IP</th><th>profile</th>"
        f"<th>severity</th><th>verdict</th><th>finding</th><th>evidence</th></tr>{rows}</table>"
        "</details>"
    )


def _findings(results: Sequence[Result], index: EvidenceIndex) -> str:
    groups: dict[str, _Group] = {}
    for res in results:
        if res.verdict in FINDINGS:
            req = requirements.get(res.requirement)
            groups.setdefault(req.id, _Group(req, [])).rows.append(res)
    ordered = sorted(groups.values(), key=_Group.sort_key)
    total = sum(len(g.rows) for g in ordered)
    if not ordered:
        return "<h2>Findings</h2><p>No failures, errors or warnings.</p>"
    return (
        f"<h2>Findings by requirement ({total})</h2><p>Gating requirements first, then by "
        "severity; open a requirement for its citations, why it matters and every place it "
        "failed.</p>" + "".join(_group_html(g, index) for g in ordered)
    )


# ---------------------------------------------------------------- certificate expiry


def _expiry_row(cert: SeenCertificate, now: dt.datetime) -> str:
    s = cert.summary
    days = cert.days_left(now)
    cls = "fail" if days < 0 else "warn" if days <= 30 else "soon" if days <= 60 else "pass"
    where = "; ".join(cert.where[:5]) + (
        f"; +{len(cert.where) - 5} more" if len(cert.where) > 5 else ""
    )
    cells = (
        str(days),
        f"{s.not_after:%Y-%m-%d %H:%M} UTC",
        cert.role,
        s.subject
        + (f" (SAN {', '.join(s.sans[:4])}{'…' if len(s.sans) > 4 else ''})" if s.sans else ""),
        s.issuer,
        where,
        s.sha256[:16],
    )
    return f"<tr class='mt-{cls}'>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"


def _expiry(observations: Iterable[object], now: dt.datetime) -> str:
    seen = seen_certificates(observations)
    if not seen:
        return "<h2>Certificate expiry</h2><p>No certificate was seen in this run.</p>"
    expired = sum(1 for c in seen if c.days_left(now) < 0)
    soon = sum(1 for c in seen if 0 <= c.days_left(now) <= 30)
    rows = "".join(_expiry_row(c, now) for c in seen)
    return (
        f"<h2>Certificate expiry</h2><details class='mt-expiry'{' open' if len(seen) <= 100 else ''}>"
        f"<summary>{len(seen)} certificate(s) seen (MX, submission, MTA-STS hosts), soonest "
        f"first: <b>{expired} expired, {soon} within 30 days</b></summary>"
        "<table class='mt-rows'><tr><th>days left</th><th>not after</th><th>role</th>"
        "<th>subject</th><th>issuer</th><th>served by</th><th>SHA-256</th></tr>"
        f"{rows}</table></details>"
    )


# ---------------------------------------------------------------- every result, on demand


def _domains(state: MailtlsRun, results: Sequence[Result], index: EvidenceIndex) -> str:
    """Every result, packed; report.js draws a domain's rows when it is opened.

    The packed data: ``reqs`` [[id, title], ...]; ``text`` every distinct string once; ``ev``
    the evidence digests; ``rows`` by domain, each row [requirement, verdict, host, IP,
    severity, message, [evidence, ...]] as positions in ``reqs``, ``text`` and ``ev``.
    """
    assert state.inventory is not None
    reqs = list(dict.fromkeys(r.requirement for r in results))
    req_pos = {rid: i for i, rid in enumerate(reqs)}
    text, ev = Interned(), Interned()
    by_domain: dict[str, list[Result]] = defaultdict(list)
    for res in results:
        by_domain[res.domain].append(res)
    rows: dict[str, list[list[Any]]] = {}
    sections = []
    for dom in state.inventory.domains:
        mine = by_domain.get(dom.name, [])
        rows[dom.name] = [
            [
                req_pos[r.requirement],
                text(verdict_label(r)),
                text(r.host or ""),
                text(r.ip or ""),
                text(r.severity),
                text(r.message),
                [ev(index.ref(e)) for e in r.evidence],
            ]
            for r in mine
        ]
        c: Counter[str] = Counter(r.verdict for r in mine)
        tally = ", ".join(f"{c[v]} {SHORT[v]}" for v in ORDER if c[v]) or "no results"
        sections.append(
            f"<details class='mt-domain' id='dom-{escape(dom.name)}' data-domain='{escape(dom.name)}'>"
            f"<summary><span class='mt-{_worst(c)}'>{escape(dom.name)}</span> - profile "
            f"{escape(state.profile_for(dom.name))} - {escape(tally)}</summary></details>"
        )
    catalogue = [[rid, requirements.get(rid).title] for rid in reqs]
    data = {"reqs": catalogue, "text": text.values(), "ev": ev.values(), "rows": rows}
    return (
        f"<h2>All results by domain ({len(results)})</h2><p>Passing and not-applicable results "
        "are here only; open a domain to draw its rows (this needs JavaScript).</p>"
        + "".join(sections)
        + script_packed("mailtls-rows", data)
    )


def _evidence_store(index: EvidenceIndex) -> str:
    """Evidence HTML by digest, packed in 16 parts by the digest's first hex digit: a click
    inflates one part, whatever the size of the run."""
    parts: dict[str, dict[str, str]] = defaultdict(dict)
    for d, obs in sorted(index.by_digest.items()):
        parts[d[0]][d] = render_html(obs)
    return "".join(script_packed(f"mailtls-evidence-{k}", v) for k, v in sorted(parts.items()))


def summary_html(state: MailtlsRun, index: EvidenceIndex) -> str:
    """Everything above pytest-html's results table, plus the inert data and the page script.

    Rows in inventory order, then by test: a merge of shards draws exactly what the run drew.
    """
    assert state.inventory is not None
    order = {d.name: i for i, d in enumerate(state.inventory.domains)}
    results = sorted(
        state.results.values(), key=lambda r: (order.get(r.domain, len(order)), r.test)
    )
    table_rows = sum(1 for r in results if r.verdict in FINDINGS)
    meta = {
        "tableRows": table_rows,
        "limit": TABLE_LIMIT,
        "byOutcome": _outcomes(results, state.strict),
    }
    now = dt.datetime.now(dt.UTC)
    return "".join(
        (
            f"<style>{asset('report.css')}</style>",
            script_json("mailtls-meta", meta),
            f"<script>{asset('report.js')}</script>",
            _facts(state),
            _matrix(state, results),
            _findings(results, index),
            _expiry(state.observations.values(), now),
            _domains(state, results, index),
            _evidence_store(index),
            f"{FINDINGS_TABLE} ({table_rows})</h2><p>Below: pytest-html's table of the "
            "findings (fail, error, warn, waived) with their evidence. Passing and n.a. rows "
            "are listed by domain above, so pytest-html's 'Passed' count shows warnings only."
            + (
                f" With more than {TABLE_LIMIT} rows the table opens filtered: tick a box to "
                "draw more (about one second per 1,000 rows).</p>"
                if table_rows > TABLE_LIMIT
                else "</p>"
            ),
        )
    )


def _outcomes(results: Sequence[Result], strict: bool) -> list[list[Any]]:
    """pytest-html's outcome categories of the findings, most urgent first, with their counts."""
    counts: Counter[str] = Counter()
    for r in results:
        if r.verdict not in FINDINGS:
            continue
        if r.waived:
            counts["xfailed"] += 1
        elif r.verdict == "warn" and not strict:
            counts["passed"] += 1
        else:
            counts["failed"] += 1  # our errors are failed call reports too
    return [[k, counts[k]] for k in ("failed", "xfailed", "passed") if counts[k]]
