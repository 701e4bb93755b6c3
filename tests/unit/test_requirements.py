"""The catalogue: every row loads, profiles resolve, and malformed profile data is refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mailtls import requirements
from mailtls.requirements import PROFILES, CatalogueError, parse_row, parse_rows

ROW: dict[str, Any] = {
    "id": "X-TEST",
    "family": "tls",
    "title": "t",
    "scope": "mx",
    "severity": "medium",
    "assertion": "a",
    "citations": [{"text": "RFC 0 §1", "confidence": "U"}],
    "rule": "Pass: yes.",
    "why": "w",
    "fix": "f",
}


def _row(**changes: Any) -> dict[str, Any]:
    row = copy.deepcopy(ROW)
    row.update(changes)
    return row


def test_packaged_catalogue_resolves_every_profile() -> None:
    for req in requirements.catalogue().values():
        for profile in PROFILES:
            assert req.severity_for(profile) in requirements.SEVERITIES
            assert req.rule_for(profile).startswith(req.rule)


def test_the_documented_profile_conflicts_are_data() -> None:
    tls13 = requirements.get("TLS-V-TLS13")
    assert tls13.param("nist", "absent") == "fail"
    assert tls13.param("ncsc-nl", "absent") == "warn"
    assert requirements.get("TLS-CS-NIST-APPROVED").param("ncsc-nl", "chacha20") == "pass"
    assert requirements.get("TLS-V-NO-TLS10-11").param("nist", "tls10") == "fail"
    assert requirements.get("CERT-MX-KEY").param("ncsc-uk", "rsa2048") == "warn"
    assert requirements.get("MTASTS-TXT-UNIQUE").param("ncsc-uk", "required") is True
    assert requirements.get("CERT-MX-TRUST").severity_for("ncsc-nl") == "medium"
    assert requirements.get("CERT-MX-TRUST").severity_for("nist") == "high"


def test_defaults_fill_profiles_that_are_not_listed() -> None:
    req = parse_row(_row(profiles={"ncsc-nl": {"severity": "low", "verdict": "Warn - x."}}))
    assert req.severity_for("nist") == "medium"
    assert req.severity_for("ncsc-nl") == "low"
    assert req.rule_for("ncsc-nl") == "Pass: yes. Under ncsc-nl: Warn - x."
    assert req.rule_for("nist") == "Pass: yes."
    assert req.param("nist", "absent", "warn") == "warn"


def test_unconfirmed_citations_are_never_shown_as_verified() -> None:
    req = parse_row(ROW)
    assert req.citation_text() == "RFC 0 §1 [section unconfirmed]"
    assert req.citations[0].as_json() == {"text": "RFC 0 §1", "confidence": "U", "verified": False}


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        ({"nsa": {}}, "unknown profile(s) nsa"),
        ({"nist": {"severity": "urgent"}}, "X-TEST: profiles.nist.severity: severity 'urgent'"),
        ({"nist": {"colour": "red"}}, "profiles.nist: unknown key(s) colour"),
        ({"nist": "high"}, "profiles.nist: expected a mapping"),
        ({"nist": {"params": {"absent": [1]}}}, "profiles.nist.params"),
        ({"nist": {"verdict": ""}}, "profiles.nist.verdict"),
        (["nist"], "profiles must map"),
    ],
)
def test_bad_profile_data_is_refused_with_the_row_named(profiles: Any, message: str) -> None:
    with pytest.raises(CatalogueError, match="X-TEST") as err:
        parse_row(_row(profiles=profiles))
    assert message in str(err.value)


def test_bad_rows_are_refused() -> None:
    with pytest.raises(CatalogueError, match="severity 'severe'"):
        parse_row(_row(severity="severe"))
    with pytest.raises(CatalogueError, match="unknown key"):
        parse_row(_row(profile={"nist": {}}))
    with pytest.raises(CatalogueError, match="duplicate requirement ID X-TEST"):
        parse_rows([ROW, ROW])
    with pytest.raises(CatalogueError, match="unknown profile 'fr'"):
        parse_row(ROW).severity_for("fr")
