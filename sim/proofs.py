"""The simulator's residence-proof documents: the verification code printed with each proof's
QR code, and the QR payload itself (docs/protocols/qr-proofs.md).

The real proof system signs its codes with a key the kiosk never holds; the simulation stands
in with an HMAC under a fixed, public simulator key. The camera emulator and the device hub
render `proof_payload(number)` as the proof's QR code, and the emulated backend checks a
presented code with `verification_code`, so a code the kiosk was shown is verified by the
backend, never by the kiosk.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

SIM_PROOF_KEY = b"kiosk-simulator proof key (public, not a secret)"
PROOF_HOST = "ywtb.sh.gov.cn"  # the first of config/kiosk.toml's devices.qr_scanner.proof_hosts
CODE_LENGTH = 6


def verification_code(number: str) -> str:
    """Six characters of A-Z and 2-7 (base32 of an HMAC-SHA256 of the number under the simulator's key)."""
    digest = hmac.new(SIM_PROOF_KEY, number.encode("ascii", errors="replace"), hashlib.sha256).digest()
    return base64.b32encode(digest).decode("ascii")[:CODE_LENGTH]


def code_matches(number: str, code: str) -> bool:
    """Whether `code` is the verification code of proof `number` (compared in constant time)."""
    return hmac.compare_digest(verification_code(number), code)


def proof_payload(number: str, host: str = PROOF_HOST) -> str:
    """What a proof document's QR code holds: the proof URL with its number and verification code."""
    return f"https://{host}/proof?no={number}&code={verification_code(number)}"
