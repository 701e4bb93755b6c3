"""The plan of a scan: which hellos are sent, in which order, and what each one asks.

Questions are asked in order of importance and bundled: one hello offers every weak,
non-forward-secret and non-NIST suite at once, and is split (the accepted suite removed) only
while a question is still open, then, with what is left of the budget, to list more of what the
server accepts. Two lanes run at once (at most two connections to an address are open at the
same time): lane 1 the legacy versions and the bundle, lane 2 the DHE group and the curves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

from mailtls.observations import SmtpObservation
from mailtls.probes.tlsscan.connector import Connector
from mailtls.probes.tlsscan.ledger import Ledger
from mailtls.probes.tlsscan.questions import (
    APPROVED_12,
    BAD_CURVES,
    BUNDLE_QUESTIONS,
    CHACHA13,
    DHE_SUITES,
    ECDHE_SUITES,
    FF_GROUPS,
    LEGACY_SUITES,
    NIST_CURVES,
    TLS13_SUITES,
    VERSION_QUESTION,
    Hello,
    categories,
    weak_first,
)
from mailtls.tls._wire import SSL2, SSL3, TLS10, TLS11, TLS12, TLS13, version_name
from mailtls.tls.groups import SECP256R1
from mailtls.tls.suites import SSL2_CIPHER_KINDS, SUITES, is_weak, suite_name, suites_for_version


def bundle(
    purpose: str, questions: Sequence[str], seen: Iterable[int] = (), listing: bool = False
) -> Hello | None:
    """The suites that would answer `questions` with yes, minus those already `seen`. A
    listing hello answers nothing when refused."""
    wanted = set(questions)
    already = set(seen)
    codes = [c for c in LEGACY_SUITES if c not in already and categories(SUITES[c]) & wanted]
    if not codes:
        return None
    # Suites answering the most open questions first, so one answer settles more.
    codes.sort(key=lambda c: (not is_weak(SUITES[c]), -len(categories(SUITES[c]) & wanted)))
    return Hello(purpose, TLS12, tuple(codes), refusal_answers=() if listing else tuple(questions))


def version_hello(version: int) -> Hello:
    """One legacy version offered as the highest, weak suites first."""
    q = VERSION_QUESTION[version]
    if version == SSL2:
        return Hello("version: SSL 2.0", SSL2, tuple(SSL2_CIPHER_KINDS), refusal_answers=(q,))
    suites = weak_first(suites_for_version(LEGACY_SUITES, version))
    return Hello(
        f"version: {version_name(version)} as the highest", version, suites, refusal_answers=(q,)
    )


def tls12_hello() -> Hello:
    """Every TLS 1.2 suite, weak ones last: only a refusal of all of them means 'no TLS 1.2'."""
    suites = tuple(sorted(LEGACY_SUITES, key=lambda c: is_weak(SUITES[c])))
    return Hello("version: TLS 1.2 as the highest", TLS12, suites, refusal_answers=("tls12",))


class Plan:
    """The order of the hellos of one scan, over a ledger and a connector."""

    def __init__(self, ledger: Ledger, connector: Connector) -> None:
        self.ledger = ledger
        self.connector = connector
        self._lock = threading.Lock()
        self._versions_pending = 4

    def lane1_need(self) -> int:
        """Connections the versions-and-bundle lane still needs for its first answers."""
        view = self.ledger.view()
        bundle_open = any(view.open(q) for q in ("weak", "nonfs", "nist_bad"))
        with self._lock:
            return self._versions_pending + (1 if bundle_open else 0)

    def versions(self, versions: Iterable[int]) -> None:
        """One hello per legacy version, each offering it as the highest."""
        for version in versions:
            with self._lock:
                self._versions_pending -= 1
            self.connector.send(version_hello(version))

    def lane_versions(self) -> None:
        """Lane 1: legacy versions, then the bundle of bad suites, split while questions are open."""
        self.versions((SSL2, SSL3, TLS10, TLS11))
        while True:
            view = self.ledger.view()
            open_q = [q for q in BUNDLE_QUESTIONS if view.open(q)]
            if "chacha12" in open_q and view.value("nist_bad") == "yes":
                open_q.remove("chacha12")  # the NIST verdict is already a failure
            purpose = "suites: " + ", ".join(open_q)
            hello = bundle(purpose, open_q, view.accepted_codes) if open_q else None
            if hello is None:
                break
            before = self.ledger.answered()
            flight = self.connector.send(hello)
            if flight is None or flight.outcome == "error" or self.ledger.answered() == before:
                break

    def listing(self) -> None:
        """With what is left of the budget, name more of the bad suites the server accepts."""
        for q in ("weak", "nonfs", "nist_bad"):
            view = self.ledger.view()
            purpose = f"listing: more {q} suites"
            more = view.value(q) == "yes"
            hello = bundle(purpose, [q], view.accepted_codes, listing=True) if more else None
            while hello is not None:
                flight = self.connector.send(hello)
                if flight is None or not flight.accepted:
                    break
                hello = bundle(purpose, [q], self.ledger.view().accepted_codes, listing=True)

    def tls13_only(self, hold: Callable[[], int]) -> None:
        """When the SMTP session spoke TLS 1.3, ask first whether TLS 1.2 exists at all. If not,
        the DHE and curve questions are asked in TLS 1.3 instead: a ClientHello with no key
        share makes the server name, in a HelloRetryRequest, a group it accepts from our list."""
        send, ledger = self.connector.send, self.ledger
        flight = send(tls12_hello(), hold())
        if flight is None or ledger.value("tls12") != "no":
            return
        how = f"TLS 1.2 is not accepted ({ledger.how('tls12')}); DHE is a TLS 1.2 question"
        ledger.answer("dhe", "no", how)
        if ledger.open("ec_bad"):
            send(
                Hello(
                    "TLS 1.3: groups outside the Good list",
                    TLS13,
                    TLS13_SUITES,
                    groups=BAD_CURVES,
                    key_shares=(),
                    refusal_answers=("ec_bad",),
                ),
                hold(),
            )
        if ledger.open("ec_nist"):
            send(
                Hello(
                    "TLS 1.3: P-256 or P-384",
                    TLS13,
                    TLS13_SUITES,
                    groups=NIST_CURVES,
                    key_shares=(SECP256R1,),
                    refusal_answers=("ec_nist",),
                ),
                hold(),
            )

    def lane_groups(self, hold: Callable[[], int], session_tls: str | None = None) -> None:
        """Lane 2: the DHE group and the ECDHE curves, each asked only while still open. `hold`
        keeps connections for lane 1's more important questions while it is running."""
        send, ledger = self.connector.send, self.ledger
        if session_tls == "TLSv1.3" and ledger.open("tls12"):
            self.tls13_only(hold)
        if ledger.open("dhe") and ledger.open("ec_bad"):
            # One hello for two questions: a refusal answers both. No ffdhe groups are offered:
            # an RFC 7919 server must then use its own group (what most senders get), and one
            # that insists on RFC 7919 groups would refuse DHE outright.
            hello = Hello(
                "DHE, and ECDHE with curves outside the Good list",
                TLS12,
                ECDHE_SUITES + DHE_SUITES,
                groups=BAD_CURVES,
                refusal_answers=("dhe", "ec_bad"),
            )
            send(hello, hold())
        if ledger.open("dhe"):
            send(Hello("DHE: which group", TLS12, DHE_SUITES, NIST_CURVES, ("dhe",)), hold())
        if ledger.open("ec_bad"):
            hello = Hello(
                "ECDHE: curves outside the Good list", TLS12, ECDHE_SUITES, BAD_CURVES, ("ec_bad",)
            )
            send(hello, hold())
        if ledger.open("ec_nist"):
            hello = Hello(
                "ECDHE: P-256 or P-384, in TLS 1.2",
                TLS12,
                APPROVED_12,
                groups=(*NIST_CURVES, *FF_GROUPS),
                refusal_answers=("ec_nist",),
            )
            flight = send(hello, hold())
            if flight is not None and flight.accepted and ledger.open("ec_nist"):
                ledger.answer(
                    "ec_nist",
                    "no",
                    f"the server chose {suite_name(flight.cipher_suite or 0)} although ECDHE "
                    "with P-256/P-384 came first in our offer",
                )

    def chacha13(self) -> None:
        """ChaCha20 in TLS 1.3 (TLS-CS-NIST-APPROVED), asked whenever that check still needs
        it: not when TLS 1.3 is refused, and not when the verdict is already decided by a suite
        outside the list or by ChaCha20 in TLS 1.2."""
        view = self.ledger.view()
        if view.value("tls13") == "no":
            how = f"TLS 1.3 is not accepted ({view.answers['tls13'].how})"
            self.ledger.answer("chacha13", "no", how)
            return
        needed = (
            view.open("chacha13")
            and view.value("nist_bad") != "yes"
            and view.value("chacha12") != "yes"
        )
        if needed:
            self.connector.send(
                Hello(
                    "TLS 1.3: ChaCha20-Poly1305", TLS13, (CHACHA13,), refusal_answers=("chacha13",)
                )
            )

    def last_questions(self) -> None:
        """TLS 1.2 and TLS 1.3 support, when no earlier answer settled them."""
        if self.ledger.open("tls12"):
            self.connector.send(tls12_hello())
        if self.ledger.open("tls13"):
            self.connector.send(
                Hello("version: TLS 1.3", TLS13, TLS13_SUITES, refusal_answers=("tls13",))
            )

    def session_answers(self, session_tls: str | None, cipher: str | None) -> None:
        """What the SMTP session's handshake (our broad, modern offer) already answers."""
        ledger = self.ledger
        if session_tls == "TLSv1.3":
            ledger.answer("tls13", "yes", "the SMTP session negotiated TLS 1.3")
            if cipher == "TLS_CHACHA20_POLY1305_SHA256":
                ledger.answer("chacha13", "yes", "the SMTP session negotiated it in TLS 1.3")
        elif session_tls is not None:
            how = f"the SMTP session negotiated {session_tls} although our client offered TLS 1.3"
            ledger.answer("tls13", "no", how)
            ledger.answer("chacha13", "no", how)
            if session_tls == "TLSv1.2":
                ledger.answer("tls12", "yes", "the SMTP session negotiated TLS 1.2")

    def confirm_unusable(self, session: SmtpObservation) -> str | None:
        """The session's handshake was refused: one more, TLS 1.2 at most. If that is refused
        too, no handshake can complete: stop (every TLS question is answered: TLS is unusable).
        Returns the version the second handshake negotiated, if it completed."""
        done = self.connector.full_handshake_tls12()
        if done is None:
            return None
        result, n = done
        if result.outcome == "refused":
            self.connector.stop(
                "no_handshake",
                f"TLS is unusable: no TLS handshake completes with this address (the SMTP "
                f"session's: {session.failure.message if session.failure else '?'}; "
                f"a second one with TLS 1.2 at most, connection {n}: {result.detail})",
            )
        if result.outcome == "completed" and result.version in ("TLSv1.2",):
            self.ledger.answer(
                "tls12", "yes", f"connection {n}: a full TLS 1.2 handshake completed"
            )
        return result.version if result.outcome == "completed" else None
