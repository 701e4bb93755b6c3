"""The ledger of one scan: the questions answered so far, what each hello was and what the
server chose, and what was learned from it (suites, DHE group, curves). Pure: no sockets.

Two lanes of hellos run at once, so the ledger owns its lock and every read and write takes it;
callers never hold it. A 'yes' is definitive (the server chose such a suite); a later 'no'
never overrides it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from mailtls.observations import Answer, AnswerValue, HelloRecord, TranscriptLine
from mailtls.probes.tlsscan.questions import (
    CHACHA13,
    GOOD_CURVES,
    NIST_CURVES,
    QUESTIONS,
    VERSION_QUESTION,
    Hello,
    categories,
    group_text,
)
from mailtls.tls._wire import SSL2, version_name
from mailtls.tls.flight import ServerFlight
from mailtls.tls.groups import NAMED_GROUPS, group_name
from mailtls.tls.suites import SSL2_CIPHER_KINDS, SUITES, suite_name


@dataclass(frozen=True)
class LedgerView:
    """A consistent copy of the answers and the suites seen, read at one moment."""

    answers: Mapping[str, Answer]
    accepted_codes: frozenset[int]

    def open(self, question: str) -> bool:
        return question not in self.answers

    def value(self, question: str) -> AnswerValue:
        a = self.answers.get(question)
        return a.value if a else "unknown"


class Ledger:
    """Questions and answers of one scan, and the record of every hello."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._answers: dict[str, Answer] = {}
        self._accepted: list[tuple[str, str]] = []
        self._accepted_codes: set[int] = set()
        self._ec_groups: list[str] = []
        self._hellos: list[HelloRecord] = []
        self._transcript: list[TranscriptLine] = []
        self._budget_open: set[str] = set()
        self.dhe_group: str | None = None
        self.dhe_bits: int | None = None

    # ------------------------------------------------------------------ questions

    def open(self, question: str) -> bool:
        with self._lock:
            return question not in self._answers

    def value(self, question: str) -> AnswerValue:
        with self._lock:
            a = self._answers.get(question)
            return a.value if a else "unknown"

    def how(self, question: str) -> str:
        """How the question was answered ('' while it is open)."""
        with self._lock:
            a = self._answers.get(question)
            return a.how if a else ""

    def answer(self, question: str, value: AnswerValue, how: str) -> None:
        with self._lock:
            current = self._answers.get(question)
            if current is None or (current.value == "no" and value == "yes"):
                self._answers[question] = Answer(question, value, how)

    def answered(self) -> int:
        with self._lock:
            return len(self._answers)

    def view(self) -> LedgerView:
        with self._lock:
            return LedgerView(dict(self._answers), frozenset(self._accepted_codes))

    def left_open_by_budget(self, questions: Iterable[str]) -> None:
        """The connection limit, not a stop, kept these questions from being asked."""
        with self._lock:
            self._budget_open.update(q for q in questions if q not in self._answers)

    # ------------------------------------------------------------------ records

    def note(self, *lines: TranscriptLine) -> None:
        with self._lock:
            self._transcript.extend(lines)

    def record(self, hello: HelloRecord) -> None:
        with self._lock:
            self._hellos.append(hello)

    def learn(self, n: int, hello: Hello, flight: ServerFlight) -> None:
        """Record hello `n` and what the server's first flight answers."""
        how = f"hello {n} ({hello.purpose})"
        version = flight.version
        suite_code = flight.cipher_suite
        record = HelloRecord(
            n=n,
            purpose=hello.purpose,
            offered_version=version_name(hello.version),
            offered_suites=hello.offered_names(),
            offered_groups=tuple(group_name(g) for g in hello.groups)
            if hello.version != SSL2
            else (),
            outcome=flight.outcome,
            version=version_name(version) if version is not None else None,
            suite=(
                SSL2_CIPHER_KINDS.get(suite_code, f"0x{suite_code:06x}")
                if version == SSL2 and suite_code is not None
                else suite_name(suite_code)
                if suite_code is not None
                else None
            ),
            group=group_text(flight),
            alert=flight.detail if flight.alert else None,
            detail=flight.detail,
            certificates=len(flight.certificates),
        )
        with self._lock:
            self._hellos.append(record)
            if flight.outcome == "refused":
                for q in hello.refusal_answers:
                    self.answer(q, "no", how)
                return
            if flight.outcome == "error":
                return
            self._accepted_flight(how, hello, flight)

    def _violation(self, note: str) -> None:
        rec = self._hellos[-1]
        self._hellos[-1] = replace(rec, outcome="error", detail=f"{rec.detail}; {note}")

    def _accepted_flight(self, how: str, hello: Hello, flight: ServerFlight) -> None:
        version = flight.version
        if version is None or (hello.version != SSL2 and version > hello.version):
            self._violation("protocol violation: the server chose a version we did not offer")
            return
        if version == SSL2:
            self.answer("sslv2", "yes", how)
            if flight.sslv2_cipher_kinds:
                self.answer("weak", "yes", how)  # every SSL 2.0 cipher kind is MD5-based
            return
        if version in VERSION_QUESTION:
            self.answer(VERSION_QUESTION[version], "yes", how)
            offered_q = VERSION_QUESTION.get(hello.version)
            if offered_q and version < hello.version and hello.purpose.startswith("version"):
                # A server that supports the offered version must choose it (RFC 5246 §E.1).
                self.answer(offered_q, "no", how + f": the server chose {version_name(version)}")
        code = flight.cipher_suite
        if code is None:
            return
        if code not in hello.suites:
            self._violation("protocol violation: the server chose a suite we did not offer")
            return
        self._accepted.append((version_name(version), suite_name(code)))
        self._accepted_codes.add(code)
        if code == CHACHA13:
            self.answer("chacha13", "yes", how)
        suite = SUITES.get(code)
        if suite is not None and suite.kex != "TLS13":
            for q in categories(suite):
                self.answer(q, "yes", how)
        self._learn_group(how, flight)

    def _learn_group(self, how: str, flight: ServerFlight) -> None:
        group = group_text(flight)
        if flight.dh_prime is not None and self.dhe_group is None:
            self.dhe_group, self.dhe_bits = group, flight.dh_bits
        elif (
            group is not None
            and flight.kex_group is not None
            and flight.kex_group in NAMED_GROUPS
            and NAMED_GROUPS[flight.kex_group].kind == "ec"
        ):
            if group not in self._ec_groups:
                self._ec_groups.append(group)
            if flight.kex_group in NIST_CURVES:
                self.answer("ec_nist", "yes", how)
            if flight.kex_group not in GOOD_CURVES:
                self.answer("ec_bad", "yes", how)

    # ------------------------------------------------------------------ the result

    def answers(self) -> tuple[Answer, ...]:
        """The answers in the order of QUESTIONS."""
        with self._lock:
            return tuple(self._answers[q] for q in QUESTIONS if q in self._answers)

    def hellos(self) -> tuple[HelloRecord, ...]:
        with self._lock:
            return tuple(sorted(self._hellos, key=lambda h: h.n))

    def accepted(self) -> tuple[tuple[str, str], ...]:
        with self._lock:
            return tuple(dict.fromkeys(self._accepted))

    def ec_groups(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._ec_groups)

    def transcript(self) -> tuple[TranscriptLine, ...]:
        with self._lock:
            return tuple(self._transcript)

    def budget_open(self) -> tuple[str, ...]:
        """Questions the limit left open and no later answer settled."""
        with self._lock:
            return tuple(sorted(self._budget_open - set(self._answers)))
