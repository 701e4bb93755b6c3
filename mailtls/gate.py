"""The CI gate: which results make the run fail, as pure logic over verdict records.

- ``fail`` gates (unless waived); ``error`` gates unless ``--allow-errors``; ``warn`` gates only
  with ``--strict``.
- With ``--baseline`` (an earlier ``--evidence-json`` of the same inventory) only regressions gate:
  a result that passed before and now gates, or a gating result with no earlier counterpart.
  Unchanged failures and improvements are listed, not gated.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mailtls import evidencejson
from mailtls.results import Key, Result

__all__ = [
    "BaselineError",
    "GateDecision",
    "Key",
    "decide",
    "gates",
    "load_baseline",
    "result_key",
]


class BaselineError(Exception):
    """The baseline file cannot be used; the message says why."""


def result_key(res: Result) -> Key:
    return res.key


def load_baseline(path: Path) -> dict[Key, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        # Either format: a baseline written before format 2 (rows as dicts) still reads.
        return {r.key: r.verdict for r in evidencejson.rows(data)}
    except OSError as exc:
        raise BaselineError(f"--baseline {path}: cannot read it: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BaselineError(
            f"--baseline {path}: not a mailtls --evidence-json file ({type(exc).__name__}: {exc})"
        ) from None


@dataclass(frozen=True)
class GateDecision:
    failed: bool
    gating: tuple[str, ...] = ()  # one line per result that gates
    regressions: tuple[str, ...] = ()
    improvements: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def _gates(verdict: str, waived: bool, strict: bool, allow_errors: bool) -> bool:
    if waived:
        return False
    if verdict == "fail":
        return True
    if verdict == "error":
        return not allow_errors
    return verdict == "warn" and strict


def gates(res: Result, *, strict: bool, allow_errors: bool) -> bool:
    """This result fails the run (without a baseline)."""
    return _gates(res.verdict, res.waived, strict, allow_errors)


def _line(res: Result) -> str:
    where = " ".join(x for x in (res.domain, res.host, res.ip) if x)
    return f"{res.requirement} {where}: {res.verdict} - {res.message}".rstrip(" -")


def decide(
    results: Iterable[Result],
    *,
    strict: bool,
    allow_errors: bool,
    baseline: Mapping[Key, str] | None = None,
) -> GateDecision:
    gating, regressions, improvements, unchanged = [], [], [], []
    for res in results:
        gates = _gates(res.verdict, res.waived, strict, allow_errors)
        if baseline is None:
            if gates:
                gating.append(_line(res))
            continue
        before = baseline.get(res.key)
        before_gated = before is not None and _gates(before, False, strict, allow_errors)
        if gates and not before_gated:
            was = f"was {before}" if before else "new"
            regressions.append(f"{_line(res)} ({was})")
        elif gates:
            unchanged.append(_line(res))
        elif before_gated:
            improvements.append(f"{_line(res)} (was {before})")
    if baseline is not None:
        return GateDecision(
            failed=bool(regressions),
            gating=tuple(regressions),
            regressions=tuple(regressions),
            improvements=tuple(improvements),
            unchanged=tuple(unchanged),
        )
    return GateDecision(failed=bool(gating), gating=tuple(gating))
