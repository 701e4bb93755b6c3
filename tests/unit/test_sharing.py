"""Shared addresses: one probe set per address and port, and when a name's certificate cannot be
answered from the shared session (pure logic; the testbed proves the rest end to end)."""

from __future__ import annotations

from mailtls.observations import Endpoint, SmtpObservation, TlsSession
from mailtls.scheduler import plan
from mailtls.sharing import SniProbe, address_names
from mailtls.targets import Target

ADDRESS = Endpoint("192.0.2.25", 25, None)


def _mx(domain: str, host: str, ip: str = "192.0.2.25") -> Target:
    return Target("mx", domain, host, ip, 25, 10)


def _session(host: str) -> SmtpObservation:
    tls = TlsSession("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128, host, (host.encode(),), 1.0)
    return SmtpObservation(Endpoint(ADDRESS.ip, 25, host), "t", "t", (), tls=tls)


def test_names_on_one_address_share_one_session_and_one_scan() -> None:
    targets = [_mx(f"d{i}.example", f"mx.d{i}.example") for i in range(40)]
    targets.append(_mx("solo.example", "mx.solo.example", "192.0.2.26"))
    names = address_names(targets)
    assert names[ADDRESS] == tuple(sorted(f"mx.d{i}.example" for i in range(40)))
    jobs = plan([(f, t) for t in targets for f in ("smtp", "tlsscan")], names)
    assert sorted(name for name, key in jobs if key == ADDRESS) == ["smtp", "sni", "tlsscan"]
    solo = Endpoint("192.0.2.26", 25, None)
    assert sorted(name for name, key in jobs if key == solo) == ["smtp", "tlsscan"]


def test_a_name_without_its_own_handshake_is_untested_only_where_sni_picks() -> None:
    names = ("a.example", "b.example", "c.example")
    same = SniProbe(ADDRESS, names, "t", False, "same chain", (_session("b.example"),))
    assert same.untested("c.example") is None  # the server does not pick by SNI
    picks = SniProbe(ADDRESS, names, "t", True, "other chain", (_session("b.example"),))
    assert picks.untested("a.example") is None  # the shared session was made for it
    assert picks.untested("b.example") is None and picks.session_for("b.example") is not None
    why = picks.untested("c.example")
    assert why is not None and "picks its certificate by SNI" in why and "c.example" in why
    unknown = SniProbe(ADDRESS, names, "t", None, "no budget left")
    assert unknown.untested("c.example") is None  # judged on the served chain, as the note says
