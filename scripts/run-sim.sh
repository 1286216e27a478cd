#!/usr/bin/env bash
# Runs the kiosk on emulated hardware: in a window when a display exists, otherwise a
# headless demo session that writes a screenshot of every screen and the printed card face.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec .venv/bin/python run_kiosk.py --sim "$@"
fi
echo "no display: running a headless demo session"
export SDL_VIDEODRIVER=dummy SDL_AUDIODRIVER=dummy
exec .venv/bin/python run_kiosk.py --sim --headless "$@"
