"""The fixtures checks take: the run, the catalogue row, the target's settings, and each
observation the scheduler made (``smtp``, ``tlsscan``, ``tlsversions``, ``mtasts_policy``) or one
derived from them (``discovery``, ``submission_discovery``, ``dane``, ``mx_sessions``).

Each fixture records what it hands out as the row's evidence, and turns a missing or crashed
observation into an ``error`` verdict, never a fail. Registered by the plugin in
``pytest_configure`` (like pytest-html's and pytest-testinfra's fixture modules).
"""

from __future__ import annotations

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


@pytest.fixture
def mailtls_run(request: pytest.FixtureRequest) -> MailtlsRun:
    return request.config.stash[RUN]


def _record(request: pytest.FixtureRequest, obs: object) -> None:
    request.node.stash.setdefault(EVIDENCE, []).append(obs)


@pytest.fixture
def requirement(request: pytest.FixtureRequest) -> requirements.Requirement:
    """The catalogue row the check asserts (its per-profile parameters, rule and severity)."""
    marker = request.node.get_closest_marker("requirement")
    assert marker is not None, f"{request.node.nodeid}: no @pytest.mark.requirement"
    return requirements.get(marker.args[0])


@pytest.fixture
def domain_settings(target: Target, mailtls_run: MailtlsRun) -> Domain:
    """The inventory entry of the target's domain."""
    return mailtls_run.domain(target.domain)


@pytest.fixture
def profile(target: Target, mailtls_run: MailtlsRun) -> str:
    """The verdict profile for this target's domain (inventory setting, else --profile)."""
    return mailtls_run.profile_for(target.domain)


@pytest.fixture
def discovery(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> Discovery:
    """MX discovery of the target's domain, as the resolver answered it."""
    found = mailtls_run.discover()[target.domain]
    _record(request, found)
    return found


@pytest.fixture
def submission_discovery(
    request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun
) -> SubmissionDiscovery:
    """The domain's submission hosts (inventory and SRV), as the resolver answered."""
    found = mailtls_run.discover_submission()[target.domain]
    _record(request, found)
    return found


def _available(request: pytest.FixtureRequest, target: Target, state: MailtlsRun) -> None:
    if target.unavailable is None:
        return
    if target.kind == "submission":
        _record(request, state.discover_submission()[target.domain])
    else:
        _record(request, state.discover()[target.domain])
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


def _per_name_untested(request: pytest.FixtureRequest, sni: SniProbe | None, host: str) -> None:
    """A certificate row of a name whose certificate the shared session cannot answer."""
    marker = request.node.get_closest_marker("requirement")
    why = sni.untested(host) if sni is not None else None
    if why and marker is not None and str(marker.args[0]).startswith(PER_NAME_PREFIXES):
        inconclusive(why)


def _made(request: pytest.FixtureRequest, name: str, obs: _O | ProbeCrash | None, where: str) -> _O:
    """The observation, recorded as evidence; none, or a crashed probe, is an error verdict."""
    if obs is None:
        inconclusive(f"no {name} observation was made for {where} (internal scheduling error)")
    _record(request, obs)
    if isinstance(obs, ProbeCrash):
        inconclusive(obs.message)
    return obs


def _observation(
    request: pytest.FixtureRequest, kind: ProbeKind[Any, _O], target: Target, state: MailtlsRun
) -> _O:
    _available(request, target, state)
    return _made(request, kind.fixture, kind.lookup(state.observations, target), target.id)


@pytest.fixture
def smtp(
    request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun
) -> SmtpObservation:
    """The SMTP session with the target (banner, EHLO, STARTTLS, TLS, EHLO, QUIT)."""
    _available(request, target, mailtls_run)
    obs, sni = _session(mailtls_run, target)
    if sni is not None:
        _record(request, sni)
        _per_name_untested(request, sni, target.host or "")
    return _made(request, SMTP.fixture, obs, target.id)


@pytest.fixture
def mtasts_policy(
    request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun
) -> PolicyFetch:
    """The domain's MTA-STS policy as fetched over HTTPS (only when its TXT record exists)."""
    return _observation(request, MTASTS_POLICY, target, mailtls_run)


@pytest.fixture
def dane(
    request: pytest.FixtureRequest, target: Target, discovery: Discovery, mailtls_run: MailtlsRun
) -> DaneAssessment:
    """The MX host's TLSA records, matched against the chain its SMTP session served (when a
    check also asks for the ``smtp`` fixture, so that the session was made): no new connection."""
    _available(request, target, mailtls_run)
    host = next((h for h in discovery.hosts if h.name == target.host), None)
    if host is None:
        inconclusive(f"{target.id}: MX host {target.host} is not in the discovery (internal error)")
    session, sni = _session(mailtls_run, target)
    _per_name_untested(request, sni, target.host or "")
    chain = session.tls.chain_der if isinstance(session, SmtpObservation) and session.tls else ()
    found = assess(host, chain)
    _record(request, found)
    return found


@pytest.fixture
def mx_sessions(
    request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun
) -> dict[tuple[str, str], SmtpObservation | ProbeCrash | None]:
    """The SMTP session of every address of every MX of the target's domain, by (host, ip):
    an SmtpObservation, a ProbeCrash, or None where the address is unknown."""
    found: dict[tuple[str, str], SmtpObservation | ProbeCrash | None] = {}
    for t in mailtls_run.targets("mx"):
        if t.domain != target.domain or t.host is None or t.ip is None:
            continue
        obs, _sni = _session(mailtls_run, t)
        found[(t.host, t.ip)] = obs
        if obs is not None:
            _record(request, obs)
    return found


@pytest.fixture
def tlsscan(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> TlsScan:
    """The hello probes of the target's address: versions, suites and groups it accepts."""
    return _observation(request, TLSSCAN, target, mailtls_run)


@pytest.fixture
def tlsversions(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> TlsScan:
    """Hello probes of the legacy versions only (SSL 2.0 to TLS 1.1), for submission ports."""
    return _observation(request, TLSVERSIONS, target, mailtls_run)
