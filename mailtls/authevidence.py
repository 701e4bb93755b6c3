"""Evidence for the sender-authentication observations: the SPF include tree with its counts,
the decoded DKIM keys, the DMARC record used and where it was found. Escaped like every other
piece of evidence (DNS text is attacker-controlled), through :mod:`mailtls.evidence`'s helpers.
"""

from __future__ import annotations

from mailtls.authobs import DkimLookup, DmarcLookup, SpfEvaluation, SpfNode
from mailtls.htmlparts import dns_rows as _dns_rows
from mailtls.htmlparts import pre as _pre
from mailtls.htmlparts import table as _table


def spf_tree(node: SpfNode, depth: int = 0) -> list[str]:
    """The include/redirect tree as indented lines, with the lookup terms each record costs."""
    pad = "  " * depth
    head = f"{pad}{node.domain}"
    if node.answer is not None:
        head += f"  [TXT {node.answer.status.upper()}, DNSSEC {node.answer.dnssec}]"
    if node.problem:
        return [f"{head}  !! {node.problem}"]
    lines = [f"{head}  {node.records[0] if node.records else ''}"]
    lines[0] += f"  ({node.lookups_below} lookup term(s) from here)"
    for t in node.terms:
        line = f"{pad}  {t.term}"
        if t.lookups:
            line += "  [+1 lookup]"
        if t.queries:
            line += f"  asked: {', '.join(t.queries)}"
        if t.void:
            line += "  VOID (nothing found)"
        if t.note:
            line += f"  - {t.note}"
        lines.append(line)
        if t.child is not None:
            lines += spf_tree(t.child, depth + 2)
    return lines


def render_spf(s: SpfEvaluation) -> str:
    rows = [
        ("domain", s.domain),
        ("SPF records found", str(s.record_count)),
        ("DNS-querying terms", f"{s.lookups} (limit 10)"),
        ("void lookups", f"{s.voids} (limit 2)"),
        ("DNS queries made", str(s.queries)),
        (
            "effective all",
            f"{s.all_term or 'none'}" + (f" (from {s.all_source})" if s.all_source else ""),
        ),
    ]
    rows += [("permerror", p) for p in s.permerrors]
    rows += [("loop", loop) for loop in s.loops]
    rows += [("mx over limit", m) for m in s.mx_overflow]
    rows += [("ptr", p) for p in s.ptr_terms]
    rows += [("DNS failure", f) for f in s.dns_failures]
    if s.all_problem:
        rows.append(("all not found", s.all_problem))
    if s.stopped:
        rows.append(("walk stopped", s.stopped))
    return (
        "<h4>SPF evaluation (include tree)</h4>"
        + _table(rows)
        + _pre("\n".join(spf_tree(s.root)))
        + _table(_dns_rows(s.answers))
    )


def render_dkim(d: DkimLookup) -> str:
    rows = [("domain", d.domain)]
    if not d.selectors:
        rows.append(("selectors", "none looked up (no dkim_selectors, or a parked domain)"))
    for s in d.selectors:
        if s.failure:
            state = f"lookup failed: {s.failure}"
        elif not s.records:
            state = f"no key record ({s.answer.status.upper()})"
        elif s.key is None:
            state = f"{len(s.records)} record(s); " + (s.parse_error or "not parsed")
        else:
            k = s.key
            state = (
                "revoked (empty p=)"
                if k.revoked
                else (s.key_info.describe() if s.key_info else f"undecodable: {s.key_error}")
            )
            state += f"; k={k.key_type}; h={':'.join(k.hashes) if k.hashes else '(any)'}"
            state += f"; t={':'.join(k.flags) or '(none)'}"
        rows.append((f"selector {s.selector}", f"{state}; DNSSEC {s.answer.dnssec}"))
        rows += [(f"  {s.qname} record", r) for r in s.records]
    return "<h4>DKIM keys</h4>" + _table(rows + _dns_rows(tuple(s.answer for s in d.selectors)))


def render_dmarc(d: DmarcLookup) -> str:
    rows = [
        ("domain", d.domain),
        ("organizational domain", d.organizational_domain),
        ("record used", d.found_at or "none"),
        ("found at", d.source or "-"),
    ]
    rows += [("record", r) for r in d.records]
    rows += [("discarded (not v=DMARC1 first)", r) for r in d.discarded]
    if d.record is not None:
        r = d.record
        rows.append(
            (
                "parsed",
                f"p={r.policy}; sp={r.subdomain_policy or '(p applies)'}; pct={r.pct}; "
                f"rua={','.join(r.rua) or '-'}",
            )
        )
    if d.parse_error:
        rows.append(("invalid", d.parse_error))
    if d.failure:
        rows.append(("lookup failed", d.failure))
    return "<h4>DMARC policy discovery</h4>" + _table(rows + _dns_rows(d.answers))


def render_auth(obs: SpfEvaluation | DkimLookup | DmarcLookup) -> str:
    if isinstance(obs, SpfEvaluation):
        return render_spf(obs)
    if isinstance(obs, DkimLookup):
        return render_dkim(obs)
    return render_dmarc(obs)
