"""MTA-STS (RFC 8461) as pure functions: the TXT record (§3.1), the policy file (§3.2), the MX
matching rule (§4.1), and the policy a sender would actually apply (``effective_policy``).

TXT record at ``_mta-sts.<domain>`` (US-ASCII)::

    sts-text-record = %s"v=STSv1" 1*(sts-field-delim sts-field) [sts-field-delim]
    sts-field-delim = *WSP ";" *WSP
    sts-id          = %s"id=" 1*32(ALPHA / DIGIT)          ; required
    sts-extension   = sts-ext-name "=" sts-ext-value
    sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
    sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)

Policy file (UTF-8; lines end in LF or CRLF, erratum 6253)::

    sts-policy-record = sts-policy-field *WSP *(sts-policy-term sts-policy-field *WSP)
                        [sts-policy-term]
    field             = name ":" *WSP value ; version: STSv1 | mode: enforce/testing/none |
                                            ; max_age: 1*10DIGIT (<= 31 557 600) |
                                            ; mx: ["*."] Domain (RFC 5321; A-labels)
    sts-policy-ext-value = sts-policy-vchar *(*WSP sts-policy-vchar)  ; VCHAR or UTF-8, no CTL

Unknown keys are ignored; for a repeated non-``mx`` key the first one counts. Bytes that are
not UTF-8 (in the policy) or not US-ASCII (in the record) make it malformed; the problem names
them escaped. Every problem is a named error, and nothing here raises anything but RecordError.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from mailtls.observations import Discovery, PolicyFetch
from mailtls.records import RecordError, decode, escape, fields, select, version_tag

TAG = version_tag("STSv1")
MAX_AGE_LIMIT = 31_557_600
MODES = ("enforce", "testing", "none")
_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_EXT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_EXT_VALUE = re.compile(r"[\x21-\x3a\x3c\x3e-\x7e]+")
_LINE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,31}):[ \t]*(.*?)[ \t]*")
_POLICY_VALUE = re.compile(r"[^\x00-\x20\x7f](?:[ \t]*[^\x00-\x20\x7f])*")
_DIGITS = re.compile(r"[0-9]{1,10}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_MX = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*")


@dataclass(frozen=True)
class StsRecord:
    id: str
    extensions: tuple[tuple[str, str], ...]
    repeated: tuple[str, ...] = ()  # fields given more than once (the first one counts)


def parse_record(raw: bytes) -> StsRecord:
    """Parse one selected ``v=STSv1`` record (its joined bytes); RecordError says why not."""
    parsed = fields(decode(raw))
    if not parsed or parsed[0] != ("v", "STSv1"):
        raise RecordError("the record must start with v=STSv1")
    seen: dict[str, str] = {}
    repeated: list[str] = []
    for name, value in parsed[1:]:
        if name != "id" and not (_EXT_NAME.fullmatch(name) and _EXT_VALUE.fullmatch(value)):
            raise RecordError(f"field {name}={value!r} does not follow the RFC 8461 grammar")
        if name in seen:
            repeated.append(name)
            continue
        seen[name] = value
    if "id" not in seen:
        raise RecordError("the required id= field is missing")
    if not _ID.fullmatch(seen["id"]):
        raise RecordError(f"id={seen['id']!r} must be 1-32 letters and digits")
    ext = tuple((k, v) for k, v in seen.items() if k != "id")
    return StsRecord(seen["id"], ext, tuple(repeated))


@dataclass(frozen=True)
class Policy:
    version: str | None
    mode: str | None
    max_age: int | None
    mx: tuple[str, ...]
    errors: tuple[str, ...]  # why the policy is not well formed (empty: it is)
    ignored: tuple[str, ...]  # unknown keys, kept for the evidence
    repeated: tuple[str, ...] = ()  # non-mx keys given more than once (the first one counts)

    @property
    def valid(self) -> bool:
        return not self.errors


def _lines(body: bytes) -> tuple[list[str], list[str]]:
    """The policy's lines (LF or CRLF ends) and the errors found splitting them."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [f"byte {exc.start} is not UTF-8; the body is '{escape(body[:200])}'"]
    lines = [line[:-1] if line.endswith("\r") else line for line in text.split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the optional final line end
    return lines, []


def _check_value(key: str, value: str) -> str | None:
    if key == "version" and value != "STSv1":
        return f"version is {value!r}, not 'STSv1'"
    if key == "mode" and value not in MODES:
        return f"mode {value!r} is not enforce, testing or none"
    if key == "max_age":
        if not _DIGITS.fullmatch(value):
            return f"max_age {value!r} is not a number of seconds (1-10 digits)"
        if int(value) > MAX_AGE_LIMIT:
            return f"max_age {value} is above the maximum {MAX_AGE_LIMIT}"
    if key == "mx" and not _MX.fullmatch(value):
        return f"mx pattern {value!r} is not a host name or *.name"
    return None


def parse_policy(body: bytes) -> Policy:
    """Parse a policy body (the bytes served); every problem is named, nothing raises."""
    lines, errors = _lines(body)
    first: dict[str, str] = {}
    mx: list[str] = []
    ignored: list[str] = []
    repeated: list[str] = []
    for n, line in enumerate(lines, 1):
        m = _LINE.fullmatch(line)
        if m is None or not _POLICY_VALUE.fullmatch(m.group(2)):
            errors.append(f"line {n} is not 'key: value': '{escape(line[:80].encode())}'")
            continue
        key, value = m.groups()
        if key not in ("version", "mode", "max_age", "mx"):
            ignored.append(key)
            continue
        if key == "mx":
            mx.append(value)
        elif key in first:
            repeated.append(key)
            continue
        else:
            first[key] = value
        if problem := _check_value(key, value):
            errors.append(problem)
    for key in ("version", "mode", "max_age"):
        if key not in first and not (errors and not lines):
            errors.append(f"{key} is missing")
    mode = first.get("mode")
    if mode in ("enforce", "testing") and not mx:
        errors.append(f"no mx line although mode is {mode}")
    age = first.get("max_age", "")
    max_age = int(age) if _DIGITS.fullmatch(age) else None
    return Policy(
        first.get("version"), mode, max_age, tuple(mx), tuple(errors), tuple(ignored),
        tuple(repeated),
    )  # fmt: skip


def mx_matches(pattern: str, host: str) -> bool:
    """RFC 8461 §4.1: a literal match, or ``*.example.com`` matching exactly one extra label."""
    p = pattern.rstrip(".").lower()
    h = host.rstrip(".").lower()
    if p.startswith("*."):
        label, _, rest = h.partition(".")
        return bool(label) and rest == p[2:]
    return p == h


def covering(patterns: tuple[str, ...], host: str) -> str | None:
    """The first pattern that covers `host`, if any."""
    return next((p for p in patterns if mx_matches(p, host)), None)


def media_type(fetch: PolicyFetch) -> str:
    """The Content-Type without parameters, lower case ('' when missing)."""
    return (fetch.header("Content-Type") or "").split(";", 1)[0].strip().lower()


PolicyState = Literal["usable", "none", "unknown"]


@dataclass(frozen=True)
class EffectivePolicy:
    """The policy a sender would apply: ``usable`` (``policy`` set), ``none`` (the sender acts
    as if the domain published no MTA-STS; ``why`` says which step failed), or ``unknown`` (our
    own resolver failed, so we cannot tell)."""

    state: PolicyState
    why: str
    policy: Policy | None = None


def effective_policy(d: Discovery, fetch: PolicyFetch) -> EffectivePolicy:
    """RFC 8461 §3.1-§3.3 as a sender applies them, step by step."""
    txt = d.mta_sts_txt
    if txt is None:
        return EffectivePolicy(
            "unknown",
            "the _mta-sts TXT record was not looked up: " + (d.error or "MX discovery failed"),
        )
    if txt.failed:
        return EffectivePolicy("unknown", f"the _mta-sts TXT lookup failed: {txt.describe()}")
    found = select(txt.records if txt.answered else (), TAG)
    if not found:
        return EffectivePolicy("none", "no MTA-STS record")
    if len(found) > 1:
        return EffectivePolicy(
            "none", f"{len(found)} v=STSv1 TXT records (senders use none unless exactly one)"
        )
    try:
        parse_record(found[0])
    except RecordError as exc:
        return EffectivePolicy("none", f"the MTA-STS TXT record is invalid: {exc}")
    if fetch.failure_kind == "resolver":
        return EffectivePolicy("unknown", f"the policy host lookup failed: {fetch.failure}")
    if fetch.skipped:
        return EffectivePolicy("none", fetch.skipped)
    if fetch.failure_kind is not None:
        return EffectivePolicy("none", f"the policy fetch failed ({fetch.failure_kind})")
    if fetch.status != 200:
        return EffectivePolicy("none", f"the policy fetch got HTTP {fetch.status}")
    if media_type(fetch) != "text/plain":
        return EffectivePolicy("none", f"the policy is served as {media_type(fetch) or '?'}")
    policy = parse_policy(fetch.body)
    if not policy.valid:
        return EffectivePolicy("none", "the policy is not well formed: " + "; ".join(policy.errors))
    return EffectivePolicy("usable", f"MTA-STS mode {policy.mode}", policy)
