"""Certificate rules shared by the MX and the submission checks (CERT-MX-* and CERT-SUBMIT-*):
each function states a verdict for one served chain, so both families word it the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from cryptography import x509

from mailtls import certs
from mailtls.observations import SmtpObservation
from mailtls.verdicts import not_applicable, warn


def expiry_margin(where: object, leaf: certs.CertSummary, days: int, validity_id: str) -> None:
    """Warn when ``days`` or fewer remain; the days left are always in the message."""
    left = (leaf.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400
    if left < 0:
        not_applicable(f"{where}: already expired (see {validity_id})")
    if left <= days:
        warn(
            f"{where}: certificate expires in {left:.0f} days ({leaf.not_after:%Y-%m-%d}), "
            f"within the {days}-day margin"
        )


def key_strength(where: object, leaf: certs.CertSummary, profile: str) -> None:
    verdict, finding = certs.rate_key(leaf, profile)
    if verdict == "warn":
        warn(f"{where}: {finding}")
    assert verdict == "pass", f"{where}: {finding}"


def signatures(where: object, chain_der: Sequence[bytes]) -> None:
    weak = certs.weak_signatures(chain_der)
    assert not weak, f"{where}: weak certificate signatures: {'; '.join(weak)}"


def authenticated_tls_problems(
    smtp: SmtpObservation, host: str, roots: list[x509.Certificate]
) -> list[str]:
    """What stops an MTA-STS sender from delivering to this MX (RFC 8461 §4.2): STARTTLS,
    a TLS handshake, and a certificate that is in date, names the host and chains to a root."""
    if not smtp.starttls_offered:
        return ["no STARTTLS"]
    if smtp.tls is None or not smtp.tls.chain_der:
        return [f"the TLS handshake failed ({smtp.tls_error or 'no certificate'})"]
    chain = smtp.tls.chain_der
    leaf = certs.summarize(chain[0])
    now = dt.datetime.now(dt.UTC)
    problems = []
    if not (leaf.not_before <= now <= leaf.not_after):
        problems.append(
            f"the certificate is outside its validity "
            f"({leaf.not_before:%Y-%m-%d} to {leaf.not_after:%Y-%m-%d})"
        )
    if not any(certs.name_matches(n, host) for n in leaf.sans):
        problems.append(
            f"the certificate does not name {host} (SANs: {', '.join(leaf.sans) or 'none'})"
        )
    trust = certs.validate(chain, roots, now)
    if not trust.trusted:
        problems.append(f"the certificate is not trusted: {trust.reason}")
    return problems
