"""The MTA-STS policy file (RFC 8461 §3.2) and the MX matching rule (§4.1), as pure functions.

A policy is ``key: value`` lines separated by CRLF (LF alone is accepted, as senders do and as
erratum 6253 says). Required: ``version: STSv1``, ``mode`` (enforce, testing or none),
``max_age`` (0 to 31 557 600 seconds) and, unless the mode is none, at least one ``mx``
pattern. Unknown keys are ignored. An ``mx`` pattern is a host name, or ``*.`` followed by a
name, where the ``*`` stands for exactly one whole left-most label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_AGE_LIMIT = 31_557_600
MODES = ("enforce", "testing", "none")
_KEY = re.compile(r"^[A-Za-z0-9_]+$")
_DIGITS = re.compile(r"^[0-9]{1,10}$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class Policy:
    version: str | None
    mode: str | None
    max_age: int | None
    mx: tuple[str, ...]
    errors: tuple[str, ...]  # why the policy is not well formed (empty: it is)
    ignored: tuple[str, ...]  # unknown keys, kept for the evidence

    @property
    def valid(self) -> bool:
        return not self.errors


def _valid_pattern(pattern: str) -> bool:
    name = pattern[2:] if pattern.startswith("*.") else pattern
    labels = name.rstrip(".").split(".")
    return len(labels) >= 2 and all(_LABEL.match(label) for label in labels)


def parse_policy(text: str) -> Policy:
    """Parse a policy body; every problem is named, nothing raises."""
    fields: dict[str, list[str]] = {}
    errors: list[str] = []
    ignored: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY.match(key):
            errors.append(f"line {n} is not 'key: value': {line[:80]!r}")
            continue
        if key not in ("version", "mode", "max_age", "mx"):
            ignored.append(key)
            continue
        fields.setdefault(key, []).append(value)
    for key in ("version", "mode", "max_age"):
        if len(fields.get(key, [])) > 1:
            errors.append(f"{key} appears {len(fields[key])} times")
    version = fields.get("version", [None])[0]
    mode = fields.get("mode", [None])[0]
    raw_age = fields.get("max_age", [None])[0]
    mx = tuple(fields.get("mx", []))
    if version is None:
        errors.append("version is missing")
    elif version != "STSv1":
        errors.append(f"version is {version!r}, not 'STSv1'")
    if mode is None:
        errors.append("mode is missing")
    elif mode not in MODES:
        errors.append(f"mode {mode!r} is not enforce, testing or none")
    max_age: int | None = None
    if raw_age is None:
        errors.append("max_age is missing")
    elif not _DIGITS.match(raw_age):
        errors.append(f"max_age {raw_age!r} is not a number of seconds (1-10 digits)")
    else:
        max_age = int(raw_age)
    if mode in ("enforce", "testing") and not mx:
        errors.append(f"no mx line although mode is {mode}")
    errors += [
        f"mx pattern {p!r} is not a host name or *.name" for p in mx if not _valid_pattern(p)
    ]
    return Policy(version, mode, max_age, mx, tuple(errors), tuple(ignored))


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
