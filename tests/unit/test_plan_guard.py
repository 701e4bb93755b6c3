"""Guard (issue 12): every check reads only what the plan produces.

Static half (this file): every fixture a check takes is one the plugin provides and plans; a
check that matches TLSA records against the served chain also takes `smtp` (the `dane` fixture
reads the session only when it was planned); and every scan question a check reads by name is
one the hello scan can answer: a hello of the plan carries it in its refusal answers, or the
plan answers it from what it saw. The live half (tests/e2e/test_plan_guard_live.py) runs the
real plan against real servers and records every answer each check reads.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

from mailtls import authfixtures, fixtures
from mailtls.probes import tlsscan
from mailtls.scheduler import PROBES
from tests.conftest import REPO

CHECKS = sorted((REPO / "checks").glob("test_*.py"))
#: Fixtures that need no probe of their own (inventory, discovery, catalogue) or are derived
#: from planned probes by the plugin (`dane` from discovery + the session; `mx_sessions` from
#: every MX session of the domain, planned in pytest_collection_finish; `spf`, `dkim`, `dmarc`
#: from the domain's DNS lookups, made once per domain like discovery: runstate.sender_auth).
DERIVED = {"dane", "mx_sessions", "discovery", "submission_discovery", "spf", "dkim", "dmarc"}
CONTEXT = {"target", "profile", "requirement", "domain_settings", "mailtls_run"}
#: The sender-authentication fixtures (issue 13): DNS lookups made once for every domain by the
#: run state, not probes of the scheduler's plan.
SENDER_AUTH = {
    name
    for name, obj in inspect.getmembers(authfixtures)
    if hasattr(obj, "_fixture_function_marker") or hasattr(obj, "_pytestfixturefunction")
}
READERS = {"_yes", "_known", "_left_open_by_limit", "answer"}


def _checks() -> list[tuple[Path, ast.FunctionDef]]:
    found = []
    for path in CHECKS:
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                found.append((path, node))
    return found


def _plugin_fixtures() -> set[str]:
    return {
        name
        for module in (fixtures, authfixtures)
        for name, obj in inspect.getmembers(module)
        if hasattr(obj, "_fixture_function_marker") or hasattr(obj, "_pytestfixturefunction")
    } | {"target"}


def test_every_check_takes_only_provided_and_planned_fixtures() -> None:
    provided = _plugin_fixtures()
    assert {"smtp", "tlsscan", "dane"} <= provided, provided
    assert {"spf", "dkim", "dmarc"} == SENDER_AUTH, SENDER_AUTH
    for path, fn in _checks():
        for arg in (a.arg for a in fn.args.args):
            assert arg in provided, f"{path.name}::{fn.name}: fixture {arg!r} is not provided"
            assert arg in PROBES or arg in DERIVED or arg in CONTEXT or arg in SENDER_AUTH, (
                f"{path.name}::{fn.name}: {arg!r} is neither a planned probe nor derived from one"
            )


def test_chain_matching_checks_ask_for_the_session() -> None:
    for path, fn in _checks():
        args = {a.arg for a in fn.args.args}
        reads_chain = any(
            isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_chain"
            for n in ast.walk(fn)
        )
        if "dane" in args and reads_chain:
            assert "smtp" in args, f"{path.name}::{fn.name} matches the chain without `smtp`"


def _questions_read() -> dict[str, set[str]]:
    """Scan questions each check (or its helpers) reads by name."""
    read: dict[str, set[str]] = {}
    for path in CHECKS:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            name = (
                node.func.attr
                if isinstance(node.func, ast.Attribute)
                else getattr(node.func, "id", "")
            )
            if name not in READERS:
                continue
            for arg in node.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    read.setdefault(arg.value, set()).add(path.name)
    return read


def _questions_the_plan_answers() -> set[str]:
    """Questions a hello of the plan asks (refusal answers) or the plan answers directly."""
    package = Path(tlsscan.__file__).parent
    trees = [ast.parse(p.read_text()) for p in sorted(package.glob("*.py"))]
    answered: set[str] = set(tlsscan.VERSION_QUESTION.values()) | set(tlsscan.BUNDLE_QUESTIONS)
    for node in (n for tree in trees for n in ast.walk(tree)):
        if isinstance(node, ast.keyword) and node.arg == "refusal_answers":
            answered |= {
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "answer"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            answered.add(str(node.args[0].value))
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", "") == "Hello"
            and len(node.args) >= 5
        ):
            arg = node.args[4]  # positional refusal_answers
            answered |= {
                c.value
                for c in ast.walk(arg)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
    return answered


def test_every_question_a_check_reads_is_one_the_plan_answers() -> None:
    read = _questions_read()
    assert {"chacha13", "tls13", "weak", "ec_nist"} <= set(read), read  # the guard sees them
    answered = _questions_the_plan_answers()
    for question, files in sorted(read.items()):
        assert question in tlsscan.QUESTIONS, f"{sorted(files)} read unknown question {question!r}"
        assert question in answered, f"{sorted(files)} read {question!r}, which no hello asks"
