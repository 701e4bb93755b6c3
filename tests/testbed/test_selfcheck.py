"""The testbed's own self-check: each scenario's property, confirmed by independent tools."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from tests.conftest import REPO


def test_selfcheck(testbed_env: dict[str, Any]) -> None:
    proc = subprocess.run(
        [sys.executable, "testbed/testbed.py", "selfcheck"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not any(line.startswith("FAIL") for line in proc.stdout.splitlines())
