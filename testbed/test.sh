#!/usr/bin/env bash
# Run the project's own tests: install what is needed (testbed/setup.sh: Debian packages and the
# virtual environment .venv/), lint and type-check, start the testbed, run pytest on tests/.
# Everything runs with .venv/bin/python, never the system's Python.
set -euo pipefail
cd "$(dirname "$0")/.."
bash testbed/setup.sh
PY=.venv/bin/python
"$PY" -m ruff check mailtls checks tests bench testbed conftest.py .ci
"$PY" -m mypy
"$PY" testbed/testbed.py up
status=0
echo "+ $PY -m pytest tests -q $*"
"$PY" -m pytest tests -q "$@" || status=$?
"$PY" testbed/testbed.py down >/dev/null 2>&1 || true
if [ "$status" -eq 5 ]; then
  echo "test: pytest collected no tests (exit status 5): that is a failure" >&2
fi
exit "$status"
