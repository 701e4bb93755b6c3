"""The user-facing command line: usage errors are one clear message, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.unit.test_inventory import BAD_INVENTORIES


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


def _one_usage_error(proc: subprocess.CompletedProcess[str], expected: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert "Traceback" not in out
    assert expected in out
    errors = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, out


@pytest.mark.parametrize(
    ("text", "expected"), BAD_INVENTORIES, ids=[str(i) for i in range(len(BAD_INVENTORIES))]
)
def test_every_bad_inventory_is_exit_4_and_one_message(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    inv = tmp_path / "inv.yaml"
    if isinstance(text, bytes):
        inv.write_bytes(text)
    else:
        inv.write_text(text)
    _one_usage_error(pytest_cli(f"--inventory={inv}"), expected)


def test_ip_literal_inventory_names_the_entry(tmp_path: Path) -> None:
    inv = tmp_path / "clients.yaml"
    inv.write_text('domains:\n  - good.example\n  - name: "192.0.2.1"\n')
    proc = pytest_cli(f"--inventory={inv}")
    _one_usage_error(proc, f"ERROR: inventory {inv} has 1 problem(s)")
    out = proc.stdout + proc.stderr
    assert "domains[1] (192.0.2.1): '192.0.2.1' is an IP address" in out
    assert "inventories list mail domains" in out and "not addresses" in out


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_inventory_is_exit_4(tmp_path: Path, kind: str) -> None:
    inv = tmp_path / "inv.yaml"
    if kind == "directory":
        inv.mkdir()
    _one_usage_error(pytest_cli(f"--inventory={inv}"), "cannot read it")
