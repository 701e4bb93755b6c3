"""Load and validate a YAML inventory into frozen dataclasses.

Two shapes are accepted::

    domains: [a.example, {name: b.example, profile: ncsc-uk}]

    clients:
      - name: Acme
        profile: nist            # optional, for every domain of the client
        domains: [acme.example]

Every problem is an :class:`InventoryError` naming the file, the entry and what to fix; the plugin
turns it into a ``pytest.UsageError``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import idna
import yaml

from mailtls import requirements

DEFAULT_EXPIRY_WARNING_DAYS = 60
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOP_KEYS = {"domains", "clients", "profile", "expiry_warning_days"}
_CLIENT_KEYS = {"name", "domains", "profile", "expiry_warning_days"}
_DOMAIN_KEYS = {
    "name",
    "submission",
    "dkim_selectors",
    "sends_mail",
    "profile",
    "expiry_warning_days",
    "waivers",
}
_WAIVER_KEYS = {"requirement", "reason", "expires", "hosts"}


class InventoryError(Exception):
    """A problem in the user's inventory file; the message says where and how to fix it."""


@dataclass(frozen=True)
class Waiver:
    requirement: str
    reason: str
    expires: dt.date
    hosts: tuple[str, ...] = ()

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def covers(self, requirement_id: str, host: str | None) -> bool:
        if requirement_id != self.requirement:
            return False
        return not self.hosts or (host is not None and host in self.hosts)


@dataclass(frozen=True)
class Domain:
    name: str  # A-label form, lower case, no trailing dot
    client: str | None = None
    display_name: str = ""  # as written in the inventory (may be a U-label)
    profile: str | None = None
    submission: tuple[str, ...] = ()
    dkim_selectors: tuple[str, ...] = ()
    sends_mail: bool = True  # False: a parked domain (no mail from it; SPF -all, DMARC reject)
    expiry_warning_days: int = DEFAULT_EXPIRY_WARNING_DAYS
    waivers: tuple[Waiver, ...] = ()


@dataclass(frozen=True)
class Inventory:
    path: Path
    sha256: str
    domains: tuple[Domain, ...] = field(default_factory=tuple)
    profile: str | None = None

    def __iter__(self) -> Iterator[Domain]:
        return iter(self.domains)


IP_LITERAL_MESSAGE = (
    "is an IP address, not a domain: inventories list mail domains (the part after '@'), "
    "not addresses; mailtls finds the mail servers and their addresses through DNS"
)


def is_ip_literal(raw: str) -> bool:
    """True for an IPv4 or IPv6 address, bare or as an address literal (``[192.0.2.1]``,
    ``[IPv6:2001:db8::1]``, RFC 5321 section 4.1.3), with or without a trailing dot."""
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
        if text[:5].lower() == "ipv6:":
            text = text[5:]
    text = text.rstrip(".") if text.count(":") == 0 else text
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalize_domain(raw: str) -> str:
    """Return the A-label form of a domain name, or raise ValueError saying what is wrong."""
    name = raw.strip().rstrip(".").lower()
    if not name:
        raise ValueError("the name is empty")
    if is_ip_literal(raw):
        raise ValueError(IP_LITERAL_MESSAGE)
    if any(ch.isspace() for ch in name) or "/" in name or "@" in name or ":" in name:
        raise ValueError("a domain name has no spaces, '/', '@' or ':' (give the bare domain)")
    try:
        alabel = idna.encode(name, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise ValueError(f"not a valid (internationalised) domain name: {exc}") from None
    labels = alabel.split(".")
    if len(labels) < 2:
        raise ValueError("a mail domain has at least two labels (e.g. example.com)")
    if len(alabel) > 253:
        raise ValueError("longer than 253 characters")
    for label in labels:
        if not _LABEL.match(label):
            raise ValueError(f"label {label!r} is not letters, digits and inner hyphens (1-63)")
    return alabel


class _Loader:
    def __init__(self, path: Path, default_profile: str | None) -> None:
        self.path = path
        self.default_profile = default_profile
        self.problems: list[str] = []
        self.seen: dict[str, str] = {}

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def keys(self, where: str, raw: Mapping[str, Any], allowed: set[str]) -> None:
        for key in raw:
            if key not in allowed:
                self.problem(where, f"unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def profile(self, where: str, value: Any) -> str | None:
        if value is None:
            return None
        if value not in requirements.PROFILES:
            self.problem(
                where, f"profile {value!r} is not one of {', '.join(requirements.PROFILES)}"
            )
            return None
        return str(value)

    def days(self, where: str, value: Any, default: int) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
            self.problem(
                where, f"expiry_warning_days must be a whole number of days 0-3650, got {value!r}"
            )
            return default
        return value

    def strings(self, where: str, key: str, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.problem(where, f"{key} must be a list of non-empty strings, got {value!r}")
            return ()
        return tuple(v.strip() for v in value)

    def flag(self, where: str, key: str, value: Any, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.problem(where, f"{key} must be true or false, got {value!r}")
            return default
        return value

    def selectors(self, where: str, value: Any) -> tuple[str, ...]:
        found = self.strings(where, "dkim_selectors", value)
        for sel in found:
            labels = sel.lower().split(".")
            if not all(re.match(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$", x) for x in labels):
                self.problem(where, f"DKIM selector {sel!r} is not a DNS name (RFC 6376 §3.1)")
        return found

    def host(self, where: str, raw: str) -> str | None:
        try:
            return normalize_domain(raw)
        except ValueError as exc:
            self.problem(where, f"submission host {raw!r}: {exc}")
            return None

    def waivers(self, where: str, value: Any) -> tuple[Waiver, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problem(where, "waivers must be a list of {requirement, reason, expires}")
            return ()
        result = []
        for i, raw in enumerate(value):
            here = f"{where}.waivers[{i}]"
            if not isinstance(raw, dict):
                self.problem(here, "a waiver is a mapping with requirement, reason and expires")
                continue
            self.keys(here, raw, _WAIVER_KEYS)
            req = raw.get("requirement")
            if req not in requirements.catalogue():
                self.problem(here, f"requirement {req!r} is not a catalogue ID (see README)")
                continue
            reason = raw.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                self.problem(
                    here, f"waiver for {req} needs a reason: why is this exception accepted?"
                )
                continue
            expires = raw.get("expires")
            if isinstance(expires, str):
                try:
                    expires = dt.date.fromisoformat(expires)
                except ValueError:
                    pass
            if isinstance(expires, dt.datetime) or not isinstance(expires, dt.date):
                self.problem(here, f"waiver for {req} needs 'expires: YYYY-MM-DD', got {expires!r}")
                continue
            hosts = tuple(
                h
                for h in (self.host(here, x) for x in self.strings(here, "hosts", raw.get("hosts")))
                if h
            )
            result.append(Waiver(str(req), reason.strip(), expires, hosts))
        return tuple(result)

    def domain(
        self, where: str, raw: Any, client: str | None, inherited: dict[str, Any]
    ) -> Domain | None:
        if isinstance(raw, str):
            raw = {"name": raw}
        # `- [192.0.2.1]`: YAML reads the brackets as a list
        if isinstance(raw, list) and len(raw) == 1 and is_ip_literal(str(raw[0])):
            self.problem(where, f"'[{str(raw[0]).strip()}]' {IP_LITERAL_MESSAGE}")
            return None
        if not isinstance(raw, dict):
            self.problem(where, f"a domain is a name or a mapping with 'name', got {raw!r}")
            return None
        name_raw = raw.get("name")
        label = f"{where} ({name_raw})" if isinstance(name_raw, str) else where
        if not isinstance(name_raw, str):
            self.problem(where, "a domain entry needs 'name: <domain>'")
            return None
        self.keys(label, raw, _DOMAIN_KEYS)
        if is_ip_literal(name_raw):
            self.problem(label, f"{name_raw.strip()!r} {IP_LITERAL_MESSAGE}")
            return None
        try:
            name = normalize_domain(name_raw)
        except ValueError as exc:
            self.problem(label, f"invalid domain name {name_raw!r}: {exc}")
            return None
        if name in self.seen:
            self.problem(
                label, f"duplicate domain {name} (first listed at {self.seen[name]}); list it once"
            )
            return None
        self.seen[name] = label
        submission = tuple(
            h
            for h in (
                self.host(label, x)
                for x in self.strings(label, "submission", raw.get("submission"))
            )
            if h
        )
        return Domain(
            name=name,
            client=client,
            display_name=name_raw.strip().rstrip("."),
            profile=self.profile(label, raw.get("profile")) or inherited.get("profile"),
            submission=submission,
            dkim_selectors=self.selectors(label, raw.get("dkim_selectors")),
            sends_mail=self.flag(label, "sends_mail", raw.get("sends_mail"), True),
            expiry_warning_days=self.days(
                label, raw.get("expiry_warning_days"), inherited["expiry_warning_days"]
            ),
            waivers=self.waivers(label, raw.get("waivers")),
        )

    def domain_list(
        self, where: str, raw: Any, client: str | None, inherited: dict[str, Any]
    ) -> list[Domain]:
        if not isinstance(raw, list):
            self.problem(where, f"'domains' must be a list, got {type(raw).__name__}")
            return []
        out = []
        for i, entry in enumerate(raw):
            dom = self.domain(f"{where}[{i}]", entry, client, inherited)
            if dom:
                out.append(dom)
        return out

    def load(self, data: Any) -> list[Domain]:
        if not isinstance(data, dict):
            self.problem("top level", "expected a mapping with 'domains:' and/or 'clients:'")
            return []
        self.keys("top level", data, _TOP_KEYS)
        inherited: dict[str, Any] = {
            "profile": self.profile("top level", data.get("profile")),
            "expiry_warning_days": self.days(
                "top level", data.get("expiry_warning_days"), DEFAULT_EXPIRY_WARNING_DAYS
            ),
        }
        if "domains" not in data and "clients" not in data:
            self.problem("top level", "no 'domains:' or 'clients:' list: nothing to audit")
        domains = self.domain_list("domains", data.get("domains", []), None, inherited)
        clients = data.get("clients", [])
        if not isinstance(clients, list):
            self.problem("clients", "'clients' must be a list of {name, domains}")
            clients = []
        for i, raw in enumerate(clients):
            where = f"clients[{i}]"
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                self.problem(where, "a client is a mapping with 'name:' and 'domains:'")
                continue
            where = f"{where} ({raw['name']})"
            self.keys(where, raw, _CLIENT_KEYS)
            client_inherited: dict[str, Any] = {
                "profile": self.profile(where, raw.get("profile")) or inherited["profile"],
                "expiry_warning_days": self.days(
                    where, raw.get("expiry_warning_days"), inherited["expiry_warning_days"]
                ),
            }
            if "domains" not in raw:
                self.problem(where, "client has no 'domains:' list")
                continue
            domains += self.domain_list(
                f"{where}.domains", raw["domains"], raw["name"], client_inherited
            )
        if not domains and not self.problems:
            self.problem("top level", "the inventory lists no domains")
        return domains


def load_inventory(path: str | Path) -> Inventory:
    """Read, parse and validate an inventory file."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise InventoryError(f"inventory {path}: cannot read it: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(blob.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InventoryError(
            f"inventory {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise InventoryError(f"inventory {path}: YAML syntax error{where}: {problem}") from None
    loader = _Loader(path, None)
    domains = loader.load(data)
    if loader.problems:
        lines = "\n  - ".join(loader.problems)
        raise InventoryError(
            f"inventory {path} has {len(loader.problems)} problem(s):\n  - {lines}"
        )
    profile = str(data["profile"]) if isinstance(data, dict) and data.get("profile") else None
    return Inventory(
        path=path, sha256=hashlib.sha256(blob).hexdigest(), domains=tuple(domains), profile=profile
    )
