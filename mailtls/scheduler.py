"""Probe planning and concurrent execution.

After collection the plugin asks which probes the *selected* tests need (from their fixture
names), deduplicates them (an IP shared by several domains is probed once), and runs them:
one worker per IP at a time (so at most one connection per IP is open), a bounded number of IPs
at once. Probes return immutable observations; a probe that crashes yields a ProbeCrash, which
checks report as ``error``.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

from mailtls.observations import Endpoint
from mailtls.probes.legacy_tls import probe_legacy_tls
from mailtls.probes.smtp import SmtpSettings, probe_smtp
from mailtls.targets import Target


@dataclass(frozen=True)
class ProbeContext:
    smtp: SmtpSettings


@dataclass(frozen=True)
class ProbeCrash:
    """A probe raised: a bug on our side, reported as an error verdict, never as a pass."""

    probe: str
    key: str
    message: str


@dataclass(frozen=True)
class ProbeKind:
    """How one fixture's observation is keyed and produced."""

    fixture: str
    key: Callable[[Target], Hashable | None]
    ip: Callable[[Hashable], str]
    run: Callable[[Hashable, ProbeContext], object]


def _endpoint_key(target: Target) -> Hashable | None:
    """(ip, port, host, implicit TLS): one probe per endpoint, whichever domains share it."""
    if target.unavailable or target.ip is None or target.port is None:
        return None
    return target.endpoint


def _endpoint_ip(key: Hashable) -> str:
    assert isinstance(key, Endpoint)
    return key.ip


def _run_smtp(key: Hashable, ctx: ProbeContext) -> object:
    assert isinstance(key, Endpoint)
    return probe_smtp(key, ctx.smtp)


def _run_legacy_tls(key: Hashable, ctx: ProbeContext) -> object:
    assert isinstance(key, Endpoint)
    return probe_legacy_tls(key, ctx.smtp)


PROBES: dict[str, ProbeKind] = {
    "smtp": ProbeKind("smtp", _endpoint_key, _endpoint_ip, _run_smtp),
    "legacy_tls": ProbeKind("legacy_tls", _endpoint_key, _endpoint_ip, _run_legacy_tls),
}


def plan(needs: Iterable[tuple[str, Target]]) -> dict[tuple[str, Hashable], str]:
    """(probe name, key) -> IP for every probe the selected tests need."""
    jobs: dict[tuple[str, Hashable], str] = {}
    for fixture, target in needs:
        kind = PROBES.get(fixture)
        if kind is None:
            continue
        key = kind.key(target)
        if key is not None:
            jobs[(fixture, key)] = kind.ip(key)
    return jobs


def run(
    jobs: dict[tuple[str, Hashable], str],
    ctx: ProbeContext,
    concurrency: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[tuple[str, Hashable], object]:
    by_ip: dict[str, list[tuple[str, Hashable]]] = defaultdict(list)
    for job, ip in jobs.items():
        by_ip[ip].append(job)

    def one_ip(job_list: list[tuple[str, Hashable]]) -> list[tuple[tuple[str, Hashable], object]]:
        out = []
        for name, key in job_list:  # sequential: one connection at a time per IP
            try:
                obs = PROBES[name].run(key, ctx)
            except Exception as exc:
                tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
                obs = ProbeCrash(name, str(key), f"internal error in the {name} probe: {tb}")
            out.append(((name, key), obs))
        return out

    results: dict[tuple[str, Hashable], object] = {}
    total = len(jobs)
    progress(0, total)
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(one_ip, lst) for lst in by_ip.values()]
        for fut in as_completed(futures):
            results.update(fut.result())
            progress(len(results), total)
    return results
