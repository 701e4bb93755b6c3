"""The HTML report in a real browser: server-sent markup stays text, nothing it carries runs.

script.test's fault server puts ``<script>alert(1)</script>`` in its banner and
``<img src=x onerror=alert(2)>`` in its EHLO reply. The report is opened in headless Chromium
with ``alert`` replaced by a recorder; the evidence is drawn the way a user draws it (opening
the domain, clicking every evidence button). A control page carrying the raw payload proves the
recorder sees an executed payload, so the assertion can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from html import escape
from pathlib import Path
from typing import Any

import pytest

from mailtls.summary import FINDINGS_TABLE, asset, script_packed
from tests.browser import Chromium, Page, find_chromium
from tests.conftest import REPO, run_suite

RECORDER = "window.__mt_alerts = [];window.alert = (m) => window.__mt_alerts.push(String(m));"
BANNER = "<script>alert(1)</script>"
EHLO = "<img src=x onerror=alert(2)>"
# Rows and evidence are inflated from packed data asynchronously: wait until each is drawn.
DRAW_EVIDENCE = """
new Promise((done) => {
  const until = (pending, then) => {
    const t = setInterval(() => { if (!pending()) { clearInterval(t); then() } }, 20)
  }
  const undrawn = (sel) => () => [...document.querySelectorAll(sel)].some((e) => !e.dataset.drawn || e.dataset.drawn === 'drawing')
  for (const d of document.querySelectorAll('details')) d.open = true
  until(undrawn('details.mt-domain, details.mt-group'), () => {
    document.querySelectorAll('button.mt-ev').forEach((b) => b.click())
    until(undrawn('.mt-ev-body'), () => done(document.querySelectorAll('.mt-ev-body').length))
  })
})
"""
DRAWN = """({
  rows: document.querySelectorAll('details.mt-domain table.mt-rows tr').length,
  failed: document.querySelectorAll('[data-drawn="failed"]').length,
  evidence: [...document.querySelectorAll('.mt-ev-body')].filter((e) => !e.closest('#results-table'))
    .map((e) => e.innerHTML).join(''),
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Chromium]:
    if find_chromium() is None:
        msg = "chromium is not installed (apt-get install chromium); the report's escaping is unchecked"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    with Chromium() as chromium:
        yield chromium


def _page(browser: Chromium, path: Path) -> Page:
    page = browser.page()
    page.call("Page.addScriptToEvaluateOnNewDocument", source=RECORDER)
    page.open(path)
    return page


def _report(
    testbed_env: dict[str, Any], tmp: Path, domains: str, html: Path, *extra: str
) -> tuple[int, dict[str, Any]]:
    """The suite over ``domains`` (YAML flow list items) into ``html``: (exit code, JSON)."""
    inventory = tmp / "inventory.yaml"
    inventory.write_text(f"domains: [{domains}]\n")
    code, output, data = run_suite(
        [
            f"--inventory={inventory}",
            f"--resolver={testbed_env['resolver']}",
            f"--ca-bundle={testbed_env['ca_bundle']}",
            "--timeout=2",
            *extra,
            f"--html={html}",
            "--self-contained-html",
            "-q",
        ],
        tmp,
    )
    assert data is not None and html.exists(), output[-3000:]
    return code, data


@pytest.fixture(scope="module")
def report(testbed_env: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("browser")
    html = tmp / "report.html"
    _, data = _report(testbed_env, tmp, "script.test, twomx.test", html)
    banners = [
        line["text"]
        for r in data["results"]
        for ev in r["evidence"]
        for line in ev.get("transcript", [])
        if r["domain"] == "script.test"
    ]
    assert any(BANNER in b for b in banners), "the fault server no longer sends the payload"
    return html


def test_recorder_catches_an_executed_payload(browser: Chromium, tmp_path: Path) -> None:
    control = tmp_path / "control.html"
    control.write_text(f"<html><body><p>{BANNER}</p><p>{EHLO}</p></body></html>")
    page = _page(browser, control)
    page.evaluate("new Promise((r) => setTimeout(r, 300))")
    assert page.evaluate("window.__mt_alerts") == ["1", "2"]


def test_server_markup_is_shown_as_text_and_never_runs(browser: Chromium, report: Path) -> None:
    page = _page(browser, report)
    drawn = page.evaluate(DRAW_EVIDENCE)
    assert drawn > 0, "no evidence was drawn"
    assert page.evaluate(DRAWN)["failed"] == 0 and page.evaluate(DRAWN)["rows"] > 10
    text = page.evaluate("document.body.innerText")
    assert BANNER in text and EHLO in text
    assert page.evaluate("window.__mt_alerts") == []
    assert page.evaluate("document.querySelectorAll('img[onerror]').length") == 0
    # Executable scripts are ours and pytest-html's only; server text sits in inert ones (JSON,
    # or JSON packed with gzip and base64).
    inert = ("application/json", "application/gzip+base64")
    types = page.evaluate("[...document.scripts].map((s) => s.type)")
    scripts = page.evaluate(
        f"[...document.scripts].filter((s) => !{list(inert)}.includes(s.type))"
        ".map((s) => s.textContent)"
    )
    assert len(scripts) == 2 and not any("alert(" in s for s in scripts)
    assert sorted(set(t for t in types if t in inert)) == sorted(inert)
    assert not [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]


def test_report_holds_ids_citations_and_the_summary(browser: Chromium, report: Path) -> None:
    page = _page(browser, report)
    text = page.evaluate("document.body.innerText")
    for needle in (
        "Summary: domains × requirement families",
        "Findings by requirement",
        "Certificate expiry",
        "SMTP-STARTTLS-OFFERED",
        "Fix: ",
        "RFC 3207",
        "[section unconfirmed]",
    ):
        assert needle in text, needle
    rows = page.evaluate(
        "[...document.querySelectorAll('#results-table tbody.results-table-row')].length"
    )
    assert rows >= 1  # twomx.test's mx2 does not offer STARTTLS: a finding row


def _mailtls_part(html: str, end: str = FINDINGS_TABLE) -> str:
    """What mailtls draws on the page: from its style sheet to pytest-html's findings table
    (the merged report, which has no such table, ends there)."""
    start = html.index(f"<style>{asset('report.css')}</style>")
    return html[start : html.index(end, start)]


@pytest.fixture(scope="module")
def run_and_merge(
    testbed_env: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """One run as the only shard (--shard=1/1, its report and evidence JSON), and the report
    ``python -m mailtls merge`` writes from that JSON alone."""
    tmp = tmp_path_factory.mktemp("merge")
    html = tmp / "run.html"
    code, _ = _report(testbed_env, tmp, "script.test, twomx.test, good.test", html, "--shard=1/1")
    merged = tmp / "merged.html"
    proc = subprocess.run(
        [sys.executable, "-m", "mailtls", "merge", str(tmp / "evidence.json"), f"--html={merged}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == code, proc.stdout + proc.stderr
    return html, merged


def test_merged_report_is_what_the_run_drew(
    browser: Chromium, run_and_merge: tuple[Path, Path]
) -> None:
    """Summary, findings, expiry view, every row and every evidence block: the same bytes."""
    run, merged = (p.read_text() for p in run_and_merge)
    part = _mailtls_part(run)
    assert "Certificate expiry</h2><details" in part  # certificates were seen and listed
    assert 'id="mailtls-rows"' in part and 'id="mailtls-evidence-' in part
    assert _mailtls_part(merged, "</div></body></html>") == part
    drawn = []
    for path in run_and_merge:
        page = _page(browser, path)
        assert page.evaluate(DRAW_EVIDENCE) > 0
        drawn.append((page.evaluate(DRAWN), page.evaluate("window.__mt_alerts")))
    # The same rows and evidence drawn outside pytest-html's table (which the merge cannot have).
    assert drawn[0] == drawn[1] and drawn[0][0]["evidence"] and drawn[0][1] == []


def test_packed_rows_and_evidence_stay_text(browser: Chromium, tmp_path: Path) -> None:
    """Hostile text in every packed string a row is drawn from reaches the page as text only;
    evidence HTML is inserted as mailtls escaped it."""
    hostile = [BANNER, EHLO, "</script><script>alert(3)</script>", "x' onmouseover='alert(4)"]
    digest = "a" * 16
    rows = {
        "reqs": [["SMTP-STARTTLS-OFFERED", BANNER]],
        "text": ["fail", *hostile],
        "ev": [digest],
        "rows": {"h.example": [[0, 0, 1, 2, 3, 4, [0]]]},
    }
    evidence = {digest: f"<pre>{escape(BANNER)}</pre>"}
    page_html = (
        f"<html><body><script>{asset('report.js')}</script>"
        "<details class='mt-domain' data-domain='h.example'><summary>h</summary></details>"
        f"{script_packed('mailtls-rows', rows)}{script_packed('mailtls-evidence-a', evidence)}"
        "</body></html>"
    )
    path = tmp_path / "packed.html"
    path.write_text(page_html)
    page = _page(browser, path)
    assert page.evaluate(DRAW_EVIDENCE) == 1
    cells = page.evaluate("[...document.querySelectorAll('td')].map((td) => td.textContent)")
    # verdict, requirement, severity, host, IP, message: each the string its index names
    expected = ["fail", "SMTP-STARTTLS-OFFERED", hostile[2], hostile[0], hostile[1], hostile[3]]
    assert cells[:6] == expected
    assert BANNER in page.evaluate("document.querySelector('.mt-ev-body').textContent")
    assert page.evaluate("window.__mt_alerts") == []
    assert page.evaluate("document.querySelectorAll('img, [onmouseover]').length") == 0
