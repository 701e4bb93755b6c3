"""The HTML report as a test reads it: the packed payloads (gzip, base64) unpacked in place."""

from __future__ import annotations

import re

from mailtls.summary import script_json, unpack

PACKED = re.compile(
    r'<script type="application/gzip\+base64" id="([^"]+)">([A-Za-z0-9+/=]*)</script>'
)


def payloads(html: str) -> dict[str, object]:
    """Each packed payload of the page, unpacked, by element id."""
    return {m.group(1): unpack(m.group(2)) for m in PACKED.finditer(html)}


def readable(html: str) -> str:
    """The page with each packed payload written as the inert JSON it packs (script_json), so a
    test can look for the evidence and rows the reader gets on demand, escaped as the page is."""
    return PACKED.sub(lambda m: script_json(m.group(1), unpack(m.group(2))), html)
