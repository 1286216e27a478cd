"""Certificates for the emulated backend's mutual TLS, made at setup (issue 15).

A CA; the backend's server certificate for 127.0.0.1; the terminal's client certificate; one from
another CA (a wrong certificate) and one of ours already expired. EC P-256 keys, PEM files in
`folder`. Nothing here is secret: they exist for one run and go with its work folder.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Which client certificate a scenario's kiosk presents (scenario key `backend_tls`).
CLIENTS = {"mutual": "client", "untrusted_client": "stranger", "expired_client": "expired"}


@dataclass(frozen=True)
class Pki:
    folder: Path

    def cert(self, who: str) -> Path:
        return self.folder / f"{who}.pem"

    def key(self, who: str) -> Path:
        return self.folder / f"{who}.key"

    @property
    def ca(self) -> Path:
        return self.folder / "ca.pem"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]
           | None, usage: x509.ObjectIdentifier | None, *, days: tuple[int, int] = (-1, 365),
           san: x509.GeneralName | None = None) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject))
        .issuer_name(issuer[0].subject if issuer else _name(subject))
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now + timedelta(days=days[0])).not_valid_after(now + timedelta(days=days[1]))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName([san]), critical=False)
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


def make_pki(folder: Path, terminal_id: str = "SH-CN-SIM-01") -> Pki:
    folder.mkdir(parents=True, exist_ok=True)
    pki = Pki(folder)
    keys = {who: ec.generate_private_key(ec.SECP256R1()) for who in ("ca", "other_ca", "server", "client",
                                                                     "stranger", "expired")}
    ca = _issue("Emulated backend CA", keys["ca"], None, None)
    other = _issue("Another CA", keys["other_ca"], None, None)
    certs = {
        "ca": ca,
        "server": _issue("127.0.0.1", keys["server"], (ca, keys["ca"]), ExtendedKeyUsageOID.SERVER_AUTH,
                         san=x509.IPAddress(ip_address("127.0.0.1"))),
        "client": _issue(terminal_id, keys["client"], (ca, keys["ca"]), ExtendedKeyUsageOID.CLIENT_AUTH),
        "stranger": _issue(terminal_id, keys["stranger"], (other, keys["other_ca"]), ExtendedKeyUsageOID.CLIENT_AUTH),
        "expired": _issue(terminal_id, keys["expired"], (ca, keys["ca"]), ExtendedKeyUsageOID.CLIENT_AUTH,
                          days=(-30, -1)),
    }
    for who, cert in certs.items():
        pki.cert(who).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pki.key(who).write_bytes(keys[who].private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return pki


def kiosk_backend_tls(backend: Any, backend_tls: str, workdir: Path) -> Any:
    """The kiosk's backend settings with the mutual-TLS files of a scenario's `backend_tls`."""
    pki, who = Pki(workdir / "pki"), CLIENTS[backend_tls]
    return replace(backend, client_cert=str(pki.cert(who)), client_key=str(pki.key(who)), ca_file=str(pki.ca))
