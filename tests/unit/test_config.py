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
        ("baudrate = 115200\npoll_interval = 0.02 ", "poll_interval = 0.02 ", "devices.id_reader.baudrate"),
        ("fullscreen = false", "fullscreen = 0", "display.fullscreen"),
        ("warm_text = true ", "warm_text = 1 ", "display.warm_text"),
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


# --- the service centre every screen's help shows (issue 13) ----------------------------------


def test_service_centre_loads_from_the_shipped_config():
    centre = load_kiosk_config().service_centre
    assert centre.name_zh and centre.address_en and centre.hours_zh and centre.hotline == "12345"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('hotline = "12345"', 'hotline = "call us"', "service_centre.hotline"),
        ('hotline = "12345"', "hotline = 12345", "service_centre.hotline"),
        ('hours_en = "Mon', 'hours_en = "', "service_centre.hours_en"),
        ('name_zh = "长宁', 'nmae_zh = "长宁', "service_centre.nmae_zh"),
    ],
)
def test_bad_service_centre_key_is_named(tmp_path: Path, old: str, new: str, message: str):
    if new == 'hours_en = "':
        text = (CONFIG_DIR / "kiosk.toml").read_text(encoding="utf-8")
        line = next(ln for ln in text.splitlines() if ln.startswith("hours_en"))
        path = tmp_path / "kiosk.toml"
        path.write_text(text.replace(line, 'hours_en = " "'), encoding="utf-8")
    else:
        path = edited(tmp_path, old, new)
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        load_kiosk_config(path)


def test_no_service_centre_section_means_the_hotline_alone(tmp_path: Path):
    text = (CONFIG_DIR / "kiosk.toml").read_text(encoding="utf-8")
    path = tmp_path / "kiosk.toml"
    path.write_text(text.split("[service_centre]")[0], encoding="utf-8")
    centre = load_kiosk_config(path).service_centre
    assert centre.name_zh == "" and centre.hotline == "12345"


# --- the site's English name in the header (issue 13) ----------------------------------------


def test_site_en_is_optional_and_checked(tmp_path: Path):
    assert load_kiosk_config().terminal.site_en.isascii()
    text = (CONFIG_DIR / "kiosk.toml").read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("site_en"))
    path = tmp_path / "kiosk.toml"
    path.write_text(text.replace(line + "\n", ""), encoding="utf-8")
    assert load_kiosk_config(path).terminal.site_en == ""
    for bad in ('site_en = " "', 'site_en = "虹桥党建之家"', "site_en = 7", 'site_eng = "Hongqiao"'):
        path.write_text(text.replace(line, bad), encoding="utf-8")
        with pytest.raises(ConfigError, match=r"terminal\.site_e"):
            load_kiosk_config(path)
    path.write_text(text.replace('site = "长宁区虹桥街道党建之家"', 'site = ""'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"terminal\.site:"):
        load_kiosk_config(path)
