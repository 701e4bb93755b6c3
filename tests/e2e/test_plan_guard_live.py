"""Guard, live half (issue 12): run the real scan plan against real servers (the stock matrix
and the testbed's TLS listeners), then every TLS check on the result under every profile, and
record each answer a check reads. None may be a question the plan did not ask
(``open_kind == "not_asked"``): a check depends only on what the plan produces.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from mailtls import requirements
from mailtls.observations import Answer, Endpoint, TlsScan
from mailtls.probes.smtp import SmtpSettings, probe_smtp
from mailtls.probes.tlsscan import probe_tlsscan
from mailtls.requirements import PROFILES
from mailtls.verdicts import Advisory, Inconclusive
from tests.conftest import REPO

#: Listener names (testbed/scenarios.yaml): stock servers and the hand-made TLS variants.
SERVERS = (
    "stock-exim", "stock-exim12", "stock-opensmtpd", "stock-pfdebian", "stock-mozint",
    "stock-mozmod", "stock-chacha", "good-mx1", "tls12only", "tls13only", "oldtls", "pfdefault",
    "staticrsa",
)  # fmt: skip


def _checks() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "tls_checks_live", REPO / "checks" / "test_tls.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Answer]]:
    """Every Answer any check obtains from TlsScan.answer while the test runs."""
    seen: list[Answer] = []
    original = TlsScan.answer

    def recording(self: TlsScan, question: str) -> Answer:
        a = original(self, question)
        seen.append(a)
        return a

    monkeypatch.setattr(TlsScan, "answer", recording)
    yield seen


@pytest.mark.parametrize("server", SERVERS)
def test_checks_read_only_what_the_plan_asked(
    testbed_env: dict[str, Any], reads: list[Answer], server: str
) -> None:
    ip = testbed_env["listeners"].get(server) or testbed_env["stock"].get(server)
    assert ip, f"{server} is not in the testbed"
    endpoint = Endpoint(ip, 25, f"mx.{server}.test")
    settings = SmtpSettings("guard.mailtls.test", 3.0)
    session = probe_smtp(endpoint, settings)
    scan = probe_tlsscan(endpoint, settings, [session])
    assert scan.connections + scan.session_connections <= scan.budget
    checks = _checks()
    ran = 0
    for name, fn in vars(checks).items():
        if not name.startswith("test_") or not callable(fn):
            continue
        marker = next(m for m in fn.pytestmark if m.name == "requirement")
        req = requirements.get(marker.args[0])
        for profile in PROFILES:
            kwargs: dict[str, Any] = {"tlsscan": scan}
            params = fn.__code__.co_varnames[: fn.__code__.co_argcount]
            if "profile" in params:
                kwargs["profile"] = profile
            if "requirement" in params:
                kwargs["requirement"] = req
            try:
                fn(**kwargs)
            except (AssertionError, Advisory, Inconclusive, pytest.skip.Exception):
                pass  # a verdict; anything else (a crash in the check) fails this test
            ran += 1
    assert ran >= 9 * len(PROFILES)
    assert reads or scan.tls_unusable, "the checks read no answer at all"
    unasked = sorted({a.question for a in reads if a.open_kind == "not_asked"})
    assert not unasked, f"{server}: checks read questions the plan never asked: {unasked}"
