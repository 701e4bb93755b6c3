"""The scale benchmark's own DNS (bench/bench_scale.py): why its error rows came, and that they
no longer do.

Every generated domain is a name in the one zone ``scale18.``. NSD's response rate limiting
(on by default, 200 answers a second per client /24 and answer type) puts all their NXDOMAIN
answers (``_dmarc.<domain>`` TXT) in one bucket and all their NODATA answers (TXT at the domain,
for SPF) in another. Past the limit NSD drops or truncates answers, and the validating Unbound
answers SERVFAIL ("all the configured stub or forward servers failed ... upstream server
timeout"): the 1,000-domain benchmark had DMARC rows in ``error`` for a healthy inventory. Here
the suite's own lookups (mailtls.probes.senderauth, 16 workers, as the suite runs them) go
through the benchmark's Dns, once with a low limit and no truncated answers (the cause, made
certain) and once as the benchmark configures it (no limit: no failure). Own addresses
127.0.18.111/.112 (issue 14's range), so a benchmark may run beside it.
"""

from __future__ import annotations

import contextlib
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.scale_dns import ZONE, Dns, dns_trouble
from mailtls.probes import senderauth
from mailtls.probes.dns import DnsClient, ResolverAddress

NSD, UNBOUND = "127.0.18.111", "127.0.18.112"
DOMAINS = 300

pytestmark = pytest.mark.skipif(
    not all(shutil.which(b) for b in ("nsd", "unbound", "ldns-signzone", "ldns-keygen")),
    reason="needs nsd, unbound and ldnsutils (testbed/setup.sh installs them)",
)


@contextlib.contextmanager
def _dns(folder: Path, rrl_ratelimit: int, rrl_slip: int = 2) -> Iterator[Dns]:
    dns = Dns(folder, DOMAINS, "ring", NSD, UNBOUND, rrl_ratelimit, rrl_slip)
    try:
        yield dns
    finally:
        dns.stop()


def _lookups() -> Counter[str]:
    """The status of every SPF and DMARC answer the suite's lookups got, by status."""
    client = DnsClient(ResolverAddress(UNBOUND), 3.0)
    found = senderauth.lookup_all(client, {f"d{i:05d}.{ZONE}": () for i in range(DOMAINS)}, 16)
    statuses: Counter[str] = Counter()
    for result in found.values():
        assert not isinstance(result, str), result
        statuses.update(a.status for a in (*result.spf.answers, *result.dmarc.answers))
    return statuses


def test_a_rate_limiting_authority_makes_the_resolver_fail(tmp_path: Path) -> None:
    # A low limit, and every rate-limited answer dropped (no truncated answer that Unbound could
    # retry over TCP): what happens to some answers at 200 a second, made certain.
    with _dns(tmp_path, rrl_ratelimit=5, rrl_slip=0) as dns:
        marks = dns.offsets()
        statuses = _lookups()
        failed = sum(n for s, n in statuses.items() if s not in ("ok", "nodata", "nxdomain"))
        assert failed > 0, statuses
        trouble = dns_trouble(dns, marks)
        assert trouble is not None and "NSD rate-limit blocks" in trouble, trouble
        assert "ratelimit block scale18. type nxdomain" in dns.nsd_log.read_text()


def test_the_benchmark_dns_answers_every_lookup(tmp_path: Path) -> None:
    with _dns(tmp_path, rrl_ratelimit=0) as dns:
        marks = dns.offsets()
        statuses = _lookups()
        # Nothing but answers: TXT at the domain is NODATA, _dmarc.<domain> NXDOMAIN.
        assert statuses == Counter({"nodata": DOMAINS, "nxdomain": DOMAINS}), statuses
        assert dns_trouble(dns, marks) is None
