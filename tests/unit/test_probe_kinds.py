"""ProbeKind[K, O]: each probe's key and observation types, and what a fixture gets back from a
run's results (the observation, the probe's crash, or None), without narrowing by the caller."""

from __future__ import annotations

from mailtls.observations import Endpoint
from mailtls.scheduler import MTASTS_POLICY, PROBES, SMTP, TLSSCAN, ProbeCrash
from mailtls.targets import Target
from tests.support import factories as f

MX_TARGET = Target("mx", f.DOMAIN, f.MX, f.IP, 25)
KEY = Endpoint(f.IP, 25, None)


def test_the_keys_are_typed_per_probe() -> None:
    assert SMTP.key(MX_TARGET) == KEY
    assert TLSSCAN.key(MX_TARGET) == KEY
    assert MTASTS_POLICY.key(MX_TARGET) == ("mta-sts", f.DOMAIN)
    assert SMTP.ip(KEY) == f.IP
    assert MTASTS_POLICY.ip(("mta-sts", f.DOMAIN)) == f"mta-sts.{f.DOMAIN}"
    assert set(PROBES) == {"smtp", "tlsscan", "tlsversions", "mtasts_policy", "sni"}


def test_lookup_gives_the_observation_a_crash_or_none() -> None:
    session = f.session()
    crash = ProbeCrash("tlsscan", str(KEY), "internal error in the tlsscan probe: boom")
    observations: dict[tuple[str, object], object] = {
        ("smtp", KEY): session,
        ("tlsscan", KEY): crash,
    }
    assert SMTP.lookup(observations, MX_TARGET) is session
    assert TLSSCAN.lookup(observations, MX_TARGET) is crash
    assert MTASTS_POLICY.lookup(observations, MX_TARGET) is None  # never planned


def test_an_observation_of_another_type_is_not_handed_out() -> None:
    observations: dict[tuple[str, object], object] = {("tlsscan", KEY): f.session()}
    assert TLSSCAN.lookup(observations, MX_TARGET) is None
