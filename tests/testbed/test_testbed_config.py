"""The testbed's generated configuration, checked without starting any server: addresses stay in
the testbed range, nothing binds a wildcard, Postfix can neither relay nor deliver, the zones hold
what the scenarios say."""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "testbed"))
from servers._common import in_testbed_range
from tb import ca, common, dns, postfix

VERDICTS = {"pass", "warn", "fail", "not_applicable", "error"}


@pytest.fixture(scope="module")
def data(monkeypatch_module: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch_module.delenv("MAILTLS_TESTBED_SHIFT", raising=False)
    return common.scenarios()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _addresses(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [a for v in value.values() for a in _addresses(v)]
    if isinstance(value, list):
        return [a for v in value for a in _addresses(v)]
    if isinstance(value, str) and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", value):
        return [value]
    return []


def test_every_address_is_in_the_testbed_range(data: dict[str, Any]) -> None:
    found = _addresses(data)
    assert found
    assert all(in_testbed_range(a) for a in found), found


def test_listener_addresses_and_names_are_unique(data: dict[str, Any]) -> None:
    servers = data["listeners"] + data["hostile"]
    assert len({s["ip"] for s in servers}) == len(servers)
    assert len({s["name"] for s in data["listeners"]}) == len(data["listeners"])


def test_expectations_use_known_verdicts(data: dict[str, Any]) -> None:
    for domain, spec in data["domains"].items():
        assert domain.endswith(".test"), domain
        for requirement, want in spec.get("expect", {}).items():
            verdicts = want.values() if isinstance(want, dict) else [want]
            assert set(verdicts) <= VERDICTS, (domain, requirement, want)


def test_every_mx_points_at_a_server_or_is_meant_to_dangle(data: dict[str, Any]) -> None:
    served = {s["ip"] for s in data["listeners"] + data["hostile"] + data.get("stock", [])}
    served |= set(data["legacy"]["hosts"].values())
    hosts: dict[str, str] = {}
    for spec in data["domains"].values():
        hosts.update(spec.get("hosts", {}))
    for domain, spec in data["domains"].items():
        for _, host in spec.get("mx", []):
            if domain == "dangling.test":
                assert host not in hosts
            elif "rtt_upstream" in spec:  # bench/bench_rtt.py puts its proxy there
                assert spec["rtt_upstream"] in served, (domain, spec["rtt_upstream"])
            else:
                assert hosts.get(host) in served, (domain, host)


def test_address_shift_stays_in_range(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILTLS_TESTBED_SHIFT", "5")
    assert common.addr("127.0.11.7") == "127.0.16.7"
    with pytest.raises(ValueError):
        common.addr("127.0.17.1")  # would become 127.0.22.1
    monkeypatch.delenv("MAILTLS_TESTBED_SHIFT")
    for bad in ("0.0.0.0", "127.0.0.1", "127.0.20.1"):
        with pytest.raises(ValueError):
            common.addr(bad)


@pytest.fixture
def tlsa_certs(data: dict[str, Any], tmp_path: Path) -> dict[str, dict[str, str]]:
    """Real certificates from the testbed's CA for every host with TLSA records."""
    authority = ca.TestCA(tmp_path / "certs")
    hosts = {h for d in data["domains"].values() for h in dns.tlsa_spec(d)}
    return {h: authority.leaf(h) for h in sorted(hosts)}


def test_zone_records_follow_the_scenarios(
    data: dict[str, Any], tlsa_certs: dict[str, dict[str, str]]
) -> None:
    rrs = set(dns.records(data["domains"], tlsa_certs))
    assert ("good.test", "MX", "10 mx1.good.test.") in rrs
    assert ("nullmx.test", "MX", "0 .") in rrs
    assert ("implicit.test", "A", "127.0.11.5") in rrs
    assert ("mx.silent.test", "A", "127.0.12.1") in rrs
    assert not any(owner == "missing.test" for owner, _, _ in rrs)
    assert not any(owner == "nowhere.dangling.test" for owner, _, _ in rrs)
    dane = {
        rdata.split()[0] + rdata.split()[1] + rdata.split()[2]
        for owner, rtype, rdata in rrs
        if owner == "_25._tcp.mx.dane.test" and rtype == "TLSA"
    }
    assert dane == {"311", "211"}
    leaf = x509.load_pem_x509_certificate(Path(tlsa_certs["mx.dane.test"]["cert"]).read_bytes())
    spki = leaf.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert ("_25._tcp.mx.dane.test", "TLSA", f"3 1 1 {hashlib.sha256(spki).hexdigest()}") in rrs


def test_postfix_never_relays_and_binds_no_wildcard(data: dict[str, Any], tmp_path: Path) -> None:
    servers = data["listeners"] + data["submission"]
    certs = {item["cert"]: {"key": "/k", "cert": "/c", "inter": "/i"} for item in servers}
    try:
        conf = postfix.build(tmp_path, data["listeners"], certs, data["submission"])
    except (LookupError, PermissionError) as exc:  # no postfix user / not root
        if os.environ.get("CI") == "true":
            pytest.fail(f"cannot prepare a Postfix directory: {exc}")
        pytest.skip(f"cannot prepare a Postfix directory here: {exc}")
    main = dict(
        line.split(" = ", 1) for line in (conf / "main.cf").read_text().splitlines() if line
    )
    for empty in ("mydestination", "relay_domains", "alias_maps", "local_recipient_maps"):
        assert main[empty] == "", empty
    assert main["smtpd_recipient_restrictions"] == "reject"
    assert main["smtpd_relay_restrictions"] == "reject"
    assert main["mynetworks"] == "127.0.0.255/32"
    assert main["default_transport"].startswith("error:")
    assert main["local_transport"].startswith("error:")
    assert main["maillog_file"].startswith(str(tmp_path))
    inet = [line for line in (conf / "master.cf").read_text().splitlines() if " inet " in line]
    assert len(inet) == len(servers)
    for line in inet:
        # 127.0.15.x: the stock-server matrix (issue 12); 127.0.18.x: the shared-address listener
        # of issue 14 (each its own range)
        assert re.match(r"127\.0\.1[158]\.\d+:25 inet |127\.0\.13\.\d+:(587|465) inet ", line), (
            line
        )
        assert "-o syslog_name=postfix/" in line
    wrapped = [line for line in inet if "smtpd_tls_wrappermode=yes" in line]
    assert wrapped and all(":465 inet " in line for line in wrapped)
    assert all(
        re.search(r"-o smtpd_sasl_auth_enable=yes", line)
        for line in inet
        if line.startswith("127.0.13.1:")
    )


def test_submission_listeners_are_unique_and_reserved(data: dict[str, Any]) -> None:
    seen = {(item["ip"], item["port"]) for item in data["submission"]}
    assert len(seen) == len(data["submission"])
    assert all(item["ip"].startswith("127.0.13.") for item in data["submission"])
    assert {port for _, port in seen} == {587, 465}


def test_srv_records_follow_the_scenarios(
    data: dict[str, Any], tlsa_certs: dict[str, dict[str, str]]
) -> None:
    rrs = set(dns.records(data["domains"], tlsa_certs))
    assert ("_submissions._tcp.subgood.test", "SRV", "0 1 465 smtp.subgood.test.") in rrs
    assert ("_submission._tcp.subnone.test", "SRV", "0 0 0 .") in rrs


@pytest.mark.parametrize(
    ("ip", "inside"),
    [
        ("127.0.10.0", True),
        ("127.0.19.255", True),
        ("127.0.9.255", False),
        ("127.0.20.0", False),
        ("0.0.0.0", False),
        ("127.0.10.256", False),
        ("mx.example", False),
    ],
)
def test_the_address_rule_is_written_once_and_holds_at_its_edges(ip: str, inside: bool) -> None:
    """testbed/servers/_common.py is the one home of the rule; tb/common.addr() refuses the rest."""
    assert in_testbed_range(ip) is inside
    if not inside:
        with pytest.raises(ValueError, match=r"127\.0\.10\.0-127\.0\.19\.255"):
            common.addr(ip)
