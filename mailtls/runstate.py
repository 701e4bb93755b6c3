"""The state of one mailtls run: settings from the command line, inventory, discoveries,
observations and per-test results. Created in ``pytest_configure``; read by fixtures and hooks."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import socket
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import certifi
import pytest

from mailtls import discovery as discovery_mod
from mailtls import gate
from mailtls import shard as shard_mod
from mailtls.inventory import Domain, Inventory, load_inventory
from mailtls.observations import Discovery, SubmissionDiscovery
from mailtls.probes import senderauth
from mailtls.probes.dns import DnsClient, ResolverAddress, parse_resolver
from mailtls.probes.smtp import SmtpSettings
from mailtls.results import Result
from mailtls.targets import Target, domain_target, mx_targets, submission_targets

RUN = pytest.StashKey["MailtlsRun"]()
DNS_WORKERS = 48  # lookups in flight at once (see MailtlsRun.dns_workers)
EVIDENCE = pytest.StashKey[list[object]]()  # the observations one test item used


class SettingsError(Exception):
    """A bad command-line value; the plugin reports it as a usage error."""


def _baseline(path: str | None) -> dict[gate.Key, str] | None:
    if not path:
        return None
    try:
        return gate.load_baseline(Path(path))
    except gate.BaselineError as exc:
        raise SettingsError(str(exc)) from None


@dataclass
class MailtlsRun:
    inventory: Inventory | None
    resolver: ResolverAddress
    ca_bundle: Path
    profile: str
    timeout: float
    concurrency: int
    ehlo_name: str
    max_connections: int = 10
    strict: bool = False
    allow_errors: bool = False
    baseline: dict[gate.Key, str] | None = None
    gate: gate.GateDecision | None = None
    evidence_json: Path | None = None
    started: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    )
    finished: str | None = None
    discoveries: dict[str, Discovery] | None = None
    submission_discoveries: dict[str, SubmissionDiscovery] | None = None
    sender_auths: dict[str, senderauth.SenderAuth | str] | None = None
    observations: dict[tuple[str, Hashable], object] = field(default_factory=dict)
    results: dict[str, Result] = field(default_factory=dict)
    probing_seconds: float = 0.0
    shard: tuple[int, int] | None = None  # --shard=K/N
    shard_balance: bool = False
    shard_plan: shard_mod.ShardPlan | None = None
    full_inventory: Inventory | None = None  # the whole inventory when running one shard
    baseline_path: Path | None = None
    rows_per_item: int | None = None  # --rows-per-item; None: the auto rule (mailtls.batch)
    _domain_index: tuple[Inventory, dict[str, Domain]] | None = field(default=None, repr=False)
    _targets: dict[tuple[int, str], list[Target]] = field(default_factory=dict, repr=False)
    _by_domain: dict[tuple[int, str], dict[str, list[Target]]] = field(
        default_factory=dict, repr=False
    )
    #: Values derived from observations once and shared by the rows that use them (so that a
    #: DANE assessment of one host and chain is one object, one piece of evidence).
    derived: dict[Hashable, object] = field(default_factory=dict, repr=False)

    @classmethod
    def from_options(cls, opt: Any) -> MailtlsRun:
        inventory = load_inventory(opt.mailtls_inventory) if opt.mailtls_inventory else None
        try:
            resolver = parse_resolver(opt.mailtls_resolver)
        except ValueError as exc:
            raise SettingsError(str(exc)) from None
        ca_bundle = Path(opt.mailtls_ca_bundle or certifi.where())
        if not ca_bundle.is_file():
            raise SettingsError(
                f"--ca-bundle {ca_bundle}: no such file (expected a PEM file of trusted roots)"
            )
        if opt.mailtls_timeout <= 0:
            raise SettingsError("--timeout must be a positive number of seconds")
        if opt.mailtls_concurrency < 1:
            raise SettingsError("--concurrency must be at least 1")
        if opt.mailtls_max_connections < 2:
            raise SettingsError(
                "--max-connections must be at least 2 (the SMTP session and one hello probe)"
            )
        try:
            shard = shard_mod.parse_spec(opt.mailtls_shard) if opt.mailtls_shard else None
        except shard_mod.ShardError as exc:
            raise SettingsError(str(exc)) from None
        if opt.mailtls_shard_balance and shard is None:
            raise SettingsError("--shard-balance needs --shard=K/N")
        rows_per_item = getattr(opt, "mailtls_rows_per_item", None)
        if rows_per_item is not None and rows_per_item < 1:
            raise SettingsError("--rows-per-item must be at least 1")
        return cls(
            rows_per_item=rows_per_item,
            shard=shard,
            shard_balance=bool(opt.mailtls_shard_balance),
            baseline_path=Path(opt.mailtls_baseline) if opt.mailtls_baseline else None,
            inventory=inventory,
            resolver=resolver,
            ca_bundle=ca_bundle.resolve(),
            profile=opt.mailtls_profile,
            timeout=float(opt.mailtls_timeout),
            concurrency=int(opt.mailtls_concurrency),
            max_connections=int(opt.mailtls_max_connections),
            ehlo_name=opt.mailtls_ehlo_name or socket.getfqdn() or "localhost",
            strict=bool(getattr(opt, "strict", False)),
            allow_errors=bool(opt.mailtls_allow_errors),
            baseline=_baseline(opt.mailtls_baseline),
            evidence_json=Path(opt.mailtls_evidence_json) if opt.mailtls_evidence_json else None,
        )

    @functools.cached_property
    def dns(self) -> DnsClient:
        """One client for the run, so that a resolver that stopped answering is asked no more."""
        return DnsClient(self.resolver, self.timeout)

    @property
    def smtp_settings(self) -> SmtpSettings:
        return SmtpSettings(
            ehlo_name=self.ehlo_name, timeout=self.timeout, retry_pause=min(2.0, self.timeout)
        )

    def apply_shard(self) -> None:
        """Keep only this shard's domains. Grouping them needs every domain's MX addresses (not
        its other records: those are looked up for this shard's domains only)."""
        if self.shard is None or self.inventory is None or self.shard_plan is not None:
            return
        names = [d.name for d in self.inventory.domains]
        where = discovery_mod.discover_all(self.dns, names, self.dns_workers, addresses_only=True)
        self.shard_plan = shard_mod.plan(names, where, *self.shard, self.shard_balance)
        keep = set(self.shard_plan.domains)
        self.full_inventory = self.inventory
        self.inventory = dataclasses.replace(
            self.inventory, domains=tuple(d for d in self.inventory.domains if d.name in keep)
        )

    def domain(self, name: str) -> Domain:
        assert self.inventory is not None
        index = self._domain_index
        if index is None or index[0] is not self.inventory:  # a dict, not a scan per row
            index = (self.inventory, {d.name: d for d in self.inventory.domains})
            self._domain_index = index
        return index[1][name]

    def profile_for(self, domain: str) -> str:
        return self.domain(domain).profile or self.profile

    def discover(self) -> dict[str, Discovery]:
        if self.discoveries is None:
            assert self.inventory is not None
            names = [d.name for d in self.inventory.domains]
            self.discoveries = discovery_mod.discover_all(self.dns, names, self.dns_workers)
        return self.discoveries

    def discover_submission(self) -> dict[str, SubmissionDiscovery]:
        """Submission hosts of every domain; only looked up when a submission check is selected."""
        if self.submission_discoveries is None:
            assert self.inventory is not None
            listed = {d.name: d.submission for d in self.inventory.domains}
            self.submission_discoveries = discovery_mod.discover_submission_all(
                self.dns, listed, self.dns_workers
            )
        return self.submission_discoveries

    def sender_auth(self) -> dict[str, senderauth.SenderAuth | str]:
        """SPF, DKIM and DMARC lookups of every domain; only made when such a check runs. A parked
        domain (``sends_mail: false``) gets no DKIM lookups: its DKIM rows are not applicable."""
        if self.sender_auths is None:
            assert self.inventory is not None
            wanted = {d.name: d.dkim_selectors if d.sends_mail else () for d in self.inventory}
            self.sender_auths = senderauth.lookup_all(self.dns, wanted, self.dns_workers)
        return self.sender_auths

    @property
    def dns_workers(self) -> int:
        """Lookups in flight at once: questions to one resolver, not connections to mail
        servers (those are bounded per address by the scheduler and the budget)."""
        return max(DNS_WORKERS, self.concurrency)

    def targets(self, scope: str) -> list[Target]:
        """The targets of a scope, in inventory order (made once per inventory and scope)."""
        assert self.inventory is not None
        key = (id(self.inventory), scope)
        if key not in self._targets:
            self._targets[key] = self._make_targets(scope)
        return self._targets[key]

    def domain_targets(self, scope: str, domain: str) -> list[Target]:
        """The targets of one domain in a scope."""
        key = (id(self.inventory), scope)
        if key not in self._by_domain:
            by_domain: dict[str, list[Target]] = {}
            for t in self.targets(scope):
                by_domain.setdefault(t.domain, []).append(t)
            self._by_domain[key] = by_domain
        return self._by_domain[key].get(domain, [])

    def _make_targets(self, scope: str) -> list[Target]:
        assert self.inventory is not None
        if scope == "domain":
            return [domain_target(d.name) for d in self.inventory.domains]
        if scope == "mx":
            found = self.discover()
            return [t for d in self.inventory.domains for t in mx_targets(found[d.name])]
        if scope == "submission":
            subs = self.discover_submission()
            return [t for d in self.inventory.domains for t in submission_targets(subs[d.name])]
        raise SettingsError(f"scope {scope!r} is not supported yet")

    def waiver_notes(self) -> list[str]:
        """Waivers that matched no result, and expired ones, so neither goes unnoticed."""
        if self.inventory is None:
            return []
        today = dt.datetime.now(dt.UTC).date()
        notes = []
        for dom in self.inventory.domains:
            for w in dom.waivers:
                hits = [
                    r
                    for r in self.results.values()
                    if r.domain == dom.name and w.covers(r.requirement, r.host)
                ]
                scope = f"{w.requirement} on {dom.name}" + (
                    f" ({', '.join(w.hosts)})" if w.hosts else ""
                )
                if w.expired(today):
                    notes.append(f"waiver for {scope} expired on {w.expires}: it no longer waives")
                elif not hits:
                    notes.append(f"waiver for {scope} matched no result in this run")
        return notes
