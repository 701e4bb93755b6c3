"""The report's packed payloads: what goes in comes out, nothing in them can end their script
element or be read as markup, and observations read back from the evidence JSON are the records
the run rendered (the merged report draws the same evidence and expiry view as the run)."""

from __future__ import annotations

import base64
import dataclasses
import gzip
import json
import re

from mailtls.evidence import digest, render_html, to_jsonable
from mailtls.evidence_load import load
from mailtls.observations import PolicyFetch, SmtpReply
from mailtls.summary import script_json, script_packed, unpack
from tests.support import factories
from tests.support.certs import make_cert
from tests.support.report import payloads, readable

HOSTILE = [
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "]]></script><!--",
    "&lt;already&gt; \u2028\u2029 \x00 ünïcödé",
]


def test_packed_payload_round_trips_and_is_inert() -> None:
    data = {"text": HOSTILE, "rows": {"a.example": [[0, 1, [2]]]}}
    element = script_packed("mailtls-rows", data)
    blob = re.fullmatch(
        r'<script type="application/gzip\+base64" id="mailtls-rows">([A-Za-z0-9+/=]+)</script>',
        element,
    )
    assert blob is not None  # only the base64 alphabet between the tags: no '<', '>' or '&'
    assert unpack(blob.group(1)) == data
    assert gzip.decompress(base64.b64decode(blob.group(1)))[:1] == b"{"
    assert script_packed("mailtls-rows", data) == element  # deterministic: merge equals run


def test_readable_page_keeps_script_json_escaping() -> None:
    page = "<p>x</p>" + script_packed("mailtls-evidence", {"d": HOSTILE[0]})
    assert payloads(page) == {"mailtls-evidence": {"d": HOSTILE[0]}}
    shown = readable(page)
    assert shown == "<p>x</p>" + script_json("mailtls-evidence", {"d": HOSTILE[0]})
    assert "</script><script>" not in shown and "alert(1)" in shown


def _records() -> list[object]:
    leaf = make_cert("mx.example.org", sans=["mx.example.org", "<b>x</b>.example.org"])
    smtp = factories.session(
        banner=SmtpReply(220, ("<script>alert(1)</script> ESMTP",)), chain=[leaf.der]
    )
    policy = PolicyFetch(
        domain="example.org",
        host="mta-sts.example.org",
        url="https://mta-sts.example.org/.well-known/mta-sts.txt",
        fetched_at="2026-12-06T00:00:00+00:00",
        address="192.0.2.5",
        request=("GET / HTTP/1.1",),
        status=200,
        reason="OK",
        headers=(("Content-Type", "text/plain"),),
        body=b"version: STSv1\r\nmode: enforce\r\n\xff<b>",
        body_bytes=36,
        stop_kind="end",
        phase="body",
        deadline_s=10,
    )
    return [factories.discovery(), smtp, policy, factories.tls_scan(tls10="no", tls13="yes")]


def test_observation_json_loads_back_to_the_record() -> None:
    for obs in _records():
        raw = json.loads(json.dumps(to_jsonable(obs)))
        back = load(raw)
        assert back == obs, type(obs).__name__
        assert digest(back) == digest(obs) and render_html(back) == render_html(obs)


def test_json_that_is_not_exactly_a_record_stays_json() -> None:
    smtp = json.loads(json.dumps(to_jsonable(factories.session())))
    assert load({**smtp, "banner": "not a reply"}) == {**smtp, "banner": "not a reply"}
    assert load({**smtp, "extra": 1}) == {**smtp, "extra": 1}  # would not write back the same
    assert load({"type": "SomethingNew", "x": 1}) == {"type": "SomethingNew", "x": 1}
    assert load([1, 2]) == [1, 2]
    missing = {k: v for k, v in smtp.items() if k != "endpoint"}
    assert load(missing) == missing


def test_records_rebuilt_are_frozen_dataclasses_again() -> None:
    back = load(json.loads(json.dumps(to_jsonable(factories.session()))))
    assert dataclasses.is_dataclass(back) and not isinstance(back, dict)


def test_a_discovery_with_answers_by_reference_loads_back() -> None:
    """The evidence JSON states each DNS answer once, in ``answers``, and refers to it elsewhere
    (``{"answer": i}``); the merge rebuilds the record with every reference resolved."""
    d = factories.discovery(mta_sts=True)
    host = d.hosts[0]
    d = dataclasses.replace(d, answers=(d.mx, host.a, host.aaaa, d.mta_sts_txt))
    raw = json.loads(json.dumps(to_jsonable(d)))
    assert raw["mx"] == {"answer": 0} and raw["mta_sts_txt"] == {"answer": 3}
    back = load(raw)
    assert back == d and digest(back) == digest(d)
    broken = {**raw, "mx": {"answer": 9}}
    assert load(broken) == broken  # a reference to nothing stays JSON
