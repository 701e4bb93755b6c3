"""The five verdicts and the small vocabulary checks use to state them.

pass            the test passes
fail            a plain ``assert`` fails
warn            :func:`warn` (advisory: visible, does not gate unless ``--strict``)
not_applicable  :func:`not_applicable` (a pytest skip whose reason says why)
error           :func:`inconclusive` (we could not observe; the cause is named; never a pass)
"""

from __future__ import annotations

from typing import Literal, NoReturn

import pytest

Verdict = Literal["pass", "warn", "fail", "not_applicable", "error"]
VERDICTS: tuple[Verdict, ...] = ("pass", "warn", "fail", "not_applicable", "error")
NA_PREFIX = "not applicable: "


class Inconclusive(Exception):
    """We could not observe what the requirement needs (timeout, 421, reset, DNS failure...)."""


class Advisory(Exception):
    """The requirement is not fully met, at a level the catalogue rates as a warning."""


def inconclusive(message: str) -> NoReturn:
    raise Inconclusive(message)


def warn(message: str) -> NoReturn:
    raise Advisory(message)


def not_applicable(reason: str) -> NoReturn:
    pytest.skip(NA_PREFIX + reason)


def judge(level: object, message: str) -> None:
    """Apply a profile's level from the catalogue (``fail``, ``warn`` or ``pass``) to a finding."""
    if level == "fail":
        raise AssertionError(message)
    if level == "warn":
        warn(message)
    if level != "pass":
        raise ValueError(f"catalogue level {level!r} is not fail, warn or pass")
