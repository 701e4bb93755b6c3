"""Mail-server addresses shared by several MX names (hosting providers put many customers' MX
names on one address).

Each address and port gets ONE SMTP session, one hello scan and one connection budget, whatever
names point at it. The session sends the first name (in sorted order) as SNI; every name's
certificate questions (name match, DANE, MTA-STS ``mx`` coverage) are answered from the chain
that was served. Only when budget is left after the session and the scan does one more
handshake, with a second name as SNI, test whether the server picks its certificate by SNI: when
it serves the same chain, every name keeps the shared answer; when it serves another chain, each
further name gets a handshake of its own while the budget lasts, and a name left without one
gets an error on its certificate rows rather than another name's answer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from mailtls.observations import Endpoint, SmtpObservation
from mailtls.probes.smtp import SmtpSettings, probe_smtp
from mailtls.targets import Target

# Requirements whose answer depends on the MX name, not only on the address.
PER_NAME_PREFIXES = ("CERT-MX-", "DANE-", "MTASTS-MX-CERT")


def address_key(target: Target) -> Endpoint | None:
    """The address and port a target is probed at (no name): one probe set per key."""
    if target.unavailable or target.ip is None or target.port is None:
        return None
    return Endpoint(target.ip, target.port, None, target.implicit_tls)


def address_names(targets: Iterable[Target]) -> dict[Endpoint, tuple[str, ...]]:
    """Every name that points at each address and port, sorted (the first is the shared SNI)."""
    found: dict[Endpoint, set[str]] = {}
    for t in targets:
        key = address_key(t)
        if key is not None and t.host:
            found.setdefault(key, set()).add(t.host)
    return {key: tuple(sorted(names)) for key, names in found.items()}


@dataclass(frozen=True)
class SniProbe:
    """Whether a shared address picks its certificate by SNI, and the handshakes that said so."""

    address: Endpoint
    names: tuple[str, ...]  # every name pointing at the address; names[0] was the session's SNI
    started: str
    selects_by_sni: bool | None  # None: not tested (no budget left, or no TLS)
    note: str
    sessions: tuple[SmtpObservation, ...] = ()  # one per extra name, SNI = that name

    @property
    def connections(self) -> int:
        return sum(s.connections for s in self.sessions)

    def session_for(self, name: str) -> SmtpObservation | None:
        """The handshake made with this name as SNI, where one was made."""
        return next((s for s in self.sessions if s.endpoint.host == name), None)

    def untested(self, name: str) -> str | None:
        """Why this name's certificate cannot be judged from the shared session, if it cannot."""
        if self.selects_by_sni and name != self.names[0] and self.session_for(name) is None:
            return (
                f"{name} ({self.address.ip}:{self.address.port}): the server picks its certificate "
                f"by SNI and the connection limit left no handshake for this name"
            )
        return None


def _same_chain(a: SmtpObservation, b: SmtpObservation) -> bool:
    return a.tls is not None and b.tls is not None and a.tls.chain_der == b.tls.chain_der


def probe_sni(
    address: Endpoint,
    names: tuple[str, ...],
    shared: SmtpObservation | None,
    left: int,
    settings: SmtpSettings,
) -> SniProbe:
    """Test SNI selection at a shared address with at most ``left`` connections."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")

    def done(selects: bool | None, note: str, sessions: list[SmtpObservation]) -> SniProbe:
        return SniProbe(address, names, started, selects, note, tuple(sessions))

    if shared is None or shared.tls is None:
        return done(None, "no TLS session at this address: nothing to compare", [])
    if len(names) < 2:
        return done(None, "only one name points at this address", [])
    if left < 1:
        return done(
            None,
            f"the connection limit left no handshake to test SNI; every name is judged on the "
            f"chain served for {names[0]}",
            [],
        )
    sessions: list[SmtpObservation] = []
    for name in names[1:]:
        if left < 1:
            break
        session = probe_smtp(
            Endpoint(address.ip, address.port, name, address.implicit_tls), settings
        )
        left -= session.connections
        sessions.append(session)
        if len(sessions) == 1 and _same_chain(session, shared):
            return done(
                False,
                f"with SNI {name} the server served the same chain as with SNI {names[0]}: it "
                f"does not pick its certificate by SNI, so every name is judged on that chain",
                sessions,
            )
        if len(sessions) == 1 and session.tls is None:
            return done(
                None,
                f"the handshake with SNI {name} failed: {session.tls_error or session.failure}",
                sessions,
            )
    covered = len(sessions) + 1
    return done(
        True,
        f"the server picks its certificate by SNI (SNI {names[1]} got another chain than "
        f"{names[0]}); {covered} of {len(names)} names got their own handshake within the "
        f"connection limit",
        sessions,
    )
