"""The user-facing command line: usage errors are one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


def pytest_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_the_options() -> None:
    proc = pytest_cli("--help")
    assert proc.returncode == 0
    for option in (
        "--inventory",
        "--resolver",
        "--ca-bundle",
        "--profile",
        "--evidence-json",
        "--timeout",
        "--concurrency",
        "--ehlo-name",
    ):
        assert option in proc.stdout


def test_checks_without_inventory_is_a_usage_error() -> None:
    proc = pytest_cli("checks")
    assert proc.returncode != 0
    assert "need an inventory: pytest --inventory=FILE.yaml" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--resolver=not-an-ip"], "--resolver 'not-an-ip': expected IP or IP:PORT"),
        (["--ca-bundle=/nonexistent.pem"], "--ca-bundle /nonexistent.pem: no such file"),
        (["--timeout=0"], "--timeout must be a positive number"),
        (["--profile=pci"], "invalid choice: 'pci'"),
    ],
)
def test_bad_option_values(tmp_path: Path, args: list[str], expected: str) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("domains: [a.example]\n")
    proc = pytest_cli(f"--inventory={inv}", *args)
    assert proc.returncode == 4
    assert expected in proc.stdout + proc.stderr


def test_bad_inventory_is_one_usage_error(tmp_path: Path) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("domains: [{name: a.example, colour: red}]\n")
    proc = pytest_cli(f"--inventory={inv}")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4
    assert f"ERROR: inventory {inv} has 1 problem(s)" in out
    assert "unknown key 'colour'" in out
    assert "Traceback" not in out
