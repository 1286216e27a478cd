"""config/kiosk.toml and config/sim.toml: validated at start, errors name the bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import CONFIG_DIR, ConfigError, load_kiosk_config, load_sim_config


def test_shipped_configs_load():
    cfg = load_kiosk_config()
    assert (cfg.display.width, cfg.display.height) == (1080, 1920)
    assert cfg.display.orientation == "portrait"
    assert load_sim_config().run.virtual_clock is True


def edited(tmp_path: Path, old: str, new: str) -> Path:
    text = (CONFIG_DIR / "kiosk.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "kiosk.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("idle = 60", "idel = 60", "timeouts.idel"),
        ("idle = 60", 'idle = "sixty"', "timeouts.idle"),
        ("width = 1080", "width = 1080.5", "display.width"),
        ('orientation = "portrait"', 'orientation = "diagonal"', "display.orientation"),
        ('mode = "development"', 'mode = "demo"', "terminal.mode"),
        ("baudrate = 115200\npoll_interval = 0.05 ", "poll_interval = 0.05 ", "devices.id_reader.baudrate"),
        ("fullscreen = false", "fullscreen = 0", "display.fullscreen"),
    ],
)
def test_bad_key_is_named(tmp_path: Path, old: str, new: str, message: str):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_kiosk_config(edited(tmp_path, old, new))


def test_not_toml(tmp_path: Path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[terminal\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"kiosk\.toml"):
        load_kiosk_config(path)
