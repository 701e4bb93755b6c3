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

from mailtls import certchecks, certs, dane, records
from mailtls.mtasts import covering, parse_policy
from mailtls.observations import Discovery, MxHost, PolicyFetch, SmtpObservation
from mailtls.runstate import MailtlsRun
from mailtls.verdicts import inconclusive, not_applicable, warn


def _sts_mode(d: Discovery, policy: PolicyFetch) -> tuple[str | None, tuple[str, ...], str]:
    """(mode, mx patterns, why) of the policy a sender would use; mode None = no usable policy."""
    if policy.skipped:
        return None, (), "no MTA-STS record"
    txt = records.select(d.mta_sts_txt.records if d.mta_sts_txt else (), "STSv1")
    try:
        if len(txt) != 1:
            raise records.RecordError(f"{len(txt)} v=STSv1 records")
        records.parse_sts(txt[0])
    except records.RecordError as exc:
        return None, (), f"MTA-STS TXT record not usable ({exc})"
    if policy.status != 200:
        why = f"HTTP {policy.status}" if policy.status is not None else policy.failure or "?"
        return None, (), f"MTA-STS policy not usable ({why})"
    ctype = (policy.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != "text/plain":
        return None, (), f"MTA-STS policy not usable (Content-Type {ctype or 'missing'})"
    parsed = parse_policy(policy.body)
    if not parsed.valid:
        return None, (), "MTA-STS policy not usable (" + "; ".join(parsed.errors) + ")"
    return parsed.mode, parsed.mx, f"MTA-STS mode {parsed.mode}"


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
    if d.mta_sts_txt is not None and d.mta_sts_txt.failed:
        inconclusive(f"{d.domain}: the MTA-STS TXT lookup failed: {d.mta_sts_txt.describe()}")
    if mtasts_policy.failure_kind == "resolver":
        inconclusive(
            f"{d.domain}: the MTA-STS policy host could not be resolved: {mtasts_policy.failure}"
        )
    mode, patterns, sts_why = _sts_mode(d, mtasts_policy)
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
