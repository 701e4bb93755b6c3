"""The shard plan: groups by shared MX address (transitively), deterministic, balanced, and the
checks that keep a merge from mixing parts of different runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailtls import merge, shard
from mailtls.observations import Discovery, DnsAnswer, MxHost


def _disc(domain: str, *ips: str) -> Discovery:
    mx = DnsAnswer(domain, "MX", "ok", "NOERROR", (f"10 mx.{domain}.",), 300, True, "r")
    hosts = tuple(MxHost(f"mx{i}.{domain}", 10, (ip,), None, None) for i, ip in enumerate(ips))
    return Discovery(domain, "mx", mx, hosts)


def test_groups_are_transitive_and_in_inventory_order() -> None:
    found = {
        "a": _disc("a", "10.0.0.1"),
        "b": _disc("b", "10.0.0.2"),
        "c": _disc("c", "10.0.0.1", "10.0.0.3"),
        "d": _disc("d", "10.0.0.3"),
        "e": _disc("e"),
    }
    assert shard.groups(["a", "b", "c", "d", "e"], found) == [["a", "c", "d"], ["b"], ["e"]]


def test_plan_keeps_groups_whole_and_says_when_one_is_too_big() -> None:
    names = [f"d{i}" for i in range(10)]
    found = {n: _disc(n, "10.9.9.9" if i < 6 else f"10.0.0.{i}") for i, n in enumerate(names)}
    plans = [shard.plan(names, found, k, 3) for k in (1, 2, 3)]
    assert plans[0].assignment == plans[2].assignment  # every shard computes the same plan
    assert plans[0].domains == tuple(names[:6])
    assert sorted(d for p in plans for d in p.domains) == sorted(names)
    assert (
        len(plans[0].notes) == 1 and "6 domains share MX addresses (10.9.9.9" in plans[0].notes[0]
    )
    balanced = shard.plan(names, found, 1, 3, balance=True)
    assert [len(a) for a in balanced.assignment] == [4, 3, 3]
    assert "--shard-balance" in balanced.notes[0]


def test_a_ring_of_shared_addresses_names_its_addresses() -> None:
    # d0 on .1+.2, d1 on .2+.3, ...: one group, though no address is common to all its domains.
    names = [f"d{i}" for i in range(6)]
    found = {n: _disc(n, f"10.0.0.{i % 3}", f"10.0.0.{(i + 1) % 3}") for i, n in enumerate(names)}
    (note,) = shard.plan(names, found, 1, 2).notes
    assert "6 domains share MX addresses (10.0.0.0, 10.0.0.1, 10.0.0.2; first d0)" in note


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0"])
def test_bad_shard_spec(text: str) -> None:
    with pytest.raises(shard.ShardError, match="expected K/N"):
        shard.parse_spec(text)


def _part(index: int, **run: Any) -> dict[str, Any]:
    base = {
        "strict": False,
        "allow_errors": False,
        "max_connections": 10,
        "baseline": None,
        "profile": "nist",
        "inventory_sha256": "ab",
        "exitstatus": 1,
    }
    return {
        "tool": {"name": "mailtls", "version": "1"},
        "run": {**base, **run},
        "shard": {"index": index, "total": 2, "balance": False, "domains": [f"d{index}"]},
        "results": [],
        "observations": {},
    }


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([_part(1)], "shard(s) 2 of 2 missing"),
        ([_part(1), _part(1), _part(2)], "shard(s) 1 of 2 given more than once"),
        ([_part(1), _part(2, strict=True)], "mixed settings (strict)"),
        ([_part(1), _part(2, profile="ncsc-uk")], "mixed settings (profile)"),
        ([_part(1), _part(2, inventory_sha256="cd")], "mixed inventories"),
        ([_part(1), _part(2, exitstatus=2)], "shard 2 did not finish (exit 2)"),
        ([_part(1), {**_part(2), "tool": {"name": "mailtls", "version": "2"}}], "mixed versions"),
        ([_part(1), {**_part(2), "shard": {**_part(2)["shard"], "total": 3}}], "mixed shard plans"),
    ],
)
def test_parts_that_do_not_belong_together(parts: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(merge.MergeError) as err:
        merge.check_parts([(Path(f"part{i}.json"), p) for i, p in enumerate(parts)])
    assert message in str(err.value)
