"""The checks ship with the package: after `pip install` of the wheel (not editable) into a fresh
virtual environment, `pytest --inventory=clients.yaml --html=r.html` run from a folder that holds
only that inventory collects every check the repository has, runs them against the testbed,
writes the report, and -k, -m and --lf select as in the repository."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

SYSTEM_PYTHON = Path("/usr/bin/python3")
DOMAINS = ["twomx.test", "good.test"]  # twomx.test fails STARTTLS on one MX: --lf has work


def _run(cmd: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTHON"))}
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built from a copy of the sources (nothing is written into the checkout)."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    for folder in ("mailtls", "checks"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-index"]
    proc = _run([*pip_wheel, "--no-build-isolation", "-w", str(base / "dist"), "."], src)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (found,) = (base / "dist").glob("mailtls-*.whl")
    return found


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed (not editable); its python.

    Offline (the tests run in a network namespace with loopback only): the dependencies come
    from this environment's site-packages through a .pth line, which adds the folder to sys.path
    after the fresh environment's own site-packages and runs none of that folder's .pth files
    (so the checkout's editable install stays out); `pip check` proves they satisfy the wheel."""
    base = tmp_path_factory.mktemp("venv")
    python = SYSTEM_PYTHON if SYSTEM_PYTHON.exists() else Path(sys._base_executable)
    proc = _run([str(python), "-m", "venv", "--without-pip", str(base / "v")], base)
    assert proc.returncode == 0, proc.stderr
    target = base / "v" / "bin" / "python"
    purelib = _run(
        [str(target), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base
    )
    (Path(purelib.stdout.strip()) / "mailtls-test-deps.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    pip = [sys.executable, "-m", "pip", "--python", str(target)]
    proc = _run([*pip, "install", "-q", "--no-deps", "--no-index", str(wheel)], base)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    check = _run([*pip, "check"], base)
    assert check.returncode == 0, check.stdout + check.stderr
    where = _run([str(target), "-c", "import mailtls; print(mailtls.__file__)"], base)
    assert str(base) in where.stdout, where.stdout  # the installed copy, not the checkout
    return target


def test_the_wheel_holds_every_module_and_check(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = {
        str(p.relative_to(REPO))
        for p in (REPO / "mailtls").rglob("*")
        if p.is_file() and p.suffix in (".py", ".yaml", ".css", ".js", ".typed")
    }
    wanted |= {f"mailtls/checks/{p.name}" for p in (REPO / "checks").glob("test_*.py")}
    assert len(wanted) > 40
    assert sorted(wanted - names) == []


def _nodeids(out: str) -> list[str]:
    return [line for line in out.splitlines() if "::" in line and not line.startswith(" ")]


def _counts(out: str) -> dict[str, int]:
    summary = out.strip().splitlines()[-1]
    return {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}


def test_checks_run_from_a_folder_with_only_an_inventory(
    venv: Path, tmp_path: Path, testbed_env: dict[str, Any]
) -> None:
    ci = tmp_path / "ci-repo"
    ci.mkdir()
    (ci / "clients.yaml").write_text("domains:\n" + "".join(f"  - {d}\n" for d in DOMAINS))
    common = [f"--resolver={testbed_env['resolver']}", f"--ca-bundle={testbed_env['ca_bundle']}"]
    common += ["--timeout=3", "-p", "no:randomly"]
    suite = ["--inventory=clients.yaml", *common]
    pytest_ = [str(venv), "-m", "pytest"]

    # The same checks as in the repository, with node IDs relative to the checks folder.
    here = _run([*pytest_, *suite, "--collect-only", "-q"], ci)
    inventory = f"--inventory={ci / 'clients.yaml'}"
    repo = _run([sys.executable, "-m", "pytest", inventory, *common, "--collect-only", "-q"], REPO)
    assert here.returncode == 0, here.stdout + here.stderr
    installed = _nodeids(here.stdout)
    in_repo = [n.removeprefix("checks/") for n in _nodeids(repo.stdout)]
    assert len(installed) > 50
    assert installed == in_repo
    modules = {n.split("::")[0] for n in installed}
    assert modules == {p.name for p in (REPO / "checks").glob("test_*.py")}

    run = _run([*pytest_, *suite, "--html=r.html", "-q"], ci)
    out = run.stdout + run.stderr
    assert run.returncode == 1, out  # twomx.test has a listener without STARTTLS
    assert (ci / "r.html").stat().st_size > 10_000
    counts = _counts(run.stdout)
    assert sum(counts.get(k, 0) for k in ("passed", "failed", "skipped", "error", "errors",
                                          "xfailed", "warned")) == len(installed), run.stdout  # fmt: skip
    failed = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    assert "test_starttls.py::test_starttls_offered[twomx.test-" in run.stdout

    lf = _run([*pytest_, *suite, "--lf", "-q"], ci)
    assert lf.returncode == 1, lf.stdout + lf.stderr
    assert _counts(lf.stdout).get("deselected") == len(installed) - failed, lf.stdout
    assert sum(_counts(lf.stdout).get(k, 0) for k in ("failed", "error", "errors")) == failed

    k = _run([*pytest_, *suite, "--collect-only", "-q", "-k", "starttls"], ci)
    selected = _nodeids(k.stdout)
    assert 0 < len(selected) < len(installed)
    assert all("starttls" in n.lower() for n in selected)
    m = _run([*pytest_, *suite, "--collect-only", "-q", "-m", "not requirement"], ci)
    assert m.returncode == 5 and _nodeids(m.stdout) == []  # every check carries its requirement
    assert sorted(p.name for p in ci.iterdir()) == [".pytest_cache", "assets", "clients.yaml",
                                                    "r.html"]  # fmt: skip
