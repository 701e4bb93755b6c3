"""What a hello scan saw: each hello, the answers to its questions, and why a question is
still open."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailtls.observations.smtp import Endpoint, TranscriptLine

AnswerValue = Literal["yes", "no", "unknown"]
#: Why a question has no answer: the budget ran out before it was asked, the scan stopped
#: (rate limiting, unreachable), no hello was sent at all, or the plan never asks it.
OpenKind = Literal["budget", "stopped", "skipped", "not_asked"]
#: Why no hello was sent: STARTTLS is not offered, the implicit-TLS port speaks plaintext, or
#: the SMTP session could not tell (unreachable, rate limited, STARTTLS refused...).
SkipKind = Literal["no_starttls", "plaintext", "not_tested"]
#: Why the scan ended early: rate limiting or a reset (inconclusive), the address could not be
#: reached, or no TLS handshake can complete at all (TLS is unusable: a finding, not an error).
StopKind = Literal["inconclusive", "unreachable", "no_handshake"]


@dataclass(frozen=True)
class HelloRecord:
    """One hello probe: what we offered after STARTTLS and what the server's first flight said."""

    n: int  # connection number within the scan (retries included)
    purpose: str  # the question this hello asks, in words
    offered_version: str  # highest version offered (SSLv2 .. TLSv1.3)
    offered_suites: tuple[str, ...]  # IANA names (SSLv2: cipher kinds), in our preference order
    offered_groups: tuple[str, ...]
    outcome: Literal["accepted", "refused", "error"]
    version: str | None = None
    suite: str | None = None
    group: str | None = None  # ECDHE curve, or ffdhe name / "custom N-bit" for DHE
    alert: str | None = None
    detail: str = ""
    certificates: int = 0


@dataclass(frozen=True)
class Answer:
    """A yes/no question the scan answered, and how (the hello numbers that decided it)."""

    question: str
    value: AnswerValue
    how: str
    open_kind: OpenKind | None = None  # set only when value is "unknown"


@dataclass(frozen=True)
class TlsScan:
    """Hello probes against one MX address (after STARTTLS), within a per-address budget.

    ``answers`` holds the decided questions (see ``mailtls.probes.tlsscan.QUESTIONS``);
    ``accepted`` every (version, suite) the server chose in any hello; ``stopped`` why the scan
    ended early (rate limiting, budget, no STARTTLS), which makes open questions errors."""

    endpoint: Endpoint
    started: str
    finished: str
    hellos: tuple[HelloRecord, ...]
    answers: tuple[Answer, ...]
    accepted: tuple[tuple[str, str], ...]
    dhe_group: str | None  # e.g. "ffdhe3072", "custom 2048-bit" (None: no DHE seen)
    dhe_bits: int | None
    ec_groups: tuple[str, ...]  # curves the server chose for ECDHE in any hello
    connections: int  # opened by this scan
    session_connections: int  # opened by the SMTP session(s) to this address
    session_tls: str | None  # the version the SMTP session negotiated (None: no TLS session)
    budget: int  # the per-address limit for the whole suite
    skipped: str | None = None  # why no hello was sent at all
    stopped: str | None = None  # why the scan ended before every question was answered
    transcript: tuple[TranscriptLine, ...] = ()  # SMTP preambles, one per connection
    skip_kind: SkipKind | None = None  # set with `skipped`
    stop_kind: StopKind | None = None  # set when the scan itself stopped (not for the budget)
    budget_open: tuple[str, ...] = ()  # questions whose hello the connection limit prevented
    budget_note: str | None = None  # the limit, in words, when it prevented a hello

    @property
    def tls_unusable(self) -> bool:
        """No TLS handshake can complete with this address (every full handshake was refused)."""
        return self.stop_kind == "no_handshake"

    @property
    def handshake_seen(self) -> bool:
        """Some offer was accepted: refusals of the others then mean something."""
        return self.session_tls is not None or any(
            a.value == "yes" and a.question.startswith(("ssl", "tls")) for a in self.answers
        )

    def answer(self, question: str) -> Answer:
        for a in self.answers:
            if a.question == question:
                return a
        kind: OpenKind
        if self.skip_kind is not None:
            kind, why = "skipped", self.skipped or "no hello was sent"
        elif question in self.budget_open:
            kind, why = "budget", self.budget_note or "the connection limit was reached"
        elif self.stop_kind is not None:
            kind, why = "stopped", self.stopped or "the scan stopped"
        else:
            kind, why = "not_asked", "this question was not asked"
        return Answer(question, "unknown", why, kind)
