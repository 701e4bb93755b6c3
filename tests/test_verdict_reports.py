"""Fail, warn and error rows are reported by their verdict message, without pytest's traceback
formatting (which re-parses the source of every frame and made a non-pass row ~30x a pass);
a bug in a check (any other exception) keeps its traceback."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from mailtls import evidencejson

REPO = Path(__file__).resolve().parent.parent

CONFTEST = textwrap.dedent(
    """
    import importlib.metadata

    import _pytest.nodes
    import pytest

    from mailtls.observations import Discovery, DnsAnswer
    from mailtls.runstate import RUN

    if "mailtls.plugin" not in {e.value for e in importlib.metadata.entry_points(group="pytest11")}:
        pytest_plugins = ["mailtls.plugin"]
    FORMATTED = []
    _original = _pytest.nodes.Node._repr_failure_py

    def _counting(self, excinfo, style=None):
        FORMATTED.append(self.name)
        return _original(self, excinfo, style)

    _pytest.nodes.Node._repr_failure_py = _counting

    @pytest.hookimpl(trylast=True)
    def pytest_configure(config):
        state = config.stash[RUN]
        mx = DnsAnswer("a.example", "MX", "servfail", "SERVFAIL", (), None, False, "192.0.2.53:53")
        state.discoveries = {
            "a.example": Discovery("a.example", "error", mx, error="a.example MX: SERVFAIL")
        }

    def pytest_sessionfinish(session):
        (session.config.rootpath / "formatted.txt").write_text("\\n".join(FORMATTED))
    """
)

CHECKS = textwrap.dedent(
    """
    import pytest
    from mailtls.verdicts import inconclusive, warn

    @pytest.mark.requirement("MX-RESOLVE")
    def test_fails(target):
        seen = "nothing"
        assert seen == "an MX", f"{target.domain}: no MX host resolves (saw {seen})"

    @pytest.mark.requirement("MX-IMPLICIT")
    def test_warns(target):
        warn(f"{target.domain} has no MX records")

    @pytest.mark.requirement("DNSSEC-DOMAIN")
    def test_errs(target):
        inconclusive(f"{target.domain}: SERVFAIL from the resolver")

    @pytest.mark.requirement("SMTP-STARTTLS-OFFERED")
    def test_errs_in_setup(target, smtp):
        pass

    @pytest.mark.requirement("MX-NULL-EXCLUSIVE")
    def test_has_a_bug(target):
        {}["missing"]
    """
)


def test_verdict_rows_skip_traceback_formatting(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_checks.py").write_text(CHECKS)
    (tmp_path / "inventory.yaml").write_text("domains: [a.example]\n")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            f"--rootdir={tmp_path}",
            "-c",
            str(tmp_path / "pytest.ini"),
            "--inventory=inventory.yaml",
            "--resolver=192.0.2.53",
            "--evidence-json=out.json",
            "--junitxml=out.xml",
            "test_checks.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    # Only the check with a bug went through pytest's traceback formatting.
    assert (tmp_path / "formatted.txt").read_text().split() == ["test_has_a_bug[a.example]"], output
    data = json.loads((tmp_path / "out.json").read_text())
    rows = {r["requirement"]: r for r in evidencejson.expand(data)}
    assert {k: r["verdict"] for k, r in rows.items()} == {
        "MX-RESOLVE": "fail",
        "MX-IMPLICIT": "warn",
        "DNSSEC-DOMAIN": "error",
        "SMTP-STARTTLS-OFFERED": "error",
        "MX-NULL-EXCLUSIVE": "error",
    }
    assert rows["MX-RESOLVE"]["message"] == "a.example: no MX host resolves (saw nothing)"
    assert rows["SMTP-STARTTLS-OFFERED"]["message"] == "MX discovery failed: a.example MX: SERVFAIL"
    assert rows["MX-NULL-EXCLUSIVE"]["message"].startswith("internal error in the check: KeyError")
    cases = {c.get("name"): c for c in ET.parse(tmp_path / "out.xml").getroot().iter("testcase")}
    failure = cases["test_fails[a.example]"].find("failure")
    assert failure is not None and failure.text is not None
    assert failure.text.startswith("MX-RESOLVE [fail] a.example: no MX host resolves (saw nothing)")
    assert "rule (nist):" in failure.text and "Traceback" not in failure.text
    setup_error = cases["test_errs_in_setup[a.example-dns-error]"].find("error")
    assert setup_error is not None and setup_error.text is not None
    assert setup_error.text.startswith("SMTP-STARTTLS-OFFERED [error] MX discovery failed")
    # The bug keeps its traceback in the terminal: where it happened is what its author needs.
    assert "KeyError: 'missing'" in output and "test_checks.py:" in output
