"""The requirement catalogue (``mailtls/catalogue/*.yaml``) as frozen data.

Each row: ``id`` (stable), ``family`` (groups rows in the report), ``title``, ``scope`` (domain |
mx | submission), ``severity`` (critical | high | medium | low; the default for every profile),
``assertion`` (the single testable statement), ``citations`` (``text`` and ``confidence``: R =
read in the primary text, S = secondary source, U = unconfirmed; the report never presents S/U as
verified), ``rule`` (pass / warn / fail), ``why`` and ``fix`` (the report's explanation; checks
never carry their own), and optionally ``profiles``: per profile (``nist``, ``ncsc-uk``,
``ncsc-nl``) an override of ``severity``, a ``verdict`` sentence saying how that profile decides
where the sources disagree, and ``params`` (scalars a check reads instead of hard-coding a
profile name, e.g. ``{tls10: fail}``); and ``ports`` (submission rows that are about one port
only, e.g. ``[465]``: the check is parametrized over those targets alone)::

    profiles:
      nist: {severity: high, verdict: "Fail - TLS 1.3 absent", params: {absent: fail}}
      ncsc-nl: {severity: low, verdict: "Warn - TLS 1.3 absent", params: {absent: warn}}

The catalogue is data, not logic: checks decide verdicts (reading :meth:`Requirement.param`);
the report shows :meth:`Requirement.severity_for` and :meth:`Requirement.rule_for` of the
profile each row was judged under. Malformed data stops the run with :class:`CatalogueError`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any, Literal

import yaml

Confidence = Literal["R", "S", "U"]
Scope = Literal["domain", "mx", "submission"]
PROFILES = ("nist", "ncsc-uk", "ncsc-nl")
SEVERITIES = ("critical", "high", "medium", "low")
Param = str | int | bool

_ROW_KEYS = {
    "id",
    "family",
    "title",
    "scope",
    "severity",
    "assertion",
    "citations",
    "rule",
    "why",
    "fix",
    "ports",
}
_PROFILE_KEYS = {"severity", "verdict", "params"}


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

    def as_json(self) -> dict[str, Any]:
        return {"text": self.text, "confidence": self.confidence, "verified": self.verified}


@dataclass(frozen=True)
class ProfileRule:
    """How one profile treats a requirement: its severity, and where it differs, its verdict."""

    severity: str
    verdict: str | None
    params: Mapping[str, Param]


@dataclass(frozen=True)
class Requirement:
    id: str
    family: str
    title: str
    scope: Scope
    severity: str  # the default severity; use severity_for(profile)
    assertion: str
    citations: tuple[Citation, ...]
    rule: str
    why: str
    fix: str
    profiles: Mapping[str, ProfileRule]  # every profile in PROFILES, defaults filled in
    ports: tuple[int, ...] = ()  # submission scope: only targets on these ports (empty = all)

    def citation_text(self) -> str:
        return "; ".join(c.display() for c in self.citations)

    def severity_for(self, profile: str) -> str:
        return self._profile(profile).severity

    def rule_for(self, profile: str) -> str:
        """The verdict rule as the report states it for a row judged under ``profile``."""
        verdict = self._profile(profile).verdict
        return f"{self.rule} Under {profile}: {verdict}" if verdict else self.rule

    def param(self, profile: str, name: str, default: Param | None = None) -> Param | None:
        """A profile-dependent value a check reads (e.g. whether TLS 1.0 fails or warns)."""
        return self._profile(profile).params.get(name, default)

    def _profile(self, profile: str) -> ProfileRule:
        try:
            return self.profiles[profile]
        except KeyError:
            raise CatalogueError(
                f"unknown profile {profile!r} (expected one of {', '.join(PROFILES)})"
            ) from None


class CatalogueError(Exception):
    """The packaged catalogue is malformed (a bug in mailtls, not in the user's input)."""


def _severity(where: str, value: Any) -> str:
    if value not in SEVERITIES:
        raise CatalogueError(f"{where}: severity {value!r} is not one of {', '.join(SEVERITIES)}")
    return str(value)


def _profile_rule(row_id: str, name: str, raw: Any, default_severity: str) -> ProfileRule:
    where = f"{row_id}: profiles.{name}"
    if not isinstance(raw, dict):
        raise CatalogueError(f"{where}: expected a mapping with {', '.join(sorted(_PROFILE_KEYS))}")
    unknown = set(raw) - _PROFILE_KEYS
    if unknown:
        raise CatalogueError(
            f"{where}: unknown key(s) {', '.join(sorted(map(str, unknown)))} "
            f"(allowed: {', '.join(sorted(_PROFILE_KEYS))})"
        )
    verdict = raw.get("verdict")
    if verdict is not None and (not isinstance(verdict, str) or not verdict.strip()):
        raise CatalogueError(f"{where}.verdict: expected a non-empty sentence")
    params = raw.get("params", {})
    if not isinstance(params, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | bool) for k, v in params.items()
    ):
        raise CatalogueError(f"{where}.params: expected a mapping of names to strings or numbers")
    severity = raw.get("severity", default_severity)
    return ProfileRule(
        severity=_severity(f"{where}.severity", severity),
        verdict=verdict,
        params=MappingProxyType(dict(params)),
    )


def _profiles(row_id: str, raw: Any, default_severity: str) -> Mapping[str, ProfileRule]:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise CatalogueError(f"{row_id}: profiles must map profile names to settings")
    unknown = set(raw) - set(PROFILES)
    if unknown:
        raise CatalogueError(
            f"{row_id}: unknown profile(s) {', '.join(sorted(map(str, unknown)))} "
            f"(expected {', '.join(PROFILES)})"
        )
    return MappingProxyType(
        {p: _profile_rule(row_id, p, raw.get(p, {}), default_severity) for p in PROFILES}
    )


def parse_row(raw: Any) -> Requirement:
    """One catalogue row, validated; any problem raises :class:`CatalogueError` naming the row."""
    if not isinstance(raw, dict):
        raise CatalogueError(f"catalogue row {raw!r}: expected a mapping")
    row_id = str(raw.get("id", raw))
    unknown = set(raw) - _ROW_KEYS - {"profiles"}
    if unknown:
        raise CatalogueError(f"{row_id}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    try:
        cites = tuple(Citation(str(c["text"]), c["confidence"]) for c in raw["citations"])
        severity = _severity(row_id, raw["severity"])
        req = Requirement(
            id=str(raw["id"]),
            family=str(raw["family"]),
            title=str(raw["title"]),
            scope=raw["scope"],
            severity=severity,
            assertion=str(raw["assertion"]),
            citations=cites,
            rule=str(raw["rule"]),
            why=str(raw["why"]),
            fix=str(raw["fix"]),
            ports=tuple(int(p) for p in raw.get("ports", ())),
            profiles=_profiles(row_id, raw.get("profiles"), severity),
        )
    except (KeyError, TypeError) as exc:
        raise CatalogueError(f"catalogue row {row_id!r}: missing {exc}") from exc
    if req.scope not in ("domain", "mx", "submission"):
        raise CatalogueError(f"{req.id}: unknown scope {req.scope!r}")
    if req.ports and req.scope != "submission":
        raise CatalogueError(f"{req.id}: 'ports' is only meaningful for submission rows")
    if any(c.confidence not in ("R", "S", "U") for c in cites):
        raise CatalogueError(f"{req.id}: citation confidence must be R, S or U")
    return req


def parse_rows(rows: list[Any]) -> dict[str, Requirement]:
    result: dict[str, Requirement] = {}
    for raw in rows:
        req = parse_row(raw)
        if req.id in result:
            raise CatalogueError(f"duplicate requirement ID {req.id}")
        result[req.id] = req
    return result


@functools.cache
def catalogue() -> dict[str, Requirement]:
    """All requirements by ID, in catalogue order."""
    folder = resources.files("mailtls").joinpath("catalogue")
    rows: list[Any] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            try:
                rows += yaml.safe_load(entry.read_text("utf-8")) or []
            except yaml.YAMLError as exc:
                raise CatalogueError(f"catalogue/{entry.name}: {exc}") from None
    return parse_rows(rows)


def get(requirement_id: str) -> Requirement:
    try:
        return catalogue()[requirement_id]
    except KeyError:
        raise CatalogueError(f"unknown requirement ID {requirement_id!r}") from None
