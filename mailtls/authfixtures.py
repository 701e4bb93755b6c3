"""Fixtures of the sender-authentication checks (``checks/test_spf.py``, ``test_dkim.py``,
``test_dmarc.py``): the observation of the target's domain, recorded as the row's evidence.

Registered through :mod:`mailtls.plugin`. The lookups are made once for every domain, the first
time one of these fixtures is used (:meth:`mailtls.runstate.MailtlsRun.sender_auth`).
"""

from __future__ import annotations

import pytest

from mailtls.authobs import DkimLookup, DmarcLookup, SpfEvaluation
from mailtls.probes.senderauth import SenderAuth
from mailtls.runstate import EVIDENCE, MailtlsRun
from mailtls.targets import Target
from mailtls.verdicts import inconclusive


def _lookups(target: Target, state: MailtlsRun) -> SenderAuth:
    found = state.sender_auth().get(target.domain)
    if not isinstance(found, SenderAuth):
        inconclusive(found or f"{target.domain}: no sender-authentication lookups were made")
    return found


def _record(request: pytest.FixtureRequest, obs: object) -> None:
    request.node.stash.setdefault(EVIDENCE, []).append(obs)


@pytest.fixture
def spf(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> SpfEvaluation:
    """The domain's SPF record and its include/redirect tree, as the resolver answered."""
    obs = _lookups(target, mailtls_run).spf
    _record(request, obs)
    return obs


@pytest.fixture
def dkim(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> DkimLookup:
    """The DKIM key record of every selector the inventory lists for the domain."""
    obs = _lookups(target, mailtls_run).dkim
    _record(request, obs)
    return obs


@pytest.fixture
def dmarc(request: pytest.FixtureRequest, target: Target, mailtls_run: MailtlsRun) -> DmarcLookup:
    """The DMARC record that applies to the domain (its own, or its organizational domain's)."""
    obs = _lookups(target, mailtls_run).dmarc
    _record(request, obs)
    return obs
