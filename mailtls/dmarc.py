"""Pure parser for DMARC records (RFC 7489 §6.3, §6.4) and the Organizational Domain (§3.2).

No network here: :mod:`mailtls.probes.senderauth` queries ``_dmarc.<domain>`` and, when that
holds no record, ``_dmarc.<organizational domain>`` (§6.6.3).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from publicsuffixlist import PublicSuffixList

from mailtls.dkim import DkimError, tag_list
from mailtls.spf import joined

POLICIES = ("none", "quarantine", "reject")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s,!;]+(?:![0-9]+[kmgtKMGT]?)?$")
_VERSION = re.compile(r"^[vV][ \t]*=[ \t]*DMARC1[ \t]*(?:;|$)")


class DmarcError(ValueError):
    """A record that does not follow RFC 7489 §6.3/§6.4; the message says which tag."""


def is_dmarc(value: str) -> bool:
    """The record starts with the ``v=DMARC1`` tag (§6.6.3: others are discarded)."""
    return bool(_VERSION.match(value.lstrip(" \t")))


def select(records: Sequence[str]) -> list[str]:
    """The DMARC records among TXT records in presentation form (strings joined)."""
    return [value for value in joined(records) if is_dmarc(value)]


@dataclass(frozen=True)
class DmarcRecord:
    policy: str  # p=
    subdomain_policy: str | None  # sp= as published (None: absent, p= applies)
    pct: int  # default 100
    rua: tuple[str, ...]
    ruf: tuple[str, ...]
    tags: tuple[tuple[str, str], ...]

    def policy_for(self, subdomain: bool) -> str:
        """The policy applied to the domain itself, or to a subdomain (sp=, default p=)."""
        if subdomain and self.subdomain_policy is not None:
            return self.subdomain_policy
        return self.policy

    @property
    def rua_mailto(self) -> tuple[str, ...]:
        return tuple(u for u in self.rua if u.lower().startswith("mailto:"))


def _uris(name: str, value: str) -> tuple[str, ...]:
    uris = tuple(u.strip(" \t") for u in value.split(","))
    for uri in uris:
        if not _URI.match(uri):
            raise DmarcError(f"{name}=: {uri!r} is not a URI (optionally with !size)")
    return uris


def parse(value: str) -> DmarcRecord:
    """Parse the joined text of one ``_dmarc`` record; raise :class:`DmarcError` on any defect."""
    try:
        tags = tuple((name.lower(), val) for name, val in tag_list(value))
    except DkimError as exc:
        raise DmarcError(str(exc)) from None
    if not tags or tags[0] != ("v", "DMARC1"):
        raise DmarcError("v=DMARC1 must be the first tag")
    found = dict(tags)
    policy = found.get("p")
    if policy is None:
        raise DmarcError("the required p= tag is missing")
    if policy not in POLICIES:
        raise DmarcError(f"p={policy!r} is not none, quarantine or reject")
    sp = found.get("sp")
    if sp is not None and sp not in POLICIES:
        raise DmarcError(f"sp={sp!r} is not none, quarantine or reject")
    pct_text = found.get("pct", "100")
    if not pct_text.isdigit() or not 0 <= int(pct_text) <= 100:
        raise DmarcError(f"pct={pct_text!r} is not a whole number 0-100")
    for name in ("adkim", "aspf"):
        if name in found and found[name] not in ("r", "s"):
            raise DmarcError(f"{name}={found[name]!r} is not r or s")
    if "ri" in found and not found["ri"].isdigit():
        raise DmarcError(f"ri={found['ri']!r} is not a number of seconds")
    if "fo" in found and not re.fullmatch(r"[01ds](?:[ \t]*:[ \t]*[01ds])*", found["fo"]):
        raise DmarcError(f"fo={found['fo']!r} is not a colon-separated list of 0, 1, d, s")
    return DmarcRecord(
        policy=policy,
        subdomain_policy=sp,
        pct=int(pct_text),
        rua=_uris("rua", found["rua"]) if "rua" in found else (),
        ruf=_uris("ruf", found["ruf"]) if "ruf" in found else (),
        tags=tags,
    )


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()  # the list shipped inside the package: no network


def organizational_domain(domain: str) -> str:
    """The Organizational Domain (RFC 7489 §3.2): the public suffix plus one label, from the
    Public Suffix List (its default rule ``*`` for unlisted suffixes such as ``.test``)."""
    name = domain.rstrip(".").lower()
    return _psl().privatesuffix(name) or name
