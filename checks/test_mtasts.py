"""MTA-STS (RFC 8461): the TXT record, then the policy fetched over HTTPS exactly as a sending
MTA would, then judged.

A sender that knows MTA-STS looks up ``_mta-sts.<domain>`` TXT; with exactly one valid
``v=STSv1`` record it fetches https://mta-sts.<domain>/.well-known/mta-sts.txt. It does not
follow redirects, insists on HTTP 200, a body within its size limit and time, and a valid
certificate for mta-sts.<domain>, and then delivers only to MX hosts the policy names, over
TLS 1.2+ with a valid certificate (in enforce mode). Every rule below is one of those steps; a
rule that needs the policy a sender would use gets it from ``mtasts.effective_policy`` and
follows from "no policy" when any step failed.
"""

from __future__ import annotations

import pytest

from mailtls import certchecks, certs, recordchecks, records
from mailtls.mtasts import (
    MAX_AGE_LIMIT,
    TAG,
    Policy,
    covering,
    effective_policy,
    media_type,
    parse_policy,
    parse_record,
)
from mailtls.observations import Discovery, PolicyFetch, SmtpObservation, TlsScan
from mailtls.probes.https import MAX_POLICY_BYTES
from mailtls.requirements import Requirement
from mailtls.runstate import MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import inconclusive, not_applicable, warn


def _records(d: Discovery) -> list[bytes]:
    """The selected ``v=STSv1`` records (raw bytes), or the verdict that we could not look."""
    return recordchecks.selected(d, d.mta_sts_txt, "MTA-STS", TAG)


@pytest.mark.requirement("MTASTS-TXT-UNIQUE")
def test_one_mta_sts_record(discovery: Discovery, profile: str, requirement: Requirement) -> None:
    """Exactly one ``v=STSv1`` TXT record at ``_mta-sts.<domain>`` (RFC 8461 §3.1)."""
    d = discovery
    found = _records(d)
    if not found:
        assert not requirement.param(profile, "required", False), (
            f"{d.domain}: no MTA-STS record at _mta-sts.{d.domain}; UK guidance asks every "
            "receiving domain to publish an MTA-STS policy"
        )
        not_applicable(f"{d.domain} publishes no MTA-STS record")
    assert len(found) == 1, (
        f"{d.domain}: {len(found)} v=STSv1 records at _mta-sts.{d.domain} "
        f"({' | '.join(records.escape(r) for r in found)}); senders ignore MTA-STS unless there "
        "is exactly one"
    )


@pytest.mark.requirement("MTASTS-TXT-SYNTAX")
def test_mta_sts_record_syntax(discovery: Discovery) -> None:
    """The MTA-STS record is ``v=STSv1; id=<1-32 letters and digits>`` with valid extensions,
    in US-ASCII (RFC 8461 §3.1)."""
    d = discovery
    found = _records(d)
    if not found:
        not_applicable(f"{d.domain} publishes no MTA-STS record (see MTASTS-TXT-UNIQUE)")
    problems = []
    for raw in found:
        try:
            parse_record(raw)
        except records.RecordError as exc:
            problems.append(f"'{records.escape(raw)}': {exc}")
    assert not problems, f"{d.domain}: invalid MTA-STS record: {'; '.join(problems)}"


def _fetched(policy: PolicyFetch) -> PolicyFetch:
    """The complete HTTP 200 answer, or the verdict that there is none to judge."""
    if policy.skipped:
        not_applicable(f"{policy.domain}: {policy.skipped}")
    if policy.failure_kind == "resolver":
        inconclusive(f"{policy.host}: our resolver failed: {policy.failure}")
    if policy.status != 200 or policy.failure_kind is not None:
        not_applicable(f"{policy.url}: no policy was fetched (see MTASTS-FETCH)")
    return policy


def _usable(d: Discovery, fetch: PolicyFetch) -> Policy:
    """The policy a sender would apply, or the verdict that follows from "no policy"."""
    eff = effective_policy(d, fetch)
    if eff.state == "unknown":
        inconclusive(f"{d.domain}: {eff.why}")
    if eff.policy is None:
        not_applicable(f"{d.domain}: no usable MTA-STS policy: {eff.why}")
    return eff.policy


@pytest.mark.requirement("MTASTS-FETCH")
def test_policy_fetched(mtasts_policy: PolicyFetch) -> None:
    """The policy host answers HTTP 200 to the first GET (RFC 8461 §3.3: no redirects)."""
    f = mtasts_policy
    if f.skipped:
        not_applicable(f"{f.domain}: {f.skipped}")
    if f.failure_kind == "resolver":
        inconclusive(f"{f.host}: our resolver failed, so the fetch was not attempted: {f.failure}")
    # Plain locals in the asserts: pytest would otherwise repr the whole observation (its
    # body and chain) to explain a failure, for every failing row.
    status, failure_kind = f.status, f.failure_kind
    assert status is not None, f"{f.url}: no HTTP answer from {f.address or f.host}: {f.failure}"
    assert failure_kind is None, (
        f"{f.url}: HTTP {f.status}, but {f.failure} ({f.body_bytes} body bytes read, stopped: "
        f"{f.stop_kind}, {f.elapsed_ms:g} ms); senders see no policy"
    )
    if 300 <= status < 400:
        raise AssertionError(
            f"{f.url}: HTTP {f.status} {f.reason} to {f.header('Location') or '(no Location)'}; "
            "senders must not follow redirects (RFC 8461 §3.3), so they see no policy"
        )
    assert status == 200, f"{f.url}: HTTP {f.status} {f.reason}; senders see no policy"


@pytest.mark.requirement("MTASTS-HOST-CERT")
def test_policy_host_certificate(mtasts_policy: PolicyFetch) -> None:
    """The policy host presents a valid, trusted certificate for mta-sts.<domain>."""
    f = mtasts_policy
    if f.skipped:
        not_applicable(f"{f.domain}: {f.skipped}")
    if f.failure_kind == "tls":
        raise AssertionError(
            f"{f.host} ({f.address}): the certificate was refused: {f.failure}; senders discard "
            "the policy"
        )
    if f.failure_kind == "resolver":
        inconclusive(f"{f.host}: our resolver failed: {f.failure}")
    if f.failure_kind == "dns":
        not_applicable(f"{f.host}: no policy host to check: {f.failure} (see MTASTS-FETCH)")
    if f.phase in (None, "connect"):
        inconclusive(f"{f.host}: the policy host could not be reached: {f.failure}")
    if f.phase == "tls":
        inconclusive(
            f"{f.host} ({f.address}) was reached, but the TLS handshake did not finish: {f.failure}"
        )
    # urllib3 verified chain and name against --ca-bundle before any HTTP byte was read.
    leaf = certs.summarize(f.chain_der[0]) if f.chain_der else None
    assert leaf is None or any(certs.name_matches(n, f.host) for n in leaf.sans), (
        f"{f.host}: the certificate names {', '.join(leaf.sans) if leaf else '?'}"
    )


@pytest.mark.requirement("MTASTS-CONTENT-TYPE")
def test_policy_content_type(mtasts_policy: PolicyFetch) -> None:
    """The policy is served as text/plain (RFC 8461 §3.2)."""
    f = _fetched(mtasts_policy)
    ctype = f.header("Content-Type")
    media = media_type(f)
    assert media == "text/plain", (
        f"{f.url}: Content-Type is {ctype or '(missing)'}, not text/plain; senders reject it"
    )


@pytest.mark.requirement("MTASTS-SIZE")
def test_policy_size(mtasts_policy: PolicyFetch) -> None:
    """The policy fits in 64 KiB, the most senders are asked to read (RFC 8461 §3.3)."""
    f = mtasts_policy
    if f.failure_kind == "too_large":
        warn(
            f"{f.url}: the body is larger than {MAX_POLICY_BYTES} bytes; we stopped reading at "
            f"{f.body_bytes} and count the fetch as failed, as senders may"
        )
    _fetched(f)


@pytest.mark.requirement("MTASTS-POLICY-SYNTAX")
def test_policy_syntax(mtasts_policy: PolicyFetch) -> None:
    """version: STSv1, mode, max_age and (unless mode is none) mx lines (RFC 8461 §3.2)."""
    f = _fetched(mtasts_policy)
    p = parse_policy(f.body)
    assert p.valid, f"{f.url}: the policy is not well formed: " + "; ".join(p.errors)


@pytest.mark.requirement("MTASTS-MAXAGE-UPPER")
def test_max_age_upper(mtasts_policy: PolicyFetch, discovery: Discovery) -> None:
    """max_age is at most 31 557 600 seconds (RFC 8461 §3.2)."""
    f = _fetched(mtasts_policy)
    age = parse_policy(f.body).max_age
    assert age is None or age <= MAX_AGE_LIMIT, (
        f"{f.url}: max_age {age} exceeds {MAX_AGE_LIMIT} s (about a year)"
    )
    _usable(discovery, f)


@pytest.mark.requirement("MTASTS-MAXAGE-LOWER")
def test_max_age_lower(mtasts_policy: PolicyFetch, discovery: Discovery) -> None:
    """max_age is long enough to protect between fetches: two weeks in enforce, a day otherwise."""
    p = _usable(discovery, mtasts_policy)
    age = p.max_age or 0
    floor = 1_209_600 if p.mode == "enforce" else 86_400
    if age >= floor:
        return
    assert not (p.mode == "enforce" and age < 86_400), (
        f"{mtasts_policy.url}: enforce mode with max_age {age} s (under a day): the protection "
        "lapses between fetches"
    )
    warn(f"{mtasts_policy.url}: max_age {age} s is below {floor} s for mode {p.mode}")


@pytest.mark.requirement("MTASTS-MODE-ENFORCE")
def test_mode_enforce(
    mtasts_policy: PolicyFetch, discovery: Discovery, profile: str, requirement: Requirement
) -> None:
    """The policy a sender would apply is in enforce mode: only then do senders refuse a
    downgrade. Two TXT records, a failed fetch or a malformed policy mean no policy at all."""
    eff = effective_policy(discovery, mtasts_policy)
    if eff.state == "unknown":
        inconclusive(f"{discovery.domain}: {eff.why}")
    if eff.policy is None:
        assert not requirement.param(profile, "required", False), (
            f"{discovery.domain}: no usable MTA-STS policy ({eff.why}); UK guidance requires "
            "one in enforce mode"
        )
        not_applicable(f"{discovery.domain}: no usable MTA-STS policy: {eff.why}")
    p = eff.policy
    assert p.mode != "none", f"{mtasts_policy.url}: mode none: the policy protects nothing"
    if p.mode == "testing":
        warn(
            f"{mtasts_policy.url}: mode testing: failures are reported, but mail still falls "
            "back to plaintext or an unverified certificate"
        )


@pytest.mark.requirement("MTASTS-MX-COVERAGE")
def test_mx_coverage(mtasts_policy: PolicyFetch, discovery: Discovery) -> None:
    """Every MX host matches an mx pattern of the policy (RFC 8461 §4.1)."""
    p = _usable(discovery, mtasts_policy)
    if p.mode == "none":
        not_applicable(f"{mtasts_policy.url}: mode none")
    table = [(h.name, covering(p.mx, h.name)) for h in discovery.hosts]
    missing = [name for name, pattern in table if pattern is None]
    assert not missing, (
        f"{mtasts_policy.url}: MX host(s) {', '.join(missing)} match no mx pattern "
        f"({', '.join(p.mx)}); in enforce mode senders refuse them. Match table: "
        + "; ".join(f"{n} -> {pat or 'none'}" for n, pat in table)
    )


@pytest.mark.requirement("MTASTS-WILDCARD-SCOPE")
def test_wildcard_scope(mtasts_policy: PolicyFetch, discovery: Discovery) -> None:
    """No ``*.<policy domain>`` pattern, which would accept any host under the domain."""
    p = _usable(discovery, mtasts_policy)
    broad = [m for m in p.mx if m.lower().rstrip(".") == f"*.{mtasts_policy.domain}"]
    if broad:
        warn(
            f"{mtasts_policy.url}: mx {broad[0]} lets any host under {mtasts_policy.domain} "
            "with a valid certificate receive the domain's mail"
        )


def _applies(policy: PolicyFetch, target: Target, d: Discovery) -> Policy:
    p = _usable(d, policy)
    if p.mode not in ("enforce", "testing") or not covering(p.mx, target.host or ""):
        not_applicable(
            f"{target.host}: not covered by an MTA-STS policy in testing or enforce mode"
        )
    return p


@pytest.mark.requirement("MTASTS-MX-CERT")
def test_mx_certificate_under_policy(
    mtasts_policy: PolicyFetch,
    discovery: Discovery,
    smtp: SmtpObservation,
    target: Target,
    mailtls_run: MailtlsRun,
) -> None:
    """Where the policy applies, the MX offers STARTTLS with a valid, trusted certificate for
    its name (RFC 8461 §4.2), or MTA-STS senders will not deliver (enforce)."""
    p = _applies(mtasts_policy, target, discovery)
    if smtp.failure is not None and smtp.tls is None and smtp.ehlo is None:
        inconclusive(f"{smtp.endpoint}: unreachable: {smtp.failure.message}")
    roots = certs.load_roots(mailtls_run.ca_bundle.read_bytes())
    problems = certchecks.authenticated_tls_problems(smtp, target.host or "", roots)
    assert not problems, f"{smtp.endpoint}: under MTA-STS mode {p.mode}: " + "; ".join(problems)


@pytest.mark.requirement("MTASTS-MX-TLS12")
def test_mx_tls12_under_policy(
    mtasts_policy: PolicyFetch, discovery: Discovery, tlsscan: TlsScan, target: Target
) -> None:
    """Where the policy applies, the MX negotiates TLS 1.2 or later (RFC 8461 §7.2)."""
    _applies(mtasts_policy, target, discovery)
    if tlsscan.skip_kind == "no_starttls":
        not_applicable(f"{tlsscan.endpoint}: STARTTLS is not offered (see MTASTS-MX-CERT)")
    if tlsscan.skipped:
        inconclusive(f"{tlsscan.endpoint}: {tlsscan.skipped}")
    assert not tlsscan.tls_unusable, f"{tlsscan.endpoint}: {tlsscan.stopped}"
    modern = [tlsscan.answer(q) for q in ("tls12", "tls13")]
    if any(a.value == "yes" for a in modern):
        return
    if any(a.value == "unknown" for a in modern):
        inconclusive(f"{tlsscan.endpoint}: TLS 1.2/1.3 support not tested: {modern[0].how}")
    raise AssertionError(f"{tlsscan.endpoint}: neither TLS 1.2 nor TLS 1.3 is accepted")
