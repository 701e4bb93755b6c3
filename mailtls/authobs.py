"""Immutable records of what the sender-authentication lookups saw: SPF, DKIM and DMARC.

Like :mod:`mailtls.observations`: the probes (:mod:`mailtls.probes.spfwalk`,
:mod:`mailtls.probes.senderauth`) fill them and never judge; the checks read typed fields; every
DNS answer is kept with its resolver and DNSSEC status for the evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mailtls.dkim import DkimKey, KeyInfo
from mailtls.dmarc import DmarcRecord
from mailtls.observations import DnsAnswer
from mailtls.spf import SpfRecord

NodeProblem = Literal["dns", "none", "multiple", "syntax", "loop", "not_followed"]
Via = Literal["root", "include", "redirect"]


@dataclass(frozen=True)
class SpfTerm:
    """One term of a record as evaluated: what it cost and what it led to."""

    term: str
    lookups: int  # 1 if it counts towards the limit of 10 (RFC 7208 §4.6.4), else 0
    queries: tuple[str, ...] = ()  # "name TYPE" asked for it
    void: bool = False  # its lookup found nothing (NXDOMAIN or no records)
    note: str = ""  # why it was not followed, a loop, too many MX names, ...
    child: SpfNode | None = None  # the record an include or redirect reached


@dataclass(frozen=True)
class SpfNode:
    """The SPF record at one domain of the include/redirect tree."""

    domain: str
    via: Via
    answer: DnsAnswer | None  # the TXT answer (None: not asked)
    records: tuple[str, ...] = ()  # the v=spf1 records found there (strings joined)
    record: SpfRecord | None = None
    problem_kind: NodeProblem | None = None
    problem: str | None = None
    terms: tuple[SpfTerm, ...] = ()
    lookups_below: int = 0  # lookup terms counted in this record and everything it reached


@dataclass(frozen=True)
class SpfEvaluation:
    """A domain's SPF record, walked the way a receiver evaluates it, without a sender address:
    include and redirect are followed, a/mx/exists are looked up (for void lookups), ptr and
    macro names are counted but cannot be followed."""

    domain: str
    root: SpfNode
    lookups: int  # DNS-querying terms over the whole evaluation
    voids: int  # lookups that found nothing
    queries: int  # DNS queries we made (bounded)
    answers: tuple[DnsAnswer, ...]  # every answer, in order
    dns_failures: tuple[str, ...] = ()  # failed queries (SERVFAIL, timeout...), each named
    record_failures: tuple[str, ...] = ()  # those of them that fetched an include/redirect record
    permerrors: tuple[str, ...] = ()  # grammar and record-set problems in reached records
    loops: tuple[str, ...] = ()
    mx_overflow: tuple[str, ...] = ()  # mx terms naming more than 10 hosts
    ptr_terms: tuple[str, ...] = ()  # where ptr is used
    all_term: str | None = None  # the effective all (root, or through redirect), e.g. "-all"
    all_source: str | None = None  # the domain whose record holds it
    all_problem: str | None = None  # why the redirect chain gives no answer
    all_problem_kind: NodeProblem | None = None
    stopped: str | None = None  # why the walk ended early (query bound)

    @property
    def root_failure(self) -> str | None:
        """The domain's own TXT lookup failed: nothing is known about its SPF."""
        a = self.root.answer
        if a is not None and a.status not in ("ok", "nodata", "nxdomain"):
            return a.describe()
        return None

    @property
    def record_count(self) -> int:
        return len(self.root.records)


@dataclass(frozen=True)
class DkimSelector:
    """One selector's key record at ``<selector>._domainkey.<domain>``."""

    selector: str
    qname: str
    answer: DnsAnswer
    records: tuple[str, ...] = ()  # TXT records found (strings joined)
    key: DkimKey | None = None
    parse_error: str | None = None
    key_info: KeyInfo | None = None
    key_error: str | None = None

    @property
    def failure(self) -> str | None:
        if self.answer.status not in ("ok", "nodata", "nxdomain"):
            return self.answer.describe()
        return None


@dataclass(frozen=True)
class DkimLookup:
    domain: str
    selectors: tuple[DkimSelector, ...]  # in inventory order; empty when none are listed


DmarcSource = Literal["domain", "organizational"]


@dataclass(frozen=True)
class DmarcLookup:
    """The DMARC policy discovery of RFC 7489 §6.6.3 for one domain."""

    domain: str
    organizational_domain: str
    answers: tuple[DnsAnswer, ...]  # _dmarc.<domain>, then _dmarc.<org> when it was asked
    found_at: str | None = None  # the owner name of the record(s) used
    source: DmarcSource | None = None
    records: tuple[str, ...] = ()  # the v=DMARC1 records at found_at
    discarded: tuple[str, ...] = ()  # TXT at _dmarc.<domain> not starting with v=DMARC1
    record: DmarcRecord | None = None  # when exactly one record parsed
    parse_error: str | None = None
    failure: str | None = None  # a lookup failed: the policy cannot be known

    @property
    def subdomain(self) -> bool:
        """The policy came from the organizational domain: sp= (default p=) applies."""
        return self.source == "organizational"
