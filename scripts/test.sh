#!/usr/bin/env bash
# Runs the whole test suite (unit, protocol, scenarios) and the linter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy PYTHONDONTWRITEBYTECODE=1
.venv/bin/ruff check .
.venv/bin/python -m kiosk.statechart --check
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
