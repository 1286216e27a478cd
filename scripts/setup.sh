#!/usr/bin/env bash
# Installs what the kiosk and its tests need on Debian 12, and skips what is already there.
#   Debian packages (apt-get, as root): the PC/SC library pyscard builds against, zbar (libzbar0,
#   for pyzbar, the QR camera driver's second decoder backend), a CJK
#   font, pcscd with the vsmartcard virtual reader (simulation and CI only), xvfb and xdotool
#   (the developer panel's test drives a real X window), mosquitto (the MQTT broker the fleet
#   telemetry tests start on 127.0.0.1 by PID; the package's own service is stopped and disabled).
#   Python packages: a virtual environment at .venv, re-synced only when pyproject.toml changes
#   (pyproject.toml's dependencies, among them zxing-cpp, pyzbar and segno for QR codes).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libpcsclite-dev libzbar0 fonts-wqy-microhei pcscd vsmartcard-vpcd xvfb xdotool python3-venv gcc
              mosquitto)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: Debian packages already installed"
fi
# Tests start their own brokers; the Debian package's service must not hold a port or run unused.
if [ -x /usr/sbin/mosquitto ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl disable --now mosquitto.service >/dev/null 2>&1 || true
  elif [ -x /etc/init.d/mosquitto ]; then
    $SUDO /etc/init.d/mosquitto stop >/dev/null 2>&1 || true
    $SUDO update-rc.d mosquitto disable >/dev/null 2>&1 || true
  fi
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
# The venv's pip is installed by the pip of the wheel ensurepip would install, run straight from
# the file: ensurepip installs and compiles that old pip (2.3 s) and an upgrade replaces it (1 s);
# this takes 1.3 s. Where no such wheel is found (a Python whose ensurepip looks elsewhere), the
# usual venv with pip, upgraded. (The old pip also installs the rest slower than the new one.)
pip_wheel=$("$PYTHON" - <<'PY'
import ensurepip, os
try:
    pip = ensurepip._get_packages()["pip"]
    path = pip.wheel_path or os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", pip.wheel_name)
    print(path if os.path.isfile(path) else "")
except Exception:
    print("")
PY
)
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  if [ -n "$pip_wheel" ]; then "$PYTHON" -m venv --without-pip .venv; else "$PYTHON" -m venv .venv; fi
fi

stamp=.venv/.deps-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing Python packages into .venv"
  rm -f .venv/.warm-stamp  # what scripts/test.sh compiles before its workers start, to compile again
  .venv/bin/python - <<'PY' > .venv/requirements.txt
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
deps = list(project["dependencies"])
for extra in project.get("optional-dependencies", {}).values():
    deps += extra
print("\n".join(deps))
PY
  if ! .venv/bin/python -c 'import pip' 2>/dev/null; then
    [ -n "$pip_wheel" ] || { echo "setup: .venv has no pip and no pip wheel was found" >&2; exit 1; }
    .venv/bin/python "$pip_wheel/pip" install -q --no-compile pip
  else
    .venv/bin/python -m pip install -q --no-compile --upgrade pip
  fi
  # Compiled below on every core instead of by pip on one (pip: 20 s, 10.5 of them compiling;
  # --no-compile and compileall -j 0 beside the voice prompts: 9.6 s, then 7.9 s on 2 cores).
  # Leaving site-packages to be compiled as the suite imports it (1,244 of 3,816 modules) made
  # the suite slower by more than it saved (fresh clones: 134 and 136 s against 126 and 129 s).
  # (uv instead of pip: 6.3-8.1 s against pip's 6.9-8.6 in fresh clones, both waiting on the
  # network most of it: not worth another tool.)
  # The voice prompts need three of the packages: those go in first, and the prompts are rendered
  # on the other core while pip installs the rest (pip waits on the network most of its 8 s, on
  # one core: a fresh clone's /proc/stat shows the machine half idle meanwhile). The three are
  # then held at the versions installed, so that pip cannot replace one under the renderer.
  grep -E '^(pygame-ce|numpy|espeakng-loader)([^a-z_-]|$)' .venv/requirements.txt > .venv/voice-requirements.txt || true
  : > .venv/voice-constraints.txt
  if [ "$(wc -l < .venv/voice-requirements.txt)" -eq 3 ]; then
    .venv/bin/python -m pip install -q --no-compile -r .venv/voice-requirements.txt
    .venv/bin/python -m pip freeze | grep -iE '^(pygame[-_]ce|numpy|espeakng[-_]loader)==' \
      > .venv/voice-constraints.txt || true
    .venv/bin/python render_voice.py --cache out/voice &
    voice=$!
  fi
  .venv/bin/python -m pip install -q --no-compile -r .venv/requirements.txt -c .venv/voice-constraints.txt
  compile=1
  echo "$want" > "$stamp"
else
  echo "setup: Python packages up to date"
fi

if [ -n "${compile:-}" ]; then
  .venv/bin/python -m compileall -q -j 0 "$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" \
    > /dev/null &
  compiling=$!
fi

# Voice prompts (issue 13): rendered once into out/voice (again only for changed words).
if [ -n "${voice:-}" ]; then
  wait "$voice"
else
  .venv/bin/python render_voice.py --cache out/voice
fi
if [ -n "${compiling:-}" ]; then
  # A file that does not compile (a package's test data) only goes uncached, as pip leaves it.
  wait "$compiling" || true
fi
