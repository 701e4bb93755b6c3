"""A definite DNS answer is asked once per run and shared; a failure is asked again (the stub
resolver of mailtls/probes/dns.py against a counting UDP server of ours on loopback)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailtls.probes.dns import DnsClient, ResolverAddress
from tests.support.dnsstub import ADDRESS, CountingResolver


@pytest.fixture
def server() -> Iterator[CountingResolver]:
    s = CountingResolver(5331)
    yield s
    s.close()


def test_a_definite_answer_is_asked_once_and_shared(server: CountingResolver) -> None:
    client = DnsClient(ResolverAddress(ADDRESS, 5331), timeout=2.0)
    first = client.query("ok.example", "A")
    again = client.query("OK.example.", "A")  # the same question, written differently
    assert first.status == "ok" and first.records == ("192.0.2.1",)
    assert again is first
    assert server.asked[("ok.example.", "A")] == 1
    client.query("ok.example", "AAAA")  # another type is another question
    assert server.asked[("ok.example.", "AAAA")] == 1


def test_a_failure_is_asked_again(server: CountingResolver) -> None:
    client = DnsClient(ResolverAddress(ADDRESS, 5331), timeout=2.0)
    assert client.query("broken.example", "A").status == "servfail"
    assert client.query("broken.example", "A").status == "servfail"
    assert server.asked[("broken.example.", "A")] == 2
