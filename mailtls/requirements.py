"""The requirement catalogue (``mailtls/catalogue/*.yaml``) as frozen data.

Each row: ``id`` (stable), ``family`` (groups rows in the report), ``title``, ``scope`` (domain |
mx | submission), ``severity`` (critical | high | medium | low), ``assertion`` (the single
testable statement), ``citations`` (``text`` and ``confidence``: R = read in the primary text,
S = secondary source, U = unconfirmed; the report never presents S/U as verified), ``rule``
(pass / warn / fail, per profile where they differ), ``why`` and ``fix`` (the report's
explanation; checks never carry their own), and optionally ``ports`` (submission rows that are
about one port only, e.g. ``[465]``: the check is parametrized over those targets alone).

The catalogue is data, not logic: each row names a requirement, its citations with their
confidence, its scope and the text the report shows. Checks refer to rows by ID through the
``requirement`` marker; the plugin looks the row up to label evidence and report rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

import yaml

Confidence = Literal["R", "S", "U"]
Scope = Literal["domain", "mx", "submission"]
PROFILES = ("nist", "ncsc-uk", "ncsc-nl")


@dataclass(frozen=True)
class Citation:
    text: str
    confidence: Confidence

    @property
    def verified(self) -> bool:
        return self.confidence == "R"

    def display(self) -> str:
        """The citation as the report shows it: only [R] citations are presented as verified."""
        if self.confidence == "R":
            return self.text
        label = "secondary source" if self.confidence == "S" else "unconfirmed"
        return f"{self.text} [section {label}]"


@dataclass(frozen=True)
class Requirement:
    id: str
    family: str
    title: str
    scope: Scope
    severity: str
    assertion: str
    citations: tuple[Citation, ...]
    rule: str
    why: str
    fix: str
    ports: tuple[int, ...] = ()  # submission scope: only targets on these ports (empty = all)

    def citation_text(self) -> str:
        return "; ".join(c.display() for c in self.citations)


class CatalogueError(Exception):
    """The packaged catalogue is malformed (a bug in mailtls, not in the user's input)."""


def _row(raw: dict[str, Any]) -> Requirement:
    try:
        cites = tuple(Citation(str(c["text"]), c["confidence"]) for c in raw["citations"])
        req = Requirement(
            id=str(raw["id"]),
            family=str(raw["family"]),
            title=str(raw["title"]),
            scope=raw["scope"],
            severity=str(raw["severity"]),
            assertion=str(raw["assertion"]),
            citations=cites,
            rule=str(raw["rule"]),
            why=str(raw["why"]),
            fix=str(raw["fix"]),
            ports=tuple(int(p) for p in raw.get("ports", ())),
        )
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"catalogue row {raw.get('id', raw)!r}: missing {exc}") from exc
    if req.scope not in ("domain", "mx", "submission"):
        raise CatalogueError(f"{req.id}: unknown scope {req.scope!r}")
    if req.ports and req.scope != "submission":
        raise CatalogueError(f"{req.id}: 'ports' is only meaningful for submission rows")
    if any(c.confidence not in ("R", "S", "U") for c in cites):
        raise CatalogueError(f"{req.id}: citation confidence must be R, S or U")
    return req


@functools.cache
def catalogue() -> dict[str, Requirement]:
    """All requirements by ID, in catalogue order."""
    folder = resources.files("mailtls").joinpath("catalogue")
    rows: list[dict[str, Any]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            rows += yaml.safe_load(entry.read_text("utf-8")) or []
    result: dict[str, Requirement] = {}
    for raw in rows:
        req = _row(raw)
        if req.id in result:
            raise CatalogueError(f"duplicate requirement ID {req.id}")
        result[req.id] = req
    return result


def get(requirement_id: str) -> Requirement:
    try:
        return catalogue()[requirement_id]
    except KeyError:
        raise CatalogueError(f"unknown requirement ID {requirement_id!r}") from None
