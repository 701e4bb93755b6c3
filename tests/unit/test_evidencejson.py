"""The evidence JSON's format 2: rows -> file -> rows is the identity, whatever the rows hold;
what rows share is written once; a format-1 file (an auditor's baseline from before) still reads;
a file that refers to what it does not hold is refused."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mailtls import evidencejson, gate, merge, requirements
from mailtls.evidence import to_jsonable
from mailtls.observations import Discovery, DnsAnswer, MxHost
from mailtls.requirements import Citation
from mailtls.results import Result, Waiver

REPO = Path(__file__).resolve().parents[2]

ODD = [
    "",
    'quote " backslash \\ newline \n tab \t nul \x00 and </script><b>',
    "brackets [a] ] [ and ::test_x[y]",
    "unicode: ÿ € 😀 \u202e right-to-left \u2028 line separator",
    '\\x00 escaped already, {"json": [1]}',
]


def _row(i: int, **changes: Any) -> Result:
    req = requirements.get(["MX-IMPLICIT", "SMTP-STARTTLS-OFFERED", "TLS-V-TLS13"][i % 3])
    profile = ["nist", "ncsc-nl", "ncsc-uk"][i % 3]
    row = Result(
        test=f"checks/test_x.py::test_{req.id.lower()}[d{i}.example-mx.d{i}.example-192.0.2.{i}]",
        requirement=req.id,
        domain=f"d{i}.example",
        host=f"mx.d{i}.example" if i % 4 else None,
        ip=f"192.0.2.{i}" if i % 4 else None,
        port=25 if i % 4 else None,
        verdict=("pass", "fail", "warn", "error", "not_applicable")[i % 5],
        message=ODD[i % len(ODD)],
        profile=profile,
        severity=req.severity_for(profile),
        citation=req.citations,
        waived=False,
        waiver=None,
        evidence=tuple(f"{i % 3:016x}" for _ in range(i % 3)),
    )
    return dataclasses.replace(row, **changes)


ROWS = [
    *(_row(i) for i in range(40)),
    _row(40, verdict="fail", waived=True, waiver=Waiver('known; CHG-1 "x"', "2099-12-31", False)),
    _row(41, verdict="warn", waived=True, waiver=Waiver('known; CHG-1 "x"', "2099-12-31", False)),
    _row(42, verdict="fail", waiver=Waiver("expired ü", "2020-01-01", True)),
    _row(43, test="checks/test_plain.py::test_without_parameters"),
    _row(44, test="checks/test_x.py::test_y[a[b]c]"),
    _row(45, test="checks/test_x.py::test_y[unclosed"),
    _row(46, test="checks/test_x.py::test_y[]"),
]


def _write_and_read(rows: list[Result], path: Path) -> tuple[dict[str, Any], list[Result]]:
    """As the plugin writes the file and the gate reads it back."""
    document = {"format": evidencejson.FORMAT, **evidencejson.encode(rows, str)}
    path.write_text(json.dumps(document, ensure_ascii=False, separators=(",", ":")), "utf-8")
    data = json.loads(path.read_text(encoding="utf-8"))
    return data, evidencejson.rows(data)


def test_rows_to_file_to_rows_is_the_identity(tmp_path: Path) -> None:
    _, back = _write_and_read(ROWS, tmp_path / "e.json")
    assert back == ROWS
    assert [r.as_json(str) for r in back] == [r.as_json(str) for r in ROWS]
    assert back[40].waiver == Waiver('known; CHG-1 "x"', "2099-12-31", expired=False)


def test_shared_facts_are_written_once(tmp_path: Path) -> None:
    data, _ = _write_and_read(ROWS, tmp_path / "e.json")
    assert data["results"]["columns"] == list(evidencejson.COLUMNS)  # no per-row overrides
    assert len(data["requirements"]) == 3 and len(data["waivers"]) == 2
    assert len(data["messages"]) == len(ODD)
    assert len(data["evidence"]) == 3  # (), (1,), (2, 2): each distinct digest list once
    tls13 = requirements.get("TLS-V-TLS13")
    facts = data["requirements"]["TLS-V-TLS13"]
    assert facts["title"] == tls13.title
    assert facts["citation"] == [c.as_json() for c in tls13.citations]
    assert facts["severity"] == {"ncsc-uk": tls13.severity_for("ncsc-uk")}
    text = (tmp_path / "e.json").read_text()
    assert text.count(tls13.citations[0].text) == 1


def test_a_row_that_differs_from_its_requirement_keeps_its_own(tmp_path: Path) -> None:
    odd = [
        _row(0),
        _row(3, severity="critical"),  # same requirement and profile as row 0, other severity
        _row(6, citation=(Citation("RFC 0000 §0", "U"),)),
    ]
    data, back = _write_and_read(odd, tmp_path / "e.json")
    assert data["results"]["columns"] == [*evidencejson.COLUMNS, "severity", "citation"]
    assert back == odd


def test_the_documented_python_expansion_gives_a_dict_per_row(tmp_path: Path) -> None:
    """The README's one-liner: zip the columns, follow "refs" into the top-level tables."""
    data, _ = _write_and_read(ROWS, tmp_path / "e.json")
    t = data["results"]
    rows = [
        {c: data[t["refs"][c]][v] if c in t["refs"] and v is not None else v for c, v in zip(t["columns"], r, strict=True)}
        for r in t["rows"]
    ]  # fmt: skip
    for row, want in zip(rows, ROWS, strict=True):
        assert row["check"]["requirement"] == want.requirement
        assert row["target"]["domain"] == want.domain and row["message"] == want.message
        assert row["waiver"] == (want.waiver.as_json() if want.waiver else None)
        assert row["evidence"] == list(want.evidence)


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")
def test_the_shipped_jq_program_gives_format_1_rows(tmp_path: Path) -> None:
    """examples/evidence-rows.jq, which the README offers, expands rows exactly as mailtls does
    (overrides included)."""
    odd = [*ROWS, _row(50, severity="critical")]
    for rows in (ROWS, odd):
        data, _ = _write_and_read(rows, tmp_path / "e.json")
        assert ("severity" in data["results"]["columns"]) == (rows is odd)
        out = subprocess.run(
            ["jq", "-f", str(REPO / "examples" / "evidence-rows.jq"), str(tmp_path / "e.json")],
            capture_output=True,
            check=True,
            text=True,
            encoding="utf-8",
        )
        assert json.loads(out.stdout) == evidencejson.expand(data) == [r.as_json(str) for r in rows]


# A format-1 file as mailtls wrote it before format 2 (rows as dicts): an auditor's baseline.
FORMAT_1 = {
    "tool": {"name": "mailtls", "version": "0.1.0"},
    "run": {"profile": "nist", "exitstatus": 1},
    "results": [
        {
            "test": "checks/test_smtp.py::test_starttls_offered[a.example-mx.a.example-192.0.2.1]",
            "requirement": "SMTP-STARTTLS-OFFERED",
            "domain": "a.example",
            "host": "mx.a.example",
            "ip": "192.0.2.1",
            "port": 25,
            "verdict": "fail",
            "message": "no STARTTLS in EHLO [waived until 2099-12-31: CHG-1]",
            "profile": "nist",
            "severity": "critical",
            "citation": [{"text": "RFC 3207 §4", "confidence": "R", "verified": True}],
            "waived": True,
            "waiver": {"reason": "CHG-1", "expires": "2099-12-31", "expired": False},
            "evidence": ["0123456789abcdef"],
        },
        {
            "test": "checks/test_mx.py::test_mx_resolves[a.example]",
            "requirement": "MX-RESOLVE",
            "domain": "a.example",
            "host": None,
            "ip": None,
            "port": None,
            "verdict": "pass",
            "message": "",
            "profile": "nist",
            "severity": "high",
            "citation": [{"text": "RFC 5321 §5.1", "confidence": "R", "verified": True}],
            "waived": False,
            "waiver": None,
            "evidence": [],
        },
    ],
    "observations": {"0123456789abcdef": {"type": "SmtpObservation"}},
}


def test_a_format_1_baseline_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "baseline-last-month.json"
    path.write_text(json.dumps(FORMAT_1))
    assert gate.load_baseline(path) == {
        ("SMTP-STARTTLS-OFFERED", "a.example", "mx.a.example", "192.0.2.1"): "fail",
        ("MX-RESOLVE", "a.example", None, None): "pass",
    }
    # Read as format 1, written as format 2, read again: the same rows.
    rows = evidencejson.rows(FORMAT_1)
    assert rows[0].waiver == Waiver("CHG-1", "2099-12-31", expired=False)
    assert _write_and_read(rows, tmp_path / "v2.json")[1] == rows


def test_a_format_2_baseline_is_read(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    _write_and_read(ROWS, path)
    assert gate.load_baseline(path) == {r.key: r.verdict for r in ROWS}


def _broken(change: str) -> dict[str, Any]:
    data = {"format": 2, **evidencejson.encode(ROWS[:3], str)}
    row = data["results"]["rows"][0]
    if change == "format":
        data["format"] = 3
    elif change == "negative":
        row[3] = -1  # a Python list would wrap around; the file must not
    elif change == "beyond":
        row[3] = len(data["messages"])
    elif change == "bool":
        row[0] = True
    elif change == "short":
        row.pop()
    elif change == "columns":
        data["results"]["columns"] = ["check"]
    elif change == "requirement":
        data["requirements"].clear()
    return data


@pytest.mark.parametrize(
    "change", ["format", "negative", "beyond", "bool", "short", "columns", "requirement"]
)
def test_a_file_that_refers_to_what_it_lacks_is_refused(tmp_path: Path, change: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_broken(change)))
    with pytest.raises(gate.BaselineError, match="not a mailtls --evidence-json file"):
        gate.load_baseline(path)


def test_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(gate.BaselineError, match="not a JSON object"):
        gate.load_baseline(path)


def test_merge_refuses_parts_of_mixed_formats() -> None:
    def part(index: int, document: dict[str, Any]) -> dict[str, Any]:
        run = {"profile": "nist", "inventory_sha256": "ab", "exitstatus": 1}
        shard = {"index": index, "total": 2, "balance": False, "domains": ["a.example"]}
        return {**document, "tool": {"version": "1"}, "run": run, "shard": shard}

    old = part(1, FORMAT_1)
    new = part(2, {"format": 2, **evidencejson.encode([], str), "observations": {}})
    with pytest.raises(merge.MergeError, match=r"mixed evidence JSON formats: .* format 2"):
        merge.check_parts([(Path("p1.json"), old), (Path("p2.json"), new)])


# ---------------------------------------------------------------- observations


def _answer(qname: str, rdtype: str, *records: str, ad: bool = True) -> DnsAnswer:
    status = "ok" if records else "nodata"
    sigs = (f"{rdtype} 13 2 300 20270103000000 20261206000000 1 example.",) if ad else ()
    return DnsAnswer(
        qname, rdtype, status, "NOERROR", records, 300, ad, "192.0.2.53:53", signatures=sigs
    )


def test_a_discovery_states_each_dns_answer_once_with_its_dnssec_status() -> None:
    mx = _answer("a.example", "MX", "10 mx.a.example.")
    a = _answer("mx.a.example", "A", "192.0.2.1", ad=False)
    aaaa = _answer("mx.a.example", "AAAA")
    tlsa = _answer("_25._tcp.mx.a.example", "TLSA")
    sts = _answer("_mta-sts.a.example", "TXT", '"v=STSv1; id=1"')
    host = MxHost("mx.a.example", 10, ("192.0.2.1",), a, aaaa, tlsa)
    found = Discovery(
        "a.example", "mx", mx, (host,), answers=(mx, a, aaaa, tlsa, sts), mta_sts_txt=sts
    )
    out = to_jsonable(found)
    assert [x["qname"] for x in out["answers"]] == [
        "a.example",
        "mx.a.example",
        "mx.a.example",
        "_25._tcp.mx.a.example",
        "_mta-sts.a.example",
    ]
    assert out["mx"] == {"answer": 0} and out["mta_sts_txt"] == {"answer": 4}
    assert {k: out["hosts"][0][k] for k in ("a", "aaaa", "tlsa")} == {
        "a": {"answer": 1},
        "aaaa": {"answer": 2},
        "tlsa": {"answer": 3},
    }
    assert json.dumps(out).count('"qname"') == 5  # each answer once
    # The evidence keeps what DNSSEC said of each answer.
    assert [x["authenticated"] for x in out["answers"]] == [True, False, True, True, True]
    assert out["answers"][0]["signatures"] == list(mx.signatures)
    # Resolving the references gives back every answer where it was.
    assert out["answers"][out["hosts"][0]["a"]["answer"]] == to_jsonable(a)


def test_an_answer_not_in_the_list_is_written_in_full() -> None:
    mx = _answer("a.example", "MX", "10 mx.a.example.")
    out = to_jsonable(Discovery("a.example", "mx", mx))
    assert out["answers"] == [] and out["mx"]["qname"] == "a.example"
