"""Inventory loading: good shapes parse; each kind of bad input gives one clear message."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from mailtls.inventory import InventoryError, load_inventory, normalize_domain


def write(tmp_path: Path, text: str | bytes) -> Path:
    p = tmp_path / "inv.yaml"
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return p


def test_short_and_client_forms(tmp_path: Path) -> None:
    inv = load_inventory(
        write(
            tmp_path,
            """
profile: ncsc-uk
domains: [a.example, {name: B.Example., expiry_warning_days: 30}]
clients:
  - name: Acme
    profile: ncsc-nl
    domains:
      - name: acme.example
        submission: [smtp.acme.example]
        dkim_selectors: [s1]
        waivers:
          - {requirement: SMTP-STARTTLS-OFFERED, reason: legacy relay, expires: 2030-01-31, hosts: [mx2.acme.example]}
""",
        )
    )
    names = [d.name for d in inv.domains]
    assert names == ["a.example", "b.example", "acme.example"]
    assert inv.domains[0].profile == "ncsc-uk" and inv.domains[0].expiry_warning_days == 60
    assert inv.domains[1].expiry_warning_days == 30
    acme = inv.domains[2]
    assert acme.client == "Acme" and acme.profile == "ncsc-nl"
    assert acme.submission == ("smtp.acme.example",)
    w = acme.waivers[0]
    assert w.expires == dt.date(2030, 1, 31) and w.covers(
        "SMTP-STARTTLS-OFFERED", "mx2.acme.example"
    )
    assert not w.covers("SMTP-STARTTLS-OFFERED", "mx1.acme.example")
    assert len(inv.sha256) == 64


def test_idn_becomes_a_label(tmp_path: Path) -> None:
    inv = load_inventory(write(tmp_path, "domains: [bücher.example]\n"))
    assert inv.domains[0].name == "xn--bcher-kva.example"
    assert inv.domains[0].display_name == "bücher.example"


#: (inventory text, what the message says): every one is a usage error (tests/test_cli_usage.py).
BAD_INVENTORIES: list[tuple[str | bytes, str]] = [
    ("domains: [a.example\n", "YAML syntax error at line"),
    ("domain: [a.example]\n", "unknown key 'domain'"),
    ("domains: a.example\n", "'domains' must be a list"),
    ("domains: [{name: a.example, colour: red}]\n", "unknown key 'colour'"),
    ("domains: [not_a_domain!]\n", "invalid domain name"),
    ("domains: [localhost]\n", "at least two labels"),
    ("domains: [a.example, A.EXAMPLE.]\n", "duplicate domain a.example"),
    (
        "domains: [{name: a.example, expiry_warning_days: soon}]\n",
        "expiry_warning_days must be",
    ),
    ("domains: [{name: a.example, profile: pci}]\n", "profile 'pci' is not one of"),
    (
        "domains: [{name: a.example, waivers: [{requirement: MX-RESOLVE, expires: 2030-01-01}]}]\n",
        "needs a reason",
    ),
    (
        "domains: [{name: a.example, waivers: [{requirement: MX-RESOLVE, reason: x}]}]\n",
        "needs 'expires: YYYY-MM-DD'",
    ),
    (
        "domains: [{name: a.example, waivers: [{requirement: NOPE, reason: x, expires: 2030-01-01}]}]\n",
        "requirement 'NOPE' is not a catalogue ID",
    ),
    ("clients: [{name: Acme}]\n", "client has no 'domains:' list"),
    ("[a.example]\n", "expected a mapping"),
    ("domains: []\n", "lists no domains"),
    ("domains: [{name: a.example, submission: 42}]\n", "submission must be a list"),
    (b"domains: [\xff]\n", "not UTF-8"),
    ("domains: [{name: 'a.example/path'}]\n", "no spaces, '/'"),
    ("domains: [127.0.1.1]\n", "inventories list mail domains"),
    ("domains: [{name: '2001:db8::25'}]\n", "inventories list mail domains"),
    ("", "expected a mapping"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_INVENTORIES)
def test_bad_inventory_names_file_entry_and_fix(
    tmp_path: Path, text: str | bytes, expected: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message


def test_entry_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, "clients: [{name: Acme, domains: [ok.example, {name: bad..example}]}]\n")
    with pytest.raises(
        InventoryError, match=r"clients\[0\] \(Acme\)\.domains\[1\] \(bad\.\.example\)"
    ):
        load_inventory(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="cannot read it"):
        load_inventory(tmp_path / "nope.yaml")


@pytest.mark.parametrize("raw", ["", " ", "a", "-a.example", "a" * 64 + ".example", "a b.example"])
def test_normalize_rejects(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_domain(raw)


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("domains:\n  - 127.0.1.1\n", "domains[0] (127.0.1.1)"),
        ('domains:\n  - name: "192.0.2.1"\n', "domains[0] (192.0.2.1)"),
        ("domains:\n  - good.example\n  - 192.0.2.1.\n", "domains[1] (192.0.2.1.)"),
        ("domains:\n  - '2001:db8::1'\n", "domains[0] (2001:db8::1)"),
        ("domains:\n  - ::1\n", "domains[0] (::1)"),
        ('domains:\n  - "[192.0.2.7]"\n', "domains[0] ([192.0.2.7])"),
        ('domains:\n  - "[IPv6:2001:db8::7]"\n', "domains[0] ([IPv6:2001:db8::7])"),
        ("domains:\n  - [192.0.2.8]\n", "domains[0]: '[192.0.2.8]'"),
        (
            "clients:\n  - name: Acme\n    domains: [ok.example, {name: 198.51.100.1}]\n",
            "clients[0] (Acme).domains[1] (198.51.100.1)",
        ),
    ],
)
def test_ip_literal_is_not_a_domain(tmp_path: Path, text: str, entry: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    message = str(info.value)
    assert f"inventory {path} has 1 problem(s)" in message
    assert entry in message
    assert "inventories list mail domains" in message
    assert "not addresses" in message


def test_ip_literal_submission_host_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "domains: [{name: a.example, submission: ['192.0.2.9']}]\n")
    with pytest.raises(InventoryError, match=r"submission host '192\.0\.2\.9': is an IP address"):
        load_inventory(path)


@pytest.mark.parametrize("raw", ["1.example", "123.example", "192.0.2.1.example", "0x7f.example"])
def test_names_that_look_numeric_are_still_domains(raw: str) -> None:
    assert normalize_domain(raw) == raw
