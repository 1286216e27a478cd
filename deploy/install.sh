#!/usr/bin/env bash
# Installs or updates the kiosk as a system service (docs/operations.md). Idempotent: run it
# again after a `git pull` to update; what is already right is left alone, and the operator's
# /etc/kiosk/kiosk.toml is never overwritten (a new one is made from config/kiosk.toml only
# when there is none).
#
#   sudo deploy/install.sh [--root DIR] [--no-system] [--no-venv] [--no-start]
#
#   --root DIR   install under DIR instead of / (a staging tree, the test's folder)
#   --no-system  no user, no chown, no systemctl (a staging tree, a test)
#   --no-venv    skip the Python environment (a test; an update with unchanged pyproject.toml skips it anyway)
#   --no-start   enable the unit but do not (re)start it now
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT_DIR=""
SYSTEM=1
VENV=1
START=1
while (($#)); do
  case "$1" in
    --root) ROOT_DIR="${2:?--root needs a folder}"; shift 2 ;;
    --no-system) SYSTEM=0; shift ;;
    --no-venv) VENV=0; shift ;;
    --no-start) START=0; shift ;;
    *) echo "install: unknown option $1" >&2; exit 2 ;;
  esac
done

OPT="$ROOT_DIR/opt/kiosk"
ETC="$ROOT_DIR/etc/kiosk"
UNIT_DIR="$ROOT_DIR/etc/systemd/system"
PAM_DIR="$ROOT_DIR/etc/pam.d"
STATE="$ROOT_DIR/var/lib/kiosk"
LOGS="$ROOT_DIR/var/log/kiosk"
changed=0

say() { echo "install: $*"; }

# A file put in place only when its content differs: a re-run changes nothing.
put() {  # put SOURCE TARGET MODE
  if [ -f "$2" ] && cmp -s "$1" "$2"; then
    return
  fi
  install -D -m "$3" "$1" "$2"
  say "wrote $2"
  changed=1
}

if ((SYSTEM)); then
  if [ "$(id -u)" -ne 0 ]; then echo "install: run as root (or with --no-system)" >&2; exit 1; fi
  if ! id kiosk >/dev/null 2>&1; then
    # A system user of its own: the serial ports, cameras, display and touch by group, no login shell.
    useradd --system --home-dir /var/lib/kiosk --no-create-home --shell /usr/sbin/nologin \
      --groups dialout,video,input,render kiosk
    say "created user kiosk"
  fi
  for pkg in cage xwayland pcscd fonts-wqy-microhei python3-venv; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      say "installing Debian package $pkg"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg"
    fi
  done
fi

# The code: the repository's tracked files (git ls-files when it is a checkout), nothing of
# out/, .venv or a developer's scratch files.
mkdir -p "$OPT"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  files=$(git -C "$SRC" ls-files)
else
  files=$(cd "$SRC" && find . -type f -not -path './.venv/*' -not -path './out/*' -not -path './.git/*' | sed 's|^\./||')
fi
while IFS= read -r f; do
  [ -f "$SRC/$f" ] || continue
  mode=0644
  [ -x "$SRC/$f" ] && mode=0755
  put "$SRC/$f" "$OPT/$f" "$mode"
done <<< "$files"

if ((VENV)); then
  stamp="$OPT/.venv/.deps-stamp"
  want=$(sha256sum "$OPT/pyproject.toml" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    [ -x "$OPT/.venv/bin/python" ] || python3 -m venv "$OPT/.venv"
    "$OPT/.venv/bin/python" -m pip install -q --upgrade pip
    # The runtime's dependencies only (the optional ones are the developers' tools).
    "$OPT/.venv/bin/python" -c 'import tomllib; print("\n".join(tomllib.load(open("'"$OPT"'/pyproject.toml","rb"))["project"]["dependencies"]))' \
      > "$OPT/.venv/requirements.txt"
    "$OPT/.venv/bin/python" -m pip install -q -r "$OPT/.venv/requirements.txt"
    echo "$want" > "$stamp"
    say "Python environment $OPT/.venv synced"
    changed=1
  fi
fi

# The configuration: the repository's, turned to production, once. After that it is the operator's.
mkdir -p "$ETC" "$STATE" "$LOGS"
if [ ! -f "$ETC/kiosk.toml" ]; then
  python3 "$SRC/deploy/production_config.py" "$SRC/config/kiosk.toml" "$ETC/kiosk.toml.new"
  mv "$ETC/kiosk.toml.new" "$ETC/kiosk.toml"
  chmod 0640 "$ETC/kiosk.toml"
  say "wrote $ETC/kiosk.toml (production defaults: edit terminal.id, site, backend.url, devices)"
  changed=1
fi
put "$SRC/deploy/kiosk.service" "$UNIT_DIR/kiosk.service" 0644
put "$SRC/deploy/pam-kiosk" "$PAM_DIR/kiosk" 0644

if ((SYSTEM)); then
  chown root:kiosk "$ETC/kiosk.toml"
  chown -R kiosk:kiosk "$STATE" "$LOGS"
  # Every key validated as the kiosk will at start, with the key named if one is wrong.
  "$OPT/.venv/bin/python" -c 'import sys; from pathlib import Path; sys.path.insert(0, "'"$OPT"'"); from kiosk.config import load_kiosk_config; load_kiosk_config(Path(sys.argv[1]))' "$ETC/kiosk.toml"
  systemctl daemon-reload
  systemctl enable kiosk.service >/dev/null
  if ((START)); then
    if ((changed)) || ! systemctl is-active --quiet kiosk.service; then
      systemctl restart kiosk.service
      say "kiosk.service (re)started"
    fi
  fi
fi
((changed)) || say "nothing to change"
