"""The testbed's own self-check: each scenario's property, confirmed by independent tools
(dig, openssl s_client, posttls-finger), via `.venv/bin/python testbed/testbed.py selfcheck`.

The testbed must be up (`.venv/bin/python testbed/testbed.py up`, as testbed/test.sh does). In CI
(CI=true) a missing server or tool binary, or a testbed that is not up, is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO

TOOLS = (
    "nsd",
    "unbound",
    "postfix",
    "posttls-finger",
    "ldns-keygen",
    "ldns-signzone",
    "dig",
    "openssl",
)


def test_testbed_tools_present() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        msg = f"testbed programs missing: {', '.join(missing)} (run: bash testbed/setup.sh)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def test_testbed_selfcheck(testbed_env: dict[str, Any]) -> None:
    proc = subprocess.run(
        [sys.executable, "testbed/testbed.py", "selfcheck"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    report = proc.stdout + proc.stderr
    failed = [line for line in proc.stdout.splitlines() if line.startswith("FAIL")]
    assert proc.returncode == 0 and not failed, "\n".join(failed) or report
    assert "selfcheck:" in proc.stdout, report
