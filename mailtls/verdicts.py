"""The five verdicts and the small vocabulary checks use to state them.

pass            the test passes
fail            a plain ``assert`` fails
warn            :func:`warn` (advisory: visible, does not gate unless ``--strict``)
not_applicable  :func:`not_applicable` (a pytest skip whose reason says why)
error           :func:`inconclusive` (we could not observe; the cause is named; never a pass)
"""

from __future__ import annotations

from typing import Literal, NoReturn, TypeVar

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


def fail(message: str) -> NoReturn:
    """The requirement is not met (what a plain ``assert`` says, for a decision made in code)."""
    raise AssertionError(message)


_T = TypeVar("_T")


def observed(value: object, kind: type[_T], what: str) -> _T:
    """``value`` as the observation type a check needs; anything else (a probe crash, a missing
    observation) is an error verdict naming ``what``, never a fail. Use this, not ``assert
    isinstance``: an assert in a check means fail."""
    if not isinstance(value, kind):
        got = "nothing" if value is None else type(value).__name__
        inconclusive(f"{what}: no {kind.__name__} observation to judge (got {got})")
    return value


def present(value: _T | None, what: str) -> _T:
    """``value`` when it was observed; None is an error verdict naming ``what`` (never a fail)."""
    if value is None:
        inconclusive(f"{what} was not observed")
    return value


def judge(level: object, message: str) -> None:
    """Apply a profile's level from the catalogue (``fail``, ``warn`` or ``pass``) to a finding."""
    if level == "fail":
        raise AssertionError(message)
    if level == "warn":
        warn(message)
    if level != "pass":
        raise ValueError(f"catalogue level {level!r} is not fail, warn or pass")
