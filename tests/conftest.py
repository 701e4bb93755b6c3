"""Shared helpers for the project's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from mailtls import evidencejson

# Property-based fuzzing (tests/unit/test_fuzz_parsers.py): a fixed, small budget in CI; a deep
# run with HYPOTHESIS_PROFILE=nightly (or bench/bench_fuzz.py). Derandomized in CI so a red run
# is reproducible; the nightly profile explores new inputs every time.
settings.register_profile("ci", max_examples=150, derandomize=True, deadline=None)
settings.register_profile(
    "nightly",
    max_examples=20_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "testbed"))
from tb.common import RUN as TESTBED_DIR  # noqa: E402  ($MAILTLS_TESTBED_DIR or /var/tmp/...)


def run_suite(
    args: list[str], tmp_path: Path, timeout: float = 600
) -> tuple[int, str, dict[str, Any] | None]:
    """Run the compliance suite in a child pytest, as a user would; return (exit code, output, JSON)."""
    out_json = tmp_path / "evidence.json"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:randomly",
        f"--evidence-json={out_json}",
        *args,
    ]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    output = proc.stdout + proc.stderr
    data = json.loads(out_json.read_text()) if out_json.exists() else None
    return proc.returncode, output, inflate(data) if data is not None else None


def inflate(data: dict[str, Any]) -> dict[str, Any]:
    """The evidence JSON with its rows as dicts (format 1's keys, ``evidencejson.expand``) and
    every row's observation digests replaced by the observations (the file stores each
    observation once, in "observations"); "raw" keeps the file as read."""
    observations = data.get("observations", {})
    rows = [
        {**r, "evidence": [observations[d] for d in r["evidence"]]}
        for r in evidencejson.expand(data)
    ]
    return {**data, "results": rows, "raw": data}


@pytest.fixture(scope="session")
def testbed_env() -> dict[str, Any]:
    """Facts about the running testbed (resolver, CA bundle); the testbed must be up."""
    env_file = TESTBED_DIR / "env.json"
    if not env_file.exists():
        msg = f"testbed not running: {env_file} missing; start it with `.venv/bin/python testbed/testbed.py up`"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return json.loads(env_file.read_text())  # type: ignore[no-any-return]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warnings are errors in the project's own tests (not in users' compliance runs)."""
    for item in items:
        item.add_marker(pytest.mark.filterwarnings("error"))
