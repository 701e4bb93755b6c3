"""Shared pieces of the testbed: paths, the scenario data, the address plan, process helpers."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import yaml
from servers._common import RANGE, in_testbed_range  # the address rule, written once

HERE = Path(__file__).resolve().parent.parent  # <repo>/testbed
REPO = HERE.parent
#: Where every checkout's runtime folder lives by default: outside the checkout, because the
#: daemons that drop privileges (Postfix's postfix user above all) must reach their queue, config
#: and certificates, and a clone may sit in a directory only root can enter (0700, under /root).
STATE_BASE = Path("/var/tmp/mailtls-testbed")


def default_run_dir(repo: Path = REPO) -> Path:
    """<STATE_BASE>/<12 hex digits of SHA-256 of the checkout path>: one folder per checkout, so
    two checkouts never share (or stop) each other's servers."""
    return STATE_BASE / hashlib.sha256(str(repo).encode()).hexdigest()[:12]


#: The runtime folder: $MAILTLS_TESTBED_DIR if set, else default_run_dir(). Every path of the
#: testbed's state goes through it; <RUN>/env.json tells the tests where things are.
RUN = Path(os.environ.get("MAILTLS_TESTBED_DIR") or default_run_dir()).resolve()


def prepare_run(run: Path = RUN) -> list[str]:
    """Create the runtime folder (0755, owned by whoever runs the testbed, i.e. root) and return
    the problems that would keep the daemons' own users from reaching it: a parent directory that
    others cannot enter (e.g. a MAILTLS_TESTBED_DIR under /root, which is 0700)."""
    if run.parent == STATE_BASE:
        STATE_BASE.mkdir(mode=0o755, exist_ok=True)
        st = os.lstat(STATE_BASE)  # /var/tmp is world-writable: never follow someone's symlink
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            return [f"{STATE_BASE} is not a directory of ours (a symlink, or another owner)"]
        STATE_BASE.chmod(0o755)  # readable by the daemons' users, writable only by us
    run.mkdir(mode=0o755, parents=True, exist_ok=True)
    run.chmod(0o755)
    (run / "checkout").write_text(f"{REPO}\n")  # which checkout this folder belongs to
    problems = []
    for parent in [run, *run.parents]:
        if parent.stat().st_mode & 0o001 == 0:
            problems.append(
                f"{parent} is mode {parent.stat().st_mode & 0o777:o}: the daemons' own users "
                "(postfix, nginx workers) cannot enter it; choose a MAILTLS_TESTBED_DIR that "
                "others may traverse (the default is under /var/tmp/mailtls-testbed/)"
            )
    return problems
_ADDR = re.compile(r"^127\.0\.(\d{1,3})\.(\d{1,3})$")


def shift() -> int:
    """MAILTLS_TESTBED_SHIFT=N moves every testbed address 127.0.X.Y to 127.0.(X+N).Y.

    Only for running a second testbed next to one that already holds the standard addresses
    (development); the suite's own tests and the benchmark expect the standard plan (N=0).
    """
    return int(os.environ.get("MAILTLS_TESTBED_SHIFT", "0"))


def addr(ip: str) -> str:
    """The address ``ip`` of the standard plan, after the shift; refuses anything out of range."""
    m = _ADDR.match(ip)
    if not m or not in_testbed_range(ip):
        raise ValueError(f"testbed address {ip!r} is not within {RANGE}")
    moved = f"127.0.{int(m.group(1)) + shift()}.{m.group(2)}"
    if not in_testbed_range(moved):
        raise ValueError(f"testbed address {moved} (from {ip}) is out of {RANGE}")
    return moved


def _shifted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _shifted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shifted(v) for v in value]
    if isinstance(value, str) and value.startswith("127.0.1"):
        return addr(value) if in_testbed_range(value) else value
    return value


def scenarios() -> dict[str, Any]:
    """testbed/scenarios.yaml with every address passed through addr()."""
    data = yaml.safe_load((HERE / "scenarios.yaml").read_text())
    return _shifted(data)  # type: ignore[no-any-return]


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def alive(pid: int | None) -> bool:
    if pid is None or pid <= 1:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def stop_pid(pidfile: Path, must_contain: str) -> str | None:
    """SIGTERM (then SIGKILL) the process in ``pidfile`` if its command line names ``must_contain``
    (so a recycled pid of someone else's process is never touched). Returns what was done."""
    pid = read_pid(pidfile)
    done = None
    if pid is not None and alive(pid) and must_contain in cmdline(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(50):
            if not alive(pid):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
        done = f"stopped pid {pid}"
    pidfile.unlink(missing_ok=True)
    return done


def listening() -> dict[str, str]:
    """Every listening TCP socket and bound UDP socket: "proto ip:port" -> the ss line."""
    out = subprocess.run(["ss", "-Hlntup"], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 5:
            found[f"{cols[0]} {cols[4]}"] = line
    return found


def wait_listening(wanted: list[str], seconds: float = 20) -> list[str]:
    """Wait until every "proto ip:port" in ``wanted`` is bound (no connection is made, so
    per-listener connection counts stay untouched); returns the ones still missing."""
    end = time.monotonic() + seconds
    while True:
        have = listening()
        missing = [w for w in wanted if w not in have]
        if not missing or time.monotonic() > end:
            return missing
        time.sleep(0.2)
