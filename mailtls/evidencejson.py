"""The evidence JSON's rows, format 2: what rows share is said once and referred to by index.

Format 1 (no ``"format"`` key) wrote every row as a dict with its requirement's citations, its
severity and its key names; 106,000 rows made 78 MB. Format 2 keeps the same facts in tables:

- ``requirements``: per requirement ID its catalogue ``title``, ``citation`` list and its
  ``severity`` per profile (the rows' own, which the catalogue gives);
- ``checks``: ``{"test", "requirement"}``, the pytest node ID up to its parameters and the
  requirement that check asserts;
- ``targets``: ``{"domain", "host", "ip", "port", "param", "profile"}``, what was checked, the
  node ID's parameters (``test[param]``; null for a node ID without them) and the profile it
  was judged under;
- ``messages``, ``waivers``, ``evidence``: each distinct message text, waiver and list of
  observation digests (keys of ``observations``) once;
- ``results``: ``{"columns": [...], "refs": {column: table}, "rows": [[...], ...]}``; a column
  named in ``refs`` holds an index into that top-level table (null for no waiver).

A row's severity and citations are its requirement's; should a row differ from them (never
made by the plugin), the writer adds ``severity`` and ``citation`` columns holding each row's
own, so nothing is lost either way. :func:`rows` reads both formats back into :class:`Result`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from mailtls import requirements
from mailtls.results import Result

FORMAT = 2
COLUMNS = ("check", "target", "verdict", "message", "waived", "waiver", "evidence")
OVERRIDES = ("severity", "citation")
REFS = {
    "check": "checks",
    "target": "targets",
    "message": "messages",
    "waiver": "waivers",
    "evidence": "evidence",
}
TARGET_KEYS = ("domain", "host", "ip", "port", "param", "profile")


def split_test(test: str) -> tuple[str, str | None]:
    """``checks/x.py::test_y[a-b]`` -> (``checks/x.py::test_y``, ``a-b``); no parameters: None."""
    head, bracket, rest = test.partition("[")
    if bracket and rest.endswith("]"):
        return head, rest[:-1]
    return test, None


def join_test(head: str, param: str | None) -> str:
    return head if param is None else f"{head}[{param}]"


class Interned:
    """Distinct values in first-seen order, each with its index."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}

    def __call__(self, value: Any) -> int:
        return self.index.setdefault(value, len(self.index))

    def values(self) -> list[Any]:
        return list(self.index)


def encode(results: Iterable[Result], ref: Callable[[object], str]) -> dict[str, Any]:
    """The format-2 tables of these rows (keys of the evidence JSON, ``"format"`` aside);
    ``ref`` names each observation (its digest)."""
    rows = list(results)
    catalogue = requirements.catalogue()
    facts: dict[str, dict[str, Any]] = {}
    citations: dict[str, tuple[requirements.Citation, ...]] = {}
    overrides = False
    for r in rows:
        if r.requirement not in facts:
            known = catalogue.get(r.requirement)
            facts[r.requirement] = {
                "title": known.title if known else None,
                "citation": [c.as_json() for c in r.citation],
                "severity": {},
            }
            citations[r.requirement] = r.citation
        severity = facts[r.requirement]["severity"].setdefault(r.profile, r.severity)
        overrides = overrides or severity != r.severity or citations[r.requirement] != r.citation
    checks, targets, messages = Interned(), Interned(), Interned()
    waivers, evidence = Interned(), Interned()
    table = []
    for r in rows:
        head, param = split_test(r.test)
        row: list[Any] = [
            checks((head, r.requirement)),
            targets((r.domain, r.host, r.ip, r.port, param, r.profile)),
            r.verdict,
            messages(r.message),
            r.waived,
            None if r.waiver is None else waivers(r.waiver),
            evidence(tuple(ref(e) for e in r.evidence)),
        ]
        if overrides:
            row += [r.severity, [c.as_json() for c in r.citation]]
        table.append(row)
    return {
        "requirements": facts,
        "checks": [{"test": t, "requirement": q} for t, q in checks.values()],
        "targets": [dict(zip(TARGET_KEYS, t, strict=True)) for t in targets.values()],
        "messages": messages.values(),
        "waivers": [w.as_json() for w in waivers.values()],
        "evidence": [list(e) for e in evidence.values()],
        "results": {
            "columns": [*COLUMNS, *(OVERRIDES if overrides else ())],
            "refs": REFS,
            "rows": table,
        },
    }


def format_of(data: Mapping[str, Any]) -> int:
    """The file's format: 1 (rows as dicts, no marker) or 2; ValueError for another."""
    if not isinstance(data, Mapping):
        raise TypeError(f"the file holds a {type(data).__name__}, not a JSON object")
    found = data.get("format", 1)
    if found not in (1, FORMAT) or isinstance(found, bool):
        raise ValueError(f"evidence JSON format {found!r}: this mailtls reads formats 1 and 2")
    return int(found)


def domains(data: Mapping[str, Any]) -> set[str]:
    """The domains the file has rows for, from either format."""
    if format_of(data) == 1:
        return {str(r["domain"]) for r in data["results"]}
    return {str(t["domain"]) for t in data["targets"]}


def _at(table: Any, index: Any, name: str) -> Any:
    if type(index) is not int or not 0 <= index < len(table):
        raise ValueError(f"{name} index {index!r} is not in the file's {name} table")
    return table[index]


def expand(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every row as a dict with format 1's keys (evidence as digests), from either format."""
    if format_of(data) == 1:
        return [dict(r) for r in data["results"]]
    table = data["results"]
    columns = list(table["columns"])
    missing = set(COLUMNS) - set(columns)
    if missing:
        raise KeyError(f"results columns lack {sorted(missing)}")
    where = {c: i for i, c in enumerate(columns)}
    facts, checks, targets = data["requirements"], data["checks"], data["targets"]
    messages, waivers, evidence = data["messages"], data["waivers"], data["evidence"]
    out = []
    for row in table["rows"]:
        if len(row) != len(columns):
            raise ValueError(f"a row has {len(row)} cells for {len(columns)} columns")
        check = _at(checks, row[where["check"]], "checks")
        target = _at(targets, row[where["target"]], "targets")
        requirement = check["requirement"]
        profile = target["profile"]
        waiver = row[where["waiver"]]
        known = facts[requirement]
        out.append(
            {
                "test": join_test(check["test"], target["param"]),
                "requirement": requirement,
                "domain": target["domain"],
                "host": target["host"],
                "ip": target["ip"],
                "port": target["port"],
                "verdict": row[where["verdict"]],
                "message": _at(messages, row[where["message"]], "messages"),
                "profile": profile,
                "severity": (
                    row[where["severity"]] if "severity" in where else known["severity"][profile]
                ),
                "citation": row[where["citation"]] if "citation" in where else known["citation"],
                "waived": row[where["waived"]],
                "waiver": None if waiver is None else _at(waivers, waiver, "waivers"),
                "evidence": _at(evidence, row[where["evidence"]], "evidence"),
            }
        )
    return out


def rows(data: Mapping[str, Any], evidence: Callable[[str], object] = str) -> list[Result]:
    """The rows of an evidence JSON of either format; ``evidence`` turns each digest into what
    the row keeps. Raises KeyError, TypeError or ValueError for a file that is not ours."""
    return [Result.from_json(r, evidence) for r in expand(data)]
