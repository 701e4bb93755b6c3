"""Deterministic slices of an inventory for a CI matrix (``--shard=K/N``).

Domains whose MX hosts share an address form one group (union-find over the discovered
addresses), and a group never straddles two shards: the per-address connection budget then holds
across the whole run, even with every shard running at once. Groups go, largest first, to the
shard with the fewest domains so far (ties: the lower shard number), so every shard computes the
same plan from the same discovery. A group larger than 1/N of the inventory is said so in the
plan; ``--shard-balance`` trades the exact budget for balance (domains dealt one by one), and the
merged report then states the connections per address actually made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mailtls.observations import Discovery

_SPEC = re.compile(r"^(\d+)/(\d+)$")


class ShardError(Exception):
    """A bad --shard value; the plugin reports it as a usage error."""


def parse_spec(text: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N -> (K, N)."""
    m = _SPEC.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ShardError(f"--shard {text!r}: expected K/N with 1 <= K <= N (e.g. --shard=2/10)")
    return int(m.group(1)), int(m.group(2))


def _addresses(found: Discovery | None) -> set[str]:
    if found is None:
        return set()
    return {ip for h in found.hosts for ip in h.addresses}


def groups(domains: list[str], discoveries: Mapping[str, Discovery]) -> list[list[str]]:
    """Domains that share an MX address, transitively; each group in inventory order, groups by
    their first domain's place in the inventory."""
    parent = {d: d for d in domains}
    order = {d: i for i, d in enumerate(domains)}

    def find(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    owner: dict[str, str] = {}
    for d in domains:
        for ip in sorted(_addresses(discoveries.get(d))):
            if ip in owner:
                a, b = find(owner[ip]), find(d)
                if a != b:
                    parent[max(a, b, key=order.__getitem__)] = min(a, b, key=order.__getitem__)
            else:
                owner[ip] = d
    found: dict[str, list[str]] = {}
    for d in domains:
        found.setdefault(find(d), []).append(d)
    return list(found.values())


@dataclass(frozen=True)
class ShardPlan:
    index: int  # K (1-based)
    total: int  # N
    assignment: tuple[tuple[str, ...], ...]  # per shard, its domains in inventory order
    notes: tuple[str, ...]  # groups far larger than 1/N, and what was done about them
    balance: bool

    @property
    def domains(self) -> tuple[str, ...]:
        return self.assignment[self.index - 1]

    def as_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "total": self.total,
            "balance": self.balance,
            "domains": list(self.domains),
            "notes": list(self.notes),
        }


def plan(
    domains: list[str],
    discoveries: Mapping[str, Discovery],
    index: int,
    total: int,
    balance: bool = False,
) -> ShardPlan:
    """The shard plan every shard computes alike from the inventory and its discovery."""
    found = groups(domains, discoveries)
    share = len(domains) / total
    notes = []
    for g in found:
        if len(g) > 1 and len(g) > share:
            # Linked transitively (a-b, b-c), so no one address need be common to all: name them all.
            shared = sorted(set.union(*(_addresses(discoveries.get(d)) for d in g)))
            what = (
                "dealt over the shards one domain at a time (--shard-balance): the per-address "
                "budget no longer holds across shards; the merged report states the connections "
                "made per address"
                if balance
                else "kept whole in one shard, so the per-address budget holds"
            )
            notes.append(
                f"{len(g)} domains share MX addresses ({', '.join(shared[:3])}"
                f"{', ...' if len(shared) > 3 else ''}; first {g[0]}): more than 1/{total} of the "
                f"inventory ({share:.0f} domains); {what}"
            )
    if balance:
        units = [[d] for d in domains]
    else:
        order = {d: i for i, d in enumerate(domains)}
        units = sorted(found, key=lambda g: (-len(g), order[g[0]]))
    shards: list[list[str]] = [[] for _ in range(total)]
    for unit in units:
        target = min(range(total), key=lambda k: (len(shards[k]), k))
        shards[target] += unit
    position = {d: i for i, d in enumerate(domains)}
    assignment = tuple(tuple(sorted(s, key=position.__getitem__)) for s in shards)
    return ShardPlan(index, total, assignment, tuple(notes), balance)
