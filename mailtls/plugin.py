"""pytest glue: options, parametrization, probe scheduling, verdicts, evidence and the report.

The plugin reports and never judges: checks (``checks/``) assert, probes (``mailtls.probes``)
observe, and this module connects them.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Generator
from typing import Any

import pytest

from mailtls import __version__, requirements
from mailtls import report as report_plugin
from mailtls.authfixtures import dkim, dmarc, spf  # noqa: F401 (fixtures registered here)
from mailtls.checkpaths import collect_installed_checks
from mailtls.dane import DaneAssessment, assess
from mailtls.inventory import Domain, InventoryError
from mailtls.observations import (
    Discovery,
    PolicyFetch,
    SmtpObservation,
    SubmissionDiscovery,
    TlsScan,
)
from mailtls.probes.tlsscan import DEFAULT_BUDGET
from mailtls.results import Result, Waiver
from mailtls.runstate import EVIDENCE, RUN, MailtlsRun, SettingsError
from mailtls.scheduler import PROBES, ProbeContext, ProbeCrash, plan, run
from mailtls.sharing import PER_NAME_PREFIXES, SniProbe, address_names
from mailtls.targets import Target
from mailtls.verdicts import (
    NA_PREFIX,
    Advisory,
    Inconclusive,
    Verdict,
    inconclusive,
    not_applicable,
    observed,
)

# ---------------------------------------------------------------- options and configuration


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("mailtls", "mailtls: email transport security compliance")
    g.addoption(
        "--inventory",
        dest="mailtls_inventory",
        metavar="PATH",
        help="YAML inventory of the domains to audit (required to run the checks)",
    )
    g.addoption(
        "--resolver",
        dest="mailtls_resolver",
        metavar="IP[:PORT]",
        help="validating DNS resolver for every lookup (default: the system's first resolver)",
    )
    g.addoption(
        "--ca-bundle",
        dest="mailtls_ca_bundle",
        metavar="PEM",
        help="trusted roots for every certificate validation (default: certifi's Mozilla roots)",
    )
    g.addoption(
        "--profile",
        dest="mailtls_profile",
        default="nist",
        choices=requirements.PROFILES,
        help="verdict profile unless the inventory sets one per client or domain (default: nist)",
    )
    g.addoption(
        "--evidence-json",
        dest="mailtls_evidence_json",
        metavar="PATH",
        help="write every verdict and its evidence as JSON",
    )
    g.addoption(
        "--timeout",
        dest="mailtls_timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="timeout per network step (default: 10)",
    )
    g.addoption(
        "--concurrency",
        dest="mailtls_concurrency",
        type=int,
        default=16,
        metavar="N",
        help="targets (IP addresses) probed at once (default: 16)",
    )
    g.addoption(
        "--max-connections",
        dest="mailtls_max_connections",
        type=int,
        default=DEFAULT_BUDGET,
        metavar="N",
        help=f"connections per mail-server address for the whole suite, SMTP session and TLS "
        f"hello probes together (default: {DEFAULT_BUDGET}); open questions beyond it are errors",
    )
    g.addoption(
        "--ehlo-name",
        dest="mailtls_ehlo_name",
        metavar="NAME",
        help="name we announce in EHLO (default: this machine's FQDN)",
    )
    g.addoption(
        "--allow-errors",
        dest="mailtls_allow_errors",
        action="store_true",
        help="results we could not observe (error) do not fail the run",
    )
    g.addoption(
        "--baseline",
        dest="mailtls_baseline",
        metavar="JSON",
        help="an earlier --evidence-json of the same inventory: fail only on regressions",
    )
    g.addoption(
        "--shard",
        dest="mailtls_shard",
        metavar="K/N",
        help="run slice K of N (domains sharing an MX address stay together); merge the parts' "
        "--evidence-json with: python -m mailtls merge",
    )
    g.addoption(
        "--shard-balance",
        dest="mailtls_shard_balance",
        action="store_true",
        help="with --shard: deal domains evenly even where they share an address (the "
        "per-address budget then no longer holds across shards)",
    )
    # `--strict` is pytest's own option (an alias of --strict-markers); mailtls reads it too:
    # with --strict, warn-level findings fail the run.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requirement(id): the catalogue requirement this check asserts"
    )
    try:
        state = MailtlsRun.from_options(config.option)
    except (InventoryError, SettingsError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RUN] = state
    if state.inventory is not None:
        collect_installed_checks(config)  # from a folder holding only inventories, too
    if not config.pluginmanager.is_registered(report_plugin):
        config.pluginmanager.register(report_plugin, "mailtls-report")
    meta_key = _metadata_key()
    if meta_key is not None and state.inventory is not None:
        meta = config.stash[meta_key]
        meta.update(_run_facts(state))


def _metadata_key() -> Any:
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:  # pragma: no cover - pytest-html always brings pytest-metadata
        return None
    return metadata_key


def _run_facts(state: MailtlsRun) -> dict[str, str]:
    inv = state.inventory
    return {
        "mailtls version": __version__,
        "Inventory": str(inv.path) if inv else "-",
        "Inventory SHA-256": inv.sha256 if inv else "-",
        "Profile": state.profile + " (unless the inventory sets one per domain)",
        "Resolver": str(state.resolver),
        "CA bundle": str(state.ca_bundle),
        "Started": state.started,
    }


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(RUN, None)
    if state is None or state.inventory is None:
        return [f"mailtls {__version__}: no --inventory given"]
    return [
        f"mailtls {__version__}: inventory {state.inventory.path} (sha256 {state.inventory.sha256[:16]}…), "
        f"{len(state.inventory.domains)} domain(s), profile {state.profile}, resolver {state.resolver}, "
        f"CA bundle {state.ca_bundle}"
    ]


# ---------------------------------------------------------------- collection


@pytest.hookimpl(tryfirst=True)
def pytest_collection(session: pytest.Session) -> None:
    """Before anything is looked up, one canary question to the resolver: a resolver that does
    not answer would turn every row into an error after waiting for its timeouts."""
    state = session.config.stash[RUN]
    if state.inventory is None:
        return
    if state.discoveries is None:
        problem = state.dns.canary()
        if problem is not None:
            raise pytest.UsageError(
                f"mailtls: the resolver does not answer ({problem}); every lookup would fail. "
                f"Check --resolver=IP[:PORT] (now {state.resolver}) and that it is reachable."
            )
    state.apply_shard()
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    if state.shard_plan is not None and tr is not None:
        p = state.shard_plan
        sizes = "/".join(str(len(a)) for a in p.assignment)
        tr.write_line(
            f"mailtls: shard {p.index}/{p.total}: {len(p.domains)} domain(s) (shard sizes {sizes})"
        )
        for note in p.notes:
            tr.write_line(f"mailtls: shard plan: {note}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    marker = metafunc.definition.get_closest_marker("requirement")
    if marker is None:
        return
    state = metafunc.config.stash[RUN]
    if state.inventory is None:
        raise pytest.UsageError(
            "mailtls: the compliance checks need an inventory: pytest --inventory=FILE.yaml "
            "(see inventories/example.yaml). To run the project's own tests: pytest tests"
        )
    req = requirements.get(marker.args[0])
    if "target" not in metafunc.fixturenames:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid}: a check must take the 'target' fixture"
        )
    targets = [
        t
        for t in state.targets(req.scope)
        if not req.ports or t.port is None or t.port in req.ports
    ]
    metafunc.parametrize("target", targets, ids=[t.id for t in targets])


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[RUN]
    if state.inventory is None or session.config.option.collectonly:
        return
    needs = [
        (name, item.callspec.params["target"])
        for item in session.items
        if isinstance(item, pytest.Function)
        and hasattr(item, "callspec")
        and "target" in item.callspec.params
        for name in item.fixturenames
        if name in PROBES
    ]
    # A domain check that asks for `mx_sessions` needs the SMTP session of every MX of its domain.
    wanted: set[str] = set()
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        target = callspec.params.get("target") if callspec is not None else None
        if isinstance(target, Target) and "mx_sessions" in getattr(item, "fixturenames", ()):
            wanted.add(target.domain)
    needs += [("smtp", t) for t in state.targets("mx") if t.domain in wanted]
    targets = [(name, t) for name, t in needs if isinstance(t, Target)]
    names = address_names(t for _, t in targets)
    jobs = plan(targets, names)
    if not jobs:
        return
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    ips = len(set(jobs.values()))

    def progress(done: int, total: int) -> None:
        if tr is not None:
            line = f"mailtls: probing {ips} address(es): {done}/{total} probes done"
            if tr.isatty:
                tr.rewrite(line)
            elif done == total:
                tr.write_line(line)

    started = time.monotonic()
    state.observations = run(
        jobs,
        ProbeContext(
            state.smtp_settings,
            state.max_connections,
            dns=state.dns,
            ca_bundle=state.ca_bundle,
            discoveries=state.discover(),
            names=names,
        ),
        state.concurrency,
        progress,
    )
    state.probing_seconds = time.monotonic() - started
    if tr is not None:
        tr.write_line(
            f"mailtls: {len(jobs)} probe(s) of {ips} address(es) in {state.probing_seconds:.1f}s"
        )


# ---------------------------------------------------------------- fixtures


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


def _session(state: MailtlsRun, target: Target) -> tuple[object, SniProbe | None]:
    """The SMTP session for this name: its own SNI handshake where the shared address picks
    certificates by SNI and one was made, else the address's one session (mailtls.sharing)."""
    key = PROBES["smtp"].key(target)
    sni = state.observations.get(("sni", key))
    if isinstance(sni, SniProbe) and target.host:
        own = sni.session_for(target.host)
        if own is not None:
            return own, sni
        return state.observations.get(("smtp", key)), sni
    return state.observations.get(("smtp", key)), None


def _per_name_untested(request: pytest.FixtureRequest, sni: SniProbe | None, host: str) -> None:
    """A certificate row of a name whose certificate the shared session cannot answer."""
    marker = request.node.get_closest_marker("requirement")
    why = sni.untested(host) if sni is not None else None
    if why and marker is not None and str(marker.args[0]).startswith(PER_NAME_PREFIXES):
        inconclusive(why)


def _observation(
    request: pytest.FixtureRequest, name: str, target: Target, state: MailtlsRun
) -> object:
    _available(request, target, state)
    key = PROBES[name].key(target)
    obs = state.observations.get((name, key))
    if name == "smtp":
        obs, sni = _session(state, target)
        if sni is not None:
            _record(request, sni)
            _per_name_untested(request, sni, target.host or "")
    if obs is None:
        inconclusive(f"no {name} observation was made for {target.id} (internal scheduling error)")
    _record(request, obs)
    if isinstance(obs, ProbeCrash):
        inconclusive(obs.message)
    return obs


@pytest.fixture
def smtp(
    request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun
) -> SmtpObservation:
    """The SMTP session with the target (banner, EHLO, STARTTLS, TLS, EHLO, QUIT)."""
    obs = _observation(request, "smtp", target, mailtls_run)
    return observed(obs, SmtpObservation, target.id)


@pytest.fixture
def mtasts_policy(
    request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun
) -> PolicyFetch:
    """The domain's MTA-STS policy as fetched over HTTPS (only when its TXT record exists)."""
    obs = _observation(request, "mtasts_policy", target, mailtls_run)
    return observed(obs, PolicyFetch, target.id)


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
) -> dict[tuple[str, str], object]:
    """The SMTP session of every address of every MX of the target's domain, by (host, ip):
    an SmtpObservation, a ProbeCrash, or None where the address is unknown."""
    found: dict[tuple[str, str], object] = {}
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
    return _scan(request, "tlsscan", target, mailtls_run)


@pytest.fixture
def tlsversions(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> TlsScan:
    """Hello probes of the legacy versions only (SSL 2.0 to TLS 1.1), for submission ports."""
    return _scan(request, "tlsversions", target, mailtls_run)


def _scan(request: pytest.FixtureRequest, name: str, target: Target, state: MailtlsRun) -> TlsScan:
    obs = _observation(request, name, target, state)
    return observed(obs, TlsScan, target.id)


# ---------------------------------------------------------------- verdicts and evidence


def _message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    text = str(excinfo.value).strip()
    if isinstance(excinfo.value, AssertionError):
        text = text.split("\nassert ", 1)[0].strip()
        if text.startswith("assert "):
            text = "assertion failed: " + text
    return text or type(excinfo.value).__name__


def _classify(
    report: pytest.TestReport, call: pytest.CallInfo[None]
) -> tuple[Verdict, str] | None:
    if report.when == "teardown" or (report.when == "setup" and report.passed):
        return None
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        return "not_applicable", reason.removeprefix(NA_PREFIX)
    if report.passed:
        return "pass", ""
    assert call.excinfo is not None
    exc = call.excinfo.value
    if isinstance(exc, Advisory):
        return "warn", _message(call.excinfo)
    if isinstance(exc, Inconclusive):
        return "error", _message(call.excinfo)
    if isinstance(exc, AssertionError) and report.when == "call":
        return "fail", _message(call.excinfo)
    return "error", f"internal error in the check: {type(exc).__name__}: {_message(call.excinfo)}"


def _is_verdict(item: pytest.Item, call: pytest.CallInfo[None]) -> bool:
    """The exception states a verdict of a mailtls check (its message is the finding)."""
    if call.excinfo is None or item.get_closest_marker("requirement") is None:
        return False
    exc = call.excinfo.value
    return isinstance(exc, Advisory | Inconclusive) or (
        isinstance(exc, AssertionError) and call.when == "call"
    )


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_verdict(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> pytest.TestReport | None:
    """The report of a fail, warn or error verdict, built without pytest's traceback formatting.

    pytest formats every failure as a traceback, re-reading and parsing (``ast``) the source of
    every frame: about 40 ms a row for an error raised in a fixture, 30 times a pass. The verdict
    message is the finding, so the long representation is the message (the wrapper below then
    writes the final text); any other exception is a bug in a check and keeps its traceback.
    """
    if not _is_verdict(item, call):
        return None
    assert call.excinfo is not None  # checked by _is_verdict
    return pytest.TestReport(
        item.nodeid,
        item.location,
        dict.fromkeys(item.keywords, 1),
        "failed",
        _message(call.excinfo),
        call.when,  # type: ignore[arg-type]  # never "collect" for a test item
        [(f"Captured {key} {when}", text) for when, key, text in item._report_sections],
        call.duration,
        call.start,
        call.stop,
        user_properties=item.user_properties,
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = item.get_closest_marker("requirement")
    if (
        marker is None
        or not isinstance(item, pytest.Function)
        or "target" not in item.callspec.params
    ):
        return report
    decided = _classify(report, call)
    if decided is None:
        return report
    verdict, message = decided
    state = item.config.stash[RUN]
    target = item.callspec.params["target"]
    assert isinstance(target, Target)
    req = requirements.get(marker.args[0])
    profile = state.profile_for(target.domain)
    waived, waiver = False, None
    if verdict == "warn" and not state.strict:
        report.outcome = "passed"
        report.longrepr = None
    if verdict in ("fail", "warn"):
        waived, note, waiver = _apply_waiver(state, target, req.id, report, message)
        message += note
    if verdict != "pass" and report.longrepr is not None and not report.skipped:
        # A short, readable finding instead of a traceback: the check's code is not the evidence.
        report.longrepr = (
            f"{req.id} [{verdict}] {message}\n  rule ({profile}): {req.rule_for(profile)}\n"
            f"  fix: {req.fix}"
        )
    report.mailtls_verdict = verdict  # type: ignore[attr-defined]
    # The report columns and --junitxml <properties> (read from the item at teardown) use these.
    properties = [
        ("requirement", req.id),
        ("verdict", verdict),
        ("profile", profile),
        ("severity", req.severity_for(profile)),
        ("citation", req.citation_text()),
        ("domain", target.domain),
        ("host", target.host or ""),
        ("ip", target.ip or ""),
        ("waived", "true" if waived else "false"),
    ]
    report.user_properties += properties
    item.user_properties += properties
    evidence = item.stash.get(EVIDENCE, [])
    report_plugin.attach_extras(item.config, report, req, verdict, message, evidence)
    state.results[item.nodeid] = Result(
        test=item.nodeid,
        requirement=req.id,
        domain=target.domain,
        host=target.host,
        ip=target.ip,
        port=target.port,
        verdict=verdict,
        message=message,
        profile=profile,
        severity=req.severity_for(profile),
        citation=req.citations,  # one shared tuple per requirement, not one per row
        waived=waived,
        waiver=waiver,
        evidence=tuple(evidence),  # observation objects, shared; JSON-encoded when written
    )
    return report


def _apply_waiver(
    state: MailtlsRun, target: Target, req_id: str, report: pytest.TestReport, message: str
) -> tuple[bool, str, Waiver | None]:
    """(waived, note for the message, the waiver as data) for a fail or warn result."""
    today = dt.datetime.now(dt.UTC).date()
    for waiver in state.domain(target.domain).waivers:
        if not waiver.covers(req_id, target.host):
            continue
        if waiver.expired(today):
            info = Waiver(waiver.reason, str(waiver.expires), expired=True)
            return False, f" [waiver expired on {waiver.expires}: {waiver.reason}]", info
        info = Waiver(waiver.reason, str(waiver.expires), expired=False)
        if report.failed:
            report.outcome = "skipped"
            report.wasxfail = f"waived until {waiver.expires}: {waiver.reason}"
        return True, f" [waived until {waiver.expires}: {waiver.reason}]", info
    return False, "", None
