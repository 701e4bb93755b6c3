"""pytest glue, hooks only: options, configuration, parametrization, probe scheduling and the
report hooks that turn a check's outcome into its verdict.

The plugin reports and never judges: checks (``checks/``) assert, probes (``mailtls.probes``)
observe, and this module connects them. The fixtures live in :mod:`mailtls.fixtures` and
:mod:`mailtls.authfixtures`, the verdict and waiver mapping in :mod:`mailtls.outcomes`; all are
registered in ``pytest_configure``.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Generator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mailtls import __version__, authfixtures, batch, fixtures, outcomes, requirements
from mailtls import report as report_plugin
from mailtls.checkpaths import collect_installed_checks
from mailtls.inventory import InventoryError
from mailtls.observations import Endpoint
from mailtls.probes.tlsscan import DEFAULT_BUDGET
from mailtls.runstate import RUN, MailtlsRun, SettingsError
from mailtls.scheduler import PROBES, Job, ProbeContext, plan, run
from mailtls.sharing import address_names
from mailtls.targets import Target

#: Usage problems found while parametrizing, raised as one usage error after collection.
USAGE_PROBLEMS = pytest.StashKey[list[str]]()

#: Plugins of their own: the report hooks and the fixtures checks take (pytest-html style).
PARTS = (
    (report_plugin, "mailtls-report"),
    (fixtures, "mailtls-fixtures"),
    (authfixtures, "mailtls-authfixtures"),
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
    g.addoption(
        "--rows-per-item",
        dest="mailtls_rows_per_item",
        type=int,
        metavar="N",
        help=f"rows of one requirement judged by one pytest item (default: 1 up to "
        f"{batch.AUTO_SINGLE_DOMAINS} domains, else each check's rows in {batch.AUTO_ITEMS} "
        "items; every row keeps its verdict and evidence in the report and JSON)",
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
    for part, name in PARTS:
        if not config.pluginmanager.is_registered(part):
            config.pluginmanager.register(part, name)
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
    problems = metafunc.config.stash.setdefault(USAGE_PROBLEMS, [])
    if state.inventory is None:
        problems.append(
            "mailtls: the compliance checks need an inventory: pytest --inventory=FILE.yaml "
            "(see inventories/example.yaml). To run the project's own tests: pytest tests"
        )
        return
    req = requirements.get(marker.args[0])
    if "target" not in metafunc.fixturenames:
        problems.append(f"{metafunc.definition.nodeid}: a check must take the 'target' fixture")
        return
    targets = _targets_for(state, req)
    metafunc.parametrize("target", targets, ids=[t.id for t in targets])


def _targets_for(state: MailtlsRun, req: requirements.Requirement) -> list[Target]:
    return [
        t
        for t in state.targets(req.scope)
        if not req.ports or t.port is None or t.port in req.ports
    ]


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Module | pytest.Class, name: str, obj: object
) -> list[batch.RowBatch] | None:
    """A check over many targets becomes a few batch items (:mod:`mailtls.batch`) instead of
    one item per target; below the threshold, pytest parametrizes it as usual."""
    if not (isinstance(collector, pytest.Module) and inspect.isfunction(obj)):
        return None
    marks = [m for m in getattr(obj, "pytestmark", []) if m.name == "requirement"]
    state = collector.config.stash[RUN]
    if not marks or state.inventory is None or not collector.funcnamefilter(name):
        return None
    req = requirements.get(marks[0].args[0])
    targets = _targets_for(state, req)
    size = batch.rows_per_item(state, len(targets))
    if size <= 1:
        return None
    items = batch.make_items(collector, name, obj, req, targets, size)
    if not items:
        return items
    problems = collector.config.stash.setdefault(USAGE_PROBLEMS, [])
    unknown = items[0].unknown_values()
    if unknown:
        problems.append(f"{collector.nodeid}::{name}: no mailtls value named {', '.join(unknown)}")
    if not items[0].judges_a_target():
        problems.append(f"{collector.nodeid}::{name}: a check must take the 'target' fixture")
    return [] if unknown or not items[0].judges_a_target() else items


def pytest_collection_modifyitems(config: pytest.Config) -> None:
    """A usage problem found while parametrizing is one usage error (exit 4) once collection is
    over: raised inside pytest_generate_tests it would be a collection error with a traceback."""
    problems = config.stash.get(USAGE_PROBLEMS, [])
    if problems:
        raise pytest.UsageError("\n".join(dict.fromkeys(problems)))


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[RUN]
    if state.inventory is None or session.config.option.collectonly:
        return
    needs = [
        (name, target)
        for item in session.items
        for target in _item_targets(item)
        for name in getattr(item, "fixturenames", ())
        if name in PROBES
    ]
    # A domain check that asks for `mx_sessions` needs the SMTP session of every MX of its domain.
    wanted = {
        target.domain
        for item in session.items
        if "mx_sessions" in getattr(item, "fixturenames", ())
        for target in _item_targets(item)
    }
    needs += [("smtp", t) for t in state.targets("mx") if t.domain in wanted]
    targets = [(name, t) for name, t in needs if isinstance(t, Target)]
    names = address_names(t for _, t in targets)
    jobs = plan(targets, names)
    sender_auth = any(
        name in authfixtures.VALUES
        for item in session.items
        for name in getattr(item, "fixturenames", ())
    )
    with ThreadPoolExecutor(max_workers=1) as lookups:
        if sender_auth:  # DNS only: made while the mail servers are probed
            lookups.submit(state.sender_auth)  # a failure here is raised again on first use
        if jobs:
            _probe(session, state, jobs, names)


def _probe(
    session: pytest.Session,
    state: MailtlsRun,
    jobs: dict[Job, str],
    names: dict[Endpoint, tuple[str, ...]],
) -> None:
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


def _item_targets(item: pytest.Item) -> Sequence[Target]:
    """The targets a check's item judges: its own, or its batch's."""
    if isinstance(item, batch.RowBatch):
        return item.targets
    callspec = getattr(item, "callspec", None)
    target = callspec.params.get("target") if callspec is not None else None
    return [target] if isinstance(target, Target) else []


# ---------------------------------------------------------------- verdicts and evidence


@pytest.hookimpl(tryfirst=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_verdict(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> pytest.TestReport | None:
    """A verdict's report without pytest's traceback formatting (:func:`outcomes.verdict_report`)."""
    return outcomes.verdict_report(item, call)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, batch.RowBatch):
        batch.decorate(item, report)
        return report
    marker = item.get_closest_marker("requirement")
    if marker is None or not isinstance(item, pytest.Function):
        return report
    callspec = getattr(item, "callspec", None)
    target = callspec.params.get("target") if callspec is not None else None
    if isinstance(target, Target):
        outcomes.record(item, report, call, str(marker.args[0]), target)
    return report
