"""What the MTA-STS and TLS-RPT record checks share: a domain's TXT records of one version tag
(RFC 8461 §3.1, RFC 8460 §3), or the ``error`` verdict saying why they could not be looked at."""

from __future__ import annotations

import re

from mailtls import records
from mailtls.observations import Discovery, DnsAnswer
from mailtls.verdicts import inconclusive


def selected(
    d: Discovery, answer: DnsAnswer | None, what: str, tag: re.Pattern[bytes]
) -> list[bytes]:
    """The records of ``answer`` (raw bytes) that begin with ``tag``; no answer (discovery stopped
    at the MX lookup) or a failed one is an error naming the cause."""
    if answer is None:
        why = d.error or d.mx.describe()
        inconclusive(
            f"{d.domain}: the {what} record was not looked up (MX discovery failed: {why})"
        )
    if answer.failed:
        inconclusive(f"{d.domain}: {answer.describe()}")
    return records.select(answer.records if answer.answered else (), tag)
