"""Pure parser for SPF records (RFC 7208): record selection and the term grammar.

No network here: :mod:`mailtls.probes.spfwalk` fetches the records and walks include/redirect;
this module only says which TXT strings are SPF records and what their terms are.

Selection (RFC 7208 §4.5 and §3.3): the strings of one TXT record are joined without
separators; a record is SPF when it begins with ``v=spf1`` (case-insensitive, per the ABNF)
followed by a space or the end. Grammar (RFC 7208 ABNF, [U] section number): mechanisms
all/include/a/mx/ptr/ip4/ip6/exists with qualifiers ``+ - ~ ?``; modifiers ``name=value``
(``redirect`` and ``exp`` at most once; unknown modifiers are kept and ignored); ip4 CIDR 0-32,
ip6 CIDR 0-128; macros ``%{letter digits [r] delimiters}`` with letters s l o d i p h v (c r t
only in explanation text), plus ``%%``, ``%_``, ``%-``. Anything else is a permerror, raised
here as :class:`SpfError`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.rdata
import dns.rdataclass
import dns.rdatatype

Qualifier = Literal["+", "-", "~", "?"]
MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
#: Terms that cost a DNS query during evaluation (RFC 7208 §4.6.4): at most 10 of them.
LOOKUP_MECHANISMS = ("include", "a", "mx", "ptr", "exists")
_VERSION = re.compile(r"^v=spf1(?: |$)", re.IGNORECASE)
_MODIFIER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$")
_MACRO_EXPAND = re.compile(r"%\{([A-Za-z])([0-9]*)([rR]?)([-.+,/_=]*)\}")
_DOMAIN_LETTERS = set("slodiphv")
_ALL_LETTERS = _DOMAIN_LETTERS | set("crt")
_TOPLABEL = re.compile(
    r"^(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])$"
)


class SpfError(ValueError):
    """A record that does not follow the RFC 7208 grammar (receivers return permerror)."""


def txt_value(presentation: str) -> str:
    """The strings of one TXT record (DNS presentation form) joined without separators."""
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, presentation)
    except dns.exception.DNSException as exc:
        raise SpfError(f"unparsable TXT record {presentation!r}: {exc}") from None
    return b"".join(rdata.strings).decode("latin-1")  # type: ignore[attr-defined]


def is_spf(value: str) -> bool:
    """True for ``v=spf1`` (any case) followed by a space or the end; ``v=spf10`` is not SPF."""
    return bool(_VERSION.match(value))


def joined(records: Sequence[str]) -> list[str]:
    """TXT records given in presentation form, each as its strings joined (RFC 7208 §3.3);
    a record that does not decode is left out."""
    found = []
    for rec in records:
        try:
            found.append(txt_value(rec))
        except SpfError:
            continue
    return found


def select(records: Sequence[str]) -> list[str]:
    """The SPF records among TXT records given in presentation form (joined strings)."""
    return [value for value in joined(records) if is_spf(value)]


@dataclass(frozen=True)
class Mechanism:
    """One directive: qualifier, mechanism name (lower case) and its arguments."""

    qualifier: Qualifier
    name: str
    domain: str | None = None  # domain-spec (include/a/mx/ptr/exists), macros unexpanded
    network: str | None = None  # ip4/ip6 address as written
    cidr4: int | None = None
    cidr6: int | None = None

    @property
    def lookup(self) -> bool:
        return self.name in LOOKUP_MECHANISMS

    def __str__(self) -> str:
        text = ("" if self.qualifier == "+" else self.qualifier) + self.name
        if self.domain is not None:
            text += ":" + self.domain
        if self.network is not None:
            text += ":" + self.network
        if self.cidr4 is not None and self.name != "ip6":
            text += f"/{self.cidr4}"
        if self.cidr6 is not None:
            text += f"//{self.cidr6}" if self.name in ("a", "mx") else f"/{self.cidr6}"
        return text


@dataclass(frozen=True)
class Modifier:
    name: str  # lower case
    value: str

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


Term = Mechanism | Modifier


@dataclass(frozen=True)
class SpfRecord:
    """A parsed SPF record: its terms in order."""

    terms: tuple[Term, ...]

    @property
    def mechanisms(self) -> tuple[Mechanism, ...]:
        return tuple(t for t in self.terms if isinstance(t, Mechanism))

    def modifier(self, name: str) -> str | None:
        return next(
            (t.value for t in self.terms if isinstance(t, Modifier) and t.name == name), None
        )

    @property
    def redirect(self) -> str | None:
        """The redirect target; RFC 7208 §6.1: ignored when the record has an ``all``."""
        if self.all is not None:
            return None
        return self.modifier("redirect")

    @property
    def all(self) -> Mechanism | None:
        return next((m for m in self.mechanisms if m.name == "all"), None)

    @property
    def lookup_terms(self) -> int:
        """Terms of this record alone that count towards the limit of 10 (RFC 7208 §4.6.4)."""
        return sum(m.lookup for m in self.mechanisms) + (self.modifier("redirect") is not None)

    @property
    def only_fail_all(self) -> bool:
        """Exactly ``v=spf1 -all``: no sender is authorised (RFC 7505 §4.2, non-sending domains)."""
        return self.terms == (Mechanism("-", "all"),)

    def __str__(self) -> str:
        return " ".join(["v=spf1", *(str(t) for t in self.terms)])


def check_macro_string(text: str, letters: set[str] = _ALL_LETTERS) -> bool:
    """Raise :class:`SpfError` unless ``text`` is a macro-string (literals and macro-expands);
    return whether it ends with a macro-expand (a valid domain-end of its own)."""
    i, last_macro = 0, False
    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt in ("%", "_", "-"):
                i, last_macro = i + 2, True
                continue
            m = _MACRO_EXPAND.match(text, i)
            if nxt != "{" or m is None:
                raise SpfError(f"invalid macro at {text[i : i + 12]!r} in {text!r}")
            if m.group(1).lower() not in letters:
                raise SpfError(f"macro letter {m.group(1)!r} is not allowed in {text!r}")
            i, last_macro = m.end(), True
            continue
        if not 0x21 <= ord(ch) <= 0x7E:
            raise SpfError(f"character {ch!r} is not allowed in {text!r}")
        i, last_macro = i + 1, False
    return last_macro


def check_domain_spec(spec: str) -> None:
    """domain-spec = macro-string domain-end; domain-end is ``.toplabel[.]`` or a macro-expand."""
    if not spec:
        raise SpfError("empty domain")
    if check_macro_string(spec, _DOMAIN_LETTERS):
        return
    body = spec.removesuffix(".")
    if "." not in body or not _TOPLABEL.match(body.rsplit(".", 1)[1]):
        raise SpfError(f"{spec!r} is not a domain name (it must end in a valid top label)")


def _cidr(text: str, maximum: int, term: str) -> int:
    if not re.fullmatch(r"0|[1-9][0-9]{0,2}", text) or int(text) > maximum:
        raise SpfError(f"{term}: CIDR length /{text} must be 0-{maximum} without leading zeros")
    return int(text)


def _dual_cidr(rest: str, term: str) -> tuple[str, int | None, int | None]:
    """Split ``domain/24//64`` into its domain-spec and the two prefix lengths."""
    cidr4 = cidr6 = None
    m = re.search(r"(?:/([0-9]+))?(?://([0-9]+))?$", rest)
    if m and m.group(0):
        if m.group(1) is not None:
            cidr4 = _cidr(m.group(1), 32, term)
        if m.group(2) is not None:
            cidr6 = _cidr(m.group(2), 128, term)
        rest = rest[: m.start()]
    return rest, cidr4, cidr6


def _mechanism(qualifier: Qualifier, term: str, body: str) -> Mechanism:
    name, sep, arg = body.partition(":")
    if "/" in name:  # a/24 or mx//64 without a domain
        name, _, cidrs = body.partition("/")
        sep, arg = "", "/" + cidrs
    name = name.lower()
    if name not in MECHANISMS:
        raise SpfError(f"unknown mechanism {term!r}")
    if name == "all":
        if sep or arg:
            raise SpfError(f"{term!r}: 'all' takes no argument")
        return Mechanism(qualifier, "all")
    if name in ("include", "exists"):
        if not sep:
            raise SpfError(f"{term!r}: {name} needs ':<domain>'")
        check_domain_spec(arg)
        return Mechanism(qualifier, name, domain=arg)
    if name == "ptr":
        if sep:
            check_domain_spec(arg)
        elif arg:
            raise SpfError(f"{term!r}: ptr takes no CIDR length")
        return Mechanism(qualifier, "ptr", domain=arg if sep else None)
    if name in ("a", "mx"):
        spec, cidr4, cidr6 = _dual_cidr(arg, term)
        if sep:
            check_domain_spec(spec)
        elif spec:
            raise SpfError(f"unknown mechanism {term!r}")
        return Mechanism(qualifier, name, spec if sep else None, cidr4=cidr4, cidr6=cidr6)
    if not sep:
        raise SpfError(f"{term!r}: {name} needs ':<address>'")
    address, _, length = arg.partition("/")
    try:
        if "%" in address:
            raise ValueError(address)
        if name == "ip4":
            ipaddress.IPv4Address(address)
        else:
            ipaddress.IPv6Address(address)
    except ValueError:
        raise SpfError(
            f"{term!r}: {address!r} is not an {name[:2].upper()}v{name[2]} address"
        ) from None
    prefix = _cidr(length, 32 if name == "ip4" else 128, term) if "/" in arg else None
    if name == "ip4":
        return Mechanism(qualifier, "ip4", network=address, cidr4=prefix)
    return Mechanism(qualifier, "ip6", network=address, cidr6=prefix)


def parse(value: str) -> SpfRecord:
    """Parse the joined text of one SPF record; raise :class:`SpfError` naming the first bad term."""
    if not is_spf(value):
        raise SpfError("the record must begin with 'v=spf1' followed by a space or the end")
    terms: list[Term] = []
    seen: set[str] = set()
    for term in value[6:].split(" "):
        if not term:
            continue  # terms are separated by one or more spaces; trailing spaces are allowed
        head = re.match(r"[^:/=]*", term)
        assert head is not None
        if term[head.end() : head.end() + 1] == "=":
            name, val = term[: head.end()], term[head.end() + 1 :]
            if not _MODIFIER_NAME.match(name):
                raise SpfError(f"{term!r} is not a valid term (bad modifier name)")
            name = name.lower()
            if name in ("redirect", "exp"):
                if name in seen:
                    raise SpfError(f"modifier {name}= appears more than once")
                seen.add(name)
                check_domain_spec(val)
            else:
                check_macro_string(val)
            terms.append(Modifier(name, val))
            continue
        qualifier: Qualifier = "+"
        body = term
        if term[0] in "+-~?":
            qualifier, body = term[0], term[1:]  # type: ignore[assignment]
        terms.append(_mechanism(qualifier, term, body))
    return SpfRecord(tuple(terms))
