"""Test targets: what each parametrized check runs against.

One target per domain (domain scope), per (domain, MX host, IP) (mx scope) or per (domain,
submission host, IP, port 587 or 465) (submission scope). A domain whose discovery failed, or
that receives no mail or offers no submission, still yields a target that carries the reason, so
a domain never silently yields zero test items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mailtls.observations import Discovery, Endpoint, SubmissionDiscovery

TargetKind = Literal["domain", "mx", "submission"]
SUBMISSION_PORTS = (587, 465)  # STARTTLS (RFC 6409) and implicit TLS (RFC 8314 §3.3)
IMPLICIT_TLS_PORT = 465
_UNSAFE = re.compile(r"[^A-Za-z0-9._:-]")


@dataclass(frozen=True)
class Target:
    kind: TargetKind
    domain: str
    host: str | None = None
    ip: str | None = None
    port: int | None = None
    preference: int | None = None
    # When no probe can be made: the verdict every probe-based check gets, and why.
    unavailable: str | None = None
    unavailable_verdict: Literal["not_applicable", "error"] | None = None
    tag: str = ""  # id suffix for unavailable targets

    @property
    def id(self) -> str:
        parts = [self.domain]
        if self.host and self.host != self.domain:
            parts.append(self.host)
        elif self.kind != "domain" and self.host == self.domain:
            parts.append("implicit")
        if self.ip:
            parts.append(self.ip)
        if self.kind == "submission" and self.port is not None:
            parts.append(str(self.port))
        if self.tag:
            parts.append(self.tag)
        return _UNSAFE.sub("_", "-".join(parts))

    @property
    def implicit_tls(self) -> bool:
        """Submission on port 465 speaks TLS from the first byte (RFC 8314 §3.3)."""
        return self.kind == "submission" and self.port == IMPLICIT_TLS_PORT

    @property
    def endpoint(self) -> Endpoint:
        assert self.ip is not None and self.port is not None, "target has no address"
        return Endpoint(self.ip, self.port, self.host, self.implicit_tls)


def domain_target(domain: str) -> Target:
    return Target(kind="domain", domain=domain)


def mx_targets(discovery: Discovery, port: int = 25) -> list[Target]:
    d = discovery.domain
    if discovery.kind == "error":
        return [
            Target(
                "mx",
                d,
                unavailable=f"MX discovery failed: {discovery.error}",
                unavailable_verdict="error",
                tag="dns-error",
            )
        ]
    if discovery.kind == "null":
        return [
            Target(
                "mx",
                d,
                unavailable="null MX (RFC 7505): the domain declares it accepts no mail",
                unavailable_verdict="not_applicable",
                tag="null-mx",
            )
        ]
    if discovery.kind == "none":
        return [
            Target(
                "mx",
                d,
                unavailable="no MX and no A/AAAA records: the domain receives no mail",
                unavailable_verdict="not_applicable",
                tag="no-mail",
            )
        ]
    targets: list[Target] = []
    for host in discovery.hosts:
        if host.addresses:
            targets += [
                Target("mx", d, host.name, ip, port, host.preference) for ip in host.addresses
            ]
            continue
        failure = host.lookup_failure()
        if failure:
            targets.append(
                Target(
                    "mx",
                    d,
                    host.name,
                    preference=host.preference,
                    unavailable=f"addresses of MX host {host.name} unknown: {failure}",
                    unavailable_verdict="error",
                    tag="dns-error",
                )
            )
        else:
            targets.append(
                Target(
                    "mx",
                    d,
                    host.name,
                    preference=host.preference,
                    unavailable=f"MX host {host.name} has no A/AAAA records; senders skip it "
                    "(see MX-RESOLVE)",
                    unavailable_verdict="not_applicable",
                    tag="no-address",
                )
            )
    return targets


def _no_submission_reason(found: SubmissionDiscovery) -> str:
    declined = [
        f"{owner}.{found.domain}"
        for owner in ("_submission._tcp", "_submissions._tcp")
        if any(r.not_offered for r in found.records(owner))
    ]
    if declined:
        return (
            f"{found.domain} offers no message submission: SRV target '.' at "
            f"{' and '.join(declined)} (RFC 6186), and the inventory lists no submission host"
        )
    return (
        f"{found.domain}: no submission hosts (none under 'submission:' in the inventory, and no "
        f"_submission._tcp or _submissions._tcp SRV records)"
    )


def _unavailable(found: SubmissionDiscovery, host: str | None, reason: str, tag: str) -> Target:
    verdict: Literal["not_applicable", "error"] = "not_applicable" if tag == "none" else "error"
    return Target(
        "submission",
        found.domain,
        host,
        unavailable=reason,
        unavailable_verdict=verdict,
        tag=tag,
    )


def submission_targets(found: SubmissionDiscovery) -> list[Target]:
    """Every IP of every submission host, on 587 and 465; a failed SRV lookup is an error target
    of its own (the hosts it would have named are unknown), and a domain without submission hosts
    yields one not-applicable target saying why."""
    targets: list[Target] = []
    failure = found.srv_failure
    if failure:
        reason = f"submission SRV lookup failed, so hosts may be missing: {failure}"
        targets.append(_unavailable(found, None, reason, "dns-error"))
    for host in found.hosts:
        if host.addresses:
            targets += [
                Target("submission", found.domain, host.name, ip, port)
                for ip in host.addresses
                for port in SUBMISSION_PORTS
            ]
            continue
        why = host.lookup_failure() or "no A/AAAA records (NXDOMAIN or NODATA)"
        origin = ", ".join(host.sources)
        reason = f"submission host {host.name} (from {origin}) has no usable address: {why}"
        targets.append(_unavailable(found, host.name, reason, "no-address"))
    if not targets:
        targets.append(_unavailable(found, None, _no_submission_reason(found), "none"))
    return targets
