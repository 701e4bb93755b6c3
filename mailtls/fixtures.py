"""The values checks take, and the pytest fixtures that hand them to a check's own test item.

The run, the catalogue row, the target's settings, and each observation the scheduler made
(``smtp``, ``tlsscan``, ``tlsversions``, ``mtasts_policy``) or one derived from them
(``discovery``, ``submission_discovery``, ``dane``, ``mx_sessions``). Each is a provider of a
:class:`mailtls.rows.Row`: it records what it hands out as the row's evidence, and turns a
missing or crashed observation into an ``error`` verdict, never a fail. A batch item
(:mod:`mailtls.batch`) calls the same providers. Registered by the plugin in
``pytest_configure`` (like pytest-html's and pytest-testinfra's fixture modules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from mailtls import requirements
from mailtls.dane import DaneAssessment, assess
from mailtls.inventory import Domain
from mailtls.observations import (
    Discovery,
    PolicyFetch,
    SmtpObservation,
    SubmissionDiscovery,
    TlsScan,
)
from mailtls.rows import Row, provider
from mailtls.runstate import EVIDENCE, RUN, MailtlsRun
from mailtls.scheduler import (
    MTASTS_POLICY,
    SMTP,
    SNI,
    TLSSCAN,
    TLSVERSIONS,
    ProbeCrash,
    ProbeKind,
)
from mailtls.sharing import PER_NAME_PREFIXES, SniProbe
from mailtls.targets import Target
from mailtls.verdicts import inconclusive, not_applicable

_O = TypeVar("_O")

ROW = pytest.StashKey[Row]()


def row_of(request: pytest.FixtureRequest) -> Row:
    """The row of a check's own test item (made once per item; its evidence is the item's)."""
    node: pytest.Item = request.node
    row = node.stash.get(ROW, None)
    if row is None:
        marker = node.get_closest_marker("requirement")
        assert marker is not None, f"{node.nodeid}: no @pytest.mark.requirement"
        callspec = getattr(node, "callspec", None)
        target = callspec.params.get("target") if callspec is not None else None
        assert isinstance(target, Target), f"{node.nodeid}: not parametrized with a target"
        evidence = node.stash.setdefault(EVIDENCE, [])
        row = Row(node.config.stash[RUN], requirements.get(marker.args[0]), target, evidence)
        node.stash[ROW] = row
    return row


def as_fixture(name: str, fn: Callable[[Row], Any]) -> Any:
    """The pytest fixture ``name``: the provider's value for the item's row."""

    def fixture(request: pytest.FixtureRequest, target: Target) -> Any:
        del target  # asked for so that pytest parametrizes the check's items by target
        return row_of(request).get(name)

    fixture.__name__ = fixture.__qualname__ = name
    fixture.__doc__ = fn.__doc__
    return pytest.fixture(name=name)(fixture)


@pytest.fixture
def mailtls_run(request: pytest.FixtureRequest) -> MailtlsRun:
    return request.config.stash[RUN]


@pytest.fixture
def requirement(request: pytest.FixtureRequest) -> requirements.Requirement:
    """The catalogue row the check asserts (its per-profile parameters, rule and severity)."""
    return row_of(request).requirement


@provider("domain_settings")
def provide_domain_settings(row: Row) -> Domain:
    """The inventory entry of the target's domain."""
    return row.state.domain(row.target.domain)


@provider("profile")
def provide_profile(row: Row) -> str:
    """The verdict profile for this target's domain (inventory setting, else --profile)."""
    return row.state.profile_for(row.target.domain)


@provider("discovery")
def provide_discovery(row: Row) -> Discovery:
    """MX discovery of the target's domain, as the resolver answered it."""
    found = row.state.discover()[row.target.domain]
    row.record(found)
    return found


@provider("submission_discovery")
def provide_submission_discovery(row: Row) -> SubmissionDiscovery:
    """The domain's submission hosts (inventory and SRV), as the resolver answered."""
    found = row.state.discover_submission()[row.target.domain]
    row.record(found)
    return found


def _available(row: Row) -> None:
    target, state = row.target, row.state
    if target.unavailable is None:
        return
    if target.kind == "submission":
        row.record(state.discover_submission()[target.domain])
    else:
        row.record(state.discover()[target.domain])
    if target.unavailable_verdict == "not_applicable":
        not_applicable(target.unavailable)
    inconclusive(target.unavailable)


def _session(
    state: MailtlsRun, target: Target
) -> tuple[SmtpObservation | ProbeCrash | None, SniProbe | None]:
    """The SMTP session for this name: its own SNI handshake where the shared address picks
    certificates by SNI and one was made, else the address's one session (mailtls.sharing)."""
    key = SMTP.key(target)
    if key is None:
        return None, None
    shared = SMTP.made(state.observations, key)
    sni = SNI.made(state.observations, key)
    if sni is not None and not isinstance(sni, ProbeCrash) and target.host:
        own = sni.session_for(target.host)
        return (own if own is not None else shared), sni
    return shared, None


def _per_name_untested(row: Row, sni: SniProbe | None) -> None:
    """A certificate row of a name whose certificate the shared session cannot answer."""
    why = sni.untested(row.target.host or "") if sni is not None else None
    if why and row.requirement.id.startswith(PER_NAME_PREFIXES):
        inconclusive(why)


def _made(row: Row, name: str, obs: _O | ProbeCrash | None) -> _O:
    """The observation, recorded as evidence; none, or a crashed probe, is an error verdict."""
    if obs is None:
        inconclusive(
            f"no {name} observation was made for {row.target.id} (internal scheduling error)"
        )
    row.record(obs)
    if isinstance(obs, ProbeCrash):
        inconclusive(obs.message)
    return obs


def _observation(row: Row, kind: ProbeKind[Any, _O]) -> _O:
    _available(row)
    return _made(row, kind.fixture, kind.lookup(row.state.observations, row.target))


@provider("smtp")
def provide_smtp(row: Row) -> SmtpObservation:
    """The SMTP session with the target (banner, EHLO, STARTTLS, TLS, EHLO, QUIT)."""
    _available(row)
    obs, sni = _session(row.state, row.target)
    if sni is not None:
        row.record(sni)
        _per_name_untested(row, sni)
    return _made(row, SMTP.fixture, obs)


@provider("mtasts_policy")
def provide_mtasts_policy(row: Row) -> PolicyFetch:
    """The domain's MTA-STS policy as fetched over HTTPS (only when its TXT record exists)."""
    return _observation(row, MTASTS_POLICY)


@provider("dane")
def provide_dane(row: Row) -> DaneAssessment:
    """The MX host's TLSA records, matched against the chain its SMTP session served (when a
    check also asks for the ``smtp`` fixture, so that the session was made): no new connection."""
    discovery: Discovery = row.get("discovery")
    _available(row)
    target = row.target
    host = next((h for h in discovery.hosts if h.name == target.host), None)
    if host is None:
        inconclusive(f"{target.id}: MX host {target.host} is not in the discovery (internal error)")
    session, sni = _session(row.state, target)
    _per_name_untested(row, sni)
    chain = session.tls.chain_der if isinstance(session, SmtpObservation) and session.tls else ()
    key = ("dane", target.domain, target.host, target.ip, chain)
    found = row.state.derived.get(key)
    if not isinstance(found, DaneAssessment):  # one assessment for every check of this host
        found = row.state.derived[key] = assess(host, chain)
    row.record(found)
    return found


@provider("mx_sessions")
def provide_mx_sessions(row: Row) -> dict[tuple[str, str], SmtpObservation | ProbeCrash | None]:
    """The SMTP session of every address of every MX of the target's domain, by (host, ip):
    an SmtpObservation, a ProbeCrash, or None where the address is unknown."""
    found: dict[tuple[str, str], SmtpObservation | ProbeCrash | None] = {}
    for t in row.state.domain_targets("mx", row.target.domain):
        if t.host is None or t.ip is None:
            continue
        obs, _sni = _session(row.state, t)
        found[(t.host, t.ip)] = obs
        if obs is not None:
            row.record(obs)
    return found


@provider("tlsscan")
def provide_tlsscan(row: Row) -> TlsScan:
    """The hello probes of the target's address: versions, suites and groups it accepts."""
    return _observation(row, TLSSCAN)


@provider("tlsversions")
def provide_tlsversions(row: Row) -> TlsScan:
    """Hello probes of the legacy versions only (SSL 2.0 to TLS 1.1), for submission ports."""
    return _observation(row, TLSVERSIONS)


domain_settings = as_fixture("domain_settings", provide_domain_settings)
profile = as_fixture("profile", provide_profile)
discovery = as_fixture("discovery", provide_discovery)
submission_discovery = as_fixture("submission_discovery", provide_submission_discovery)
smtp = as_fixture("smtp", provide_smtp)
mtasts_policy = as_fixture("mtasts_policy", provide_mtasts_policy)
dane = as_fixture("dane", provide_dane)
mx_sessions = as_fixture("mx_sessions", provide_mx_sessions)
tlsscan = as_fixture("tlsscan", provide_tlsscan)
tlsversions = as_fixture("tlsversions", provide_tlsversions)
