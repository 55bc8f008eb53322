#!/usr/bin/env bash
# The whole test suite, as CI runs it: lint, dialplan checks, pytest (SQLite and
# PostgreSQL, Redis, Chromium), and the small-scale benchmark as a smoke test.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export PATH="$PWD/$VENV/bin:$PATH"

echo "==> ruff"
ruff check .
if callcontrol --help | grep -q "dialplan"; then
  echo "==> callcontrol dialplan check"
  callcontrol dialplan check
fi
echo "==> pytest"
python -m pytest --durations=15 "$@"   # the slowest tests, to keep CI under its 20 minutes
if [ -f bench/__main__.py ] && [ -z "${SKIP_BENCH:-}" ]; then
  echo "==> benchmark smoke run (figures printed, nothing asserted)"
  python -m bench --smoke
fi
