"""Where the compliance checks live, so that `pytest --inventory=FILE` runs them from any folder.

The checks are pytest modules, ``checks/test_*.py`` at the top of the repository. The wheel maps
that folder into the package as ``mailtls/checks/`` (pyproject.toml, ``package-dir``), so after
``pip install mailtls`` they sit next to the plugin; in a source checkout (editable install) they
are the repository's own ``checks/``.

When pytest was given no paths and no ``testpaths`` applied (``ArgsSource.INVOCATION_DIR``: a
CI repository that holds only inventories), the plugin collects that folder instead of the
current directory. Paths on the command line and the repository's ``testpaths`` are left alone.
Node IDs are then relative to the checks folder (``test_mx.py::test_...[example.org]``), the same
in every run, so ``-k``, ``-m`` and ``--lf`` (the cache lives in the current directory) work.
"""

from __future__ import annotations

from pathlib import Path

import pytest

_PACKAGE = Path(__file__).resolve().parent


def checks_dir() -> Path | None:
    """The installed checks (``mailtls/checks``), else the source checkout's ``checks/``."""
    for candidate in (_PACKAGE / "checks", _PACKAGE.parent / "checks"):
        if any(candidate.glob("test_*.py")):
            return candidate
    return None


def collect_installed_checks(config: pytest.Config) -> None:
    """With ``--inventory`` and no paths to collect, point pytest at the checks."""
    if config.args_source is not pytest.Config.ArgsSource.INVOCATION_DIR:
        return
    folder = checks_dir()
    if folder is None:
        raise pytest.UsageError(
            f"mailtls: the compliance checks are missing: neither {_PACKAGE / 'checks'} nor "
            f"{_PACKAGE.parent / 'checks'} holds test_*.py; reinstall mailtls"
        )
    config.args[:] = [str(folder)]
