"""``--shard=K/N`` + ``python -m mailtls merge`` equals a single run: the same rows with the same
verdicts and messages, the same exit status; domains sharing an MX address stay in one shard;
missing, duplicated or foreign parts are one usage error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from mailtls import evidencejson
from tests.conftest import REPO, inflate, run_suite
from tests.support.report import payloads

DOMAINS = [
    "good.test",
    "twomx.test",
    "shared.test",  # shares 127.0.11.1 with good.test
    "hosted00.test",  # hosted00-03 share 127.0.18.10
    "hosted01.test",
    "hosted02.test",
    "hosted03.test",
    "nosuchdomain.test",
]
WAIVER = {
    "requirement": "SMTP-STARTTLS-OFFERED",
    "hosts": ["mx2.twomx.test"],
    "reason": "decommissioning, CHG-1",
    "expires": "2099-12-31",
}


def _inventory(path: Path) -> Path:
    entries: list[Any] = [d for d in DOMAINS if d != "twomx.test"]
    entries.append({"name": "twomx.test", "waivers": [WAIVER]})
    path.write_text(yaml.safe_dump({"domains": entries}))
    return path


def _rows(data: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    keys = ("requirement", "domain", "host", "ip", "verdict", "waived", "profile")
    # The hello scan runs two lanes at once, so its hellos are numbered in whichever order they
    # finish, in any two runs alike: "hello 4" in one run is "hello 6" in the next.
    return {
        r["test"]: (*(r[k] for k in keys), re.sub(r"hello \d+", "hello N", r["message"]))
        for r in data["results"]
    }


def _merge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtls", "merge", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_shards_merged_equal_the_single_run(testbed_env: dict[str, Any], tmp_path: Path) -> None:
    inventory = _inventory(tmp_path / "inv.yaml")
    common = [
        f"--inventory={inventory}",
        f"--resolver={testbed_env['resolver']}",
        f"--ca-bundle={testbed_env['ca_bundle']}",
        "--timeout=3",
        "-q",
    ]
    single_dir = tmp_path / "single"
    single_dir.mkdir()
    single_code, output, single = run_suite(common, single_dir)
    assert single is not None, output[-3000:]
    parts = []
    for k in (1, 2, 3):
        folder = tmp_path / f"part{k}"
        folder.mkdir()
        code, output, data = run_suite([*common, f"--shard={k}/3"], folder)
        assert data is not None and code in (0, 1), output[-3000:]
        parts.append(folder / "evidence.json")
    planned = [json.loads(p.read_text())["shard"]["domains"] for p in parts]
    assert sorted(d for shard in planned for d in shard) == sorted(DOMAINS)
    for together in (["good.test", "shared.test"], [f"hosted0{i}.test" for i in range(4)]):
        assert any(set(together) <= set(shard) for shard in planned), planned

    merged = tmp_path / "merged.json"
    junit = tmp_path / "merged.xml"
    html = tmp_path / "merged.html"
    proc = _merge(
        *map(str, parts), f"--html={html}", f"--evidence-json={merged}", f"--junitxml={junit}"
    )
    assert proc.returncode == single_code, proc.stdout + proc.stderr
    data = inflate(json.loads(merged.read_text()))
    assert _rows(data) == _rows(single)
    # Written as a single run writes it: format 2, each requirement's facts once.
    assert data["format"] == single["format"] == 2
    assert data["requirements"] == single["requirements"]
    assert any(r["waived"] for r in data["results"])  # the waiver held in its shard
    assert max(data["connections_per_address"].values()) <= 10
    cases = list(ET.parse(junit).getroot().iter("testcase"))
    assert len(cases) == len(single["results"])
    page = html.read_text()
    assert "Merged from 3 shard(s)" in page and "nosuchdomain.test" in page
    # The single run's report: the expiry view, every row on demand, the evidence they cite.
    assert "Certificate expiry</h2><details" in page
    packed = payloads(page)
    drawn = packed["mailtls-rows"]
    assert isinstance(drawn, dict)
    per_domain = Counter(r["domain"] for r in single["results"])
    assert {d: len(rows) for d, rows in drawn["rows"].items() if rows} == dict(per_domain)
    evidence = {d for name, part in packed.items() if name.startswith("mailtls-evidence-")
                for d in part}  # fmt: skip
    assert set(drawn["ev"]) == evidence and evidence

    # Missing, duplicated and foreign parts: one usage error each, no output written.
    proc = _merge(str(parts[0]), str(parts[1]), f"--evidence-json={tmp_path / 'x.json'}")
    assert proc.returncode == 4 and "shard(s) 3 of 3 missing" in proc.stderr
    proc = _merge(str(parts[0]), str(parts[0]), str(parts[1]), str(parts[2]))
    assert proc.returncode == 4 and "shard(s) 1 of 3 given more than once" in proc.stderr
    foreign = json.loads(parts[2].read_text())
    foreign["run"]["inventory_sha256"] = "0" * 64
    (tmp_path / "foreign.json").write_text(json.dumps(foreign))
    proc = _merge(str(parts[0]), str(parts[1]), str(tmp_path / "foreign.json"))
    assert proc.returncode == 4 and "mixed inventories" in proc.stderr
    assert not (tmp_path / "x.json").exists()

    # Parts written before format 2 (rows as dicts) merge into the same format-2 file; parts of
    # mixed formats are one usage error.
    old = []
    for k, part in enumerate(parts, 1):
        raw = json.loads(part.read_text())
        keep = ("tool", "run", "shard", "observations")
        (tmp_path / f"old{k}.json").write_text(
            json.dumps({**{key: raw[key] for key in keep}, "results": evidencejson.expand(raw)})
        )
        old.append(str(tmp_path / f"old{k}.json"))
    again = tmp_path / "again.json"
    proc = _merge(*old, f"--evidence-json={again}")
    assert proc.returncode == single_code, proc.stdout + proc.stderr
    data = inflate(json.loads(again.read_text()))
    assert data["format"] == 2 and _rows(data) == _rows(single)
    proc = _merge(old[0], str(parts[1]), str(parts[2]), f"--evidence-json={tmp_path / 'x.json'}")
    assert proc.returncode == 4 and "mixed evidence JSON formats" in proc.stderr
    assert not (tmp_path / "x.json").exists()
