"""One scan of one address: the SMTP sessions already made decide whether to scan at all, the
plan runs in two lanes over a ledger and a connector, and the ledger is frozen into a TlsScan."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from mailtls.observations import Endpoint, SkipKind, SmtpObservation, TlsScan
from mailtls.probes.smtp import SmtpSettings
from mailtls.probes.tlsscan.connector import DEFAULT_BUDGET, Connector
from mailtls.probes.tlsscan.ledger import Ledger
from mailtls.probes.tlsscan.plan import Plan
from mailtls.tls._wire import SSL2, SSL3, TLS10, TLS11


def probe_tlsscan(
    endpoint: Endpoint,
    settings: SmtpSettings,
    sessions: Sequence[SmtpObservation],
    budget: int = DEFAULT_BUDGET,
    versions_only: bool = False,
) -> TlsScan:
    """Scan one address. `sessions`: the SMTP sessions already made to it (their connections
    count against the budget; the first says whether STARTTLS is offered at all).
    `versions_only`: just the protocol versions (the submission checks need no more)."""
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
    used = sum(s.connections for s in sessions)
    ledger = Ledger()
    connector = Connector(endpoint, settings, ledger, budget, used)
    plan = Plan(ledger, connector)
    skipped = why_skip(sessions)
    first = sessions[0] if sessions else None
    session_tls = next((s.tls.version for s in sessions if s.tls), None)
    if skipped is None and first is not None:
        cipher = next((s.tls.cipher for s in sessions if s.tls), None)
        plan.session_answers(session_tls, cipher)
        if first.failure is not None and first.failure.kind == "tls_refused":
            plan.confirm_unusable(first)
        if connector.is_stopped():
            pass  # TLS is unusable (or the address stopped answering): nothing more to ask
        elif versions_only:
            run_lanes([lambda: plan.versions((SSL2, SSL3)), lambda: plan.versions((TLS10, TLS11))])
            plan.last_questions()
        else:
            run_lanes([plan.lane_versions, lambda: plan.lane_groups(plan.lane1_need, session_tls)])
            plan.lane_groups(lambda: 0)  # what the hold deferred, now that lane 1 is done
            plan.last_questions()
            plan.chacha13()
            plan.listing()
    budget_open = ledger.budget_open()
    return TlsScan(
        endpoint=endpoint,
        started=started_at,
        finished=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        hellos=ledger.hellos(),
        answers=ledger.answers(),
        accepted=ledger.accepted(),
        dhe_group=ledger.dhe_group,
        dhe_bits=ledger.dhe_bits,
        ec_groups=ledger.ec_groups(),
        connections=connector.connections,
        session_connections=used,
        session_tls=session_tls,
        budget=budget,
        skipped=skipped[1] if skipped else None,
        stopped=connector.stopped,
        transcript=ledger.transcript(),
        skip_kind=skipped[0] if skipped else None,
        stop_kind=connector.stop_kind,
        budget_open=budget_open,
        budget_note=connector.budget_note if budget_open else None,
    )


def run_lanes(lanes: list[Callable[[], None]]) -> None:
    """Two lanes at once: at most two connections to the address are open at any time."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mailtls-hello") as pool:
        for fut in [pool.submit(lane) for lane in lanes]:
            fut.result()


def why_skip(sessions: Sequence[SmtpObservation]) -> tuple[SkipKind, str] | None:
    """Why this address is not scanned at all (kind, text), or None to scan it."""
    if not sessions:
        return "not_tested", "not tested: no SMTP session was made to this address"
    s = sessions[0]
    if s.failure is not None and s.failure.inconclusive:
        # Rate limited or reset already: more connections would only make it worse.
        return "not_tested", f"not tested: the SMTP session was inconclusive ({s.failure.message})"
    if s.endpoint.implicit_tls:
        if s.tls is None and s.plaintext_banner is not None:
            return "plaintext", "the port answers in plaintext, not TLS"
        if s.tls is None and s.failure is not None and s.failure.stage == "connect":
            return "not_tested", f"not tested: {s.failure.message}"
        return None
    if s.ehlo is not None and s.ehlo.code == 250 and not s.starttls_offered:
        return "no_starttls", "STARTTLS is not offered"
    if s.starttls is None:
        cause = s.failure.message if s.failure else "the session ended before STARTTLS"
        return "not_tested", f"not tested: the SMTP session did not reach STARTTLS: {cause}"
    if s.starttls.code != 220:
        return (
            "not_tested",
            f"not tested: STARTTLS was answered {s.starttls.code} {s.starttls.text()}",
        )
    return None
