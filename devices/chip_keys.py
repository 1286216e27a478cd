"""The permit card's keys, behind an interface a PSAM can take over.

The kiosk holds *master* keys (from configuration; test keys in the emulator); each card
holds keys diversified by its serial (devices.apdu.diversify_key). The driver never touches
key bytes itself: it asks a KeyService for a cryptogram or a MAC. SoftwareKeyService does the
work in this process; a PSAM in the encoder's second reader slot can implement the same
Protocol later, so that master keys never leave a secure element.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from devices.apdu import (
    KEY_LEN,
    auth_cryptogram,
    command_mac,
    diversify_key,
    pin_verification_value,
)
from devices.permit_profile import KeyRef


class KeyServiceError(RuntimeError):
    """The key service could not answer (a PSAM missing or refusing). Carries no key material."""


@dataclass(frozen=True)
class CardKeys:
    """Master keys, 16 bytes each. repr shows none of them."""

    issuer: bytes = field(repr=False)  # personalises blank cards
    write: bytes = field(repr=False)  # updates validity on issued permits
    pin: bytes = field(repr=False)  # technician cards' PIN verification values

    def __post_init__(self) -> None:
        for name in ("issuer", "write", "pin"):
            if len(getattr(self, name)) != KEY_LEN:
                raise ValueError(f"{name} key must be {KEY_LEN} bytes")

    @classmethod
    def from_hex(cls, issuer: str, write: str, pin: str) -> CardKeys:
        return cls(bytes.fromhex(issuer), bytes.fromhex(write), bytes.fromhex(pin))


@dataclass(frozen=True)
class CardOwnKeys:
    """The diversified keys one card holds (what a card factory loads)."""

    issuer: bytes = field(repr=False)
    write: bytes = field(repr=False)
    pin: bytes = field(repr=False)

    def for_ref(self, ref: KeyRef) -> bytes:
        return self.issuer if ref is KeyRef.ISSUER else self.write


def own_keys(keys: CardKeys, serial: bytes) -> CardOwnKeys:
    return CardOwnKeys(
        issuer=diversify_key(keys.issuer, serial),
        write=diversify_key(keys.write, serial),
        pin=diversify_key(keys.pin, serial),
    )


class KeyService(Protocol):
    def cryptogram(self, ref: KeyRef, serial: bytes, challenge: bytes) -> bytes:
        """EXTERNAL AUTHENTICATE data for this card's challenge under key `ref`."""
        ...

    def mac(self, ref: KeyRef, serial: bytes, mac_input: bytes) -> bytes:
        """The 4-byte secure-messaging MAC of `mac_input` under key `ref`."""
        ...

    def pin_verification_value(self, serial: bytes, technician_id: str, pin: str) -> bytes:
        """What a technician card with this serial stores for this technician and PIN."""
        ...


class SoftwareKeyService:
    """KeyService over master keys held in this process (configuration or test keys)."""

    def __init__(self, keys: CardKeys) -> None:
        self._keys = keys
        self._last: tuple[bytes, CardOwnKeys] | None = None  # one card at a time is in the encoder

    def _own(self, serial: bytes) -> CardOwnKeys:
        if self._last is None or self._last[0] != serial:
            self._last = (serial, own_keys(self._keys, serial))
        return self._last[1]

    def cryptogram(self, ref: KeyRef, serial: bytes, challenge: bytes) -> bytes:
        return auth_cryptogram(self._own(serial).for_ref(ref), challenge)

    def mac(self, ref: KeyRef, serial: bytes, mac_input: bytes) -> bytes:
        return command_mac(self._own(serial).for_ref(ref), mac_input)

    def pin_verification_value(self, serial: bytes, technician_id: str, pin: str) -> bytes:
        return pin_verification_value(self._own(serial).pin, technician_id, pin)
