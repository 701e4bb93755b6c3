"""The certificate-expiry view: every certificate any probe saw, with the days it has left.

Monitoring expiry is a named duty in the guidance (CERT-MX-EXPIRY-MARGIN); this view lists
every certificate once (by SHA-256), where it was served, and sorts the soonest expiry first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from mailtls import certs
from mailtls.evidence import chains

_SERVICES = {25: "MX", 465: "submission", 587: "submission", 443: "MTA-STS policy host"}


@dataclass(frozen=True)
class SeenCertificate:
    summary: certs.CertSummary
    role: str  # leaf | intermediate | root
    where: tuple[str, ...]  # "MX mx1.example (192.0.2.1:25)", sorted

    def days_left(self, now: dt.datetime) -> int:
        return (self.summary.not_after - now).days


def _where(endpoint: object) -> str:
    port = getattr(endpoint, "port", None)
    service = _SERVICES.get(port, f"port {port}") if isinstance(port, int) else "?"
    return f"{service} {endpoint}"


def _role(index: int, summary: certs.CertSummary) -> str:
    if index == 0:
        return "leaf"
    return "root" if summary.self_signed else "intermediate"


def seen_certificates(observations: Iterable[object]) -> list[SeenCertificate]:
    """Every distinct certificate in the observations, soonest expiry first."""
    found: dict[str, tuple[certs.CertSummary, str, set[str]]] = {}
    parsed: dict[bytes, certs.CertSummary | None] = {}
    for obs in observations:
        for endpoint, chain in chains(obs):
            for i, der in enumerate(chain):
                if der not in parsed:
                    try:
                        parsed[der] = certs.summarize(der)
                    except ValueError:
                        parsed[der] = None
                summary = parsed[der]
                if summary is None:
                    continue
                entry = found.setdefault(summary.sha256, (summary, _role(i, summary), set()))
                entry[2].add(_where(endpoint))
    seen = [SeenCertificate(s, role, tuple(sorted(w))) for s, role, w in found.values()]
    return sorted(seen, key=lambda c: (c.summary.not_after, c.summary.sha256))
