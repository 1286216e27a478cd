"""The ID photo: the stand-in format, decode_photo's guarantees, and the vendor plug-in against a fake library."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from kiosk.logevents import EventLog
from kiosk.view import Photo
from kiosk.wlt import (
    BMP_LEN,
    RAW_BGR_LEN,
    STAND_IN_MAGIC,
    WLT_HEIGHT,
    WLT_LEN,
    WLT_WIDTH,
    PhotoDecoder,
    RawLayout,
    ReaderInterface,
    StandInDecoder,
    VendorApi,
    VendorWltDecoder,
    decode_photo,
    encode_stand_in,
    encode_stand_in_fitting,
    photo_decoder,
    photo_from_bmp,
    photo_from_raw,
    stand_in_capacity,
)
from sim.faces import reference_portrait
from sim.id_card_data import stand_in_photo

GRADIENT = bytes((x * 2 + y) % 256 for y in range(WLT_HEIGHT) for x in range(WLT_WIDTH))


def grey(photo: Photo) -> list[int]:
    rgb = photo.rgb
    assert rgb[0::3] == rgb[1::3] == rgb[2::3]  # the stand-in is greyscale
    return list(rgb[0::3])


# --- the stand-in -------------------------------------------------------------------------------


def test_stand_in_layout_is_the_documented_one() -> None:
    block = encode_stand_in(GRADIENT, WLT_WIDTH, WLT_HEIGHT, 4)
    assert len(block) == WLT_LEN
    magic, version, w, h, bits, n = struct.unpack(">4sBBBBH", block[:10])
    assert (magic, version, w, h, bits) == (b"STWL", 1, 102, 126, 4)
    rows = zlib.decompress(block[10 : 10 + n])
    assert len(rows) == 51 * 126  # 102 pixels at 4 bits: 51 bytes a row
    assert rows[0] >> 4 == 0 and rows[0] & 15 == (2 * 15 + 127) // 255  # MSB first, rounded levels
    assert block[10 + n :] == bytes(WLT_LEN - 10 - n)
    assert stand_in_capacity() == WLT_LEN - 10


@pytest.mark.parametrize("bits", [8, 4, 2, 1])
def test_stand_in_round_trips_to_its_grey_levels(bits: int) -> None:
    width, height = 13, 7  # rows that do not end on a byte boundary
    pixels = bytes((i * 37) % 256 for i in range(width * height))
    photo = StandInDecoder().decode(encode_stand_in(pixels, width, height, bits))
    assert photo is not None and (photo.width, photo.height) == (width, height)
    top = (1 << bits) - 1
    assert grey(photo) == [round((g * top + 127) // 255 * 255 / top) for g in pixels]


def test_the_fitting_encoder_falls_back_to_fewer_greys() -> None:
    noise = bytes((i * 7919 + (i * i) % 251) % 256 for i in range(WLT_WIDTH * WLT_HEIGHT))
    with pytest.raises(ValueError, match="more than"):
        encode_stand_in(noise, WLT_WIDTH, WLT_HEIGHT, 4)
    block = encode_stand_in_fitting(noise, WLT_WIDTH, WLT_HEIGHT)
    assert block[7] in (2, 1)
    assert StandInDecoder().decode(block) is not None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((b"\x00" * 4, 2, 2, 3), "bits"),
        ((b"\x00" * 4, 0, 4, 4), "width"),
        ((b"\x00" * 4, 256, 1, 4), "width"),
        ((b"\x00" * 3, 2, 2, 4), "width × height"),
    ],
)
def test_stand_in_encoder_rejects_what_the_format_cannot_hold(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_stand_in(*args)


@pytest.mark.parametrize("key", ["zhang", "li", "wang", "liu", "smith", "martin", "chan", "bench"])
def test_residents_photos_fit_and_look_like_their_portrait(key: str) -> None:
    block = stand_in_photo(key)
    assert len(block) == WLT_LEN and block.startswith(STAND_IN_MAGIC)
    # A real photograph (sim.faces) fits the 1 KB block at 4 greys; the flat drawn faces fitted 16.
    assert block[7] == 2
    photo = StandInDecoder().decode(block)
    assert photo is not None and (photo.width, photo.height) == (WLT_WIDTH, WLT_HEIGHT)
    decoded = Image.frombytes("RGB", (photo.width, photo.height), photo.rgb).convert("L")
    original = reference_portrait(key).convert("L").resize((WLT_WIDTH, WLT_HEIGHT), Image.Resampling.BOX)
    assert ImageStat.Stat(ImageChops.difference(decoded, original)).mean[0] < 20  # 14-18 measured


def test_different_residents_have_different_photos() -> None:
    assert stand_in_photo("zhang") != stand_in_photo("li")


@pytest.mark.parametrize(
    "block",
    [
        b"",
        bytes(WLT_LEN),
        b"WLfC" + bytes(WLT_LEN - 4),  # a real WLT starts otherwise
        STAND_IN_MAGIC + b"\x02" + bytes(WLT_LEN - 5),  # an unknown version
        encode_stand_in(GRADIENT, WLT_WIDTH, WLT_HEIGHT)[:200],  # cut short of its stream
        struct.pack(">4sBBBBH", STAND_IN_MAGIC, 1, 102, 126, 3, 2) + b"x\x9c",  # 3 bits: not a depth
    ],
)
def test_stand_in_decoder_says_none_to_anything_else(block: bytes) -> None:
    assert StandInDecoder().decode(block) is None


def test_a_stream_that_inflates_past_one_photo_is_refused() -> None:
    bomb = zlib.compress(bytes(10_000_000), 9)  # 10 MB of zeros in about 10 kB ...
    head = struct.pack(">4sBBBBH", STAND_IN_MAGIC, 1, 2, 2, 8, 40)
    assert StandInDecoder().decode((head + bomb[:40]).ljust(WLT_LEN, b"\x00")) is None  # ... never inflated


# --- decode_photo -------------------------------------------------------------------------------


class Raising:
    def decode(self, wlt: bytes) -> Photo | None:
        raise RuntimeError("vendor library crashed")


class WrongSize:
    def decode(self, wlt: bytes) -> Photo | None:
        return Photo(102, 126, b"\x00" * 10)


def test_decode_photo_shows_the_stand_in() -> None:
    photo = decode_photo(stand_in_photo("zhang"), StandInDecoder())
    assert photo is not None and photo.width == WLT_WIDTH


@pytest.mark.parametrize("block", [b"", bytes(WLT_LEN)])
def test_decode_photo_without_a_photo_is_none(block: bytes) -> None:
    assert decode_photo(block, StandInDecoder()) is None


def test_decode_photo_without_a_decoder_is_none() -> None:
    assert decode_photo(stand_in_photo("zhang"), None) is None


def test_decode_photo_survives_a_failing_plug_in_and_logs_no_photo() -> None:
    block = stand_in_photo("zhang")
    log = EventLog(level="debug")
    assert decode_photo(block, Raising(), log) is None
    assert decode_photo(block, WrongSize(), log) is None
    assert decode_photo(block, Raising()) is None  # no log: nothing said, still no exception
    assert [(r["event"], r.get("decoder"), r.get("error")) for r in log.recent] == [
        ("PHOTO_DECODER_FAILED", "Raising", "RuntimeError"),
        ("PHOTO_DECODER_BAD_PHOTO", "WrongSize", None),
    ]
    assert "crashed" not in json.dumps(log.recent)  # an exception's message could carry anything


def test_decoders_satisfy_the_protocol() -> None:
    assert isinstance(StandInDecoder(), PhotoDecoder)
    assert isinstance(VendorWltDecoder("/nonexistent.so", unpack_code=1), PhotoDecoder)
    assert isinstance(photo_decoder(), StandInDecoder)
    assert isinstance(photo_decoder("/opt/vendor/libwlt.so", unpack_code=602), VendorWltDecoder)


# --- the vendor's outputs -----------------------------------------------------------------------


def pattern(x: int, y: int) -> tuple[int, int, int]:
    return (200, y, x)  # R, G, B: every pixel tells where it is


def test_raw_bgr_bottom_up_is_turned_the_right_way() -> None:
    raw = bytearray()
    for row in range(WLT_HEIGHT):
        y = WLT_HEIGHT - 1 - row
        for x in range(WLT_WIDTH):
            r, g, b = pattern(x, y)
            raw += bytes((b, g, r))
    photo = photo_from_raw(bytes(raw))
    assert photo is not None
    image = Image.frombytes("RGB", (photo.width, photo.height), photo.rgb)
    assert image.getpixel((5, 9)) == pattern(5, 9)
    mirrored = photo_from_raw(bytes(raw), RawLayout(mirrored=True))
    assert mirrored is not None
    assert Image.frombytes("RGB", (102, 126), mirrored.rgb).getpixel((5, 9)) == pattern(WLT_WIDTH - 1 - 5, 9)
    assert photo_from_raw(bytes(raw[:-1])) is None


def test_a_bmp_file_becomes_a_photo() -> None:
    image = Image.new("RGB", (WLT_WIDTH, WLT_HEIGHT))
    image.putdata([pattern(x, y) for y in range(WLT_HEIGHT) for x in range(WLT_WIDTH)])
    buf = io.BytesIO()
    image.save(buf, format="BMP")
    assert len(buf.getvalue()) == BMP_LEN
    photo = photo_from_bmp(buf.getvalue())
    assert photo is not None and photo.rgb == image.tobytes()
    assert photo_from_bmp(b"BM" + bytes(100)) is None
    assert photo_from_bmp(b"\x89PNG") is None


# --- the vendor plug-in against a fake library ----------------------------------------------------

FAKE_LIBRARY = r"""
#include <stdio.h>
#include <string.h>

/* Raw BGR, bottom-up, unpadded: B = x, G = y, R = the block's second byte. */
int unpack(char *src, char *dst, int code) {
    if (code != 602) return 0;
    for (int row = 0; row < 126; row++)
        for (int x = 0; x < 102; x++) {
            unsigned char *p = (unsigned char *)dst + (row * 102 + x) * 3;
            p[0] = x; p[1] = 125 - row; p[2] = (unsigned char)src[1];
        }
    return 1;
}

/* Reads NAME.wlt, writes NAME.bmp (24-bit, bottom-up, rows padded to 308): B = x, G = y, R = 50 * intf. */
int GetBmp(char *wlt_file, int intf) {
    char bmp[4096];
    size_t n = strlen(wlt_file);
    if (n < 4 || n >= sizeof bmp || strcmp(wlt_file + n - 4, ".wlt") != 0) return -2;
    unsigned char wlt[1024];
    FILE *in = fopen(wlt_file, "rb");
    if (!in) return -3;
    size_t got = fread(wlt, 1, sizeof wlt, in);
    fclose(in);
    if (got != 1024) return -4;
    memcpy(bmp, wlt_file, n - 3);
    strcpy(bmp + n - 3, "bmp");
    static const unsigned char head[54] = {0x42, 0x4D, 0xCE, 0x97, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0,
        0, 0, 0x66, 0, 0, 0, 0x7E, 0, 0, 0, 1, 0, 0x18, 0, 0, 0, 0, 0, 0x98, 0x97, 0, 0};
    FILE *out = fopen(bmp, "wb");
    if (!out) return -3;
    fwrite(head, 1, 54, out);
    unsigned char line[308] = {0};
    for (int row = 0; row < 126; row++) {
        for (int x = 0; x < 102; x++) {
            line[x * 3] = x; line[x * 3 + 1] = 125 - row; line[x * 3 + 2] = 50 * intf;
        }
        fwrite(line, 1, sizeof line, out);
    }
    fclose(out);
    return 1;
}
"""


@pytest.fixture(scope="module")
def fake_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler to build the fake vendor library")
    directory = tmp_path_factory.mktemp("fakewlt")
    source = directory / "fakewlt.c"
    source.write_text(FAKE_LIBRARY, encoding="ascii")
    library = directory / "libfakewlt.so"
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)], check=True)
    return library


def at(photo: Photo | None, x: int, y: int) -> tuple[int, int, int]:
    assert photo is not None and (photo.width, photo.height) == (WLT_WIDTH, WLT_HEIGHT)
    i = (y * photo.width + x) * 3
    return tuple(photo.rgb[i : i + 3])  # type: ignore[return-value]


def test_vendor_unpack_in_memory(fake_library: Path) -> None:
    decoder = VendorWltDecoder(fake_library, api=VendorApi.UNPACK, unpack_code=602)
    assert not decoder.loaded
    block = bytes([0, 123]) + bytes(WLT_LEN - 2)
    photo = decode_photo(block, decoder)
    assert decoder.loaded
    assert at(photo, 7, 11) == (123, 11, 7)
    assert at(photo, 101, 125) == (123, 125, 101)


def test_vendor_unpack_refusing_its_code_is_none(fake_library: Path) -> None:
    log = EventLog()
    decoder = VendorWltDecoder(fake_library, unpack_code=603, log=log)
    assert decoder.decode(bytes([0, 1]) + bytes(WLT_LEN - 2)) is None
    loaded, refused = log.recent
    assert (loaded["event"], loaded["function"]) == ("PHOTO_LIBRARY_LOADED", "unpack")
    assert (refused["event"], refused["function"]) == ("PHOTO_LIBRARY_REFUSED", "unpack")
    assert isinstance(refused["result"], int) and refused["result"] != 1


def test_vendor_get_bmp_goes_through_a_private_file_that_is_removed(fake_library: Path, tmp_path: Path) -> None:
    decoder = VendorWltDecoder(fake_library, api=VendorApi.GET_BMP, interface=ReaderInterface.USB, work_dir=tmp_path)
    photo = decoder.decode(bytes([0, 1]) + bytes(WLT_LEN - 2))
    assert at(photo, 7, 11) == (100, 11, 7)
    assert list(tmp_path.iterdir()) == []  # the photo never stays on disk


def test_a_missing_library_means_no_photo_logged_once(tmp_path: Path) -> None:
    log = EventLog()
    decoder = VendorWltDecoder(tmp_path / "libnothere.so", unpack_code=602, log=log)
    assert decoder.decode(stand_in_photo("zhang")) is None
    assert decoder.decode(stand_in_photo("zhang")) is None
    assert not decoder.load()
    assert [r["event"] for r in log.recent] == ["PHOTO_LIBRARY_UNUSABLE"]
    assert log.recent[0]["error"] == "OSError"


def test_unpack_needs_the_vendor_code() -> None:
    with pytest.raises(ValueError, match="unpack_code"):
        VendorWltDecoder("/opt/vendor/libwlt.so")


def test_vendor_decoder_only_takes_whole_blocks(fake_library: Path) -> None:
    decoder = VendorWltDecoder(fake_library, unpack_code=602)
    assert decoder.decode(bytes(100)) is None
    assert not decoder.loaded  # refused before touching the library


def test_raw_length_matches_the_vendor_headers() -> None:
    assert RAW_BGR_LEN == 38556 and BMP_LEN == 38862
