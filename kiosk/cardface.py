"""The permit's card face: what the rewritable printer prints (SH-PMT-4), as a 1-bit image.

The face is composed at 300 dpi on a CR80 card (1012×638). Every element sits in a fixed
box, so that a later card-face rewrite can erase one named area (the validity) and
reprint exactly what a new card would carry there.

Bit convention on the wire (`pack_bits`): 1 = a black dot, rows MSB-first, each row
padded to a whole byte. PIL's mode "1" is the opposite (0 = black), hence the inversion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from kiosk.dates import format_card_date, format_validity
from kiosk.fonts import find_cjk_font
from kiosk.nations import nation_name
from kiosk.view import Photo

CARD_WIDTH = 1012
CARD_HEIGHT = 638

TITLE = "上海市居住证"
SEX_TEXT = {"M": "男", "F": "女"}


@dataclass(frozen=True)
class Area:
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    def intersects(self, box: tuple[int, int, int, int]) -> bool:
        x0, y0, x1, y1 = self.box
        return box[0] < x1 and box[2] > x0 and box[1] < y1 and box[3] > y0


# Named rectangles of the face. `validity` is what a rewrite erases and reprints; nothing
# else may draw into it, or a rewrite would leave half of a neighbour behind.
AREAS: dict[str, Area] = {
    "full": Area(0, 0, CARD_WIDTH, CARD_HEIGHT),
    "photo": Area(770, 100, 212, 262),
    "validity": Area(40, 540, 700, 56),
}

_LEFT = 40
_VALUE_X = 216  # labels of up to six characters fit left of this
_RIGHT = 740  # the text column ends before the photo
_LABEL_SIZE = 24
_VALUE_SIZE = 30


@dataclass(frozen=True)
class CardFace:
    """What one permit card shows. Personal data: in memory only, never in a repr."""

    permit_number: str
    name: str = field(repr=False)
    sex: str = field(repr=False)  # 'M' | 'F'
    nation: str = field(repr=False)  # GB 3304 code, "01" = 汉
    birth: date = field(repr=False)
    id_number: str = field(repr=False)
    household_address: str = field(repr=False)
    residence_address: str = field(repr=False)
    authority: str
    issued: date
    valid_from: date  # start of the current one-year period (RULES.md, date conventions)
    valid_until: date
    photo: Photo | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.sex not in SEX_TEXT:
            raise ValueError("CardFace.sex must be 'M' or 'F'")
        if self.valid_until < self.valid_from:
            raise ValueError("CardFace: valid_until is before valid_from")


def ticket(face: CardFace) -> dict[str, str]:
    """The printed fields as the text the face shows (the printer keeps them in its job log)."""
    return {
        "permit_number": face.permit_number,
        "name": face.name,
        "sex": SEX_TEXT[face.sex],
        "nation": nation_name(face.nation),
        "birth": format_card_date(face.birth),
        "id_number": face.id_number,
        "household_address": face.household_address,
        "residence_address": face.residence_address,
        "authority": face.authority,
        "issued": format_card_date(face.issued),
        "validity": format_validity(face.valid_from, face.valid_until),
    }


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # Loading the .ttc costs tens of milliseconds; every size is loaded once per process.
    f = find_cjk_font()
    return ImageFont.truetype(f.path, size, index=f.index)


# --- layout: a list of things to draw, each inside a fixed box ---------------------------


@dataclass(frozen=True)
class _Text:
    x: int
    y: int
    text: str
    size: int
    max_width: int  # shrink the font rather than spill into a neighbour
    bold: bool = False

    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.max_width, self.y + self.size + 8)


@dataclass(frozen=True)
class _Para:
    """Up to `lines` lines wrapped by character (Chinese addresses have no spaces)."""

    x: int
    y: int
    text: str
    size: int
    max_width: int
    lines: int

    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.max_width, self.y + self.lines * (self.size + 6))


@dataclass(frozen=True)
class _Picture:
    area: Area
    photo: Photo | None

    def box(self) -> tuple[int, int, int, int]:
        return self.area.box


_Item = _Text | _Para | _Picture


def _layout(face: CardFace) -> list[_Item]:
    t = ticket(face)
    v = _VALUE_X
    w = _RIGHT - _VALUE_X
    items: list[_Item] = [
        _Text(CARD_WIDTH // 2 - 165, 22, TITLE, 54, 330, bold=True),
        _Text(_LEFT, 108, "姓名", _LABEL_SIZE, 170),
        _Text(v, 100, t["name"], 34, w),
        _Text(_LEFT, 156, "性别", _LABEL_SIZE, 170),
        _Text(v, 152, t["sex"], _VALUE_SIZE, 120),
        _Text(380, 156, "民族", _LABEL_SIZE, 70),
        _Text(460, 152, t["nation"], _VALUE_SIZE, _RIGHT - 460),
        _Text(_LEFT, 202, "出生", _LABEL_SIZE, 170),
        _Text(v, 198, t["birth"], _VALUE_SIZE, w),
        _Text(_LEFT, 248, "公民身份号码", _LABEL_SIZE, 170),
        _Text(v, 244, t["id_number"], _VALUE_SIZE, w),
        _Text(_LEFT, 294, "户籍地址", _LABEL_SIZE, 170),
        _Para(v, 290, t["household_address"], 28, w, 2),
        _Text(_LEFT, 372, "居住地址", _LABEL_SIZE, 170),
        _Para(v, 368, t["residence_address"], 28, w, 2),
        _Text(_LEFT, 450, "签发机关", _LABEL_SIZE, 170),
        _Text(v, 446, t["authority"], _VALUE_SIZE, w),
        _Text(_LEFT, 496, "签发日期", _LABEL_SIZE, 170),
        _Text(v, 492, t["issued"], _VALUE_SIZE, w),
        _Picture(AREAS["photo"], face.photo),
        _Text(770, 380, "证号", _LABEL_SIZE, 212),
        _Text(770, 412, t["permit_number"], 26, 212),
    ]
    va = AREAS["validity"]
    items += [
        _Text(va.x, va.y + 14, "有效期限", _LABEL_SIZE, 170),
        _Text(v, va.y + 10, t["validity"], _VALUE_SIZE, va.x + va.width - v),
    ]
    return items


def _fitting_font(text: str, size: int, max_width: int) -> ImageFont.FreeTypeFont:
    font = _font(size)
    while size > 14 and font.getlength(text) > max_width:
        size -= 2
        font = _font(size)
    return font


@lru_cache(maxsize=4096)
def _advance(size: int, ch: str) -> float:
    return _font(size).getlength(ch)


def _wrap(text: str, size: int, max_width: int) -> list[str]:
    # Summed advances, not a measure of each growing prefix: CJK has no kerning to lose.
    lines: list[str] = []
    current, width = "", 0.0
    for ch in text:
        w = _advance(size, ch)
        if current and width + w > max_width:
            lines.append(current)
            current, width = ch, w
        else:
            current, width = current + ch, width + w
    if current:
        lines.append(current)
    return lines


def _draw_text(draw: ImageDraw.ImageDraw, item: _Text, dx: int, dy: int) -> None:
    font = _fitting_font(item.text, item.size, item.max_width)
    draw.text((item.x - dx, item.y - dy), item.text, font=font, fill=0, stroke_width=1 if item.bold else 0)


def _draw_para(draw: ImageDraw.ImageDraw, item: _Para, dx: int, dy: int) -> None:
    size = item.size
    lines = _wrap(item.text, size, item.max_width)
    # A long address gets a smaller font before it may spill past its lines.
    while len(lines) > item.lines and size > 16:
        size -= 2
        lines = _wrap(item.text, size, item.max_width)
    font = _font(size)
    box_height = item.lines * (item.size + 6)
    # Never drop text from a card: if it still overflows, squeeze the lines into the box.
    line_height = min(size + 6, box_height // max(1, len(lines)))
    for i, line in enumerate(lines):
        draw.text((item.x - dx, item.y + i * line_height - dy), line, font=font, fill=0)


def _photo_bitmap(photo: Photo, area: Area) -> Image.Image:
    if len(photo.rgb) != photo.width * photo.height * 3:
        raise ValueError("CardFace.photo: rgb length does not match width×height")
    img = Image.frombytes("RGB", (photo.width, photo.height), photo.rgb)
    # Cover the box: scale to fill, crop the overflow evenly, keep the aspect ratio.
    scale = max(area.width / img.width, area.height / img.height)
    w, h = max(area.width, round(img.width * scale)), max(area.height, round(img.height * scale))
    img = img.resize((w, h), Image.Resampling.BILINEAR)
    left, top = (w - area.width) // 2, (h - area.height) // 2
    img = img.crop((left, top, left + area.width, top + area.height))
    return img.convert("L").convert("1")  # Floyd–Steinberg: grey tones survive on a 1-bit head


def _draw_picture(img: Image.Image, draw: ImageDraw.ImageDraw, item: _Picture, dx: int, dy: int) -> None:
    a = item.area
    if item.photo is not None:
        img.paste(_photo_bitmap(item.photo, a), (a.x - dx, a.y - dy))
    draw.rectangle((a.x - dx, a.y - dy, a.x + a.width - 1 - dx, a.y + a.height - 1 - dy), outline=0)


def render(face: CardFace, area: str = "full") -> Image.Image:
    """The face (or one named area of it) as a mode "1" image of the area's size."""
    try:
        a = AREAS[area]
    except KeyError:
        raise ValueError(f"unknown card area {area!r}") from None
    img = Image.new("1", (a.width, a.height), 255)
    draw = ImageDraw.Draw(img)
    draw.fontmode = "1"  # no anti-aliasing: a thermal rewrite head has no grey
    for item in _layout(face):
        if not a.intersects(item.box()):
            continue
        if isinstance(item, _Text):
            _draw_text(draw, item, a.x, a.y)
        elif isinstance(item, _Para):
            _draw_para(draw, item, a.x, a.y)
        else:
            _draw_picture(img, draw, item, a.x, a.y)
    return img


_INVERT = bytes(255 - b for b in range(256))


def pack_bits(img: Image.Image) -> bytes:
    """Rows MSB-first, 1 = black dot, each row padded to a byte (padding bits are 0)."""
    if img.mode != "1":
        img = img.convert("1")
    # Byte tables rather than ImageChops.invert: mode "1" may hold 1 as well as 255 for white.
    packed = bytearray(img.tobytes().translate(_INVERT))
    pad = (-img.width) % 8
    if pad:
        row = (img.width + 7) // 8
        keep = (0xFF << pad) & 0xFF
        packed[row - 1 :: row] = bytes(b & keep for b in packed[row - 1 :: row])
    return bytes(packed)


def unpack_bits(bits: bytes, width: int, height: int) -> Image.Image:
    row = (width + 7) // 8
    if width <= 0 or height <= 0 or len(bits) != row * height:
        raise ValueError("unpack_bits: length does not match width×height")
    return Image.frombytes("1", (width, height), bytes(bits).translate(_INVERT))
