"""What a scenario's expectations read of how a session ended (issue 13): goodbye's words (the
ending kind and whether it asked for the ID card), the QR codes of the kept-card, fault and refusal
screens decoded from the glass as each is shown (sim/shots.decode_glass, as the registration
receipt is read), and the retention records in the journal's database.

The payloads (kiosk/retention.py, docs/protocols/resident-qr.md) hold reason codes, dates, the
terminal and a retention number: nothing personal, so they go into the report as decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pygame

from kiosk.retention import PREFIX, RetentionStore
from sim.shots import decode_glass

SHOT_SCREENS = ("kept", "fault", "refusal")
ENDINGS = ("issued", "registered", "card_rewritten", "info_shown", "refused", "fault", "cancelled",
           "timed_out", "card_kept", "nothing_done")


def on_view(player: Any, view: Any) -> None:
    """Called for every new view: the QR codes of each end screen as first shown (every page of
    it, as a resident scrolling down sees it), decoded from the glass; and goodbye's data. With a
    screenshot folder the screen is saved there too."""
    codes: dict[str, list[str]] = player.__dict__.setdefault("ending_codes", {})
    if view.screen == "goodbye" and getattr(player, "goodbye", None) is None:  # the scenario's first session
        player.goodbye = {"ending": view.data.get("ending"), "asks_id_card": bool(view.data.get("id_card_used"))}
    # Read again when a retention number arrives: a card is retracted after its fault screen shows.
    seen: dict[str, Any] = player.__dict__.setdefault("ending_seen", {})
    number = view.data.get("retention_number")
    if view.screen_id in SHOT_SCREENS and seen.get(view.screen_id, "") != number:
        for stale in [k for k in codes if k == view.screen_id or k.startswith(f"{view.screen_id}.page")]:
            del codes[stale]  # an earlier reading of this screen
        # A body that scrolls (large text): the resident scrolls down to the code; so do we.
        for n, glass in enumerate(player.display.pages(), 1):
            name = view.screen_id if n == 1 else f"{view.screen_id}.page{n}"
            codes[name] = decode_glass(glass)
            if player.screenshots is not None:
                pygame.image.save(glass, str(Path(player.screenshots) / f"ending_{name}.png"))
        seen[view.screen_id] = number


def report_part(player: Any) -> dict[str, Any]:
    goodbye = getattr(player, "goodbye", None) or {}
    journal = Path(player.kiosk.config.journal.file)
    rows = RetentionStore(journal).rows() if journal.is_file() else []
    return {"ending": goodbye.get("ending"), "goodbye_asks_id_card": goodbye.get("asks_id_card"),
            "end_qr": dict(getattr(player, "ending_codes", {})),
            "retentions": [{"number": r.number, "terminal": r.terminal, "reason": str(r.reason), "at": r.at,
                            "card_serial_known": r.card_serial is not None} for r in rows]}


def expect_fields(data: dict[str, Any], where: str = "expect.") -> dict[str, Any]:
    """[expect] keys: ending (one of ENDINGS), goodbye_asks_id_card, retention_qr, referral_qr (bools)."""
    from sim.scenario import ScenarioError

    out: dict[str, Any] = {}
    if "ending" in data:
        if data["ending"] not in ENDINGS:
            raise ScenarioError(f"{where}ending: one of {', '.join(ENDINGS)}")
        out["ending"] = data["ending"]
    for key in ("goodbye_asks_id_card", "retention_qr", "referral_qr"):
        if key in data:
            if not isinstance(data[key], bool):
                raise ScenarioError(f"{where}{key}: expected true or false")
            out[key] = data[key]
    return out


def _fields(payload: str, kind: str) -> list[str] | None:
    parts = payload.split("|")
    return parts if len(parts) == 6 and parts[0] == PREFIX and parts[1] == kind else None


def check(scenario: Any, report: dict[str, Any]) -> list[str]:
    e, out = scenario.expect, []
    if e.ending is not None and report.get("ending") != e.ending:
        out.append(f"expected goodbye to say {e.ending!r}, it said {report.get('ending')!r}")
    if e.goodbye_asks_id_card is not None and report.get("goodbye_asks_id_card") != e.goodbye_asks_id_card:
        out.append(f"expected goodbye {'to' if e.goodbye_asks_id_card else 'not to'} ask for the ID card")
    decoded: dict[str, list[str]] = report.get("end_qr") or {}
    if e.retention_qr is not None:
        kept = [f for codes in decoded.values() for c in codes if (f := _fields(c, "K")) is not None]
        rows = {r["number"]: r for r in report.get("retentions") or []}
        if e.retention_qr:
            if not kept:
                out.append(f"expected a retention QR code on an end screen; decoded {decoded!r}")
            for f in kept:
                row = rows.get(f[2])
                if row is None:
                    out.append(f"the retention QR code's number {f[2]!r} is not in the journal's retention records")
                elif (row["reason"], row["at"][:10], row["terminal"]) != (f[3], f[4], f[5]):
                    out.append(f"the retention QR code {'|'.join(f)!r} disagrees with its record {row!r}")
                if f[4] != scenario.today.isoformat():
                    out.append(f"the retention QR code's date {f[4]!r} is not the scenario's day")
        elif kept or rows:
            out.append(f"expected no retention record; decoded {kept!r}, journal {list(rows)!r}")
    if e.referral_qr is not None:
        refs = [f for codes in decoded.values() for c in codes if (f := _fields(c, "R")) is not None]
        if e.referral_qr:
            back = report.get("available_on") or "-"
            if not any(f[2] == report.get("reason") and f[3] == scenario.today.isoformat() and f[4] == back
                       for f in refs):
                out.append(f"expected a referral QR code with reason {report.get('reason')!r}, date "
                           f"{scenario.today.isoformat()} and back-on {back!r}; decoded {decoded!r}")
        elif refs:
            out.append(f"expected no referral QR code; decoded {refs!r}")
    return out
