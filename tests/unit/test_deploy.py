"""deploy/: the unit file says what docs/operations.md promises, and install.sh is idempotent.

install.sh runs for real into a staging root (`--root`, `--no-system`: no user, no systemctl,
no venv), twice: the second run changes nothing, an operator's edit of /etc/kiosk/kiosk.toml
survives it, and the production config it made passes the kiosk's own validation.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from kiosk.config import load_kiosk_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def _unit() -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = ""
    for line in (DEPLOY / "kiosk.service").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        values.setdefault(f"{section}.{key}", []).append(value)
    return values


def test_the_unit_is_a_watched_notify_service_of_its_own_user() -> None:
    unit = _unit()
    assert unit["Service.Type"] == ["notify"]
    assert unit["Service.NotifyAccess"] == ["all"]  # the kiosk is cage's child (deploy/kiosk-run)
    assert int(unit["Service.WatchdogSec"][0]) > 0
    assert unit["Service.Restart"] == ["always"]
    assert unit["Service.User"] == ["kiosk"]
    assert unit["Service.ExecStart"] == ["/usr/bin/cage -- /opt/kiosk/deploy/kiosk-run"]
    assert unit["Service.DevicePolicy"] == ["closed"]
    for device in ("char-ttyUSB rw", "char-ttyACM rw", "char-video4linux rw", "char-drm rw", "char-input rw"):
        assert device in unit["Service.DeviceAllow"]
    assert "PrivateDevices" not in {k.split(".")[1] for k in unit}  # it would hide the devices
    assert unit["Service.ProtectSystem"] == ["strict"] and unit["Service.NoNewPrivileges"] == ["yes"]
    run = (DEPLOY / "kiosk-run").read_text(encoding="utf-8")
    assert "unset WATCHDOG_PID" in run and "exec /opt/kiosk/.venv/bin/python /opt/kiosk/run_kiosk.py" in run


def _install(root: Path) -> str:
    proc = subprocess.run(["bash", str(DEPLOY / "install.sh"), "--root", str(root), "--no-system", "--no-venv"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_install_is_idempotent_and_keeps_the_operators_config(tmp_path: Path) -> None:
    first = _install(tmp_path)
    assert "wrote" in first
    etc = tmp_path / "etc" / "kiosk" / "kiosk.toml"
    cfg = load_kiosk_config(etc)
    assert cfg.terminal.mode == "production" and cfg.display.fullscreen and cfg.logging.stdout
    assert cfg.journal.file == "/var/lib/kiosk/journal.sqlite"
    assert (tmp_path / "etc" / "systemd" / "system" / "kiosk.service").read_bytes() == \
        (DEPLOY / "kiosk.service").read_bytes()
    assert (tmp_path / "opt" / "kiosk" / "run_kiosk.py").is_file()
    assert (tmp_path / "opt" / "kiosk" / "deploy" / "kiosk-run").stat().st_mode & 0o111
    assert _install(tmp_path).strip() == "install: nothing to change"

    edited = etc.read_text(encoding="utf-8").replace('id = "SH-CN-0001"', 'id = "SH-PD-0042"')
    etc.write_text(edited, encoding="utf-8")
    assert _install(tmp_path).strip() == "install: nothing to change"
    assert load_kiosk_config(etc).terminal.id == "SH-PD-0042"


def test_the_pam_file_opens_a_logind_session() -> None:
    text = (DEPLOY / "pam-kiosk").read_text(encoding="utf-8")
    rules = [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert ["session", "required", "pam_systemd.so"] in rules  # logind gives cage the seat
