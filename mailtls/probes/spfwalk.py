"""SPF evaluation without a sender (RFC 7208 §4.6.4, §5, §6.1): the include/redirect tree.

We have no connecting IP, so no check_host() result: we walk the record as a receiver would
walk the worst case. include and redirect are followed; a, mx and exists are looked up so that
void lookups (NXDOMAIN or no records; at most 2) are counted; ptr and names built from macros
are counted but cannot be followed. Every term that queries DNS counts towards the limit of 10;
past it a receiver stops with permerror, and so do we (the rest is counted, not asked). Loops
are detected on the include/redirect path. The queries per domain are bounded
(:data:`MAX_QUERIES`). A failed query (SERVFAIL, timeout) is recorded with its name: it is a
temperror, never "no record".
"""

from __future__ import annotations

from mailtls import spf
from mailtls.authobs import NodeProblem, SpfEvaluation, SpfNode, SpfTerm, Via
from mailtls.observations import DnsAnswer
from mailtls.probes.dns import DnsClient

LOOKUP_LIMIT = 10
VOID_LIMIT = 2
MX_LIMIT = 10
MAX_QUERIES = 40  # 10 lookup terms cost at most 2 queries each, plus the records' TXT


def _norm(name: str) -> str:
    return name.rstrip(".").lower()


def _found(answer: DnsAnswer) -> bool:
    return answer.status == "ok" and bool(answer.records)


class _Walk:
    def __init__(self, client: DnsClient, domain: str) -> None:
        self.client = client
        self.domain = domain
        self.lookups = self.voids = self.queries = 0
        self.answers: list[DnsAnswer] = []
        self.failures: list[str] = []
        self.record_failures: list[str] = []
        self.permerrors: list[str] = []
        self.loops: list[str] = []
        self.mx_overflow: list[str] = []
        self.ptrs: list[str] = []
        self.stopped: str | None = None

    def ask(self, name: str, rdtype: str) -> DnsAnswer | None:
        if self.queries >= MAX_QUERIES:
            self.stopped = f"stopped after {MAX_QUERIES} DNS queries (our bound per domain)"
            return None
        self.queries += 1
        answer = self.client.query(name, rdtype)
        self.answers.append(answer)
        if answer.status not in ("ok", "nodata", "nxdomain"):
            self.failures.append(answer.describe())
        return answer

    def node(self, domain: str, via: Via, path: tuple[str, ...]) -> SpfNode:
        kind = via
        answer = self.ask(domain, "TXT")

        def problem(what: NodeProblem, text: str) -> SpfNode:
            return SpfNode(domain, kind, answer, problem_kind=what, problem=text)

        if answer is None:
            return problem("not_followed", self.stopped or "not asked")
        if answer.status not in ("ok", "nodata", "nxdomain"):
            self.record_failures.append(answer.describe())
            return problem("dns", answer.describe())
        if via != "root" and not _found(answer):
            self.voids += 1
        records = tuple(spf.select(answer.records)) if answer.status == "ok" else ()
        where = f"{via}:{domain}" if via != "root" else domain
        if not records:
            if via != "root":
                self.permerrors.append(f"{where} has no SPF record (permerror)")
            return SpfNode(domain, kind, answer, problem_kind="none", problem="no v=spf1 record")
        if len(records) > 1:
            text = f"{where}: {len(records)} v=spf1 records (permerror)"
            if via != "root":
                self.permerrors.append(text)
            return SpfNode(domain, kind, answer, records, problem_kind="multiple", problem=text)
        try:
            record = spf.parse(records[0])
        except spf.SpfError as exc:
            self.permerrors.append(f"{where}: {exc}")
            return SpfNode(domain, kind, answer, records, problem_kind="syntax", problem=str(exc))
        before = self.lookups
        terms = tuple(self.term(t, domain, record, path) for t in record.terms)
        return SpfNode(
            domain, kind, answer, records, record, terms=terms, lookups_below=self.lookups - before
        )

    def term(
        self, term: spf.Term, domain: str, record: spf.SpfRecord, path: tuple[str, ...]
    ) -> SpfTerm:
        text = str(term)
        if isinstance(term, spf.Modifier):
            if term.name != "redirect" or record.redirect is None:
                note = "ignored: the record has an 'all'" if term.name == "redirect" else ""
                return SpfTerm(text, 0, note=note)
            return self.follow(text, term.value, "redirect", path)
        if not term.lookup:
            return SpfTerm(text, 0)
        if term.name in ("include",):
            assert term.domain is not None
            return self.follow(text, term.domain, "include", path)
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            return SpfTerm(text, 1, note="beyond the limit of 10: a receiver stops here")
        target = term.domain or domain
        if term.name == "ptr":
            self.ptrs.append(f"{text} in the record of {domain}")
            return SpfTerm(text, 1, note="needs the sender's address: not looked up")
        if "%" in target:
            return SpfTerm(text, 1, note="name built from macros: not looked up")
        rdtypes = {"a": ("A", "AAAA"), "mx": ("MX",), "exists": ("A",)}[term.name]
        answers = [a for a in (self.ask(target, t) for t in rdtypes) if a is not None]
        queries = tuple(f"{a.qname} {a.rdtype}" for a in answers)
        if len(answers) < len(rdtypes) or any(
            a.status not in ("ok", "nodata", "nxdomain") for a in answers
        ):
            return SpfTerm(text, 1, queries, note="lookup failed or not made (see DNS failures)")
        void = not any(_found(a) for a in answers)
        self.voids += void
        note = ""
        if term.name == "mx" and not void and len(answers[0].records) > MX_LIMIT:
            note = f"{len(answers[0].records)} MX names (more than {MX_LIMIT}: permerror)"
            self.mx_overflow.append(f"{text} in the record of {domain}: {note}")
        return SpfTerm(text, 1, queries, void, note)

    def follow(self, text: str, target: str, via: Via, path: tuple[str, ...]) -> SpfTerm:
        self.lookups += 1
        if self.lookups > LOOKUP_LIMIT:
            return SpfTerm(text, 1, note="beyond the limit of 10: a receiver stops here")
        if "%" in target:
            return SpfTerm(text, 1, note="name built from macros: not followed")
        name = _norm(target)
        if name in path:
            loop = " -> ".join((*path, name))
            self.loops.append(loop)
            return SpfTerm(text, 1, note=f"loop: {loop}")
        child = self.node(name, via, (*path, name))
        return SpfTerm(text, 1, (f"{name} TXT",), child=child)


def _effective_all(node: SpfNode) -> tuple[str | None, str | None, NodeProblem | None, str | None]:
    """(all term, domain holding it, problem kind, problem) following redirect, never include."""
    if node.record is None:
        return None, None, node.problem_kind, f"{node.domain}: {node.problem}"
    if node.record.all is not None:
        return str(node.record.all), node.domain, None, None
    for term, result in zip(node.record.terms, node.terms, strict=True):
        if isinstance(term, spf.Modifier) and term.name == "redirect":
            if result.child is None:
                why = f"redirect from {node.domain} not followed: {result.note}"
                return None, None, "not_followed", why
            return _effective_all(result.child)
    return None, node.domain, None, None


def evaluate_spf(client: DnsClient, domain: str) -> SpfEvaluation:
    """Fetch and walk a domain's SPF record (see the module docstring)."""
    walk = _Walk(client, domain)
    root = walk.node(_norm(domain), "root", (_norm(domain),))
    all_term, all_source, all_kind, all_problem = _effective_all(root)
    return SpfEvaluation(
        domain=domain,
        root=root,
        lookups=walk.lookups,
        voids=walk.voids,
        queries=walk.queries,
        answers=tuple(walk.answers),
        dns_failures=tuple(walk.failures),
        record_failures=tuple(walk.record_failures),
        permerrors=tuple(walk.permerrors),
        loops=tuple(walk.loops),
        mx_overflow=tuple(walk.mx_overflow),
        ptr_terms=tuple(walk.ptrs),
        all_term=all_term,
        all_source=all_source,
        all_problem=all_problem if root.record is not None else None,
        all_problem_kind=all_kind if root.record is not None else None,
        stopped=walk.stopped,
    )
