"""The ID card's photo: the 1024-byte WLT block to a Photo, through a decoder plug-in.

A second-generation ID card stores its photo as 1024 bytes of WLT, a proprietary wavelet
format that only the reader vendor's licensed library expands (to a 102×126 colour bitmap).
The kiosk never parses WLT itself; it asks a `PhotoDecoder`:

- `VendorWltDecoder` loads the vendor's shared library with ctypes, on first use, when a
  library path is configured. Two vendor APIs are known (docs/protocols/id-reader.md,
  "Photo decoder plug-in"): the in-memory `int unpack(char* src, char* dst, int code)`
  of the Linux libraries, and `int GetBmp(char* wlt_file, int intf)` of WltRS.dll, which
  works file to file. It is never loaded in CI.
- `StandInDecoder` decodes the documented stand-in the emulator writes ("STWL": a greyscale
  photo quantised and compressed with zlib), so the ID photo round-trips in tests. A real
  card's WLT does not start with the stand-in's magic, so on a real reader it yields None.

`decode_photo` is what the core calls: it never raises and gives None for a blank block,
a block the decoder does not understand, or a decoder that fails. The photo is personal
data (SH-PRIV-1): nothing here logs, stores or prints its bytes. What is logged goes through
the catalog (an optional `log: EventLog`): decoder and exception class names, return codes.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import shutil
import struct
import sys
import tempfile
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Protocol, runtime_checkable

from PIL import Image

from kiosk.logevents import EventLog, LogEvent
from kiosk.view import Photo

WLT_LEN = 1024
WLT_WIDTH = 102  # every WLT photo decodes to 102×126 (26×32 mm at 100 dpi)
WLT_HEIGHT = 126
RAW_BGR_LEN = WLT_WIDTH * WLT_HEIGHT * 3  # 38556: the bare pixels some `unpack` builds return
BMP_LEN = 54 + (WLT_WIDTH * 3 + 3) // 4 * 4 * WLT_HEIGHT  # 38862: a whole 24-bit BMP file (rows padded to 4 bytes)
# Some vendor builds write past the 38862 bytes they document (their own headers warn about
# it): give them room rather than a heap overrun.
_DST_SLACK = 8192


@runtime_checkable
class PhotoDecoder(Protocol):
    def decode(self, wlt: bytes) -> Photo | None:
        """The photo in the 1024-byte block, or None when this decoder cannot read it."""
        ...


def decode_photo(identity_photo: bytes, decoder: PhotoDecoder | None, log: EventLog | None = None) -> Photo | None:
    """The ID card's photo for the screen, or None; never raises (a plug-in must not stop a session)."""
    if decoder is None or not identity_photo or not any(identity_photo):
        return None  # no decoder configured, or a card read that carried no photo
    try:
        photo = decoder.decode(bytes(identity_photo))
    except Exception as exc:  # a third-party decoder may raise anything
        if log is not None:
            log.emit(LogEvent.PHOTO_DECODER_FAILED, decoder=type(decoder).__name__, error=type(exc).__name__)
        return None
    if not isinstance(photo, Photo) or photo.width <= 0 or photo.height <= 0:
        return None
    if len(photo.rgb) != photo.width * photo.height * 3:
        if log is not None:
            log.emit(LogEvent.PHOTO_DECODER_BAD_PHOTO, decoder=type(decoder).__name__)
        return None
    return photo


# --- the stand-in -----------------------------------------------------------------------------
#
#   offset size
#   0      4    magic "STWL"
#   4      1    version (1)
#   5      1    width in pixels (1..255)
#   6      1    height in pixels (1..255)
#   7      1    bits per pixel: 1, 2, 4 or 8 (grey levels 0 .. 2^bits - 1, 0 black)
#   8      2    N, length of the zlib stream, big-endian
#   10     N    zlib stream (RFC 1950) of the pixels: rows top to bottom, each row starting
#               on a byte boundary, pixels left to right, most significant bits first
#   10+N        zero bytes up to 1024
#
# A level v stands for the grey round(v * 255 / (2^bits - 1)); the emulator's photos are
# 102×126 at 4 bits (16 greys), which a portrait compresses to well under 1014 bytes.

STAND_IN_MAGIC = b"STWL"
STAND_IN_VERSION = 1
_STAND_IN_HEAD = struct.Struct(">4sBBBBH")
STAND_IN_BITS = (8, 4, 2, 1)


def stand_in_capacity(wlt_len: int = WLT_LEN) -> int:
    """Bytes left for the zlib stream in a block of `wlt_len`."""
    return wlt_len - _STAND_IN_HEAD.size


def encode_stand_in(grey: bytes, width: int, height: int, bits: int = 4) -> bytes:
    """The 1024-byte stand-in for a greyscale image (one byte a pixel, rows top to bottom).

    ValueError when the size or depth is out of range or the compressed photo does not fit.
    """
    if not (0 < width <= 255 and 0 < height <= 255):
        raise ValueError("width and height must be 1..255")
    if bits not in STAND_IN_BITS:
        raise ValueError(f"bits must be one of {STAND_IN_BITS}")
    if len(grey) != width * height:
        raise ValueError("grey must hold width × height bytes")
    top = (1 << bits) - 1
    rows = bytearray()
    for y in range(height):
        acc = nbits = 0
        for g in grey[y * width : (y + 1) * width]:
            acc = (acc << bits) | ((g * top + 127) // 255)
            nbits += bits
            if nbits == 8:
                rows.append(acc)
                acc = nbits = 0
        if nbits:
            rows.append(acc << (8 - nbits))
    stream = zlib.compress(bytes(rows), 9)
    if len(stream) > stand_in_capacity():
        raise ValueError(f"the photo compresses to {len(stream)} bytes, more than {stand_in_capacity()}")
    head = _STAND_IN_HEAD.pack(STAND_IN_MAGIC, STAND_IN_VERSION, width, height, bits, len(stream))
    return (head + stream).ljust(WLT_LEN, b"\x00")


def encode_stand_in_fitting(grey: bytes, width: int, height: int) -> bytes:
    """The stand-in at the deepest grey scale (4, then 2, then 1 bit) that fits the block."""
    for bits in (4, 2, 1):
        with contextlib.suppress(ValueError):
            return encode_stand_in(grey, width, height, bits)
    raise ValueError("the photo does not fit the block even at 1 bit a pixel")


# Pillow's raw unpackers for each depth; they scale levels to 0..255 exactly as the format says.
_RAWMODES = {8: ("L", "L"), 4: ("L", "L;4"), 2: ("L", "L;2"), 1: ("1", "1")}


class StandInDecoder:
    """Decodes the emulator's "STWL" stand-in; None for anything else, a real WLT included."""

    def decode(self, wlt: bytes) -> Photo | None:
        if len(wlt) < _STAND_IN_HEAD.size or not wlt.startswith(STAND_IN_MAGIC):
            return None
        _magic, version, width, height, bits, length = _STAND_IN_HEAD.unpack_from(wlt)
        if version != STAND_IN_VERSION or width == 0 or height == 0 or bits not in _RAWMODES:
            return None
        if _STAND_IN_HEAD.size + length > len(wlt):
            return None
        expected = (width * bits + 7) // 8 * height
        inflater = zlib.decompressobj()
        try:
            # max_length bounds the output: a crafted stream cannot inflate past one photo.
            rows = inflater.decompress(wlt[_STAND_IN_HEAD.size : _STAND_IN_HEAD.size + length], expected + 1)
        except zlib.error:
            return None
        if len(rows) != expected or not inflater.eof:
            return None
        mode, rawmode = _RAWMODES[bits]
        image = Image.frombytes(mode, (width, height), rows, "raw", rawmode)
        return Photo(width, height, image.convert("RGB").tobytes())


# --- the vendor's library -----------------------------------------------------------------------


class VendorApi(StrEnum):
    UNPACK = "unpack"  # int unpack(char* src, char* dst, int code): memory to memory
    GET_BMP = "get_bmp"  # int GetBmp(char* wlt_file, int intf): zp.wlt next to zp.bmp


class ReaderInterface(IntEnum):
    """GetBmp's `intf`: how the reader the library licenses against is attached."""

    SERIAL = 1
    USB = 2


@dataclass(frozen=True)
class RawLayout:
    """How a vendor's `unpack` lays out 102×126×3 bare pixels (when it returns no BMP header).

    Builds differ: check against a card whose photo you know, on the real device.
    """

    bgr: bool = True  # the libraries we know write B, G, R as a BMP does
    bottom_up: bool = True  # ... and rows bottom to top, as a BMP does
    mirrored: bool = False  # one Android build returns each row right to left


class VendorWltDecoder:
    """The vendor's WLT library through ctypes, loaded on the first decode and then kept.

    `api`: UNPACK needs `unpack_code`, the vendor's own value of the third argument that
    means "decode into dst, write no file" (it differs per vendor and build: it comes with
    the library's licence). GET_BMP needs `interface`; it makes the library write a BMP
    file, so the block goes to a private directory in RAM (`work_dir`, default /dev/shm)
    for the few milliseconds of the call and is deleted at once.

    Calls are serialised (vendor libraries keep global state). A library that cannot be
    loaded makes every decode None, logged once; the kiosk goes on without the ID photo.
    """

    def __init__(
        self,
        library_path: str | os.PathLike[str],
        *,
        api: VendorApi = VendorApi.UNPACK,
        unpack_code: int | None = None,
        interface: ReaderInterface = ReaderInterface.USB,
        raw_layout: RawLayout | None = None,
        work_dir: str | os.PathLike[str] | None = None,
        log: EventLog | None = None,
    ) -> None:
        if api is VendorApi.UNPACK and unpack_code is None:
            raise ValueError("the unpack API needs the vendor's unpack_code")
        self.library_path = str(library_path)
        self.api = api
        self._unpack_code = unpack_code
        self._interface = interface
        self._raw_layout = raw_layout or RawLayout()
        self._work_dir = work_dir
        self._lock = threading.Lock()
        self._function: Callable[..., int] | None = None
        self._load_failed = False
        self._log = log

    @property
    def loaded(self) -> bool:
        return self._function is not None

    def load(self) -> bool:
        """Load the library now (diagnostics can call this to show the plug-in's state)."""
        with self._lock:
            return self._load()

    def decode(self, wlt: bytes) -> Photo | None:
        if len(wlt) != WLT_LEN:
            return None
        with self._lock:
            if not self._load():
                return None
            assert self._function is not None
            if self.api is VendorApi.UNPACK:
                return self._unpack(wlt)
            return self._get_bmp(wlt)

    # --- inside the lock ----------------------------------------------------------------------

    def _load(self) -> bool:
        if self._function is not None:
            return True
        if self._load_failed:
            return False
        # WltRS.dll is __stdcall on Windows; the Linux libraries are plain C.
        loader = ctypes.WinDLL if sys.platform == "win32" else ctypes.CDLL  # type: ignore[attr-defined]
        name = "unpack" if self.api is VendorApi.UNPACK else "GetBmp"
        try:
            function = getattr(loader(self.library_path), name)
        except (OSError, AttributeError) as exc:
            self._load_failed = True
            self._emit(LogEvent.PHOTO_LIBRARY_UNUSABLE, error=type(exc).__name__)
            return False
        function.restype = ctypes.c_int
        if self.api is VendorApi.UNPACK:
            function.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
        else:
            function.argtypes = (ctypes.c_char_p, ctypes.c_int)
        self._function = function
        self._emit(LogEvent.PHOTO_LIBRARY_LOADED, function=name)
        return True

    def _unpack(self, wlt: bytes) -> Photo | None:
        src = ctypes.create_string_buffer(wlt, WLT_LEN)
        dst = ctypes.create_string_buffer(BMP_LEN + _DST_SLACK)
        assert self._function is not None
        result = self._function(src, dst, self._unpack_code)
        if result != 1:
            self._emit(LogEvent.PHOTO_LIBRARY_REFUSED, function="unpack", result=result)
            return None
        out = dst.raw
        if out.startswith(b"BM"):
            return photo_from_bmp(out[:BMP_LEN])
        return photo_from_raw(out[:RAW_BGR_LEN], self._raw_layout)

    def _get_bmp(self, wlt: bytes) -> Photo | None:
        directory = Path(tempfile.mkdtemp(prefix="wlt-", dir=self._work_dir or _ram_dir()))
        try:
            wlt_file = directory / "zp.wlt"
            fd = os.open(wlt_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(wlt)
            assert self._function is not None
            result = self._function(os.fsencode(wlt_file), int(self._interface))
            if result != 1:
                self._emit(LogEvent.PHOTO_LIBRARY_REFUSED, function="GetBmp", result=result)
                return None
            bmp = wlt_file.with_suffix(".bmp")
            return photo_from_bmp(bmp.read_bytes()) if bmp.exists() else None
        finally:
            shutil.rmtree(directory, ignore_errors=True)

    def _emit(self, event: LogEvent, **values: object) -> None:
        if self._log is not None:
            self._log.emit(event, **values)


def _ram_dir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") else None


def photo_from_bmp(data: bytes) -> Photo | None:
    """A BMP file (as the vendor libraries write it) to an RGB Photo; None if it is not one."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format != "BMP":
                return None
            rgb = image.convert("RGB")
            return Photo(rgb.width, rgb.height, rgb.tobytes())
    except (OSError, ValueError, SyntaxError):
        return None


def photo_from_raw(data: bytes, layout: RawLayout | None = None) -> Photo | None:
    """102×126 bare pixels, 3 bytes each, unpadded rows, laid out as `layout` says."""
    layout = layout or RawLayout()
    if len(data) != RAW_BGR_LEN:
        return None
    image = Image.frombytes("RGB", (WLT_WIDTH, WLT_HEIGHT), data, "raw", "BGR" if layout.bgr else "RGB")
    if layout.bottom_up:
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    if layout.mirrored:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return Photo(WLT_WIDTH, WLT_HEIGHT, image.tobytes())


def photo_decoder(
    library_path: str | os.PathLike[str] | None = None,
    *,
    api: VendorApi = VendorApi.UNPACK,
    unpack_code: int | None = None,
    interface: ReaderInterface = ReaderInterface.USB,
    log: EventLog | None = None,
) -> PhotoDecoder:
    """The decoder a configuration asks for: the vendor's library when a path is given, else the stand-in.

    The stand-in is harmless on a real reader (a real WLT never carries its magic, so the
    kiosk simply shows no ID photo) and is what the emulated reader's cards need.
    """
    if library_path is None:
        return StandInDecoder()
    return VendorWltDecoder(library_path, api=api, unpack_code=unpack_code, interface=interface, log=log)
