"""Probe planning and concurrent execution.

After collection the plugin asks which probes the *selected* tests need (from their fixture
names), deduplicates them (an address shared by several MX names and domains gets one SMTP
session and one hello scan per port: see ``mailtls.sharing``), and runs them: the probes of one
IP run one after another (the hello scan keeps at most two connections open), a bounded number
of IPs at once. Probes return immutable observations; a probe that crashes yields a ProbeCrash, which
checks report as ``error``.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from mailtls.observations import Discovery, Endpoint, PolicyFetch, SmtpObservation, TlsScan
from mailtls.probes.dns import DnsClient
from mailtls.probes.https import POLICY_PATH, fetch_policy
from mailtls.probes.smtp import SmtpSettings, probe_smtp
from mailtls.probes.tlsscan import DEFAULT_BUDGET, probe_tlsscan
from mailtls.sharing import SniProbe, address_key, probe_sni
from mailtls.targets import Target

Job = tuple[str, Hashable]


@dataclass(frozen=True)
class ProbeContext:
    smtp: SmtpSettings
    budget: int = DEFAULT_BUDGET  # connections per address for the whole suite
    dns: DnsClient | None = None  # for probes that resolve names themselves (MTA-STS host)
    ca_bundle: Path | None = None
    discoveries: Mapping[str, Discovery] = field(default_factory=dict)
    # Every name pointing at each address and port (sharing.address_names); the first is the SNI.
    names: Mapping[Endpoint, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeCrash:
    """A probe raised: a bug on our side, reported as an error verdict, never as a pass."""

    probe: str
    key: str
    message: str


KeyT = TypeVar("KeyT", bound=Hashable)
ObsT = TypeVar("ObsT")


@dataclass(frozen=True)
class ProbeKind(Generic[KeyT, ObsT]):
    """How one fixture's observation is keyed (``KeyT``) and produced (``ObsT``, or a ProbeCrash)."""

    fixture: str
    key: Callable[[Target], KeyT | None]
    ip: Callable[[KeyT], str]
    run: Callable[[KeyT, ProbeContext, dict[Job, object]], ObsT]
    observation: type[ObsT]  # what ``run`` returns
    after: str | None = None  # a probe whose observations of the same address this one reads
    order: int = 0  # probes of one address run by this order (dependencies first)

    def made(self, observations: Mapping[Job, object], key: KeyT) -> ObsT | ProbeCrash | None:
        """This probe's observation for ``key`` in a run's results: None where it was not
        made (never planned, or not an observation of this probe's type)."""
        found = observations.get((self.fixture, key))
        if isinstance(found, self.observation | ProbeCrash):
            return found
        return None

    def lookup(
        self, observations: Mapping[Job, object], target: Target
    ) -> ObsT | ProbeCrash | None:
        """This probe's observation for ``target`` (None where the target has no key)."""
        key = self.key(target)
        return None if key is None else self.made(observations, key)


def _ip(key: Endpoint) -> str:
    return key.ip


def _run_smtp(key: Endpoint, ctx: ProbeContext, earlier: dict[Job, object]) -> SmtpObservation:
    names = ctx.names.get(key, ())
    sni = names[0] if names else None
    return probe_smtp(Endpoint(key.ip, key.port, sni, key.implicit_tls), ctx.smtp)


def _run_sni(key: Endpoint, ctx: ProbeContext, earlier: dict[Job, object]) -> SniProbe:
    """After the session and the scan of a shared address, with what is left of its budget."""
    shared = earlier.get(("smtp", key))
    scans = [o for (n, k), o in earlier.items() if n in ("tlsscan", "tlsversions") and k == key]
    used = getattr(shared, "connections", 0) + sum(getattr(o, "connections", 0) for o in scans)
    return probe_sni(
        key,
        ctx.names.get(key, ()),
        shared if isinstance(shared, SmtpObservation) else None,
        ctx.budget - used,
        ctx.smtp,
    )


def _run_tlsscan(key: Endpoint, ctx: ProbeContext, earlier: dict[Job, object]) -> TlsScan:
    return _scan(key, ctx, earlier, versions_only=False)


def _run_tlsversions(key: Endpoint, ctx: ProbeContext, earlier: dict[Job, object]) -> TlsScan:
    return _scan(key, ctx, earlier, versions_only=True)


def _scan(
    key: Endpoint, ctx: ProbeContext, earlier: dict[Job, object], versions_only: bool
) -> TlsScan:
    sessions = [
        obs
        for (name, k), obs in earlier.items()
        if name == "smtp"
        and isinstance(k, Endpoint)
        and (k.ip, k.port) == (key.ip, key.port)
        and isinstance(obs, SmtpObservation)
    ]
    sessions.sort(key=lambda o: o.endpoint.host or "")
    host = sessions[0].endpoint.host if sessions else None  # the name sent as SNI
    endpoint = Endpoint(key.ip, key.port, host, key.implicit_tls)
    return probe_tlsscan(endpoint, ctx.smtp, sessions, ctx.budget, versions_only)


PolicyKey = tuple[str, str]  # ("mta-sts", domain)


def _policy_key(target: Target) -> PolicyKey | None:
    return ("mta-sts", target.domain)  # per domain, for domain and MX checks alike


def _policy_ip(key: PolicyKey) -> str:
    return f"mta-sts.{key[1]}"  # one fetch per policy host; its address is resolved in the probe


def _run_policy(key: PolicyKey, ctx: ProbeContext, earlier: dict[Job, object]) -> PolicyFetch:
    if ctx.dns is None or ctx.ca_bundle is None:
        raise ValueError("the MTA-STS policy fetch needs a resolver and a CA bundle")
    domain = key[1]
    found = ctx.discoveries.get(domain)
    skipped = None
    txt = found.mta_sts_txt if found is not None else None
    if found is not None and found.kind == "error" and found.mx.status != "nxdomain":
        # Discovery stopped at a failed MX lookup, so the TXT record was never asked for.
        return PolicyFetch(
            domain,
            f"mta-sts.{domain}",
            f"https://mta-sts.{domain}{POLICY_PATH}",
            found.mx.queried_at,
            dns=(found.mx,),
            failure_kind="resolver",
            failure=f"the domain's MX lookup failed, so its _mta-sts TXT was not asked: "
            f"{found.error}",
        )
    if txt is not None and txt.status in ("servfail", "timeout", "error", "refused"):
        # We cannot tell whether senders would fetch a policy: an error, not "no policy".
        return PolicyFetch(
            domain,
            f"mta-sts.{domain}",
            f"https://mta-sts.{domain}{POLICY_PATH}",
            txt.queried_at,
            dns=(txt,),
            failure_kind="resolver",
            failure=f"the _mta-sts TXT lookup failed: {txt.describe()}",
        )
    if found is None or not found.mta_sts_advertised:
        # No STSv1 TXT record: senders never fetch a policy, and neither do we.
        skipped = f"no v=STSv1 TXT record at _mta-sts.{domain}"
    return fetch_policy(domain, ctx.dns, ctx.ca_bundle, ctx.smtp.timeout, skipped)


# One SMTP session and one hello scan per address and port, whatever names point at it.
MTASTS_POLICY: ProbeKind[PolicyKey, PolicyFetch] = ProbeKind(
    "mtasts_policy", _policy_key, _policy_ip, _run_policy, PolicyFetch
)
SMTP: ProbeKind[Endpoint, SmtpObservation] = ProbeKind(
    "smtp", address_key, _ip, _run_smtp, SmtpObservation
)
# The full scan for MX addresses; the submission checks need the versions only.
TLSSCAN: ProbeKind[Endpoint, TlsScan] = ProbeKind(
    "tlsscan", address_key, _ip, _run_tlsscan, TlsScan, after="smtp", order=1
)
TLSVERSIONS: ProbeKind[Endpoint, TlsScan] = ProbeKind(
    "tlsversions", address_key, _ip, _run_tlsversions, TlsScan, after="smtp", order=1
)
# Not a fixture: planned with the session of an address that several names share.
SNI: ProbeKind[Endpoint, SniProbe] = ProbeKind(
    "sni", address_key, _ip, _run_sni, SniProbe, after="smtp", order=2
)
#: Every probe by name, for planning and running (each entry's own type says its key and
#: observation; callers that know which probe they want use the constants above).
PROBES: dict[str, ProbeKind[Any, Any]] = {
    k.fixture: k for k in (MTASTS_POLICY, SMTP, TLSSCAN, TLSVERSIONS, SNI)
}


def plan(
    needs: Iterable[tuple[str, Target]],
    names: Mapping[Endpoint, tuple[str, ...]] | None = None,
) -> dict[Job, str]:
    """(probe name, key) -> IP for every probe the selected tests need; with ``names``, an SNI
    test for every SMTP session of an address that more than one name points at."""
    jobs: dict[tuple[str, Hashable], str] = {}
    for fixture, target in needs:
        kind = PROBES.get(fixture)
        if kind is None:
            continue
        key = kind.key(target)
        if key is None:
            continue
        jobs[(fixture, key)] = kind.ip(key)
        if kind.after is not None:  # e.g. the hello scan needs the SMTP session first
            dep = PROBES[kind.after]
            dep_key = dep.key(target)
            if dep_key is not None:
                jobs[(kind.after, dep_key)] = dep.ip(dep_key)
    for (name, key), ip in list(jobs.items()):
        if name == "smtp" and isinstance(key, Endpoint) and len((names or {}).get(key, ())) > 1:
            jobs[("sni", key)] = ip
    return jobs


def run(
    jobs: dict[Job, str],
    ctx: ProbeContext,
    concurrency: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[tuple[str, Hashable], object]:
    by_ip: dict[str, list[Job]] = defaultdict(list)
    for job, ip in jobs.items():
        by_ip[ip].append(job)

    def one_ip(job_list: list[Job]) -> list[tuple[Job, object]]:
        done: dict[Job, object] = {}
        # Probes of one address run one after another (dependencies first); a probe may itself
        # open a second connection in parallel (the hello scan), never more.
        for name, key in sorted(job_list, key=lambda j: PROBES[j[0]].order):
            try:
                obs = PROBES[name].run(key, ctx, done)
            except Exception as exc:
                tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                obs = ProbeCrash(name, str(key), f"internal error in the {name} probe: {tb}")
            done[(name, key)] = obs
        return list(done.items())

    results: dict[Job, object] = {}
    total = len(jobs)
    progress(0, total)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(one_ip, lst) for lst in by_ip.values()]
        for fut in as_completed(futures):
            results.update(fut.result())
            progress(len(results), total)
    return results
