"""The headline: can a sender that supports MTA-STS or DANE be silently downgraded?

STARTTLS alone can be stripped by anyone on the path, and the sender then delivers in
plaintext (or to a forged certificate) without noticing. Two mechanisms stop that, per MX:
DANE (RFC 7672: a DNSSEC-secure, usable TLSA RRset that matches the chain the MX serves) and
MTA-STS in enforce mode (RFC 8461: a valid policy that names the MX, whose certificate then
passes MTASTS-MX-CERT). Each MX needs at least one of them, on every one of its addresses.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from cryptography import x509

from mailtls import certchecks, certs, dane
from mailtls.mtasts import covering, effective_policy
from mailtls.observations import Discovery, MxHost, PolicyFetch, SmtpObservation
from mailtls.runstate import MailtlsRun
from mailtls.verdicts import inconclusive, not_applicable, warn


@dataclass
class _Mx:
    """What protects one MX host, judged on each of its addresses."""

    name: str
    dane: str | None = None  # why DANE does not protect it (None: it does)
    sts: str | None = None  # why MTA-STS enforce does not protect it (None: it does)
    testing: bool = False  # covered by a testing-mode policy whose checks would pass
    unknown: str | None = None  # an observation that would decide it is missing


def _judge_host(
    host: MxHost,
    sessions: dict[tuple[str, str], object],
    mode: str | None,
    patterns: tuple[str, ...],
    roots: list[x509.Certificate],
) -> _Mx:
    mx = _Mx(host.name)
    covered = covering(patterns, host.name) if mode in ("enforce", "testing") else None
    secure_usable = bool(host.tlsa_usages() & {2, 3})
    mx.dane = None if secure_usable else "no DNSSEC-secure usable TLSA record"
    mx.sts = None if covered and mode == "enforce" else "not covered by an enforce policy"
    mx.testing = bool(covered) and mode == "testing"
    for ip in host.addresses:
        smtp = sessions.get((host.name, ip))
        if not isinstance(smtp, SmtpObservation):
            mx.unknown = f"no SMTP session with {host.name} at {ip}"
            continue
        if secure_usable and mx.dane is None:
            chain = smtp.tls.chain_der if smtp.tls else ()
            found = dane.assess(host, chain)
            if not chain:
                mx.dane = f"no chain to match at {ip}"
            elif not any(m.usable and m.matches for m in found.matches):
                mx.dane = f"the TLSA records match no certificate served at {ip}"
        if covered:
            problems = certchecks.authenticated_tls_problems(smtp, host.name, roots)
            if problems and mode == "enforce":
                mx.sts = f"MTA-STS enforce, but at {ip}: {'; '.join(problems)}"
            if problems:
                mx.testing = False
    return mx


@pytest.mark.requirement("DOWNGRADE-PROTECTED")
def test_downgrade_protected(
    discovery: Discovery,
    mtasts_policy: PolicyFetch,
    mx_sessions: dict[tuple[str, str], object],
    mailtls_run: MailtlsRun,
) -> None:
    """Every MX is protected from a STARTTLS downgrade by DANE or by MTA-STS in enforce mode."""
    d = discovery
    if d.kind in ("null", "none"):
        not_applicable(
            f"{d.domain} receives no mail ({'null MX' if d.kind == 'null' else 'no MX, no address'})"
        )
    if d.kind == "error":
        inconclusive(f"{d.domain}: MX discovery failed: {d.error}")
    sts = effective_policy(d, mtasts_policy)
    if sts.state == "unknown":
        inconclusive(f"{d.domain}: {sts.why}")
    mode = sts.policy.mode if sts.policy else None
    patterns = sts.policy.mx if sts.policy else ()
    sts_why = sts.why  # short: the summary matrix shows the first 160 characters
    roots = certs.load_roots(mailtls_run.ca_bundle.read_bytes())
    hosts = [_judge_host(h, mx_sessions, mode, patterns, roots) for h in d.hosts]
    table = "; ".join(
        f"{m.name}: "
        + (
            ", ".join(
                x for x, ok in (("DANE", m.dane is None), ("MTA-STS enforce", m.sts is None)) if ok
            )
            or "nothing"
        )
        for m in hosts
    )
    summary = f"{d.domain}: {table} [{sts_why}]"
    open_hosts = [m for m in hosts if m.dane and m.sts]
    if not open_hosts:
        return
    failed_tlsa = [h.name for h in d.hosts if h.tlsa is not None and h.tlsa.failed]
    unknown = [m.unknown for m in open_hosts if m.unknown] + [
        f"TLSA lookup failed for {n}" for n in failed_tlsa if n in {m.name for m in open_hosts}
    ]
    if unknown:
        inconclusive(summary + "; could not decide: " + "; ".join(unknown))
    reasons = "; ".join(f"{m.name}: {m.dane}; {m.sts}" for m in open_hosts)
    if all(m.testing for m in open_hosts):
        warn(summary + ": MTA-STS is only in testing mode, so a downgrade is reported, not refused")
    raise AssertionError(
        summary + f": a STARTTLS downgrade goes unnoticed by senders for {reasons}"
    )
