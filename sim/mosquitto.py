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
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from fleet.topics import DEFAULT_PREFIX

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
GUARD = Path(__file__).with_name("child_guard.py")
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
        self.proc: subprocess.Popen[bytes] | None = None  # the guard
        self._pid = 0  # Mosquitto's
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
        """Mosquitto's PID (not the guard's)."""
        assert self.proc is not None and self._pid
        return self._pid

    def start(self, timeout: float = 10.0) -> Broker:
        # The guard's stdin is a pipe this process never writes to: its end closes when this
        # process ends, by any death, and the guard then stops Mosquitto (sim/child_guard.py).
        self.proc = subprocess.Popen([sys.executable, str(GUARD), MOSQUITTO, "-c", str(self.conf)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()  # the guard's first line: Mosquitto's PID
        self.proc.stdout.close()
        self._pid = int(first) if first.strip().isdigit() else 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._pid or self.proc.poll() is not None:
                self.proc.wait(5)
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                rc = self.proc.returncode
                self._close()
                raise RuntimeError(f"mosquitto exited {rc}: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)  # polling for the listener to open, bounded by the deadline
        self.stop()
        raise RuntimeError("mosquitto did not listen in time")

    def stop(self) -> None:
        """Closes the guard's stdin: the guard sends Mosquitto SIGTERM (it saves its persistence),
        SIGKILL if it lingers, and exits; a guard that lingers is killed, and Mosquitto with it."""
        if self.proc is None:
            return
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # Mosquitto's parent-death signal is SIGKILL
            self.proc.wait(5)
        self._close()

    def _close(self) -> None:
        assert self.proc is not None
        for f in (self.proc.stdin, self.proc.stderr):
            if f:
                f.close()
        self.proc, self._pid = None, 0

    def figures(self) -> dict[str, float]:
        """RSS (KiB) and CPU seconds (user + system) from /proc/PID."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{self.pid}/status").read_text().splitlines()
                   if line.startswith("VmRSS:"))
        return {"rss_kib": float(rss), "cpu_s": ticks / os.sysconf("SC_CLK_TCK")}
