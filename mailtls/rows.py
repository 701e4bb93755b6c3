"""One row: what a check needs to judge one target, whichever way the row is run.

A check (``checks/``) takes named values: ``target``, ``smtp``, ``discovery``, ``dane`` ... Each
name has a *provider* (:data:`PROVIDERS`), a function of the :class:`Row` that returns the value,
records the observations behind it as the row's evidence, and states an ``error`` (or
``not_applicable``) verdict where the value cannot be had. The same providers serve both ways a
row runs: as a pytest fixture of its own test item (:mod:`mailtls.fixtures`), or inside a batch
item that judges many rows of one requirement (:mod:`mailtls.batch`). A row computes each value
once, so the evidence is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailtls.requirements import Requirement
from mailtls.runstate import MailtlsRun
from mailtls.targets import Target

#: name -> provider, filled by the fixture modules as they are imported.
PROVIDERS: dict[str, Callable[[Row], Any]] = {}
#: Values that are not about the row's target (a check taking only these judges nothing).
NOT_OF_THE_TARGET = frozenset({"mailtls_run", "requirement"})


@dataclass
class Row:
    """One requirement on one target: the run, the requirement, the target, the evidence."""

    state: MailtlsRun
    requirement: Requirement
    target: Target
    evidence: list[object] = field(default_factory=list)
    _values: dict[str, Any] = field(default_factory=dict, repr=False)

    def record(self, obs: object) -> None:
        """Keep an observation as this row's evidence (in the order the check used them)."""
        self.evidence.append(obs)

    def get(self, name: str) -> Any:
        """The value named ``name``, computed once per row by its provider."""
        if name not in self._values:
            self._values[name] = PROVIDERS[name](self)
        return self._values[name]


def provider(name: str) -> Callable[[Callable[[Row], Any]], Callable[[Row], Any]]:
    """Register ``fn`` as the provider of ``name`` (a decorator)."""

    def register(fn: Callable[[Row], Any]) -> Callable[[Row], Any]:
        if name in PROVIDERS and PROVIDERS[name] is not fn:
            raise ValueError(f"two providers for {name!r}")
        PROVIDERS[name] = fn
        return fn

    return register


@provider("target")
def _target(row: Row) -> Target:
    return row.target


@provider("mailtls_run")
def _run(row: Row) -> MailtlsRun:
    return row.state


@provider("requirement")
def _requirement(row: Row) -> Requirement:
    return row.requirement
