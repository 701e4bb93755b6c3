"""Hello probes after STARTTLS: which versions, cipher suites and groups an MX really accepts.

Python's ``ssl`` on OpenSSL 3 cannot offer SSL 2.0/3.0, RC4, 3DES, EXPORT or NULL suites, so a
check built on it would report false passes. Each question here is answered by ONE crafted
ClientHello (``mailtls.tls.hello``) on a fresh STARTTLS connection; the server's first flight
(``mailtls.tls.flight``) says accepted (a ServerHello), refused (an alert or a close before any
reply), or error (could not test). The handshake is never completed.

Politeness (issue 3, DESIGN.md "Probing"): the whole default suite opens at most ``budget``
connections per address, the SMTP session(s) included. Questions are asked in order of
importance and bundled: one hello offers every weak, non-forward-secret and non-NIST suite at
once, and is split (the accepted suite removed) only while a question is still open, then, with
what is left of the budget, to list more of what the server accepts. At most two connections
to an address are open at the same time. A 421/454 or a reset before our hello is
inconclusive: one pause and one retry, then the scan stops and the open questions are errors.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from mailtls.observations import (
    Answer,
    AnswerValue,
    Endpoint,
    HelloRecord,
    SkipKind,
    SmtpObservation,
    StopKind,
    TlsScan,
    TranscriptLine,
)
from mailtls.probes.handshake import full_handshake
from mailtls.probes.smtp import ProbeError, SmtpSettings, StartedTls, open_for_hello
from mailtls.tls._wire import SSL2, SSL3, TLS10, TLS11, TLS12, TLS13, version_name
from mailtls.tls.flight import ServerFlight, read_server_flight
from mailtls.tls.groups import (
    ALL_CLASSIC_GROUPS,
    FFDHE2048,
    FFDHE3072,
    FFDHE4096,
    FFDHE6144,
    FFDHE8192,
    NAMED_GROUPS,
    SECP256R1,
    SECP384R1,
    SECP521R1,
    X448,
    X25519,
    group_name,
)
from mailtls.tls.hello import build_client_hello, build_sslv2_client_hello
from mailtls.tls.suites import (
    SSL2_CIPHER_KINDS,
    SUITES,
    CipherSuite,
    is_nist_approved,
    is_weak,
    suite_name,
    suites_for_version,
)

DEFAULT_BUDGET = 10  # connections per address for the whole default suite (issue 3)
MAX_FLIGHT_BYTES = 64 * 1024

#: Curves NCSC-NL rates Good (secp521r1 treated as Good, as internet.nl does).
GOOD_CURVES = frozenset({SECP256R1, SECP384R1, SECP521R1, X25519, X448})
NIST_CURVES = (SECP256R1, SECP384R1)
FF_GROUPS = (FFDHE2048, FFDHE3072, FFDHE4096, FFDHE6144, FFDHE8192)
EC_GROUPS = tuple(c for c, g in NAMED_GROUPS.items() if g.kind == "ec")
BAD_CURVES = tuple(c for c in EC_GROUPS if c not in GOOD_CURVES)
#: Every classic group, the NIST curves first, so that an ECDHE answer tells us about them.
BROAD_GROUPS = (*NIST_CURVES, *(g for g in ALL_CLASSIC_GROUPS if g not in NIST_CURVES))
CHACHA13 = 0x1303

#: The questions a scan answers; the checks read them by these names.
QUESTIONS = {
    "sslv2": "SSL 2.0 accepted",
    "sslv3": "SSL 3.0 accepted",
    "tls10": "TLS 1.0 accepted",
    "tls11": "TLS 1.1 accepted",
    "tls12": "TLS 1.2 accepted",
    "tls13": "TLS 1.3 accepted",
    "weak": "a weak suite (NULL, anonymous, EXPORT, DES, 3DES, RC4, RC2, IDEA, MD5) accepted",
    "nonfs": "a suite without forward secrecy (static RSA or static (EC)DH) accepted",
    "nist_bad": "a suite outside SP 800-52r2 §3.3.1 (other than ChaCha20) accepted",
    "chacha12": "ChaCha20-Poly1305 accepted in TLS 1.2",
    "chacha13": "ChaCha20-Poly1305 accepted in TLS 1.3",
    "dhe": "DHE key exchange accepted",
    "ec_bad": "ECDHE with a curve outside the Good list accepted",
    "ec_nist": "ECDHE with P-256 or P-384 accepted",
}
_VERSION_QUESTION = {SSL2: "sslv2", SSL3: "sslv3", TLS10: "tls10", TLS11: "tls11", TLS12: "tls12", TLS13: "tls13"}  # fmt: skip


def _usable(s: CipherSuite) -> bool:
    """Suites an ordinary certificate-authenticated server could pick (no PSK/SRP/Kerberos)."""
    return s.kex not in ("PSK", "SRP", "KRB5", "ECCPWD", "TLS13") and s.auth != "PSK"


def _chacha(s: CipherSuite) -> bool:
    return s.cipher.startswith("CHACHA20")


def categories(s: CipherSuite) -> frozenset[str]:
    """The scan questions a server choosing this TLS <= 1.2 suite answers with 'yes'."""
    out = set()
    if is_weak(s):
        out.add("weak")
    if not s.forward_secret:
        out.add("nonfs")
    if _chacha(s):
        out.add("chacha12")
    elif not is_nist_approved(s):
        out.add("nist_bad")
    if s.kex == "DHE" and s.auth != "anon":
        out.add("dhe")
    return frozenset(out)


#: Every TLS <= 1.2 suite worth offering (TLS 1.3 suites, even the integrity-only ones of
#: RFC 9150, are never negotiated in a TLS 1.2 hello).
LEGACY_SUITES: tuple[int, ...] = tuple(
    c for c, s in SUITES.items() if s.kex != "TLS13" and (_usable(s) or is_weak(s))
)
#: The bundle: every suite that answers a suite question with yes, weak ones first.
BUNDLE_QUESTIONS = ("weak", "nist_bad", "nonfs", "chacha12")
DHE_SUITES = tuple(
    c for c, s in SUITES.items() if _usable(s) and "dhe" in categories(s) and not is_weak(s)
)
ECDHE_SUITES = tuple(
    c
    for c, s in SUITES.items()
    if _usable(s) and s.kex == "ECDHE" and s.auth != "anon" and not is_weak(s)
)
APPROVED_12 = tuple(
    sorted(
        (c for c, s in SUITES.items() if _usable(s) and is_nist_approved(s) and s.forward_secret),
        key=lambda c: (SUITES[c].kex != "ECDHE", SUITES[c].kex != "DHE"),
    )
)
TLS13_SUITES = (0x1301, 0x1302, 0x1303, 0x1304, 0x1305)


def _weak_first(codes: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(codes, key=lambda c: not is_weak(SUITES[c]) if c in SUITES else True))


@dataclass(frozen=True)
class Hello:
    """One hello to send: the question(s) it asks and the exact offer."""

    purpose: str
    version: int  # highest offered; SSL2 for an SSL 2.0 CLIENT-HELLO
    suites: tuple[int, ...]
    groups: tuple[int, ...] = BROAD_GROUPS
    refusal_answers: tuple[str, ...] = ()  # questions a refusal answers with 'no'
    key_shares: tuple[int, ...] | None = None  # TLS 1.3: None = builder default

    def wire(self, server_name: str | None) -> bytes:
        if self.version == SSL2:
            return build_sslv2_client_hello(self.suites)
        return build_client_hello(
            self.version,
            self.suites,
            server_name=server_name,
            groups=self.groups,
            key_shares=self.key_shares,
        )

    def offered_names(self) -> tuple[str, ...]:
        if self.version == SSL2:
            return tuple(SSL2_CIPHER_KINDS.get(k, f"0x{k:06x}") for k in self.suites)
        return tuple(suite_name(c) for c in self.suites)


def _group_text(flight: ServerFlight) -> str | None:
    if flight.dh_prime is not None:
        if flight.kex_group in FF_GROUPS:
            return group_name(flight.kex_group)
        return f"non-RFC 7919 {flight.dh_bits}-bit group"
    return group_name(flight.kex_group) if flight.kex_group is not None else None


class _Scan:
    """The mutable state of one scan; the result is frozen into a TlsScan at the end."""

    def __init__(
        self,
        endpoint: Endpoint,
        settings: SmtpSettings,
        budget: int,
        session_connections: int,
    ) -> None:
        self.endpoint = endpoint
        self.settings = settings
        self.budget = budget
        self.session_connections = session_connections
        self.lock = threading.Lock()
        self.connections = 0
        self.hellos: list[HelloRecord] = []
        self.answers: dict[str, Answer] = {}
        self.accepted: list[tuple[str, str]] = []
        self.accepted_codes: set[int] = set()
        self.ec_groups: list[str] = []
        self.dhe_group: str | None = None
        self.dhe_bits: int | None = None
        self.stopped: str | None = None  # rate limited or unreachable: no more connections
        self.stop_kind: StopKind | None = None
        self.budget_note: str | None = None  # a question was left open for the budget
        self.budget_open: set[str] = set()  # ... and these are the questions
        self.versions_pending = 4
        self.transcript: list[TranscriptLine] = []

    # ------------------------------------------------------------------ bookkeeping

    def value(self, question: str) -> AnswerValue:
        a = self.answers.get(question)
        return a.value if a else "unknown"

    def open(self, question: str) -> bool:
        return question not in self.answers

    def _answer(self, question: str, value: AnswerValue, how: str) -> None:
        # 'yes' is definitive (the server chose such a suite); a later 'no' never overrides it.
        current = self.answers.get(question)
        if current is None or (current.value == "no" and value == "yes"):
            self.answers[question] = Answer(question, value, how)

    def _reserve(self, hold: int = 0) -> int | None:
        """A connection number, or None when the scan stopped or the budget is spent. `hold`
        keeps that many connections for more important questions still to be asked."""
        with self.lock:
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

    def lane1_need(self) -> int:
        """Connections the versions-and-bundle lane still needs for its first answers."""
        with self.lock:
            bundle_open = any(self.open(q) for q in ("weak", "nonfs", "nist_bad"))
            return self.versions_pending + (1 if bundle_open else 0)

    def _stop(self, kind: StopKind, reason: str) -> None:
        with self.lock:
            if self.stop_kind is None:
                self.stop_kind, self.stopped = kind, reason

    # ------------------------------------------------------------------ connections

    def _connect(self, n: int) -> tuple[StartedTls | None, int]:
        """Open a STARTTLS connection; one polite retry after 421/454/reset."""
        for attempt in (1, 2):
            try:
                started = open_for_hello(self.endpoint, self.settings)
            except ProbeError as exc:
                f = exc.failure
                with self.lock:
                    self.transcript.append(
                        TranscriptLine(0.0, "*", f"connection {n}: {f.stage}: {f.message}")
                    )
                if f.inconclusive and attempt == 1:
                    time.sleep(self.settings.retry_pause)
                    retry = self._reserve()
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
                self._stop(kind, f"{cause} (connection {n}, at {f.stage})")
                return None, n
            with self.lock:
                self.transcript.append(
                    TranscriptLine(0.0, "*", f"--- connection {n}: STARTTLS preamble ---")
                )
                self.transcript.extend(started.transcript)
            return started, n
        return None, n  # pragma: no cover - the loop always returns

    def send(self, hello: Hello, hold: int = 0) -> ServerFlight | None:
        n = self._reserve(hold)
        if n is None:
            with self.lock:
                if not self.stopped:  # the limit, not a stop, left these questions open
                    self.budget_open.update(q for q in hello.refusal_answers if self.open(q))
            return None
        started, n = self._connect(n)
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
        self._learn(n, hello, flight)
        return flight

    # ------------------------------------------------------------------ learning

    def _learn(self, n: int, hello: Hello, flight: ServerFlight) -> None:
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
            group=_group_text(flight),
            alert=flight.detail if flight.alert else None,
            detail=flight.detail,
            certificates=len(flight.certificates),
        )
        with self.lock:
            self.hellos.append(record)
            if flight.outcome == "refused":
                for q in hello.refusal_answers:
                    self._answer(q, "no", how)
                return
            if flight.outcome == "error":
                return
            self._accepted(how, hello, flight)

    def _accepted(self, how: str, hello: Hello, flight: ServerFlight) -> None:
        version = flight.version
        if version is None or (hello.version != SSL2 and version > hello.version):
            self.hellos[-1] = _with_detail(
                self.hellos[-1], "protocol violation: the server chose a version we did not offer"
            )
            return
        if version == SSL2:
            self._answer("sslv2", "yes", how)
            if flight.sslv2_cipher_kinds:
                self._answer("weak", "yes", how)  # every SSL 2.0 cipher kind is MD5-based
            return
        if version in _VERSION_QUESTION:
            self._answer(_VERSION_QUESTION[version], "yes", how)
            offered_q = _VERSION_QUESTION.get(hello.version)
            if offered_q and version < hello.version and hello.purpose.startswith("version"):
                # A server that supports the offered version must choose it (RFC 5246 §E.1).
                self._answer(offered_q, "no", how + f": the server chose {version_name(version)}")
        code = flight.cipher_suite
        if code is None:
            return
        if code not in hello.suites:
            self.hellos[-1] = _with_detail(
                self.hellos[-1], "protocol violation: the server chose a suite we did not offer"
            )
            return
        self.accepted.append((version_name(version), suite_name(code)))
        self.accepted_codes.add(code)
        if code == CHACHA13:
            self._answer("chacha13", "yes", how)
        suite = SUITES.get(code)
        if suite is not None and suite.kex != "TLS13":
            for q in categories(suite):
                self._answer(q, "yes", how)
        group = _group_text(flight)
        if flight.dh_prime is not None and self.dhe_group is None:
            self.dhe_group, self.dhe_bits = group, flight.dh_bits
        elif (
            flight.kex_group is not None
            and flight.kex_group in NAMED_GROUPS
            and NAMED_GROUPS[flight.kex_group].kind == "ec"
        ):
            assert group is not None
            if group not in self.ec_groups:
                self.ec_groups.append(group)
            if flight.kex_group in NIST_CURVES:
                self._answer("ec_nist", "yes", how)
            if flight.kex_group not in GOOD_CURVES:
                self._answer("ec_bad", "yes", how)

    # ------------------------------------------------------------------ plan

    def bundle(self, purpose: str, questions: Sequence[str], listing: bool = False) -> Hello | None:
        """The suites that would answer `questions` with yes, minus those already seen."""
        wanted = set(questions)
        codes = [
            c
            for c in LEGACY_SUITES
            if c not in self.accepted_codes and categories(SUITES[c]) & wanted
        ]
        if not codes:
            return None
        # Suites answering the most open questions first, so one answer settles more.
        codes.sort(key=lambda c: (not is_weak(SUITES[c]), -len(categories(SUITES[c]) & wanted)))
        return Hello(
            purpose, TLS12, tuple(codes), refusal_answers=() if listing else tuple(questions)
        )


def _with_detail(rec: HelloRecord, note: str) -> HelloRecord:
    return replace(rec, outcome="error", detail=f"{rec.detail}; {note}")


def _version_hello(version: int) -> Hello:
    q = _VERSION_QUESTION[version]
    if version == SSL2:
        return Hello("version: SSL 2.0", SSL2, tuple(SSL2_CIPHER_KINDS), refusal_answers=(q,))
    suites = _weak_first(suites_for_version(LEGACY_SUITES, version))
    return Hello(
        f"version: {version_name(version)} as the highest", version, suites, refusal_answers=(q,)
    )


def _versions(scan: _Scan, versions: Iterable[int]) -> None:
    """One hello per legacy version, each offering it as the highest."""
    for version in versions:
        with scan.lock:
            scan.versions_pending -= 1
        scan.send(_version_hello(version))


def _lane_versions(scan: _Scan) -> None:
    """Lane 1: legacy versions, then the bundle of bad suites, split while questions are open."""
    _versions(scan, (SSL2, SSL3, TLS10, TLS11))
    while True:
        with scan.lock:
            open_q = [q for q in BUNDLE_QUESTIONS if scan.open(q)]
            if "chacha12" in open_q and scan.value("nist_bad") == "yes":
                open_q.remove("chacha12")  # the NIST verdict is already a failure
            hello = scan.bundle("suites: " + ", ".join(open_q), open_q) if open_q else None
        if hello is None:
            break
        before = len(scan.answers)
        flight = scan.send(hello)
        if flight is None or flight.outcome == "error" or len(scan.answers) == before:
            break


def _listing(scan: _Scan) -> None:
    """With what is left of the budget, name more of the bad suites the server accepts."""
    for q in ("weak", "nonfs", "nist_bad"):
        with scan.lock:
            more = scan.value(q) == "yes"
            hello = scan.bundle(f"listing: more {q} suites", [q], listing=True) if more else None
        while hello is not None:
            flight = scan.send(hello)
            if flight is None or not flight.accepted:
                break
            with scan.lock:
                hello = scan.bundle(f"listing: more {q} suites", [q], listing=True)


def _tls12_hello() -> Hello:
    """Every TLS 1.2 suite, weak ones last: only a refusal of all of them means 'no TLS 1.2'."""
    suites = tuple(sorted(LEGACY_SUITES, key=lambda c: is_weak(SUITES[c])))
    return Hello("version: TLS 1.2 as the highest", TLS12, suites, refusal_answers=("tls12",))


def _tls13_only(scan: _Scan, hold: Callable[[], int]) -> None:
    """When the SMTP session spoke TLS 1.3, ask first whether TLS 1.2 exists at all. If not,
    the DHE and curve questions are asked in TLS 1.3 instead: a ClientHello with no key share
    makes the server name, in a HelloRetryRequest, a group it accepts from our list."""
    flight = scan.send(_tls12_hello(), hold())
    if flight is None or scan.value("tls12") != "no":
        return
    with scan.lock:
        how = f"TLS 1.2 is not accepted ({scan.answers['tls12'].how}); DHE is a TLS 1.2 question"
        scan._answer("dhe", "no", how)
    if scan.open("ec_bad"):
        scan.send(
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
    if scan.open("ec_nist"):
        scan.send(
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


def _lane_groups(scan: _Scan, hold: Callable[[], int], session_tls: str | None = None) -> None:
    """Lane 2: the DHE group and the ECDHE curves, each asked only while still open. `hold`
    keeps connections for lane 1's more important questions while it is running."""
    if session_tls == "TLSv1.3" and scan.open("tls12"):
        _tls13_only(scan, hold)
    if scan.open("dhe") and scan.open("ec_bad"):
        # One hello for two questions: a refusal answers both. No ffdhe groups are offered: an
        # RFC 7919 server must then use its own group (what most senders get), and one that
        # insists on RFC 7919 groups would refuse DHE outright.
        hello = Hello(
            "DHE, and ECDHE with curves outside the Good list",
            TLS12,
            ECDHE_SUITES + DHE_SUITES,
            groups=BAD_CURVES,
            refusal_answers=("dhe", "ec_bad"),
        )
        scan.send(hello, hold())
    if scan.open("dhe"):
        hello = Hello("DHE: which group", TLS12, DHE_SUITES, NIST_CURVES, ("dhe",))
        scan.send(hello, hold())
    if scan.open("ec_bad"):
        hello = Hello(
            "ECDHE: curves outside the Good list", TLS12, ECDHE_SUITES, BAD_CURVES, ("ec_bad",)
        )
        scan.send(hello, hold())
    if scan.open("ec_nist"):
        hello = Hello(
            "ECDHE: P-256 or P-384, in TLS 1.2",
            TLS12,
            APPROVED_12,
            groups=(*NIST_CURVES, *FF_GROUPS),
            refusal_answers=("ec_nist",),
        )
        flight = scan.send(hello, hold())
        if flight is not None and flight.accepted:
            with scan.lock:
                if scan.open("ec_nist"):
                    scan._answer(
                        "ec_nist",
                        "no",
                        f"the server chose {suite_name(flight.cipher_suite or 0)} although ECDHE "
                        "with P-256/P-384 came first in our offer",
                    )


def _chacha13(scan: _Scan) -> None:
    """ChaCha20 in TLS 1.3 (TLS-CS-NIST-APPROVED), asked whenever that check still needs it:
    not when TLS 1.3 is refused, and not when the verdict is already decided by a suite outside
    the list or by ChaCha20 in TLS 1.2."""
    with scan.lock:
        if scan.value("tls13") == "no":
            how = f"TLS 1.3 is not accepted ({scan.answers['tls13'].how})"
            scan._answer("chacha13", "no", how)
            return
        needed = (
            scan.open("chacha13")
            and scan.value("nist_bad") != "yes"
            and scan.value("chacha12") != "yes"
        )
    if needed:
        scan.send(
            Hello("TLS 1.3: ChaCha20-Poly1305", TLS13, (CHACHA13,), refusal_answers=("chacha13",))
        )


def _last_questions(scan: _Scan) -> None:
    """TLS 1.2 and TLS 1.3 support, when no earlier answer settled them."""
    if scan.open("tls12"):
        scan.send(_tls12_hello())
    if scan.open("tls13"):
        scan.send(Hello("version: TLS 1.3", TLS13, TLS13_SUITES, refusal_answers=("tls13",)))


def _session_answers(scan: _Scan, session_tls: str | None, cipher: str | None) -> None:
    """What the SMTP session's handshake (our broad, modern offer) already answers."""
    if session_tls == "TLSv1.3":
        scan._answer("tls13", "yes", "the SMTP session negotiated TLS 1.3")
        if cipher == "TLS_CHACHA20_POLY1305_SHA256":
            scan._answer("chacha13", "yes", "the SMTP session negotiated it in TLS 1.3")
    elif session_tls is not None:
        how = f"the SMTP session negotiated {session_tls} although our client offered TLS 1.3"
        scan._answer("tls13", "no", how)
        scan._answer("chacha13", "no", how)
        if session_tls == "TLSv1.2":
            scan._answer("tls12", "yes", "the SMTP session negotiated TLS 1.2")


def _confirm_unusable(scan: _Scan, session: SmtpObservation) -> str | None:
    """The session's handshake was refused: one more, TLS 1.2 at most. If that is refused too,
    no handshake can complete: stop (every TLS question is answered: TLS is unusable). Returns
    the version the second handshake negotiated, if it completed."""
    n = scan._reserve()
    if n is None:
        return None
    started, n = scan._connect(n)
    if started is None:
        return None
    result = full_handshake(started, scan.endpoint.host, tls12_at_most=True)
    with scan.lock:
        scan.transcript.append(
            TranscriptLine(0.0, "*", f"connection {n}: full handshake, TLS 1.2 at most: "
                           f"{result.detail} {result.version or ''}".rstrip())
        )  # fmt: skip
        scan.hellos.append(
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
    if result.outcome == "refused":
        scan._stop(
            "no_handshake",
            f"TLS is unusable: no TLS handshake completes with this address (the SMTP "
            f"session's: {session.failure.message if session.failure else '?'}; "
            f"a second one with TLS 1.2 at most, connection {n}: {result.detail})",
        )
    if result.outcome == "completed" and result.version in ("TLSv1.2",):
        scan._answer("tls12", "yes", f"connection {n}: a full TLS 1.2 handshake completed")
    return result.version if result.outcome == "completed" else None


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
    scan = _Scan(endpoint, settings, budget, used)
    skipped = _why_skip(sessions)
    first = sessions[0] if sessions else None
    session_tls = next((s.tls.version for s in sessions if s.tls), None)
    if skipped is None and first is not None:
        cipher = next((s.tls.cipher for s in sessions if s.tls), None)
        _session_answers(scan, session_tls, cipher)
        if first.failure is not None and first.failure.kind == "tls_refused":
            _confirm_unusable(scan, first)
        if scan.stop_kind is not None:
            pass  # TLS is unusable (or the address stopped answering): nothing more to ask
        elif versions_only:
            _run_lanes(
                scan,
                [lambda: _versions(scan, (SSL2, SSL3)), lambda: _versions(scan, (TLS10, TLS11))],
            )
            _last_questions(scan)
        else:
            _run_lanes(
                scan,
                [
                    lambda: _lane_versions(scan),
                    lambda: _lane_groups(scan, scan.lane1_need, session_tls),
                ],
            )
            _lane_groups(scan, lambda: 0)  # what the hold deferred, now that lane 1 is done
            _last_questions(scan)
            _chacha13(scan)
            _listing(scan)
    return TlsScan(
        endpoint=endpoint,
        started=started_at,
        finished=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        hellos=tuple(sorted(scan.hellos, key=lambda h: h.n)),
        answers=tuple(scan.answers[q] for q in QUESTIONS if q in scan.answers),
        accepted=tuple(dict.fromkeys(scan.accepted)),
        dhe_group=scan.dhe_group,
        dhe_bits=scan.dhe_bits,
        ec_groups=tuple(scan.ec_groups),
        connections=scan.connections,
        session_connections=used,
        session_tls=session_tls,
        budget=budget,
        skipped=skipped[1] if skipped else None,
        stopped=scan.stopped,
        transcript=tuple(scan.transcript),
        skip_kind=skipped[0] if skipped else None,
        stop_kind=scan.stop_kind,
        budget_open=tuple(sorted(scan.budget_open - set(scan.answers))),
        budget_note=scan.budget_note if scan.budget_open - set(scan.answers) else None,
    )


def _run_lanes(scan: _Scan, lanes: list[Callable[[], None]]) -> None:
    """Two lanes at once: at most two connections to the address are open at any time."""
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="mailtls-hello") as pool:
        for fut in [pool.submit(lane) for lane in lanes]:
            fut.result()


def _why_skip(sessions: Sequence[SmtpObservation]) -> tuple[SkipKind, str] | None:
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
