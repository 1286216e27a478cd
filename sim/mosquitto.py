"""A real Mosquitto for tests and the fleet simulator: its own PKI (made with `cryptography`),
a TLS listener on 127.0.0.1 that requires client certificates (the certificate's CN is the user
name), the fleet's ACL file, persistence in its work folder; started as a child process and
stopped by its PID, never by name. Debian's `mosquitto` package's own service is not used.
"""

from __future__ import annotations

import datetime as dt
import getpass
import ipaddress
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fleet.topics import DEFAULT_PREFIX

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
OPERATOR = "fleet-operator"  # may publish commands
VIEWER = "fleet-view"  # may only read


def acl_text(prefix: str = DEFAULT_PREFIX) -> str:
    """The broker's ACL: a terminal writes only its own telemetry and reads only its own commands;
    the operator alone writes commands; the view reads everything and writes nothing."""
    own = [f"pattern write {prefix}/%u/{kind}" for kind in ("state", "status", "counters", "outcome", "alert/+",
                                                             "cmd/reply")]
    return "\n".join([*own, f"pattern read {prefix}/%u/cmd", "",
                      f"user {OPERATOR}", f"topic write {prefix}/+/cmd", f"topic read {prefix}/#", "",
                      f"user {VIEWER}", f"topic read {prefix}/#", ""])


@dataclass(frozen=True)
class Identity:
    cert: Path
    key: Path


@dataclass
class Pki:
    folder: Path
    ca: Path
    server: Identity
    _ca_key: ec.EllipticCurvePrivateKey
    _ca_cert: x509.Certificate
    clients: dict[str, Identity] = field(default_factory=dict)

    @classmethod
    def make(cls, folder: Path, name: str = "test fleet CA") -> Pki:
        folder.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (_builder(subject, subject, key.public_key())
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .sign(key, hashes.SHA256()))
        ca = folder / "ca.pem"
        ca.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pki = cls(folder, ca, Identity(folder / "none", folder / "none"), key, cert)
        pki.server = pki.issue("127.0.0.1", server=True)
        return pki

    def issue(self, cn: str, *, server: bool = False) -> Identity:
        key = ec.generate_private_key(ec.SECP256R1())
        b = _builder(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]), self._ca_cert.subject,
                     key.public_key())
        if server:
            b = b.add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                             x509.DNSName("localhost")]), critical=False)
        cert = b.sign(self._ca_key, hashes.SHA256())
        ident = Identity(self.folder / f"{cn}.pem", self.folder / f"{cn}.key")
        ident.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ident.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                serialization.NoEncryption()))
        ident.key.chmod(0o600)
        if not server:
            self.clients[cn] = ident
        return ident


def _builder(subject: x509.Name, issuer: x509.Name, public: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2)))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Broker:
    """One Mosquitto process; `stop` and `start` again keep its port, its PKI and its persistence."""

    def __init__(self, folder: Path, pki: Pki, port: int | None = None, prefix: str = DEFAULT_PREFIX,
                 max_connections: int = -1) -> None:
        self.folder, self.pki = folder, pki
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "acl").write_text(acl_text(prefix))
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join([
            # As root, mosquitto would drop to user "mosquitto", who cannot read this folder.
            f"user {getpass.getuser()}", "per_listener_settings false", "allow_anonymous false",
            "persistence true", f"persistence_location {folder}/", "autosave_interval 3600",
            f"log_dest file {folder}/mosquitto.log", "log_type error", "log_type warning", "log_type notice",
            *(["log_type all"] if os.environ.get("MQTT_DEBUG") else []),  # MQTT_DEBUG=1: every packet
            f"acl_file {folder / 'acl'}", "max_queued_messages 100000", "max_inflight_messages 100",
            f"listener {self.port} 127.0.0.1", f"max_connections {max_connections}",
            f"cafile {pki.ca}", f"certfile {pki.server.cert}", f"keyfile {pki.server.key}",
            "require_certificate true", "use_identity_as_username true", "tls_version tlsv1.2", ""]))

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 10.0) -> Broker:
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited {self.proc.returncode}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)  # polling for the listener to open, bounded by the deadline
        self.stop()
        raise RuntimeError("mosquitto did not listen in time")

    def stop(self) -> None:
        """SIGTERM to its PID (it saves its persistence), then SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def figures(self) -> dict[str, float]:
        """RSS (KiB) and CPU seconds (user + system) from /proc/PID."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
        return {"rss_kib": float(rss), "cpu_s": ticks / os.sysconf("SC_CLK_TCK")}
