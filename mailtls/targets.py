"""Test targets: what each parametrized check runs against.

One target per domain (domain scope) or per (domain, MX host, IP) (mx scope). A domain whose
discovery failed, or that receives no mail, still yields a target that carries the reason, so a
domain never silently yields zero test items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mailtls.observations import Discovery, Endpoint

TargetKind = Literal["domain", "mx", "submission"]
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
        if self.tag:
            parts.append(self.tag)
        return _UNSAFE.sub("_", "-".join(parts))

    @property
    def endpoint(self) -> Endpoint:
        assert self.ip is not None and self.port is not None, "target has no address"
        return Endpoint(self.ip, self.port, self.host)


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
