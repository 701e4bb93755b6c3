"""Hello probes after STARTTLS: which versions, cipher suites and groups an MX really accepts.

Python's ``ssl`` on OpenSSL 3 cannot offer SSL 2.0/3.0, RC4, 3DES, EXPORT or NULL suites, so a
check built on it would report false passes. Each question here is answered by ONE crafted
ClientHello (``mailtls.tls.hello``) on a fresh STARTTLS connection; the server's first flight
(``mailtls.tls.flight``) says accepted (a ServerHello), refused (an alert or a close before any
reply), or error (could not test). The handshake is never completed.

The package, by role: ``questions`` (what is asked, which suites answer what, the offer of one
hello), ``ledger`` (the answers so far, owning its lock; pure), ``connector`` (the budget, the
retry, one hello on one connection), ``plan`` (which hellos, in which order) and ``scan`` (one
address, start to finish).

Politeness (issue 3, DESIGN.md "Probing"): the whole default suite opens at most ``budget``
connections per address, the SMTP session(s) included. Questions are asked in order of
importance and bundled: one hello offers every weak, non-forward-secret and non-NIST suite at
once, and is split (the accepted suite removed) only while a question is still open, then, with
what is left of the budget, to list more of what the server accepts. At most two connections
to an address are open at the same time. A 421/454 or a reset before our hello is
inconclusive: one pause and one retry, then the scan stops and the open questions are errors.
"""

from mailtls.probes.tlsscan.connector import DEFAULT_BUDGET, MAX_FLIGHT_BYTES, Connector
from mailtls.probes.tlsscan.ledger import Ledger, LedgerView
from mailtls.probes.tlsscan.plan import Plan, bundle, tls12_hello, version_hello
from mailtls.probes.tlsscan.questions import (
    APPROVED_12,
    BAD_CURVES,
    BROAD_GROUPS,
    BUNDLE_QUESTIONS,
    DHE_SUITES,
    ECDHE_SUITES,
    GOOD_CURVES,
    LEGACY_SUITES,
    NIST_CURVES,
    QUESTIONS,
    VERSION_QUESTION,
    Hello,
    categories,
)
from mailtls.probes.tlsscan.scan import probe_tlsscan, why_skip

__all__ = [
    "APPROVED_12",
    "BAD_CURVES",
    "BROAD_GROUPS",
    "BUNDLE_QUESTIONS",
    "DEFAULT_BUDGET",
    "DHE_SUITES",
    "ECDHE_SUITES",
    "GOOD_CURVES",
    "LEGACY_SUITES",
    "MAX_FLIGHT_BYTES",
    "NIST_CURVES",
    "QUESTIONS",
    "VERSION_QUESTION",
    "Connector",
    "Hello",
    "Ledger",
    "LedgerView",
    "Plan",
    "bundle",
    "categories",
    "probe_tlsscan",
    "tls12_hello",
    "version_hello",
    "why_skip",
]
