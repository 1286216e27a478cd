"""config [backend] client_cert, client_key, ca_file: validated, each error naming its key (issue 15;
also issue 14's "mutual-TLS certificate, key and CA")."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_kiosk_config
from sim.pki import make_pki

ROOT = Path(__file__).resolve().parents[2]
BASE = (ROOT / "config" / "kiosk.toml").read_text(encoding="utf-8")


def config_with(tmp_path: Path, **backend: str) -> Path:
    text = BASE.replace('url = "https://127.0.0.1:8443"', f'url = "{backend.pop("url", "https://127.0.0.1:8443")}"')
    for key, value in backend.items():
        text = text.replace(f'{key} = ""', f'{key} = "{value}"', 1)
    path = tmp_path / "config" / "kiosk.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_config_has_no_certificates_and_loads() -> None:
    b = load_kiosk_config().backend
    assert (b.client_cert, b.client_key, b.ca_file) == ("", "", "")


def test_a_full_set_of_pem_files_loads(tmp_path: Path) -> None:
    pki = make_pki(tmp_path / "pki")
    b = load_kiosk_config(config_with(tmp_path, client_cert=str(pki.cert("client")), client_key=str(pki.key("client")),
                                      ca_file=str(pki.ca))).backend
    assert b.client_cert.endswith("client.pem") and b.ca_file.endswith("ca.pem")


@pytest.mark.parametrize(("fields", "key"), [
    ({"client_cert": "CERT"}, "backend.client_key"),
    ({"client_key": "KEY"}, "backend.client_cert"),
    ({"client_cert": "/nonexistent.pem", "client_key": "KEY"}, "backend.client_cert"),
    ({"client_cert": "CERT", "client_key": "CERT"}, "backend.client_key"),  # a certificate is not a key
    ({"ca_file": "KEY"}, "backend.ca_file"),
    ({"ca_file": "CA", "url": "http://127.0.0.1:8080"}, "backend.ca_file"),
])
def test_a_bad_setting_names_its_key(tmp_path: Path, fields: dict[str, str], key: str) -> None:
    pki = make_pki(tmp_path / "pki")
    real = {"CERT": str(pki.cert("client")), "KEY": str(pki.key("client")), "CA": str(pki.ca)}
    with pytest.raises(ConfigError, match=f"^{key}:"):
        load_kiosk_config(config_with(tmp_path, **{k: real.get(v, v) for k, v in fields.items()}))
