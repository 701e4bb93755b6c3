"""A resolver that does not answer: the canary stops the run at once (usage error, exit 4); one
that answers the canary and then goes silent costs a bounded number of queries, and every row is
an error naming the resolver. Our own UDP server on 127.0.18.53 (the range of issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mailtls.runstate import DNS_WORKERS
from tests.conftest import run_suite
from tests.support.dnsstub import ADDRESS, FadingResolver


@pytest.fixture
def silent() -> Iterator[FadingResolver]:
    server = FadingResolver(5301, answers=0)
    yield server
    server.close()


@pytest.fixture
def fading() -> Iterator[FadingResolver]:
    server = FadingResolver(5302, answers=1)  # the canary only
    yield server
    server.close()


def test_a_silent_resolver_stops_the_run_at_once(tmp_path: Path, silent: FadingResolver) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("domains: [a.example, b.example]\n")
    code, output, data = run_suite(
        [f"--inventory={inv}", f"--resolver={ADDRESS}:5301", "--timeout=1"], tmp_path
    )
    assert code == 4, output
    assert f"the resolver does not answer (no answer from resolver {ADDRESS}:5301 within 1s)" in (
        output
    )
    assert "Traceback" not in output
    assert data is None or data["results"] == []  # no rows: nothing was run
    assert silent.unanswered == 1  # the canary, and nothing else


def test_a_resolver_dying_after_the_canary_costs_bounded_queries(
    tmp_path: Path, fading: FadingResolver
) -> None:
    domains = 300
    inv = tmp_path / "inv.yaml"
    inv.write_text("domains:\n" + "".join(f"  - d{i}.example\n" for i in range(domains)))
    selected = "test_mx_resolves or test_starttls_offered or test_submission_starttls"
    code, output, data = run_suite(
        [
            f"--inventory={inv}",
            f"--resolver={ADDRESS}:5302",
            "--timeout=0.3",
            "--concurrency=16",
            "-k",
            selected,
        ],
        tmp_path,
    )
    assert code == 1, output
    assert data is not None
    rows = data["results"]
    by_requirement: dict[str, int] = {}
    for row in rows:
        by_requirement[row["requirement"]] = by_requirement.get(row["requirement"], 0) + 1
        assert row["verdict"] == "error", row
        assert f"resolver {ADDRESS}:5302" in row["message"], row
    assert by_requirement == {
        "MX-RESOLVE": domains,
        "SMTP-STARTTLS-OFFERED": domains,
        "SUBMIT-587-STARTTLS": domains,
    }
    assert any("stopped asking this resolver" in row["message"] for row in rows)
    # Without the breaker: 300 domains x (MX + 2 SRV) x 2 tries = 1,800 unanswered queries.
    # With it: the queries in flight when it trips (two pools of DNS_WORKERS) and their retries.
    assert fading.unanswered <= 2 * (2 * DNS_WORKERS + 4), fading.unanswered


def test_with_the_resolver_dead_every_check_is_an_error(tmp_path: Path) -> None:
    """No check mistakes "could not ask" for "nothing published": not applicable is wrong here."""
    server = FadingResolver(5303, answers=1)
    try:
        inv = tmp_path / "inv.yaml"
        # DKIM selectors listed, so that the DKIM rows depend on a lookup too (without them,
        # "no selectors listed" is not applicable whatever the resolver does).
        inv.write_text(
            "domains:\n"
            + "".join(f"  - {{name: {d}.example, dkim_selectors: [s1]}}\n" for d in "abc")
        )
        code, output, data = run_suite(
            [f"--inventory={inv}", f"--resolver={ADDRESS}:5303", "--timeout=0.3"], tmp_path
        )
    finally:
        server.close()
    assert code == 1 and data is not None, output[-3000:]
    wrong = [(r["requirement"], r["verdict"], r["message"]) for r in data["results"]]
    # SPF-NONSENDING is for domains the inventory marks `sends_mail: false`: not applicable to
    # these three, whatever the resolver does. Every other row needs an answer.
    wrong = [w for w in wrong if w[1] != "error" and w[0] != "SPF-NONSENDING"]
    assert not wrong, wrong
    unnamed = [
        (r["requirement"], r["message"])
        for r in data["results"]
        if r["verdict"] == "error" and f"resolver {ADDRESS}:5303" not in r["message"]
    ]
    assert not unnamed, unnamed  # every error names the resolver that did not answer
    assert len(data["results"]) >= 3 * 50  # every check, for every domain
