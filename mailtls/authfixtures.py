"""Values of the sender-authentication checks (``checks/test_spf.py``, ``test_dkim.py``,
``test_dmarc.py``): the observation of the target's domain, recorded as the row's evidence.

Providers of a :class:`mailtls.rows.Row` and their pytest fixtures, registered through
:mod:`mailtls.plugin`. The lookups are made once for every domain, the first time one of these
values is asked for (:meth:`mailtls.runstate.MailtlsRun.sender_auth`).
"""

from __future__ import annotations

from mailtls.authobs import DkimLookup, DmarcLookup, SpfEvaluation
from mailtls.fixtures import as_fixture
from mailtls.probes.senderauth import SenderAuth
from mailtls.rows import Row, provider
from mailtls.verdicts import inconclusive

#: The values these providers give (the plugin starts the lookups early when a check asks).
VALUES = ("spf", "dkim", "dmarc")


def _lookups(row: Row) -> SenderAuth:
    domain = row.target.domain
    found = row.state.sender_auth().get(domain)
    if not isinstance(found, SenderAuth):
        inconclusive(found or f"{domain}: no sender-authentication lookups were made")
    return found


@provider("spf")
def provide_spf(row: Row) -> SpfEvaluation:
    """The domain's SPF record and its include/redirect tree, as the resolver answered."""
    obs = _lookups(row).spf
    row.record(obs)
    return obs


@provider("dkim")
def provide_dkim(row: Row) -> DkimLookup:
    """The DKIM key record of every selector the inventory lists for the domain."""
    obs = _lookups(row).dkim
    row.record(obs)
    return obs


@provider("dmarc")
def provide_dmarc(row: Row) -> DmarcLookup:
    """The DMARC record that applies to the domain (its own, or its organizational domain's)."""
    obs = _lookups(row).dmarc
    row.record(obs)
    return obs


spf = as_fixture("spf", provide_spf)
dkim = as_fixture("dkim", provide_dkim)
dmarc = as_fixture("dmarc", provide_dmarc)
