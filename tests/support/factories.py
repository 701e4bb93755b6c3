"""Observation factories: the typed records a probe or discovery would make, built in one line
with sensible defaults (a healthy MX on 192.0.2.1, DNSSEC-secure answers), so a unit test states
only what it varies. Field names are the observations' own; nothing here judges."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from mailtls.discovery import srv_records
from mailtls.observations import (
    Answer,
    AnswerValue,
    Discovery,
    DiscoveryKind,
    DnsAnswer,
    DnsStatus,
    Endpoint,
    FailureKind,
    MxHost,
    ProbeFailure,
    SmtpObservation,
    SmtpReply,
    SubmissionDiscovery,
    SubmissionHost,
    TlsScan,
    TlsSession,
)
from mailtls.targets import Target

DOMAIN = "example.org"
MX = "mx.example.org"
IP = "192.0.2.1"
RESOLVER = "127.0.0.1:53"
GREETING = SmtpReply(220, ("mx.example.org ESMTP",))
_RCODES = {"ok": "NOERROR", "nodata": "NOERROR", "nxdomain": "NXDOMAIN", "servfail": "SERVFAIL"}


def answer(
    qname: str,
    rdtype: str,
    *records: str,
    status: DnsStatus | None = None,
    secure: bool = True,
    error: str | None = None,
) -> DnsAnswer:
    """A resolver answer; the status defaults to "ok" with records and "nodata" without."""
    status = status or ("ok" if records else "nodata")
    return DnsAnswer(
        qname=qname,
        rdtype=rdtype,
        status=status,
        rcode=_RCODES.get(status, status.upper()),
        records=records,
        ttl=300 if records else None,
        authenticated=secure and status in ("ok", "nodata", "nxdomain"),
        resolver=RESOLVER,
        error=error,
    )


def mx_host(
    name: str = MX,
    *addresses: str,
    preference: int = 10,
    secure: bool = True,
    a_status: DnsStatus | None = None,
    aaaa_status: DnsStatus | None = None,
    tlsa: Sequence[str] = (),
) -> MxHost:
    """An MX host with its A answer (``addresses``, default 192.0.2.1), an AAAA answer (NODATA
    unless ``aaaa_status``) and TLSA records."""
    addrs = addresses if addresses or a_status else (IP,)
    a = answer(name, "A", *addrs, status=a_status, secure=secure)
    aaaa = answer(name, "AAAA", status=aaaa_status, secure=secure)
    found = tuple(addrs) if a.status == "ok" else ()
    tlsa_answer = answer(f"_25._tcp.{name}", "TLSA", *tlsa, secure=secure) if tlsa else None
    return MxHost(name, preference, found, a, aaaa, tlsa_answer)


def discovery(
    *hosts: MxHost,
    domain: str = DOMAIN,
    kind: DiscoveryKind = "mx",
    mx_status: DnsStatus | None = None,
    secure: bool = True,
    error: str | None = None,
    null_mx: bool = False,
    other_mx_with_null: tuple[str, ...] = (),
    mta_sts: bool = False,
    bogus: bool = False,
) -> Discovery:
    """Where mail for ``domain`` goes; ``bogus`` adds the checking-disabled answer that proves
    a SERVFAIL was a validation failure; ``mta_sts`` a v=STSv1 TXT record."""
    hosts = hosts if hosts or kind != "mx" else (mx_host(),)
    records = tuple(f"{h.preference} {h.name}." for h in hosts) if kind == "mx" else ()
    if null_mx:
        records = ("0 .", *records)
    mx = answer(domain, "MX", *records, status=mx_status, secure=secure)
    sts = answer(f"_mta-sts.{domain}", "TXT", '"v=STSv1; id=1"') if mta_sts else None
    unchecked = answer(domain, "MX", *records, secure=False) if bogus else None
    return Discovery(
        domain=domain,
        kind=kind,
        mx=mx,
        hosts=hosts,
        null_mx=null_mx,
        other_mx_with_null=other_mx_with_null,
        error=error,
        mta_sts_txt=sts,
        mx_unchecked=unchecked,
        mta_sts_advertised=mta_sts,
    )


def mx_target(host: str = MX, ip: str = IP, *, domain: str = DOMAIN, port: int = 25) -> Target:
    return Target("mx", domain, host, ip, port, 10)


def submission_target(host: str = "smtp.example.org", ip: str = IP, port: int = 587) -> Target:
    return Target("submission", DOMAIN, host, ip, port)


def ehlo(*keywords: str, code: int = 250, host: str = MX) -> SmtpReply:
    return SmtpReply(code, (host, *keywords))


def session(
    *,
    endpoint: Endpoint | None = None,
    banner: SmtpReply | None = GREETING,
    ehlo_reply: SmtpReply | None = None,
    starttls: bool = True,
    starttls_reply: SmtpReply | None = None,
    chain: Sequence[bytes] = (),
    tls: bool = True,
    tls_error: str | None = None,
    ehlo_tls: SmtpReply | None = None,
    failure: tuple[str, FailureKind, str] | None = None,
    plaintext_banner: SmtpReply | None = None,
) -> SmtpObservation:
    """An SMTP session: by default banner, EHLO with STARTTLS, TLS 1.3 serving ``chain``, then
    EHLO without STARTTLS. ``failure`` is (stage, kind, message) and ends the session there."""
    endpoint = endpoint or Endpoint(IP, 25, MX)
    offer = ("STARTTLS",) if starttls else ()
    first = ehlo_reply or ehlo("PIPELINING", *offer)
    tls_session = (
        TlsSession("TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, endpoint.host, tuple(chain), 5.0)
        if tls and (starttls or endpoint.implicit_tls)
        else None
    )
    after = ehlo_tls or (ehlo("PIPELINING") if tls_session else None)
    return SmtpObservation(
        endpoint=endpoint,
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:01+00:00",
        transcript=(),
        banner=banner,
        ehlo=first,
        starttls=starttls_reply or (SmtpReply(220, ("2.0.0 Ready",)) if tls_session else None),
        tls=tls_session,
        tls_error=tls_error,
        ehlo_tls=after,
        failure=ProbeFailure(*failure) if failure else None,
        plaintext_banner=plaintext_banner,
    )


def stopped(
    stage: str,
    kind: FailureKind,
    message: str,
    connection_refused: bool = False,
    **fields: object,
) -> SmtpObservation:
    """A session that ended at ``stage``: nothing after it was seen. ``connection_refused``:
    the host answered the connect with a RST (nothing listens on the port)."""
    seen: dict[str, object] = {
        "ehlo_tls": None,
        "failure": ProbeFailure(stage, kind, message, connection_refused),
    }
    if stage in ("connect", "banner"):
        seen.update(banner=None, ehlo=None)
    if stage in ("connect", "banner", "ehlo", "starttls", "tls"):
        seen.update(starttls=None, tls=None)
    obs = session(failure=(stage, kind, message), **fields)  # type: ignore[arg-type]
    return dataclasses.replace(obs, **seen)  # type: ignore[arg-type]


def submission_discovery(
    *srv: tuple[str, str],
    domain: str = DOMAIN,
    hosts: Sequence[SubmissionHost] = (),
    srv_status: DnsStatus | None = None,
) -> SubmissionDiscovery:
    """Submission discovery from (owner, SRV text) pairs, parsed as discovery parses them."""
    answers = {
        owner: answer(
            f"{owner}.{domain}",
            "SRV",
            *(text for o, text in srv if o == owner),
            status=srv_status,
        )
        for owner in ("_submission._tcp", "_submissions._tcp")
    }
    sub, subs = answers["_submission._tcp"], answers["_submissions._tcp"]
    return SubmissionDiscovery(
        domain,
        (),
        sub,
        subs,
        tuple(hosts),
        submission_records=srv_records(sub),
        submissions_records=srv_records(subs),
    )


def tls_scan(
    endpoint: Endpoint | None = None,
    *,
    session_tls: str | None = "TLSv1.3",
    stopped: str | None = None,
    skipped: str | None = None,
    **answers: AnswerValue,
) -> TlsScan:
    """A hello scan whose questions (``tls10="no"``...) were answered as given."""
    return TlsScan(
        endpoint=endpoint or Endpoint(IP, 25, MX),
        started="2026-01-01T00:00:00+00:00",
        finished="2026-01-01T00:00:01+00:00",
        hellos=(),
        answers=tuple(Answer(q, v, "hello 1") for q, v in answers.items()),
        accepted=(),
        dhe_group=None,
        dhe_bits=None,
        ec_groups=(),
        connections=len(answers),
        session_connections=1,
        session_tls=session_tls,
        budget=10,
        skipped=skipped,
        stopped=stopped,
        skip_kind="not_tested" if skipped else None,
        stop_kind="inconclusive" if stopped else None,
    )
