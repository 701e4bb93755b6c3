"""The testbed's runtime folder lives outside the checkout, one per checkout, reachable by the
daemons' own users; Postfix tools use the testbed's config and work without /etc/postfix/main.cf."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

sys.path.insert(0, str(REPO / "testbed"))
from tb import common, postfix


def test_each_checkout_has_its_own_folder_outside_it() -> None:
    one, two = common.default_run_dir(Path("/root/a/mailtls")), common.default_run_dir(Path("/srv/b"))
    assert one != two
    assert one.parent == two.parent == common.STATE_BASE == Path("/var/tmp/mailtls-testbed")
    assert common.default_run_dir(Path("/root/a/mailtls")) == one  # stable
    if not os.environ.get("MAILTLS_TESTBED_DIR"):
        assert common.default_run_dir(REPO) == common.RUN
        assert not common.RUN.is_relative_to(REPO)


def test_path_command_prints_the_folders() -> None:
    out = {
        what: subprocess.run(
            [sys.executable, str(REPO / "testbed" / "testbed.py"), "path", what],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for what in ("run", "ca", "env")
    }
    assert out == {
        "run": str(common.RUN),
        "ca": str(common.RUN / "ca.pem"),
        "env": str(common.RUN / "env.json"),
    }


def test_a_folder_others_cannot_enter_is_refused(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    problems = common.prepare_run(private / "run")
    assert any(str(private) in p and "mode 700" in p for p in problems), problems
    private.chmod(0o755)
    tmp_path.chmod(0o755)
    assert not [p for p in common.prepare_run(private / "run2") if str(private) in p]


def _need_root_and(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None]
    if os.geteuid() != 0 or missing:
        msg = f"needs root and {', '.join(tools)} (missing: {missing or 'none'})"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)


def test_the_postfix_user_reaches_the_running_testbed(testbed_env: dict[str, Any]) -> None:
    _need_root_and("runuser")
    run = Path(testbed_env["run"])
    assert json.loads((run / "env.json").read_text())["ca_bundle"] == str(run / "ca.pem")
    for path in (run / "postfix" / "queue", Path(testbed_env["postfix_conf"])):
        proc = subprocess.run(["runuser", "-u", "postfix", "--", "test", "-x", str(path)])
        assert proc.returncode == 0, f"user postfix cannot enter {path}"


def test_posttls_finger_needs_no_system_main_cf(
    testbed_env: dict[str, Any], tmp_path: Path
) -> None:
    """In a private mount namespace where /etc/postfix is an empty directory: posttls-finger with
    the testbed's MAIL_CONFIG gets TLS from a listener; without it, it stops with a fatal error
    (so the first run proves something)."""
    _need_root_and("unshare", "posttls-finger")
    empty = tmp_path / "empty"
    empty.mkdir()
    target = f"[{testbed_env['listeners']['good-mx1']}]:25"
    finger = f"posttls-finger -c -l may -o inet_protocols=ipv4 {target}"
    script = f"mount --bind {empty} /etc/postfix && ls -A /etc/postfix && {finger}"
    conf = Path(testbed_env["postfix_conf"])

    def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, env=env,
            timeout=60,
        )  # fmt: skip

    ours = run(postfix.tool_env(conf))
    assert "TLS connection established" in ours.stdout + ours.stderr, ours.stdout + ours.stderr
    system = run({k: v for k, v in os.environ.items() if k != "MAIL_CONFIG"})
    assert "TLS connection established" not in system.stdout + system.stderr
    assert system.returncode != 0
