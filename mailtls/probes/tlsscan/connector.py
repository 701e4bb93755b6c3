"""The connections of one scan: the per-address budget, one polite retry after 421/454/reset,
and the sending of one hello (or one full handshake) on a fresh STARTTLS connection.

Politeness (issue 3, DESIGN.md "Probing"): the whole default suite opens at most ``budget``
connections per address, the SMTP session(s) included; `hold` keeps connections back for more
important questions. A 421/454 or a reset before our hello is inconclusive: one pause and one
retry, then the scan stops and the open questions are errors.
"""

from __future__ import annotations

import threading
import time

from mailtls.observations import Endpoint, HelloRecord, StopKind, TranscriptLine
from mailtls.probes.handshake import Handshake, full_handshake
from mailtls.probes.smtp import ProbeError, SmtpSettings, StartedTls, open_for_hello
from mailtls.probes.tlsscan.ledger import Ledger
from mailtls.probes.tlsscan.questions import Hello
from mailtls.tls.flight import ServerFlight, read_server_flight

DEFAULT_BUDGET = 10  # connections per address for the whole default suite (issue 3)
MAX_FLIGHT_BYTES = 64 * 1024


class Connector:
    """Opens the scan's connections within the budget and records them in the ledger."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: SmtpSettings,
        ledger: Ledger,
        budget: int = DEFAULT_BUDGET,
        session_connections: int = 0,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.ledger = ledger
        self.budget = budget
        self.session_connections = session_connections
        self._lock = threading.Lock()
        self.connections = 0
        self.stopped: str | None = None  # rate limited or unreachable: no more connections
        self.stop_kind: StopKind | None = None
        self.budget_note: str | None = None  # a question was left open for the budget

    def reserve(self, hold: int = 0) -> int | None:
        """A connection number, or None when the scan stopped or the budget is spent. `hold`
        keeps that many connections for more important questions still to be asked."""
        with self._lock:
            if self.stopped:
                return None
            if self.session_connections + self.connections + hold >= self.budget:
                self.budget_note = (
                    f"not tested: the limit of {self.budget} connections per address was "
                    f"reached ({self.session_connections} SMTP session(s), "
                    f"{self.connections} hello probe(s))"
                )
                return None
            self.connections += 1
            return self.connections

    def stop(self, kind: StopKind, reason: str) -> None:
        """No more connections: the first reason given is the one kept."""
        with self._lock:
            if self.stop_kind is None:
                self.stop_kind, self.stopped = kind, reason

    def is_stopped(self) -> bool:
        with self._lock:
            return self.stop_kind is not None

    def connect(self, n: int) -> tuple[StartedTls | None, int]:
        """Open a STARTTLS connection; one polite retry after 421/454/reset. Returns the
        connection and its number (a retry takes a new one)."""
        for attempt in (1, 2):
            try:
                started = open_for_hello(self.endpoint, self.settings)
            except ProbeError as exc:
                f = exc.failure
                self.ledger.note(
                    TranscriptLine(0.0, "*", f"connection {n}: {f.stage}: {f.message}")
                )
                if f.inconclusive and attempt == 1:
                    time.sleep(self.settings.retry_pause)
                    retry = self.reserve()
                    if retry is None:
                        return None, n
                    n = retry
                    continue
                kind: StopKind = "inconclusive" if f.inconclusive else "unreachable"
                cause = (
                    f"inconclusive: {f.message.removeprefix('inconclusive: ')}"
                    if f.inconclusive
                    else f"not tested: could not open a STARTTLS connection: {f.message}"
                )
                self.stop(kind, f"{cause} (connection {n}, at {f.stage})")
                return None, n
            self.ledger.note(
                TranscriptLine(0.0, "*", f"--- connection {n}: STARTTLS preamble ---"),
                *started.transcript,
            )
            return started, n
        return None, n  # pragma: no cover - the loop always returns

    def send(self, hello: Hello, hold: int = 0) -> ServerFlight | None:
        """Send one hello on a new connection and read the server's first flight; the ledger
        learns from it. None when no connection was made (budget spent or scan stopped)."""
        n = self.reserve(hold)
        if n is None:
            if not self.is_stopped():  # the limit, not a stop, left these questions open
                self.ledger.left_open_by_budget(hello.refusal_answers)
            return None
        started, n = self.connect(n)
        if started is None:
            return None
        deadline = time.monotonic() + 4 * self.settings.timeout

        def recv(size: int) -> bytes:
            if time.monotonic() > deadline:
                raise TimeoutError("flight deadline")
            return started.recv(size)

        try:
            started.sock.sendall(hello.wire(self.endpoint.host))
            flight = read_server_flight(recv, max_bytes=MAX_FLIGHT_BYTES)
        except OSError as exc:
            flight = ServerFlight(
                outcome="error", error=str(exc), detail=f"could not send the hello: {exc}"
            )
        finally:
            started.sock.close()
        self.ledger.learn(n, hello, flight)
        return flight

    def full_handshake_tls12(self) -> tuple[Handshake, int] | None:
        """One full handshake, TLS 1.2 at most, on a new connection (recorded in the ledger);
        None when no connection was made."""
        n = self.reserve()
        if n is None:
            return None
        started, n = self.connect(n)
        if started is None:
            return None
        result = full_handshake(started, self.endpoint.host, tls12_at_most=True)
        self.ledger.note(
            TranscriptLine(0.0, "*", f"connection {n}: full handshake, TLS 1.2 at most: "
                           f"{result.detail} {result.version or ''}".rstrip())
        )  # fmt: skip
        self.ledger.record(
            HelloRecord(
                n=n,
                purpose="full handshake, TLS 1.2 at most (the session's handshake was refused)",
                offered_version="TLSv1.2",
                offered_suites=("(every suite OpenSSL offers at security level 0)",),
                offered_groups=(),
                outcome="accepted" if result.outcome == "completed" else result.outcome,
                version=result.version,
                suite=result.cipher,
                detail=result.detail,
            )
        )
        return result, n
