"""The DNS lookups of sender authentication: SPF (see :mod:`mailtls.probes.spfwalk`), the DKIM
key of every inventory selector (RFC 6376 §3.6.2.1) and DMARC policy discovery (RFC 7489
§6.6.3). Every query goes through our own DNS client, so each TXT answer is evidence with its
resolver and AD bit. A failed query is recorded as such, never as "no record".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mailtls import dkim, dmarc, spf
from mailtls.authobs import DkimLookup, DkimSelector, DmarcLookup, DmarcSource, SpfEvaluation
from mailtls.observations import DnsAnswer
from mailtls.probes.dns import DnsClient
from mailtls.probes.spfwalk import evaluate_spf

_ANSWERED = ("ok", "nodata", "nxdomain")


def lookup_selector(client: DnsClient, domain: str, selector: str) -> DkimSelector:
    qname = f"{selector}._domainkey.{domain}"
    answer = client.query(qname, "TXT")
    if answer.status != "ok":
        return DkimSelector(selector, qname, answer)
    records = tuple(v for v in (_joined(r) for r in answer.records) if v is not None)
    if len(records) != 1:
        return DkimSelector(selector, qname, answer, records)
    try:
        key = dkim.parse_key(records[0])
    except dkim.DkimError as exc:
        return DkimSelector(selector, qname, answer, records, parse_error=str(exc))
    try:
        info = dkim.decode_key(key)
    except dkim.DkimError as exc:
        return DkimSelector(selector, qname, answer, records, key, key_error=str(exc))
    return DkimSelector(selector, qname, answer, records, key, key_info=info)


def _joined(presentation: str) -> str | None:
    try:
        return spf.txt_value(presentation)
    except spf.SpfError:
        return None


def lookup_dkim(client: DnsClient, domain: str, selectors: Iterable[str]) -> DkimLookup:
    return DkimLookup(domain, tuple(lookup_selector(client, domain, s) for s in selectors))


def _dmarc_txt(answer: DnsAnswer) -> tuple[list[str], list[str]]:
    """(v=DMARC1 records, other TXT records) of one answer."""
    if answer.status != "ok":
        return [], []
    values = [v for v in (_joined(r) for r in answer.records) if v is not None]
    return [v for v in values if dmarc.is_dmarc(v)], [v for v in values if not dmarc.is_dmarc(v)]


def lookup_dmarc(client: DnsClient, domain: str) -> DmarcLookup:
    """RFC 7489 §6.6.3: ``_dmarc.<domain>``; if it holds no DMARC record, the Organizational
    Domain's; more than one record at the place found means no DMARC."""
    org = dmarc.organizational_domain(domain)
    first = client.query(f"_dmarc.{domain}", "TXT")
    answers: tuple[DnsAnswer, ...] = (first,)
    if first.status not in _ANSWERED:
        return DmarcLookup(domain, org, answers, failure=first.describe())
    found, discarded = _dmarc_txt(first)
    owner = f"_dmarc.{domain}"
    source: DmarcSource = "domain"
    if not found and org != domain:
        second = client.query(f"_dmarc.{org}", "TXT")
        answers = (first, second)
        if second.status not in _ANSWERED:
            return DmarcLookup(
                domain, org, answers, discarded=tuple(discarded), failure=second.describe()
            )
        found, _ = _dmarc_txt(second)
        owner, source = f"_dmarc.{org}", "organizational"
    if not found:
        return DmarcLookup(domain, org, answers, discarded=tuple(discarded))
    base = DmarcLookup(domain, org, answers, owner, source, tuple(found), tuple(discarded))
    if len(found) > 1:
        return base
    try:
        return dataclasses.replace(base, record=dmarc.parse(found[0]))
    except dmarc.DmarcError as exc:
        return dataclasses.replace(base, parse_error=str(exc))


@dataclass(frozen=True)
class SenderAuth:
    """The three lookups of one domain."""

    spf: SpfEvaluation
    dkim: DkimLookup
    dmarc: DmarcLookup


def lookup_sender_auth(client: DnsClient, domain: str, selectors: Iterable[str]) -> SenderAuth:
    return SenderAuth(
        evaluate_spf(client, domain),
        lookup_dkim(client, domain, selectors),
        lookup_dmarc(client, domain),
    )


def lookup_all(
    client: DnsClient, domains: dict[str, tuple[str, ...]], workers: int
) -> dict[str, SenderAuth | str]:
    """Every domain's lookups concurrently (domain -> selectors); an unexpected exception becomes
    a message (the checks report it as an error), never a crash of the run."""

    def safe(item: tuple[str, tuple[str, ...]]) -> SenderAuth | str:
        try:
            return lookup_sender_auth(client, *item)
        except Exception as exc:
            return f"internal error in the sender-authentication lookups of {item[0]}: {type(exc).__name__}: {exc}"

    items = list(domains.items())
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(items) or 1))) as pool:
        return dict(zip(domains, pool.map(safe, items), strict=True))
