#!/usr/bin/env bash
# Runs the whole test suite (unit, protocol, scenarios), the linter and the type checker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
.venv/bin/ruff check .
# Types of the core and the device adapters: files and settings from pyproject.toml [tool.mypy].
.venv/bin/mypy --config-file pyproject.toml
.venv/bin/python -m kiosk.statechart --check
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
