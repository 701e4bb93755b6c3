"""Deep fuzzing of the parsers: tests/unit/test_fuzz_parsers.py under the `nightly` Hypothesis
profile (20 000 examples per property, random seeds), with the time it took.

    python bench/bench_fuzz.py [extra pytest args]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    env = {**os.environ, "HYPOTHESIS_PROFILE": os.environ.get("HYPOTHESIS_PROFILE", "nightly")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly",
           "--hypothesis-show-statistics", "tests/unit/test_fuzz_parsers.py", *sys.argv[1:]]  # fmt: skip
    started = time.monotonic()
    code = subprocess.run(cmd, cwd=REPO, env=env).returncode
    print(f"bench_fuzz: profile {env['HYPOTHESIS_PROFILE']}, {time.monotonic() - started:.1f} s, "
          f"exit {code}")  # fmt: skip
    return code


if __name__ == "__main__":
    raise SystemExit(main())
