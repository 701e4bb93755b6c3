"""``python -m mailtls merge part-*.json``: the shards of one run (``--shard=K/N``, each with its
``--evidence-json``) become one evidence JSON, one JUnit file, one HTML report and the exit
status a single run would have given (the gate re-decided over every row: waivers, ``--strict``,
``--allow-errors`` and ``--baseline`` as the shards recorded them).

Parts that do not belong together (another inventory, tool version, evidence JSON format,
profile or gate setting), shards missing or given twice, a part that did not finish: one usage
error (exit 4), never a partial result. Parts of format 1 or 2 are read; the merged file is
format 2, as a single run writes it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from html import escape
from pathlib import Path
from typing import Any

from mailtls import batch, evidence_load, evidencejson, gate, requirements
from mailtls.evidence import digest
from mailtls.inventory import InventoryError, load_inventory
from mailtls.probes.dns import parse_resolver
from mailtls.results import Result
from mailtls.runstate import MailtlsRun
from mailtls.summary import FINDINGS_TABLE, EvidenceIndex, summary_html

USAGE_ERROR = 4
SAME = (
    "strict",
    "allow_errors",
    "max_connections",
    "baseline",
    "profile",
    "inventory_sha256",
    "rows_per_item",
)


class MergeError(Exception):
    """The parts cannot be merged; the message says which and why."""


def _load(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError(f"a {type(data).__name__}, not a JSON object")
        if not all(key in data for key in ("run", "results", "observations", "tool")):
            raise KeyError("run/results/observations/tool")
        evidencejson.domains(data)  # format 1 or 2, with the domains its rows are about
    except OSError as exc:
        raise MergeError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise MergeError(f"{path}: not a mailtls --evidence-json file ({exc})") from None
    return data


def check_parts(parts: list[tuple[Path, dict[str, Any]]]) -> int:
    """Raise MergeError unless the parts are the N shards of one run, each once; return N."""
    if not parts:
        raise MergeError("no parts given")
    first_path, first = parts[0]
    for path, part in parts:
        if not part.get("shard"):
            raise MergeError(f"{path}: not a shard (the run had no --shard=K/N)")
        if part["tool"] != first["tool"]:
            raise MergeError(
                f"mixed versions: {path} is {part['tool']}, {first_path} is {first['tool']}"
            )
        ours, theirs = evidencejson.format_of(part), evidencejson.format_of(first)
        if ours != theirs:
            raise MergeError(
                f"mixed evidence JSON formats: {path} is format {ours}, {first_path} is format "
                f"{theirs}; run every shard with the same mailtls"
            )
        for key in SAME:
            if part["run"].get(key) != first["run"].get(key):
                what = "inventories" if key == "inventory_sha256" else f"settings ({key})"
                raise MergeError(
                    f"mixed {what}: {path} has {key}={part['run'].get(key)!r}, "
                    f"{first_path} has {first['run'].get(key)!r}"
                )
        for key in ("total", "balance"):
            if part["shard"][key] != first["shard"][key]:
                raise MergeError(f"mixed shard plans: {path} has {key}={part['shard'][key]!r}")
        status = part["run"].get("exitstatus")
        if status not in (0, 1):
            raise MergeError(
                f"{path}: shard {part['shard']['index']} did not finish (exit {status})"
            )
    total = int(first["shard"]["total"])
    seen = Counter(int(p["shard"]["index"]) for _, p in parts)
    twice = sorted(k for k, n in seen.items() if n > 1)
    missing = sorted(set(range(1, total + 1)) - set(seen))
    if twice:
        raise MergeError(f"shard(s) {', '.join(map(str, twice))} of {total} given more than once")
    if missing:
        raise MergeError(f"shard(s) {', '.join(map(str, missing))} of {total} missing")
    owner: dict[str, int] = {}
    for path, part in parts:
        for d in part["shard"]["domains"]:
            if d in owner:
                raise MergeError(
                    f"{d} is in shard {owner[d]} and shard {part['shard']['index']}: the shards "
                    f"planned differently (the DNS changed between them?); run them again"
                )
            owner[d] = part["shard"]["index"]
        stray = evidencejson.domains(part) - set(part["shard"]["domains"])
        if stray:
            raise MergeError(f"{path}: results for domains outside its shard: {sorted(stray)[:3]}")
    return total


def connections_per_address(parts: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Connections actually made per address, over every shard (sessions, scans, SNI tests)."""
    made: Counter[str] = Counter()
    for part in parts:
        sessions: dict[str, dict[str, Any]] = {}
        for obs in part["observations"].values():
            if obs.get("type") == "TlsScan":
                made[obs["endpoint"]["ip"]] += int(obs.get("connections", 0))
            nested = obs.get("sessions", []) if obs.get("type") == "SniProbe" else []
            for s in [obs, *nested]:
                if s.get("type") == "SmtpObservation":
                    sessions[digest(s)] = s
        for s in sessions.values():
            made[s["endpoint"]["ip"]] += int(s.get("connections", 1))
    return dict(sorted(made.items(), key=lambda kv: (-kv[1], kv[0])))


def _state(parts: list[dict[str, Any]], inventory_path: Path | None) -> MailtlsRun:
    run = parts[0]["run"]
    path = inventory_path or Path(run["inventory"])
    try:
        inventory = load_inventory(str(path))
    except InventoryError as exc:
        raise MergeError(
            f"the inventory the shards ran ({path}): {exc}; pass --inventory=PATH"
        ) from None
    if inventory.sha256 != run["inventory_sha256"]:
        raise MergeError(f"{path} is not the inventory the shards ran (SHA-256 differs)")
    baseline = None
    if run.get("baseline"):
        try:
            baseline = gate.load_baseline(Path(run["baseline"]))
        except gate.BaselineError as exc:
            raise MergeError(str(exc)) from None
    state = MailtlsRun(
        inventory=inventory,
        resolver=parse_resolver(run["resolver"]),
        ca_bundle=Path(run["ca_bundle"]),
        profile=run["profile"],
        timeout=10.0,
        concurrency=1,
        ehlo_name="-",
        max_connections=int(run["max_connections"]),
        strict=bool(run["strict"]),
        allow_errors=bool(run["allow_errors"]),
        baseline=baseline,
        rows_per_item=run.get("rows_per_item"),  # None: the auto rule (and in older files)
        started=min(p["run"]["started"] for p in parts),
    )
    state.finished = max(p["run"]["finished"] for p in parts)
    return state


def _junit(results: list[Result], state: MailtlsRun) -> ET.ElementTree[ET.Element]:
    """The JUnit file a single run of the whole inventory writes: one test case per row up to
    100 domains, else per batch item of each check (:mod:`mailtls.batch`, the same rule, names
    and texts), so a 10,000-domain merge is 1,480 test cases, not a million."""
    suite = ET.Element("testsuite", name="mailtls")
    counts: Counter[str] = Counter()
    checks: dict[str, list[Result]] = {}
    for r in results:
        checks.setdefault(r.test.split("[", 1)[0], []).append(r)
    domains = len(state.inventory.domains) if state.inventory else 0
    for check, rows in checks.items():
        size = batch.item_size(state.rows_per_item, domains, len(rows))
        if size == 1:
            for r in rows:
                _row_case(suite, r, state.strict, counts)
            continue
        parts = batch.chunks(rows, size)
        module, _, function = check.partition("::")
        for k, part in enumerate(parts):
            name = batch.item_name(function, k, len(parts), part[0].domain, part[-1].domain)
            _batch_case(suite, f"{module}::{name}", list(part), state, counts)
    suite.set("tests", str(len(suite.findall("testcase"))))
    for key in ("errors", "failures", "skipped"):
        suite.set(key, str(counts[key]))
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.ElementTree(root)


def _case(suite: ET.Element, test: str) -> ET.Element:
    module, _, name = test.partition("::")
    classname = re.sub(r"\.py$", "", module).replace("/", ".")
    return ET.SubElement(suite, "testcase", classname=classname, name=name)


def _batch_case(
    suite: ET.Element, test: str, rows: list[Result], state: MailtlsRun, counts: Counter[str]
) -> None:
    req = requirements.get(rows[0].requirement)
    case = _case(suite, test)
    props = ET.SubElement(case, "properties")
    for key, value in batch.properties(req, rows):
        ET.SubElement(props, "property", name=key, value=value)
    gating = [
        r for r in rows if gate.gates(r, strict=state.strict, allow_errors=state.allow_errors)
    ]
    if gating:
        counts["failures"] += 1
        text = batch.gating_text(req, gating, len(rows))
        ET.SubElement(case, "failure", message=text.split("\n", 1)[0]).text = text
    elif batch.worst(rows) == "not_applicable":
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=f"not applicable: all {len(rows)} row(s)")


def _row_case(suite: ET.Element, r: Result, strict: bool, counts: Counter[str]) -> None:
    case = _case(suite, r.test)
    props = ET.SubElement(case, "properties")
    for key, value in (
        ("requirement", r.requirement),
        ("verdict", r.verdict),
        ("profile", r.profile),
        ("severity", r.severity),
        ("domain", r.domain),
        ("host", r.host),
        ("ip", r.ip),
    ):
        ET.SubElement(props, "property", name=key, value=value or "")
    req = requirements.get(r.requirement)
    ET.SubElement(props, "property", name="citation", value=req.citation_text())
    ET.SubElement(props, "property", name="waived", value="true" if r.waived else "false")
    text = (
        f"{req.id} [{r.verdict}] {r.message}\n  rule ({r.profile}): "
        f"{req.rule_for(r.profile)}\n  fix: {req.fix}"
    )
    verdict = r.verdict
    if r.waived or verdict == "not_applicable":
        counts["skipped"] += 1
        ET.SubElement(case, "skipped", message=r.message[:500])
    elif verdict == "error":
        counts["errors"] += 1
        ET.SubElement(case, "error", message=r.message[:500]).text = text
    elif verdict == "fail" or (verdict == "warn" and strict):
        counts["failures"] += 1
        ET.SubElement(case, "failure", message=r.message[:500]).text = text


def _rows(parts: list[dict[str, Any]]) -> list[Result]:
    """Every part's rows, each observation digest replaced by the observation's JSON."""
    rows = []
    for part in parts:
        seen = part["observations"]
        try:
            rows += evidencejson.rows(part, seen.__getitem__)
        except (KeyError, TypeError, ValueError) as exc:
            where = f"shard {part['shard']['index']}"
            raise MergeError(f"{where}: a result row is not mailtls's ({exc!r})") from None
    return rows


def _digest_of(parts: list[dict[str, Any]]) -> Callable[[object], str]:
    """The digest a part stored an observation's JSON under (the inverse of ``_rows``)."""
    digests = {id(obs): d for part in parts for d, obs in part["observations"].items()}
    return lambda obs: digests[id(obs)]


def merge(
    paths: list[Path],
    html: Path | None,
    evidence_json: Path | None,
    junitxml: Path | None,
    inventory: Path | None = None,
) -> int:
    """Merge the parts and write the outputs; return the exit status a single run would have."""
    loaded = [(p, _load(p)) for p in paths]
    total = check_parts(loaded)
    loaded.sort(key=lambda item: int(item[1]["shard"]["index"]))
    parts = [part for _, part in loaded]
    state = _state(parts, inventory)
    order = {d.name: i for i, d in enumerate(state.inventory.domains)} if state.inventory else {}
    rows = _rows(parts)
    rows.sort(key=lambda r: (order.get(r.domain, len(order)), r.test))
    for r in rows:
        state.results[r.test] = r
    results = list(state.results.values())
    state.gate = gate.decide(
        results, strict=state.strict, allow_errors=state.allow_errors, baseline=state.baseline
    )
    made = connections_per_address(parts)
    over = {ip: n for ip, n in made.items() if n > state.max_connections}
    if evidence_json is not None:
        observations: dict[str, Any] = {}
        for part in parts:
            observations.update(part["observations"])
        digest_of = _digest_of(parts)  # once: per row it made the merge quadratic
        document = {
            "format": evidencejson.FORMAT,  # whatever the parts' format, as a single run writes
            "tool": parts[0]["tool"],
            "run": {**parts[0]["run"], "started": state.started, "finished": state.finished},
            "shards": [{**p["shard"], "exitstatus": p["run"]["exitstatus"]} for p in parts],
            "connections_per_address": made,
            **evidencejson.encode(rows, digest_of),
            "observations": observations,
        }
        document["run"]["exitstatus"] = 1 if state.gate.failed else 0
        evidence_json.write_text(
            json.dumps(document, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
        )
    if junitxml is not None:
        _junit(results, state).write(junitxml, encoding="utf-8", xml_declaration=True)
    if html is not None:
        html.write_text(_html(state, total, made, over), encoding="utf-8")
    print(
        f"mailtls merge: {total} shard(s), {len(results)} result(s); gate "
        f"{'FAILED' if state.gate.failed else 'passed'} ({len(state.gate.gating)} gating)"
    )
    for ip, n in over.items():
        print(
            f"mailtls merge: {n} connections to {ip} over all shards (limit {state.max_connections})"
        )
    return 1 if state.gate.failed else 0


def _with_records(state: MailtlsRun) -> MailtlsRun:
    """The merged run with each row's evidence rebuilt as typed records (one per observation),
    so the summary, evidence and expiry view are drawn exactly as the single run drew them."""
    records: dict[int, object] = {}

    def record(raw: object) -> object:
        if id(raw) not in records:
            records[id(raw)] = evidence_load.load(raw)
        return records[id(raw)]

    results = {
        test: dataclasses.replace(r, evidence=tuple(record(e) for e in r.evidence))
        for test, r in state.results.items()
    }
    seen: dict[tuple[str, Hashable], object] = {
        ("merged", key): obs for key, obs in enumerate(records.values())
    }
    return dataclasses.replace(state, results=results, observations=seen)


def _html(state: MailtlsRun, total: int, made: dict[str, int], over: dict[str, int]) -> str:
    """The single run's report as mailtls draws it, without pytest-html's findings table."""
    busiest = ", ".join(f"{escape(ip)}: {n}" for ip, n in list(made.items())[:10]) or "none"
    limit = (
        f"<p><b>Over the per-address limit ({state.max_connections})</b>, because shards were "
        f"balanced (--shard-balance): {', '.join(f'{escape(ip)}: {n}' for ip, n in over.items())}</p>"
        if over
        else f"<p>No address got more than {state.max_connections} connections over all shards.</p>"
    )
    head = (
        f"<h1>mailtls - email transport security report</h1><p>Merged from {total} shard(s).</p>"
        f"<p>Connections per address over all shards (busiest first): {busiest}</p>{limit}"
    )
    body = summary_html(_with_records(state), EvidenceIndex()).split(FINDINGS_TABLE, 1)[0]
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>mailtls report</title></head>"
        f"<body>{head}<div class='mt-summary'>{body}</div></body></html>"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mailtls merge", description=__doc__)
    ap.add_argument("parts", nargs="+", type=Path, help="the shards' --evidence-json files")
    ap.add_argument("--html", type=Path, help="one self-contained HTML report")
    ap.add_argument("--evidence-json", type=Path, help="one evidence JSON")
    ap.add_argument("--junitxml", type=Path, help="one JUnit XML file")
    ap.add_argument("--inventory", type=Path, help="the inventory, if not at the shards' path")
    args = ap.parse_args(argv)
    try:
        return merge(args.parts, args.html, args.evidence_json, args.junitxml, args.inventory)
    except MergeError as exc:
        print(f"ERROR: mailtls merge: {exc}", file=sys.stderr)
        return USAGE_ERROR
