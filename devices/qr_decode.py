"""QR codes out of camera frames, behind one small interface with two backends.

- `ZxingDecoder` (zxing-cpp, `zxingcpp`; the default): QR codes only, with the code's raw bytes
  (no text conversion to undo); it reads rotated, blurred, noisy and low-contrast frames
  (`python -m sim.bench_qr` compares the two on the same frames).
- `PyzbarDecoder` (pyzbar over Debian's libzbar0): the design card's first choice.

Either library is imported when the decoder is made, so a kiosk without it fails at start with
`DecoderUnavailable`, not in the middle of a session. A frame is width*height bytes of gray or
width*height*3 bytes of RGB, row-major; anything else decodes to nothing.
"""

from __future__ import annotations

from typing import Any, Protocol

DECODERS = ("zxing", "pyzbar")


class DecoderUnavailable(RuntimeError):
    """The decoder's library (or, for pyzbar, libzbar0) is not installed."""


class QrDecoder(Protocol):
    def decode(self, width: int, height: int, gray_or_rgb: bytes) -> list[bytes]: ...


def _gray(width: int, height: int, pixels: bytes) -> Any:
    """The frame as an 8-bit gray PIL image, or None when its size does not match."""
    from PIL import Image

    if width <= 0 or height <= 0:
        return None
    if len(pixels) == width * height:
        return Image.frombytes("L", (width, height), pixels)
    if len(pixels) == width * height * 3:
        return Image.frombytes("RGB", (width, height), pixels).convert("L")
    return None


class ZxingDecoder:
    def __init__(self) -> None:
        try:
            import zxingcpp
        except ImportError as exc:
            raise DecoderUnavailable("zxing-cpp (zxingcpp) is not installed") from exc
        self._zx: Any = zxingcpp
        self._formats = zxingcpp.BarcodeFormat.QRCode

    def decode(self, width: int, height: int, gray_or_rgb: bytes) -> list[bytes]:
        image = _gray(width, height, gray_or_rgb)
        if image is None:
            return []
        results = self._zx.read_barcodes(image, formats=self._formats)
        return [bytes(r.bytes) for r in results if r.valid]


class PyzbarDecoder:
    def __init__(self) -> None:
        try:
            from pyzbar import pyzbar
        except (ImportError, OSError) as exc:  # OSError/ImportError: the module is there, libzbar0 is not
            raise DecoderUnavailable("pyzbar or Debian's libzbar0 is not installed") from exc
        self._zbar: Any = pyzbar
        self._symbols = [pyzbar.ZBarSymbol.QRCODE]

    def decode(self, width: int, height: int, gray_or_rgb: bytes) -> list[bytes]:
        image = _gray(width, height, gray_or_rgb)
        if image is None:
            return []
        results = self._zbar.decode((image.tobytes(), width, height), symbols=self._symbols)
        return [bytes(r.data) for r in results]


def make_decoder(name: str) -> QrDecoder:
    if name == "zxing":
        return ZxingDecoder()
    if name == "pyzbar":
        return PyzbarDecoder()
    raise ValueError(f"unknown QR decoder {name!r} (one of {', '.join(DECODERS)})")
