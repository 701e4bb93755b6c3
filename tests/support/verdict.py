"""Run a check function on observations and name its verdict, without pytest's machinery.

The exceptions mean what ``mailtls.verdicts`` says: an AssertionError is ``fail``, ``warn()``
is ``warn``, ``inconclusive()`` is ``error``, ``not_applicable()`` (a pytest skip) is
``not_applicable``; returning is ``pass``. The plugin's own mapping of these onto reports is
proven by the pytester tests in tests/unit/test_plugin_verdicts.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from mailtls.verdicts import VERDICTS, Advisory, Inconclusive, Verdict
from tests.conftest import REPO


@cache
def check_module(name: str) -> ModuleType:
    """``checks/<name>.py`` loaded as a module of its own (checks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"checks_{name}", REPO / "checks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verdict_of(check: Callable[..., None], **fixtures: object) -> tuple[Verdict, str]:
    """(verdict, message) of ``check`` called with ``fixtures`` as its arguments."""
    try:
        check(**fixtures)
    except Advisory as exc:
        return "warn", str(exc)
    except Inconclusive as exc:
        return "error", str(exc)
    except AssertionError as exc:
        return "fail", str(exc)
    except pytest.skip.Exception as exc:
        return "not_applicable", str(exc.msg)
    return "pass", ""


def assert_verdict(
    check: Callable[..., None], fixtures: dict[str, object], verdict: Verdict, phrase: str
) -> None:
    """``check`` on ``fixtures`` gives ``verdict``, with ``phrase`` in its message."""
    got, message = verdict_of(check, **fixtures)
    assert (got, phrase in message) == (verdict, True), message


def case_ids(cases: Sequence[tuple[Any, ...]]) -> list[str]:
    """Readable ids for a table whose rows start with the check and hold the verdict."""
    return [
        f"{c[0].__name__}-{i}-{next(v for v in c if v in VERDICTS)}" for i, c in enumerate(cases)
    ]
