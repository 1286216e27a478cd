"""What the core needs of each device and of the backend: the ports flows and procedures command.

Adapters in devices/ (and the backend client) satisfy these structurally; the core never
knows whether a port is real hardware, an emulator behind a pty, or a test double.
Every method returns at once: results come back as events on the kiosk's queue, except the
backend's, which run on the runtime's executor and return typed results (never raise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol

from devices.permit_profile import PermitContents
from devices.status import DeviceStatus
from kiosk.endorsement import Rewrite
from kiosk.identity import Identity
from kiosk.policy import Refusal
from kiosk.reasons import Reason
from kiosk.records import ProofKind

if TYPE_CHECKING:
    from kiosk import backend as bk


class DevicePort(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    @property
    def status(self) -> DeviceStatus: ...


class IdReaderPort(DevicePort, Protocol):
    def set_reading(self, enabled: bool) -> None: ...


class PrinterPort(DevicePort, Protocol):
    def feed(self) -> None: ...
    def ticket(self, fields: dict[str, str]) -> None: ...
    def print_area(self, x: int, y: int, width: int, height: int, bits: bytes) -> None: ...
    def to_encoder(self) -> None: ...
    def present(self) -> None: ...
    def retract(self) -> None: ...
    def take_in(self) -> None: ...
    def erase_area(self, x: int, y: int, width: int, height: int) -> None: ...
    def refresh_status(self) -> None: ...


class EncoderPort(DevicePort, Protocol):
    def read_card(self) -> None: ...
    def personalise(self, data: PermitContents) -> None: ...
    def write_validity(self, valid_from: date, valid_until: date, endorsement_count: int) -> None: ...


class CameraPort(DevicePort, Protocol):
    def capture(self, request_id: int) -> None: ...


class QrScannerPort(DevicePort, Protocol):
    """A serial scanner or a scanning camera (devices/qr_scanner.py, devices/qr_camera.py): posts
    QrScanned (raw, untrusted bytes: kiosk/qr_payload.py judges them) only while scanning is on."""

    def set_scanning(self, on: bool) -> None: ...


class BackendPort(Protocol):
    def health(self) -> bool: ...
    def precheck(self, request_id: str, card: Identity) -> bk.Precheck | bk.BackendFailure: ...
    def face_check(self, request_id: str, card: Identity, photo_png: bytes) -> bk.FaceCheck | bk.BackendFailure: ...
    def apply(self, request_id: str, card: Identity, lives_at_registered_address: bool, phone: str,
              photo_png: bytes) -> bk.Approval | Refusal | bk.BackendFailure: ...
    def confirm_issuance(self, request_id: str, permit_number: str,
                         card_serial: str | None) -> bk.Confirmed | bk.BackendFailure: ...
    def void_issuance(self, request_id: str, permit_number: str,
                      reason: Reason) -> bk.Voided | bk.BackendFailure: ...
    def void_application(self, request_id: str, application_request_id: str,
                         reason: Reason) -> bk.ApplicationVoided | bk.BackendFailure: ...
    def check_endorsement(self, request_id: str, permit_number: str, id_number: str,
                          card_valid_until: date) -> bk.EndorsementCheck | bk.UnknownPermit | bk.BackendFailure: ...
    def confirm_rewrite(self, request_id: str, permit_number: str, card_serial: str,
                        rewrite: Rewrite) -> bk.Rewritten | bk.BackendFailure: ...
    def verify_proof(self, request_id: str, *, qr_payload: str | None = None, certificate_number: str | None = None,
                     verification_code: str | None = None, card: Identity | None = None,
                     proof_kind: ProofKind | None = None,
                     ) -> bk.VerifiedProof | bk.ProofRejected | bk.BackendFailure: ...
    def declare_registration(self, request_id: str, card: Identity, address: str, proof_kind: ProofKind,
                             proof_reference: str, relative: bk.Relative | None = None, purpose: str | None = None,
                             ) -> bk.Registered | bk.RegistrationRefused | bk.BackendFailure: ...
    def close(self) -> None: ...


@dataclass
class Ports:
    id_reader: IdReaderPort
    printer: PrinterPort
    encoder: EncoderPort
    camera: CameraPort
    backend: BackendPort
    qr_scanner: QrScannerPort | None = None  # None: this kiosk has no scanner (devices.qr_scanner.enabled)

    def devices(self) -> tuple[DevicePort, ...]:
        qr = () if self.qr_scanner is None else (self.qr_scanner,)
        return (self.id_reader, self.printer, self.encoder, self.camera, *qr)
