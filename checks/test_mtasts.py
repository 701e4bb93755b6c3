"""The MTA-STS policy (RFC 8461): fetched over HTTPS exactly as a sending MTA would, then judged.

A sender that knows MTA-STS fetches https://mta-sts.<domain>/.well-known/mta-sts.txt after it
sees the ``v=STSv1`` TXT record. It does not follow redirects, insists on HTTP 200 and a valid
certificate for mta-sts.<domain>, and then delivers only to MX hosts the policy names, over
TLS 1.2+ with a valid certificate (in enforce mode). Every rule below is one of those steps.
"""

from __future__ import annotations

import pytest

from mailtls import certchecks, certs
from mailtls.mtasts import MAX_AGE_LIMIT, Policy, covering, parse_policy
from mailtls.observations import Discovery, PolicyFetch, SmtpObservation, TlsScan
from mailtls.probes.https import MAX_POLICY_BYTES
from mailtls.requirements import Requirement
from mailtls.runstate import MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import inconclusive, not_applicable, warn


def _fetched(policy: PolicyFetch) -> PolicyFetch:
    """The HTTP answer, or the verdict that there is none to judge."""
    if policy.skipped:
        not_applicable(f"{policy.domain}: {policy.skipped}")
    if policy.failure_kind == "resolver":
        inconclusive(f"{policy.host}: our resolver failed: {policy.failure}")
    if policy.status != 200:
        not_applicable(f"{policy.url}: no policy was fetched (see MTASTS-FETCH)")
    return policy


def _policy(fetch: PolicyFetch) -> Policy:
    p = parse_policy(_fetched(fetch).body)
    if not p.valid:
        not_applicable(f"{fetch.url}: no parsable policy (see MTASTS-POLICY-SYNTAX)")
    return p


@pytest.mark.requirement("MTASTS-FETCH")
def test_policy_fetched(mtasts_policy: PolicyFetch) -> None:
    """The policy host answers HTTP 200 to the first GET (RFC 8461 §3.3: no redirects)."""
    f = mtasts_policy
    if f.skipped:
        not_applicable(f"{f.domain}: {f.skipped}")
    if f.failure_kind == "resolver":
        inconclusive(f"{f.host}: our resolver failed, so the fetch was not attempted: {f.failure}")
    assert f.status is not None, f"{f.url}: no HTTP answer from {f.address or f.host}: {f.failure}"
    if 300 <= f.status < 400:
        raise AssertionError(
            f"{f.url}: HTTP {f.status} {f.reason} to {f.header('Location') or '(no Location)'}; "
            "senders must not follow redirects (RFC 8461 §3.3), so they see no policy"
        )
    assert f.status == 200, f"{f.url}: HTTP {f.status} {f.reason}; senders see no policy"


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
    if f.status is None:
        inconclusive(f"{f.host}: the policy host could not be reached: {f.failure}")
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
    media = (ctype or "").split(";", 1)[0].strip().lower()
    assert media == "text/plain", (
        f"{f.url}: Content-Type is {ctype or '(missing)'}, not text/plain; senders reject it"
    )


@pytest.mark.requirement("MTASTS-SIZE")
def test_policy_size(mtasts_policy: PolicyFetch) -> None:
    """The policy fits in 64 KiB, the most senders are asked to read (RFC 8461 §3.3)."""
    f = _fetched(mtasts_policy)
    if f.truncated:
        warn(
            f"{f.url}: the body is larger than {MAX_POLICY_BYTES} bytes; we stopped reading "
            "there, and senders may too"
        )


@pytest.mark.requirement("MTASTS-POLICY-SYNTAX")
def test_policy_syntax(mtasts_policy: PolicyFetch) -> None:
    """version: STSv1, mode, max_age and (unless mode is none) mx lines (RFC 8461 §3.2)."""
    f = _fetched(mtasts_policy)
    p = parse_policy(f.body)
    assert p.valid, f"{f.url}: the policy is not well formed: " + "; ".join(p.errors)


@pytest.mark.requirement("MTASTS-MAXAGE-UPPER")
def test_max_age_upper(mtasts_policy: PolicyFetch) -> None:
    """max_age is at most 31 557 600 seconds (RFC 8461 §3.2)."""
    p = _policy(mtasts_policy)
    assert p.max_age is not None and p.max_age <= MAX_AGE_LIMIT, (
        f"{mtasts_policy.url}: max_age {p.max_age} exceeds {MAX_AGE_LIMIT} s (about a year)"
    )


@pytest.mark.requirement("MTASTS-MAXAGE-LOWER")
def test_max_age_lower(mtasts_policy: PolicyFetch) -> None:
    """max_age is long enough to protect between fetches: two weeks in enforce, a day otherwise."""
    p = _policy(mtasts_policy)
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
def test_mode_enforce(mtasts_policy: PolicyFetch, profile: str, requirement: Requirement) -> None:
    """The policy is in enforce mode: only then do senders refuse a downgrade."""
    if mtasts_policy.skipped:
        assert not requirement.param(profile, "required", False), (
            f"{mtasts_policy.domain}: no MTA-STS policy; UK guidance requires one (enforce)"
        )
        not_applicable(f"{mtasts_policy.domain}: {mtasts_policy.skipped}")
    p = _policy(mtasts_policy)
    assert p.mode != "none", f"{mtasts_policy.url}: mode none: the policy protects nothing"
    if p.mode == "testing":
        warn(
            f"{mtasts_policy.url}: mode testing: failures are reported, but mail still falls "
            "back to plaintext or an unverified certificate"
        )


@pytest.mark.requirement("MTASTS-MX-COVERAGE")
def test_mx_coverage(mtasts_policy: PolicyFetch, discovery: Discovery) -> None:
    """Every MX host matches an mx pattern of the policy (RFC 8461 §4.1)."""
    p = _policy(mtasts_policy)
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
def test_wildcard_scope(mtasts_policy: PolicyFetch) -> None:
    """No ``*.<policy domain>`` pattern, which would accept any host under the domain."""
    p = _policy(mtasts_policy)
    broad = [m for m in p.mx if m.lower().rstrip(".") == f"*.{mtasts_policy.domain}"]
    if broad:
        warn(
            f"{mtasts_policy.url}: mx {broad[0]} lets any host under {mtasts_policy.domain} "
            "with a valid certificate receive the domain's mail"
        )


def _applies(policy: PolicyFetch, target: Target) -> Policy:
    p = _policy(policy)
    if p.mode not in ("enforce", "testing") or not covering(p.mx, target.host or ""):
        not_applicable(
            f"{target.host}: not covered by an MTA-STS policy in testing or enforce mode"
        )
    return p


@pytest.mark.requirement("MTASTS-MX-CERT")
def test_mx_certificate_under_policy(
    mtasts_policy: PolicyFetch, smtp: SmtpObservation, target: Target, mailtls_run: MailtlsRun
) -> None:
    """Where the policy applies, the MX offers STARTTLS with a valid, trusted certificate for
    its name (RFC 8461 §4.2), or MTA-STS senders will not deliver (enforce)."""
    p = _applies(mtasts_policy, target)
    if smtp.failure is not None and smtp.tls is None and smtp.ehlo is None:
        inconclusive(f"{smtp.endpoint}: unreachable: {smtp.failure.message}")
    roots = certs.load_roots(mailtls_run.ca_bundle.read_bytes())
    problems = certchecks.authenticated_tls_problems(smtp, target.host or "", roots)
    assert not problems, f"{smtp.endpoint}: under MTA-STS mode {p.mode}: " + "; ".join(problems)


@pytest.mark.requirement("MTASTS-MX-TLS12")
def test_mx_tls12_under_policy(
    mtasts_policy: PolicyFetch, tlsscan: TlsScan, target: Target
) -> None:
    """Where the policy applies, the MX negotiates TLS 1.2 or later (RFC 8461 §7.2)."""
    _applies(mtasts_policy, target)
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
