"""The DNS side of MTA-STS (RFC 8461 §3.1) and TLS reporting (RFC 8460 §3): the TXT records.

Records that do not start with the version tag are ignored; exactly one must remain, or senders
act as if the domain published nothing.
"""

from collections.abc import Callable

import pytest

from mailtls import records
from mailtls.observations import Discovery, DnsAnswer
from mailtls.requirements import Requirement
from mailtls.verdicts import inconclusive, judge, not_applicable


def _txt(answer: DnsAnswer | None, domain: str) -> tuple[str, ...]:
    if answer is None:
        inconclusive(f"{domain}: the policy TXT record was not looked up (MX discovery failed)")
    if not answer.failed:
        return answer.records if answer.answered else ()
    inconclusive(f"{domain}: {answer.describe()}")


def _grammar_problems(found: list[str], parse: Callable[[str], object]) -> list[str]:
    problems = []
    for value in found:
        try:
            parse(value)
        except records.RecordError as exc:
            problems.append(f"{value!r}: {exc}")
    return problems


@pytest.mark.requirement("MTASTS-TXT-UNIQUE")
def test_one_mta_sts_record(discovery: Discovery, profile: str, requirement: Requirement) -> None:
    """Exactly one ``v=STSv1`` TXT record at ``_mta-sts.<domain>``."""
    d = discovery
    found = records.select(_txt(d.mta_sts_txt, d.domain), "STSv1")
    if not found:
        assert not requirement.param(profile, "required", False), (
            f"{d.domain}: no MTA-STS record at _mta-sts.{d.domain}; UK guidance asks every "
            "receiving domain to publish an MTA-STS policy"
        )
        not_applicable(f"{d.domain} publishes no MTA-STS record")
    assert len(found) == 1, (
        f"{d.domain}: {len(found)} v=STSv1 records at _mta-sts.{d.domain} ({' | '.join(found)}); "
        "senders ignore MTA-STS unless there is exactly one"
    )


@pytest.mark.requirement("MTASTS-TXT-SYNTAX")
def test_mta_sts_record_syntax(discovery: Discovery) -> None:
    """The MTA-STS record is ``v=STSv1; id=<1-32 letters and digits>`` with valid extensions."""
    d = discovery
    found = records.select(_txt(d.mta_sts_txt, d.domain), "STSv1")
    if not found:
        not_applicable(f"{d.domain} publishes no MTA-STS record (see MTASTS-TXT-UNIQUE)")
    problems = _grammar_problems(found, records.parse_sts)
    assert not problems, f"{d.domain}: invalid MTA-STS record: {'; '.join(problems)}"


@pytest.mark.requirement("TLSRPT-UNIQUE")
def test_one_tlsrpt_record(discovery: Discovery) -> None:
    """At most one ``v=TLSRPTv1`` TXT record at ``_smtp._tls.<domain>`` (exactly one if any)."""
    d = discovery
    found = records.select(_txt(d.tlsrpt_txt, d.domain), "TLSRPTv1")
    if not found:
        not_applicable(f"{d.domain} publishes no TLS-RPT record")
    assert len(found) == 1, (
        f"{d.domain}: {len(found)} v=TLSRPTv1 records at _smtp._tls.{d.domain}; "
        "with more than one, reporters send no reports"
    )


@pytest.mark.requirement("TLSRPT-RUA")
def test_tlsrpt_rua(discovery: Discovery) -> None:
    """The TLS-RPT record has ``rua=`` with mailto: or https: URIs (RFC 8460 §3)."""
    d = discovery
    found = records.select(_txt(d.tlsrpt_txt, d.domain), "TLSRPTv1")
    if not found:
        not_applicable(f"{d.domain} publishes no TLS-RPT record")
    problems = _grammar_problems(found, records.parse_tlsrpt)
    assert not problems, f"{d.domain}: invalid TLS-RPT record: {'; '.join(problems)}"


def _uses_dane(d: Discovery) -> bool:
    return any(h.tlsa_usages() & {2, 3} for h in d.hosts)


@pytest.mark.requirement("TLSRPT-WITH-POLICY")
def test_tlsrpt_with_policy(discovery: Discovery, profile: str, requirement: Requirement) -> None:
    """A domain that uses MTA-STS or DANE publishes a valid TLS-RPT record (RFC 8460), so that
    delivery failures caused by its policy are reported back to it."""
    d = discovery
    mechanisms = [m for m, on in (("MTA-STS", d.mta_sts_advertised), ("DANE", _uses_dane(d))) if on]
    if not mechanisms:
        not_applicable(f"{d.domain} publishes neither MTA-STS nor DANE")
    found = records.select(_txt(d.tlsrpt_txt, d.domain), "TLSRPTv1")
    problem = None
    if not found:
        problem = f"no TLS-RPT record at _smtp._tls.{d.domain}"
    elif len(found) > 1:
        problem = f"{len(found)} TLS-RPT records (see TLSRPT-UNIQUE)"
    elif bad := _grammar_problems(found, records.parse_tlsrpt):
        problem = f"invalid TLS-RPT record: {'; '.join(bad)}"
    if problem is None:
        return
    message = f"{d.domain} uses {' and '.join(mechanisms)} but has {problem}: failures go unseen"
    judge(requirement.param(profile, "missing", "warn"), f"{message} (profile {profile})")
