"""DNS answers given as data, for the pure parts of the lookups (the SPF walk)."""

from __future__ import annotations

from typing import Any

from mailtls.observations import DnsAnswer


class ZoneData:
    """Answers from a dict {(name, type): [TXT/A/MX presentation records]}; a name missing
    from the dict is NXDOMAIN, the value "SERVFAIL" a failure. Counts the queries."""

    def __init__(self, data: dict[tuple[str, str], Any]) -> None:
        self.data = data
        self.asked: list[tuple[str, str]] = []

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        self.asked.append((name, rdtype))
        found = self.data.get((name, rdtype))
        if found == "SERVFAIL":
            return DnsAnswer(name, rdtype, "servfail", "SERVFAIL", (), None, False, "test:53")
        if found is None:
            return DnsAnswer(name, rdtype, "nxdomain", "NXDOMAIN", (), None, True, "test:53")
        return DnsAnswer(name, rdtype, "ok", "NOERROR", tuple(found), 300, True, "test:53")
