"""TLS reporting (RFC 8460 §3): the ``_smtp._tls.<domain>`` TXT record.

Records that do not start with ``v=TLSRPTv1;`` are ignored; exactly one must remain, or
reporters act as if the domain published nothing. The record is parsed by ``mailtls/tlsrpt.py``.
"""

from __future__ import annotations

import pytest

from mailtls import recordchecks, records, tlsrpt
from mailtls.observations import Discovery
from mailtls.requirements import Requirement
from mailtls.verdicts import inconclusive, judge, not_applicable


def _found(d: Discovery) -> list[bytes]:
    """The selected ``v=TLSRPTv1`` records (raw bytes), or the verdict that we could not look."""
    return recordchecks.selected(d, d.tlsrpt_txt, "TLS-RPT", tlsrpt.TAG)


def _problems(found: list[bytes]) -> list[str]:
    problems = []
    for raw in found:
        try:
            tlsrpt.parse(raw)
        except records.RecordError as exc:
            problems.append(f"'{records.escape(raw)}': {exc}")
    return problems


@pytest.mark.requirement("TLSRPT-UNIQUE")
def test_one_tlsrpt_record(discovery: Discovery) -> None:
    """At most one ``v=TLSRPTv1`` TXT record at ``_smtp._tls.<domain>`` (exactly one if any)."""
    d = discovery
    found = _found(d)
    if not found:
        not_applicable(f"{d.domain} publishes no TLS-RPT record")
    assert len(found) == 1, (
        f"{d.domain}: {len(found)} v=TLSRPTv1 records at _smtp._tls.{d.domain} "
        f"({' | '.join(records.escape(r) for r in found)}); with more than one, reporters send "
        "no reports"
    )


@pytest.mark.requirement("TLSRPT-RUA")
def test_tlsrpt_rua(discovery: Discovery) -> None:
    """The TLS-RPT record has ``rua=`` with mailto: or https: URIs (RFC 8460 §3)."""
    d = discovery
    found = _found(d)
    if not found:
        not_applicable(f"{d.domain} publishes no TLS-RPT record")
    problems = _problems(found)
    assert not problems, f"{d.domain}: invalid TLS-RPT record: {'; '.join(problems)}"


def _uses_dane(d: Discovery) -> bool:
    return any(h.tlsa_usages() & {2, 3} for h in d.hosts)


@pytest.mark.requirement("TLSRPT-WITH-POLICY")
def test_tlsrpt_with_policy(discovery: Discovery, profile: str, requirement: Requirement) -> None:
    """A domain that uses MTA-STS or DANE publishes a valid TLS-RPT record (RFC 8460), so that
    delivery failures caused by its policy are reported back to it."""
    d = discovery
    if d.kind == "error" and d.mx.status != "nxdomain":
        inconclusive(f"{d.domain}: cannot tell whether it uses MTA-STS or DANE: {d.error}")
    mechanisms = [m for m, on in (("MTA-STS", d.mta_sts_advertised), ("DANE", _uses_dane(d))) if on]
    if not mechanisms:
        not_applicable(f"{d.domain} publishes neither MTA-STS nor DANE")
    found = _found(d)
    problem = None
    if not found:
        problem = f"no TLS-RPT record at _smtp._tls.{d.domain}"
    elif len(found) > 1:
        problem = f"{len(found)} TLS-RPT records (see TLSRPT-UNIQUE)"
    elif bad := _problems(found):
        problem = f"invalid TLS-RPT record: {'; '.join(bad)}"
    if problem is None:
        return
    message = f"{d.domain} uses {' and '.join(mechanisms)} but has {problem}: failures go unseen"
    judge(requirement.param(profile, "missing", "warn"), f"{message} (profile {profile})")
