"""The headline: can a sender that supports MTA-STS or DANE be silently downgraded?

STARTTLS alone can be stripped by anyone on the path, and the sender then delivers in
plaintext (or to a forged certificate) without noticing. Two mechanisms stop that: DANE
(RFC 7672: a DNSSEC-secure, usable TLSA RRset for the MX) and MTA-STS in enforce mode
(RFC 8461: a policy fetched over HTTPS that names the MX). Each MX needs at least one of them.
"""

from __future__ import annotations

import pytest

from mailtls import records
from mailtls.mtasts import covering, parse_policy
from mailtls.observations import Discovery, MxHost, PolicyFetch
from mailtls.verdicts import inconclusive, not_applicable, warn

_FAILED = ("servfail", "timeout", "error", "refused")


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
    parsed = parse_policy(policy.body)
    if not parsed.valid:
        return None, (), "MTA-STS policy not usable (" + "; ".join(parsed.errors) + ")"
    ctype = (policy.header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if ctype != "text/plain":
        return None, (), f"MTA-STS policy not usable (Content-Type {ctype})"
    return parsed.mode, parsed.mx, f"MTA-STS mode {parsed.mode}"


def _dane(host: MxHost) -> bool:
    """A DNSSEC-secure TLSA RRset with a usable (DANE-TA/DANE-EE) record."""
    return bool(host.tlsa_usages() & {2, 3})


@pytest.mark.requirement("DOWNGRADE-PROTECTED")
def test_downgrade_protected(discovery: Discovery, mtasts_policy: PolicyFetch) -> None:
    """Every MX is protected from a STARTTLS downgrade by DANE or by MTA-STS in enforce mode."""
    d = discovery
    if d.kind == "null":
        not_applicable(f"{d.domain} receives no mail (null MX)")
    if d.kind in ("error", "none"):
        if d.kind == "none":
            not_applicable(f"{d.domain} receives no mail (no MX, no address)")
        inconclusive(f"{d.domain}: MX discovery failed: {d.error}")
    if d.mta_sts_txt is not None and d.mta_sts_txt.status in _FAILED:
        inconclusive(f"{d.domain}: the MTA-STS TXT lookup failed: {d.mta_sts_txt.describe()}")
    failed_tlsa = [h.name for h in d.hosts if h.tlsa is not None and h.tlsa.status in _FAILED]
    mode, patterns, sts_why = _sts_mode(d, mtasts_policy)
    table, open_hosts, testing_only = [], [], []
    for host in d.hosts:
        by = []
        if _dane(host):
            by.append("DANE")
        covered = covering(patterns, host.name) if mode in ("enforce", "testing") else None
        if covered and mode == "enforce":
            by.append(f"MTA-STS enforce ({covered})")
        if not by and covered and mode == "testing":
            testing_only.append(host.name)
        if not by:
            open_hosts.append(host.name)
        table.append(f"{host.name}: {', '.join(by) or 'nothing'}")
    summary = f"{d.domain}: " + "; ".join(table) + f" [{sts_why}]"
    if not open_hosts:
        return
    if failed_tlsa and set(open_hosts) <= set(failed_tlsa):
        inconclusive(summary + f"; the TLSA lookup failed for {', '.join(failed_tlsa)}")
    if set(open_hosts) == set(testing_only):
        warn(summary + ": MTA-STS is only in testing mode, so a downgrade is reported, not refused")
    raise AssertionError(
        summary + f": a STARTTLS downgrade of {', '.join(open_hosts)} goes unnoticed by senders"
    )
