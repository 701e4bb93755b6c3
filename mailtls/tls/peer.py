"""The certificate chain a TLS peer served, as sent (unverified), for the evidence and the checks.

Python 3.11's ``ssl`` only offers the chain through the private ``_sslobj`` (3.13 makes
``get_unverified_chain()`` public); this is the one place that reaches for it.
"""

from __future__ import annotations

import ssl


def served_chain(sock: ssl.SSLSocket) -> tuple[bytes, ...]:
    """The peer's certificates in DER, leaf first, exactly as served (empty when none)."""
    certs = sock._sslobj.get_unverified_chain() or ()  # type: ignore[attr-defined]
    return tuple(c.public_bytes(ssl._ssl.ENCODING_DER) for c in certs)  # type: ignore[attr-defined]
