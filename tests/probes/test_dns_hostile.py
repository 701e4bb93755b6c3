"""The suite's own stub resolver (mailtls/probes/dns.py) against the hostile DNS server
(testbed/servers/hostile_dns.py) used directly as --resolver: the faults a validating resolver
would otherwise absorb (TC, spoofed IDs, wrong questions, SERVFAIL, CNAME loops, huge and garbled
RRsets) reach mailtls itself, and each gets a typed status, never a false answer."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from mailtls import mtasts, records, tlsrpt
from mailtls.probes.dns import DnsClient, ResolverAddress
from tests.conftest import REPO

IP, PORT = "127.0.17.54", 5354
Z = "dns17.test"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsClient]:
    log = tmp_path_factory.mktemp("dns") / "hostile_dns.log"
    script = REPO / "testbed" / "servers" / "hostile_dns.py"
    args = [
        "--listen",
        IP,
        "--port",
        str(PORT),
        "--policy-ip",
        "127.0.17.10",
        "--logfile",
        str(log),
    ]
    proc = subprocess.Popen([sys.executable, str(script), *args])
    try:
        c = DnsClient(ResolverAddress(IP, PORT), timeout=1.0)
        for _ in range(50):  # until it answers
            if c.query(f"ns.{Z}", "A").status == "ok":
                break
            time.sleep(0.1)
        yield c
    finally:
        proc.terminate()
        proc.wait(10)


def test_truncated_udp_answer_is_fetched_over_tcp(client: DnsClient) -> None:
    a = client.query(f"_mta-sts.tc.{Z}", "TXT")
    assert a.status == "ok" and a.records == ('"v=STSv1; id=17"',)


def test_answer_with_a_wrong_id_is_ignored(client: DnsClient) -> None:
    a = client.query(f"_mta-sts.spoof.{Z}", "TXT")
    assert a.status == "ok" and records.select(a.records, mtasts.TAG) == [b"v=STSv1; id=17"]


def test_answer_for_a_wrong_question_is_never_taken(client: DnsClient) -> None:
    a = client.query(f"_mta-sts.wrongq.{Z}", "TXT")
    assert a.status == "timeout" and not a.records


def test_servfail_and_cname_loop_are_typed_failures(client: DnsClient) -> None:
    assert client.query(f"_smtp._tls.servfail.{Z}", "TXT").status == "servfail"
    loop = client.query(f"_mta-sts.loop.{Z}", "TXT")
    assert loop.status == "error" and loop.error and "CNAME" in loop.error
    assert len(loop.cname_chain) == 8


def test_huge_and_duplicate_rrsets_arrive_whole(client: DnsClient) -> None:
    huge = client.query(f"_mta-sts.huge.{Z}", "TXT")
    assert huge.status == "ok" and len(records.select(huge.records, mtasts.TAG)) == 120
    two = client.query(f"_mta-sts.twosts.{Z}", "TXT")
    assert len(records.select(two.records, mtasts.TAG)) >= 2


def test_garbled_bytes_survive_to_the_parser_and_fail_it(client: DnsClient) -> None:
    a = client.query(f"_smtp._tls.garbled.{Z}", "TXT")
    (raw,) = records.select(a.records, tlsrpt.TAG)
    assert raw.endswith(b"\xff\xfe")
    with pytest.raises(records.RecordError, match=r"\\xff\\xfe"):
        tlsrpt.parse(raw)
