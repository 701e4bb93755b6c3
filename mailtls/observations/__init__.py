"""Immutable records of what the probes saw.

A probe returns one of these and never judges it; checks read them and judge; the evidence
module renders them. Every record says when and from where (resolver, IP and port) it was seen.

This package is a leaf: it imports nothing from mailtls but its own submodules, one per
protocol (``dns``, ``smtp``, ``tlsscan``, ``policy``), whose records it re-exports. Whatever
needs parsing (TXT and SRV records) is parsed once by discovery or a probe and stored here as a
typed field.
"""

from mailtls.observations.dns import (
    Discovery,
    DiscoveryKind,
    DnsAnswer,
    DnsStatus,
    MxHost,
    SrvRecord,
    SubmissionDiscovery,
    SubmissionHost,
    SubmissionSource,
    escape_bytes,
)
from mailtls.observations.policy import (
    FetchFailure,
    FetchPhase,
    FetchStop,
    PolicyFetch,
)
from mailtls.observations.smtp import (
    Direction,
    Endpoint,
    FailureKind,
    ProbeFailure,
    SmtpObservation,
    SmtpReply,
    TlsSession,
    TranscriptLine,
)
from mailtls.observations.tlsscan import (
    Answer,
    AnswerValue,
    HelloRecord,
    OpenKind,
    SkipKind,
    StopKind,
    TlsScan,
)

__all__ = [
    "Answer",
    "AnswerValue",
    "Direction",
    "Discovery",
    "DiscoveryKind",
    "DnsAnswer",
    "DnsStatus",
    "Endpoint",
    "FailureKind",
    "FetchFailure",
    "FetchPhase",
    "FetchStop",
    "HelloRecord",
    "MxHost",
    "OpenKind",
    "PolicyFetch",
    "ProbeFailure",
    "SkipKind",
    "SmtpObservation",
    "SmtpReply",
    "SrvRecord",
    "StopKind",
    "SubmissionDiscovery",
    "SubmissionHost",
    "SubmissionSource",
    "TlsScan",
    "TlsSession",
    "TranscriptLine",
    "escape_bytes",
]
