"""The card face (SH-PMT-4): fields, layout areas, 1-bit packing, privacy of the repr."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from PIL import Image, ImageChops

from devices import printer_protocol
from kiosk.cardface import AREAS, CARD_HEIGHT, CARD_WIDTH, CardFace, pack_bits, render, ticket, unpack_bits
from kiosk.view import Photo


def gradient_photo(w: int = 358, h: int = 441) -> Photo:
    row = bytes(v for x in range(w) for v in (x * 255 // w,) * 3)
    return Photo(w, h, row * h)


def make_face(**changes: object) -> CardFace:
    face = CardFace(
        permit_number="31000020261122000001",
        name="张伟",
        sex="M",
        nation="01",
        birth=date(1990, 3, 7),
        id_number="340104199003072514",
        household_address="安徽省合肥市蜀山区长江西路123号4幢501室",
        residence_address="上海市长宁区虹桥路1号2弄3室",
        authority="上海市公安局长宁分局",
        issued=date(2026, 11, 22),
        valid_from=date(2026, 11, 22),
        valid_until=date(2027, 11, 22),
        photo=gradient_photo(),
    )
    return replace(face, **changes)


def ink(img: Image.Image, box: tuple[int, int, int, int] | None = None) -> int:
    """Black pixels in the image (or a box of it)."""
    part = img.crop(box) if box else img
    return int.from_bytes(pack_bits(part), "big").bit_count()


def test_ticket_carries_every_printed_field_as_text_sh_pmt_4() -> None:
    t = ticket(make_face())
    assert t == {
        "permit_number": "31000020261122000001",
        "name": "张伟",
        "sex": "男",
        "nation": "汉",
        "birth": "1990.03.07",
        "id_number": "340104199003072514",
        "household_address": "安徽省合肥市蜀山区长江西路123号4幢501室",
        "residence_address": "上海市长宁区虹桥路1号2弄3室",
        "authority": "上海市公安局长宁分局",
        "issued": "2026.11.22",
        "validity": "2026.11.22-2027.11.22",
    }


def test_validity_is_printed_from_valid_from_and_valid_until() -> None:
    # A renewal keeps continuity: V .. add_months(V, 12), not the rewrite day.
    t = ticket(make_face(valid_from=date(2027, 11, 22), valid_until=date(2028, 11, 22)))
    assert t["validity"] == "2027.11.22-2028.11.22"
    assert ticket(make_face(sex="F"))["sex"] == "女"


def test_repr_shows_no_personal_data() -> None:
    text = repr(make_face())
    for secret in ("张伟", "340104199003072514", "长江西路", "虹桥路", "1990", "Photo"):
        assert secret not in text
    assert "31000020261122000001" in text  # the permit number is what the journal keeps


def test_bad_sex_is_refused_without_echoing_data() -> None:
    with pytest.raises(ValueError) as err:
        make_face(sex="X")
    assert "张伟" not in str(err.value)


def test_full_render_is_a_1bit_card_at_300dpi() -> None:
    img = render(make_face())
    assert img.mode == "1"
    assert img.size == (CARD_WIDTH, CARD_HEIGHT)
    assert (CARD_WIDTH, CARD_HEIGHT) == (printer_protocol.CARD_WIDTH, printer_protocol.CARD_HEIGHT)
    assert 0 < ink(img) < CARD_WIDTH * CARD_HEIGHT // 3


def test_every_area_lies_on_the_card_and_validity_is_separate_from_the_rest() -> None:
    assert {"full", "validity"} <= set(AREAS)
    for a in AREAS.values():
        assert printer_protocol.area_on_card(a.x, a.y, a.width, a.height)
    assert not AREAS["validity"].intersects(AREAS["photo"].box)


def test_area_render_matches_the_same_area_of_the_full_face() -> None:
    face = make_face()
    full = render(face)
    for name, a in AREAS.items():
        part = render(face, name)
        assert part.size == (a.width, a.height)
        assert pack_bits(part) == pack_bits(full.crop(a.box)), name


def test_a_new_validity_changes_only_the_validity_area() -> None:
    """What a card-face rewrite relies on: erase + reprint of one area makes the new card."""
    old = render(make_face())
    new = render(make_face(valid_from=date(2027, 11, 22), valid_until=date(2028, 11, 22)))
    diff = ImageChops.difference(old.convert("L"), new.convert("L")).getbbox()
    assert diff is not None
    v = AREAS["validity"]
    assert v.x <= diff[0] and v.y <= diff[1] and diff[2] <= v.x + v.width and diff[3] <= v.y + v.height


def test_each_field_draws_ink_in_its_own_place() -> None:
    face = make_face()
    base = render(face)
    for change in (
        {"name": "李娜"},
        {"id_number": "310104199003072517"},
        {"household_address": "江苏省南京市玄武区"},
        {"residence_address": "上海市徐汇区漕溪北路"},
        {"authority": "上海市公安局徐汇分局"},
        {"issued": date(2026, 11, 23)},
        {"nation": "03"},
        {"birth": date(1991, 3, 7)},
    ):
        other = render(replace(face, **change))
        assert pack_bits(other) != pack_bits(base), change


def test_photo_is_dithered_into_the_photo_area() -> None:
    a = AREAS["photo"]
    inner = (a.x + 2, a.y + 2, a.x + a.width - 2, a.y + a.height - 2)
    with_photo = render(make_face())
    without = render(make_face(photo=None))
    assert ink(without, inner) == 0
    black = ink(with_photo, inner)
    area = (a.width - 4) * (a.height - 4)
    # A left-to-right grey ramp dithers to roughly half the dots, not a solid block.
    assert area * 0.3 < black < area * 0.7


def test_photo_with_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError):
        render(make_face(photo=Photo(10, 10, b"\x00" * 5)))


def test_long_address_stays_left_of_the_photo() -> None:
    long = "新疆维吾尔自治区乌鲁木齐市天山区解放北路街道办事处幸福路社区某某小区十二号楼三单元一千二百零一室"
    img = render(make_face(household_address=long, residence_address=long, photo=None))
    a = AREAS["photo"]
    # Right of the text column, ink is only the photo frame and the permit number below it.
    assert ink(img, (742, a.y + 4, a.x - 1, CARD_HEIGHT)) == 0


def test_pack_bits_sets_a_bit_for_a_black_dot_msb_first() -> None:
    img = Image.new("1", (10, 2), 255)
    img.putpixel((0, 0), 0)
    img.putpixel((9, 1), 0)
    assert pack_bits(img) == bytes([0x80, 0x00, 0x00, 0x40])


def test_pack_unpack_round_trip_with_padding() -> None:
    img = render(make_face(), "validity")
    odd = img.crop((0, 0, 333, 41))  # width not a multiple of 8
    bits = pack_bits(odd)
    assert len(bits) == 42 * 41
    assert pack_bits(unpack_bits(bits, 333, 41)) == bits
    assert unpack_bits(bits, 333, 41).tobytes() == odd.tobytes()
    with pytest.raises(ValueError):
        unpack_bits(bits[:-1], 333, 41)


def test_unknown_area_is_refused() -> None:
    with pytest.raises(ValueError):
        render(make_face(), "back")
