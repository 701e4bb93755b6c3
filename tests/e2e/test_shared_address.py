"""42 MX names of 42 domains on one Postfix address (testbed/scenarios.yaml, hosting18): one SMTP
session, one hello scan and one 10-connection budget for all of them, counted by Postfix itself;
every name's certificate questions answered from the chain served; no error rows."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO, run_suite

SCENARIOS = yaml.safe_load((REPO / "testbed" / "scenarios.yaml").read_text())
DOMAINS = sorted(d for d in SCENARIOS["domains"] if d.startswith("hosted"))
ADDRESS = "127.0.18.10"
BUDGET = 10


def test_forty_names_on_one_address_share_one_budget(
    testbed_env: dict[str, Any], tmp_path: Path
) -> None:
    assert len(DOMAINS) >= 40
    log = Path(testbed_env["postfix_log"])
    start = log.stat().st_size
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(yaml.safe_dump({"domains": DOMAINS}))
    _code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "--timeout=3",
            "-q",
        ],
        tmp_path,
    )
    assert data is not None, output[-3000:]
    time.sleep(0.5)  # Postfix writes its log asynchronously
    text = log.read_bytes()[start:].decode("utf-8", "replace")
    counted = len(re.findall(r"postfix/hosting18/smtpd\[\d+\]: connect from", text))
    assert 1 <= counted <= BUDGET, counted
    rows = data["results"]
    errors = [(r["test"], r["message"]) for r in rows if r["verdict"] == "error"]
    assert not errors, errors[:5]
    mx_rows = [r for r in rows if r["ip"] == ADDRESS]
    names = {r["host"] for r in mx_rows}
    assert len(names) == len(DOMAINS)
    by_name = {r["host"]: r["verdict"] for r in mx_rows if r["requirement"] == "CERT-MX-NAME"}
    assert by_name == dict.fromkeys(names, "pass")
    # Our own bookkeeping agrees with the server's count, and says how SNI was settled.
    observations = data["raw"]["observations"].values()
    sessions = {o["started"] for o in observations if o["type"] == "SmtpObservation"}
    scans = [o for o in observations if o["type"] == "TlsScan"]
    sni = [o for o in observations if o["type"] == "SniProbe"]
    assert len(scans) == 1 and len(sni) == 1, (len(scans), len(sni))
    assert sni[0]["selects_by_sni"] is False, sni[0]["note"]
    ours = scans[0]["connections"] + scans[0]["session_connections"] + len(sni[0]["sessions"])
    assert ours == counted, (ours, counted)
    assert len(sessions) == 1 + len(sni[0]["sessions"])
