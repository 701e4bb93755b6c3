#!/usr/bin/env bash
# Run the project's own tests: install what is needed, start the testbed, run pytest on tests/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash testbed/setup.sh
python3 -m ruff check mailtls checks tests bench testbed conftest.py
python3 -m mypy
python3 testbed/testbed.py up
status=0
python3 -m pytest tests -q "$@" || status=$?
python3 testbed/testbed.py down || true
exit $status
