"""Certificate rules shared by the MX and the submission checks (CERT-MX-* and CERT-SUBMIT-*):
each function states a verdict for one served chain, so both families word it the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from mailtls import certs
from mailtls.verdicts import not_applicable, warn


def expiry_margin(where: object, leaf: certs.CertSummary, days: int, validity_id: str) -> None:
    """Warn when ``days`` or fewer remain; the days left are always in the message."""
    left = (leaf.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    if left < 0:
        not_applicable(f"{where}: already expired (see {validity_id})")
    if left <= days:
        warn(
            f"{where}: certificate expires in {left:.0f} days ({leaf.not_after:%Y-%m-%d}), "
            f"within the {days}-day margin"
        )


def key_strength(where: object, leaf: certs.CertSummary, profile: str) -> None:
    verdict, finding = certs.rate_key(leaf, profile)
    if verdict == "warn":
        warn(f"{where}: {finding}")
    assert verdict == "pass", f"{where}: {finding}"


def signatures(where: object, chain_der: Sequence[bytes]) -> None:
    weak = certs.weak_signatures(chain_der)
    assert not weak, f"{where}: weak certificate signatures: {'; '.join(weak)}"
