"""Whole sessions: every scenario file under cases/ run through `run_kiosk.py` as CI and reviewers run it.

Each case starts the device hub and the emulated backend as processes, plays the session
headless, and must exit 0 with every expectation met. The file name says what it proves;
the rule ids are in each file's first line.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from kiosk import cardface
from kiosk.dates import add_months
from sim.scenario import load
from tests.scenarios.play import run

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "tests" / "scenarios" / "cases").glob("*.toml"))


@pytest.mark.parametrize("scenario", CASES, ids=[c.stem for c in CASES])
def test_scenario(scenario: Path, tmp_path: Path):
    code, report, stderr = run(scenario, tmp_path)
    assert code == 0, f"failures: {report.get('failures')}\nscreens: {report.get('screens')}\n{stderr[-3000:]}"
    assert report["passed"] is True


# --- the printed card face, read from the bitmap the printer received --------------------------


def printed_bitmap(path: Path) -> Image.Image:
    img = Image.open(path)
    img.load()
    assert img.size == (cardface.CARD_WIDTH, cardface.CARD_HEIGHT), img.size
    return img.convert("1")


def as_printed(face: cardface.CardFace, area: str = "full") -> Image.Image:
    """The face as the printer's head lays it down: rendered, packed to wire bits and back."""
    img = cardface.render(face, area)
    return cardface.unpack_bits(cardface.pack_bits(img), img.width, img.height)


def without(img: Image.Image, *areas: str) -> Image.Image:
    out = img.convert("1").copy()
    for name in areas:
        out.paste(255, cardface.AREAS[name].box)
    return out


def differing_box(a: Image.Image, b: Image.Image) -> tuple[int, int, int, int] | None:
    """Where two 1-bit images differ (None: they are identical dot for dot)."""
    assert a.size == b.size
    return ImageChops.difference(a.convert("L"), b.convert("L")).getbbox()


def resident_face(scenario: Path, **approval: Any) -> cardface.CardFace:
    sc = load(scenario)
    who = sc.residents[sc.resident]
    return cardface.CardFace(name=who.name, sex=who.sex, nation=who.nation, birth=who.birth,
                             id_number=who.id_number, household_address=who.id_address, **approval)


def backend_rows(workdir: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(workdir / "backend.sqlite")
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


# One changed field at a time: each must change the printed dots (the comparison can fail).
CHANGED = {
    "permit_number": "SH20269999999", "name": "张伟伟", "sex": "F", "nation": "03", "birth": date(1990, 3, 8),
    "id_number": "340102199003080016", "household_address": "安徽省合肥市瑶海区长江东路101号",
    "residence_address": "上海市长宁区仙霞路765号4室", "authority": "上海市公安局长宁分局",
    "issued": date(2026, 11, 21), "valid_until": date(2027, 11, 23),
}


def test_happy_path_writes_screens_and_the_printed_face(tmp_path: Path):
    """SH-PMT-8: the terminal issues on the spot; SH-PMT-4: the card shows every field.

    The printed bitmap (what the printer emulator's head laid down, saved as PNG) is compared
    dot for dot with the face rendered here from the scenario's resident and the backend's
    approval. The photo area is left out: the portrait is the camera's frame after cropping and
    dithering, which this test cannot reproduce exactly; it only checks that a portrait is there.
    """
    scenario = CASES[0].parent / "issued_happy_path.toml"
    shots = tmp_path / "shots"
    code, report, stderr = run(scenario, tmp_path, "--screenshots", str(shots), "--keep-workdir")
    workdir = Path(report["workdir"]) if "workdir" in report else None
    try:
        assert code == 0, stderr[-3000:]
        names = {p.name for p in shots.glob("*.png")}
        assert any("new_permit.details" in n for n in names)
        printed = report["printed"]
        assert len(printed) == 1 and printed[0]["outcome"] == "taken"
        png = Path(printed[0]["face_png"])
        assert png.parent == shots and png.name.startswith("printed_"), png
        got = printed_bitmap(png)
        assert workdir is not None
        ((number, issued, valid_from, valid_until, authority, residence),) = backend_rows(
            workdir, "SELECT number, issued, valid_from, valid_until, authority, residence_address FROM permits")
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    approval = dict(permit_number=number, issued=date.fromisoformat(issued), valid_from=date.fromisoformat(valid_from),
                    valid_until=date.fromisoformat(valid_until), authority=authority, residence_address=residence)
    sc = load(scenario)
    who = sc.residents[sc.resident]
    assert who.registration is not None and residence == who.registration.address
    expected = resident_face(scenario, **approval)
    assert cardface.ticket(expected)["validity"] == "2026.11.22-2027.11.22"

    box = differing_box(without(as_printed(expected), "photo"), without(got, "photo"))
    assert box is None, f"the printed face differs from the rendered one (SH-PMT-4) within {box}"
    photo = cardface.AREAS["photo"]
    inner = got.crop((photo.x + 2, photo.y + 2, photo.x + photo.width - 2, photo.y + photo.height - 2))
    black = inner.histogram()[0] / (inner.width * inner.height)
    assert 0.05 < black < 0.95, f"no portrait in the photo area ({black:.0%} black)"

    for field, value in CHANGED.items():
        other = dataclasses.replace(expected, **{field: value})
        assert differing_box(without(as_printed(other), "photo"), without(got, "photo")) is not None, \
            f"a face with another {field} matches the printed one: the comparison cannot fail"
    for key in ("outcome", "reason", "screens", "cards_issued", "cards_retained", "printed", "duration_s",
                "passed", "failures"):
        assert key in report


def test_a_rewrite_reprints_only_the_validity(tmp_path: Path):
    """SH-END-4: the rewrite erases the validity area and prints the new period there; the rest
    of the face is the card as it came in. Read from the printed bitmap, not the job ticket."""
    scenario = CASES[0].parent / "rewrite_endorsement_passed.toml"
    shots = tmp_path / "shots"
    code, report, stderr = run(scenario, tmp_path, "--screenshots", str(shots), "--keep-workdir")
    workdir = Path(report["workdir"]) if "workdir" in report else None
    try:
        assert code == 0, stderr[-3000:]
        (record,) = report["printed"]
        assert record["origin"] == "inserted"
        got = printed_bitmap(Path(record["face_png"]))
        assert workdir is not None
        ((valid_from, valid_until),) = backend_rows(workdir, "SELECT valid_from, valid_until FROM rewrites")
    finally:
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
    sc = load(scenario)
    who = sc.residents[sc.resident]
    assert who.permit is not None and who.registration is not None
    # The card as inserted (docs/scenarios.md: its face as printed with card_valid_until).
    old = resident_face(scenario, permit_number=who.permit.number, issued=who.permit.issued,
                        valid_from=add_months(who.permit.card_valid_until, -12),
                        valid_until=who.permit.card_valid_until, authority="上海市公安局",
                        residence_address=who.registration.address)
    new = dataclasses.replace(old, valid_from=date.fromisoformat(valid_from),
                              valid_until=date.fromisoformat(valid_until))
    assert cardface.ticket(new)["validity"] == "2026.12.10-2027.12.10"
    area = cardface.AREAS["validity"]
    printed_validity = got.crop(area.box)
    box = differing_box(printed_validity, as_printed(new, "validity"))
    assert box is None, f"the printed validity area differs from the new validity rendered, within {box}"
    assert differing_box(printed_validity, as_printed(old, "validity")) is not None, "the old validity is still printed"
    # The inserted card has no portrait (an empty photo box), so here even the photo area must match.
    box = differing_box(without(got, "validity"), without(as_printed(old), "validity"))
    assert box is None, f"the rewrite changed the face outside the validity area, within {box}"


def test_a_failed_expectation_exits_1(tmp_path: Path):
    text = (CASES[0].parent / "issued_happy_path.toml").read_text(encoding="utf-8")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(text.replace('reason = "OK"', 'reason = "REG_EXPIRED"'), encoding="utf-8")
    code, report, _ = run(wrong, tmp_path)
    assert code == 1
    assert any("REG_EXPIRED" in f for f in report["failures"])


def test_a_malformed_scenario_exits_2_naming_the_key(tmp_path: Path):
    text = (CASES[0].parent / "issued_happy_path.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("[expect]", "[expect]\ncards_isued = 1"), encoding="utf-8")
    code, _, stderr = run(bad, tmp_path)
    assert code == 2
    assert "expect.cards_isued" in stderr
