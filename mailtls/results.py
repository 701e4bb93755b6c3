"""One result row: the verdict of one check on one target, as a frozen typed record.

The plugin makes one per test; the summary, report, gate, merge and evidence JSON read its
fields. ``as_json``/``from_json`` are a row as a dict: the evidence JSON's row in format 1, and
what :func:`mailtls.evidencejson.expand` gives for a format-2 file (which states a row's shared
facts once, :mod:`mailtls.evidencejson`); the key order is format 1's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mailtls.requirements import Citation
from mailtls.verdicts import VERDICTS, Verdict

#: (requirement, domain, host, ip): what a baseline row is matched by.
Key = tuple[str, str, str | None, str | None]


@dataclass(frozen=True, slots=True)
class Waiver:
    """The inventory waiver that matched a fail or warn result."""

    reason: str
    expires: str
    expired: bool

    def as_json(self) -> dict[str, object]:
        return {"reason": self.reason, "expires": self.expires, "expired": self.expired}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Waiver:
        return cls(str(raw["reason"]), str(raw["expires"]), bool(raw["expired"]))


@functools.cache
def _citations_json(citations: tuple[Citation, ...]) -> list[dict[str, Any]]:
    """One JSON list per requirement's citations, shared by its rows (never mutated)."""
    return [c.as_json() for c in citations]


def _verdict(raw: object) -> Verdict:
    for v in VERDICTS:
        if raw == v:
            return v
    raise ValueError(f"verdict {raw!r} is not one of {', '.join(VERDICTS)}")


def _optional_str(raw: object) -> str | None:
    return None if raw is None else str(raw)


@dataclass(frozen=True, slots=True)
class Result:
    """The verdict of one check (``test``, a pytest node ID) on one target."""

    test: str
    requirement: str
    domain: str
    host: str | None
    ip: str | None
    port: int | None
    verdict: Verdict
    message: str
    profile: str
    severity: str
    citation: tuple[Citation, ...]
    waived: bool
    waiver: Waiver | None
    #: Observation objects in a run; their JSON (as read) after a merge; digests in a baseline.
    evidence: tuple[object, ...]

    @property
    def key(self) -> Key:
        return (self.requirement, self.domain, self.host, self.ip)

    @property
    def gating_verdict(self) -> str:
        """The verdict the overview colours by: a waived result is visible, not red."""
        return "pass" if self.waived else self.verdict

    def as_json(self, ref: Callable[[object], str]) -> dict[str, object]:
        """The row of the evidence JSON; ``ref`` names each observation (its digest)."""
        return {
            "test": self.test,
            "requirement": self.requirement,
            "domain": self.domain,
            "host": self.host,
            "ip": self.ip,
            "port": self.port,
            "verdict": self.verdict,
            "message": self.message,
            "profile": self.profile,
            "severity": self.severity,
            "citation": _citations_json(self.citation),
            "waived": self.waived,
            "waiver": self.waiver.as_json() if self.waiver is not None else None,
            "evidence": [ref(e) for e in self.evidence],
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any], evidence: Callable[[str], object] = str) -> Result:
        """A row of an evidence JSON; ``evidence`` turns each digest into what the row keeps.
        Raises KeyError, TypeError or ValueError for a row that is not one of ours."""
        port = raw["port"]
        return cls(
            test=str(raw["test"]),
            requirement=str(raw["requirement"]),
            domain=str(raw["domain"]),
            host=_optional_str(raw["host"]),
            ip=_optional_str(raw["ip"]),
            port=None if port is None else int(port),
            verdict=_verdict(raw["verdict"]),
            message=str(raw["message"]),
            profile=str(raw["profile"]),
            severity=str(raw["severity"]),
            citation=tuple(Citation(str(c["text"]), c["confidence"]) for c in raw["citation"]),
            waived=bool(raw["waived"]),
            waiver=Waiver.from_json(raw["waiver"]) if raw["waiver"] is not None else None,
            evidence=tuple(evidence(str(d)) for d in raw["evidence"]),
        )
