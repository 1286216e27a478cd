"""The developer panel of windowed `--sim`: the simulated world's hands beside the kiosk.

`python run_kiosk.py --sim [--scenario FILE] [--scale S]` opens one window: the kiosk's
1080×1920 frame, scaled to fit the screen, and to its right this panel. The panel is the
person in front of the kiosk and the trouble that befalls its devices: pick a resident of
the scenario file, place and lift their ID card, show their face or a scene to the camera,
insert their permit card or a technician card, show a proof's QR code or type a raw payload,
take the card from the slot, and inject every fault the emulators know (the hub's `fault`
commands, the camera's, the backend's /sim/faults), or clear them.

The kiosk draws into its own 1080×1920 surface exactly as headless, so its buttons keep
their coordinates; only this window scales the picture and maps touches back. The panel is
simulator-only (production refuses --sim) and talks to the emulators as a scenario does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pygame
import pygame.freetype

from kiosk.config import KioskConfig, SimConfig
from kiosk.fonts import FontFile
from screens.text import Texts
from sim.id_reader_emu import FAULT_KINDS as ID_READER_FAULTS
from sim.printer_emu import FAULT_KINDS as PRINTER_FAULTS
from sim.qr_scanner_emu import FAULT_KINDS as QR_FAULTS
from sim.scenario import FACE_SCENES, Scenario, TechnicianSpec

KIOSK_SIZE = (1080, 1920)
PANEL_W = 620  # two columns: the person's hands, the devices' faults
COLUMN_W = PANEL_W // 2
MARGIN = 10
ROW_H = 28
GAP = 4
COLUMNS = 3
TITLE_H = 22
# Room the desktop keeps for itself (a task bar, the window's title bar) when the scale is chosen.
DESKTOP_MARGIN = 80
SCALE_STEP = 0.05
MIN_SCALE = 0.2

# Faults a person can inject, by device (the emulators' own vocabularies). "take" is not among the
# printer's: here a person takes the card with the take-card button.
HUB_FAULTS: dict[str, tuple[str, ...]] = {
    "id_reader": (*ID_READER_FAULTS, "sw3:41"),
    "printer": tuple(k for k in PRINTER_FAULTS if k != "take"),
    "permit_card": ("pull", "absent", "fail:6581"),
    "qr_scanner": QR_FAULTS,
}
PRINTER_CLEARABLE = ("jam", "cover_open", "silent", "garbage", "vanish")
BACKEND_FAULTS = ("error_500", "slow", "drop", "malformed", "policy_drift")
BACKEND_SLOW_S = 5.0
# A technician for scenario files that define none: the hub writes the PIN's verification
# value onto the simulated card, so this PIN is the one the kiosk accepts.
DEV_TECHNICIAN = TechnicianSpec(key="dev", card_id="T9000", pin="246810", status="active", valid_until=None, role="")

BG = (34, 38, 46)
BUTTON = (64, 72, 88)
BUTTON_HOT = (96, 128, 180)
TEXT = (235, 238, 242)
HEADING = (150, 190, 255)
OK = (140, 220, 140)
BAD = (255, 150, 140)


def default_scale(desktop: tuple[int, int], kiosk: tuple[int, int] = KIOSK_SIZE, panel_w: int = PANEL_W) -> float:
    """The largest scale, in steps of 0.05 and never above 1, at which kiosk and panel fit the desktop."""
    width, height = desktop
    fit = min(1.0, (height - DESKTOP_MARGIN) / kiosk[1], (width - panel_w) / kiosk[0])
    return max(MIN_SCALE, math.floor(fit / SCALE_STEP + 1e-9) * SCALE_STEP)


def proof_numbers(scenario: Scenario) -> list[str]:
    """The proof documents the scenario's steps show: the ones its backend knows."""
    return sorted({s.number for s in scenario.steps if s.do == "show_proof" and s.number})


@dataclass
class Control:
    id: str
    label: str
    rect: pygame.Rect
    run: Callable[[], dict[str, Any]] | None = None  # None: a heading


@dataclass
class World:
    """What the panel acts on: the rig's emulators."""

    scenario: Scenario
    hub: Any  # sim.hub.HubClient
    camera: Any  # sim.camera_emu.SceneFrameSource
    qr_camera: Any
    qr_driver: str  # serial | camera | absent
    backend_url: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0))


class DevPanel:
    """The controls, their layout in panel coordinates, and what each does."""

    def __init__(self, world: World, texts: Texts, font: pygame.freetype.Font, height: int) -> None:
        self.world = world
        self.texts = texts
        self.font = font
        self.height = height
        self.residents = sorted(world.scenario.residents)
        default = world.scenario.resident
        self.resident_i = self.residents.index(default) if default in self.residents else 0
        techs = list(world.scenario.technicians.values())
        self.technician = techs[0] if techs else DEV_TECHNICIAN
        self.typed = ""
        self.typing = False
        self.message = ""
        self.message_ok = True
        self.hot: str | None = None
        self.last: tuple[str, dict[str, Any]] | None = None  # the last control run and its reply
        self.message_y = 0
        self.controls: list[Control] = []
        self.layout()

    @property
    def resident(self) -> str:
        return self.residents[self.resident_i] if self.residents else ""

    # --- the controls -------------------------------------------------------------------------

    def layout(self) -> None:
        t = self.texts.get
        self.controls = []
        y = MARGIN
        x0 = 0

        def heading(key: str, text: str) -> None:
            nonlocal y
            self.controls.append(Control(key, text, pygame.Rect(x0 + MARGIN, y, COLUMN_W - 2 * MARGIN, TITLE_H)))
            y += TITLE_H

        def row(items: list[tuple[str, str, Callable[[], dict[str, Any]]]], per_row: int = COLUMNS) -> None:
            nonlocal y
            width = (COLUMN_W - 2 * MARGIN - (per_row - 1) * GAP) // per_row
            for i, (cid, label, run) in enumerate(items):
                col = i % per_row
                if col == 0 and i:
                    y += ROW_H + GAP
                rect = pygame.Rect(x0 + MARGIN + col * (width + GAP), y, width, ROW_H)
                self.controls.append(Control(cid, label, rect, run))
            y += ROW_H + GAP + 4

        heading("h.title", t("devpanel.title"))
        name = self._resident_name()
        heading("h.resident", f"{t('devpanel.resident')}: {name}")
        row([("resident.prev", "<", self._prev), ("resident.next", ">", self._next)], 2)
        heading("h.id", t("devpanel.id_card"))
        row([("id.place", t("devpanel.place_id"), self._place), ("id.lift", t("devpanel.lift_id"), self._lift)], 2)
        heading("h.camera", t("devpanel.camera"))
        row([("face.own", t("devpanel.face"), self._face),
             *((f"face.{s}", s, self._scene(s)) for s in FACE_SCENES)])
        heading("h.slot", t("devpanel.card_slot"))
        tech = self.technician
        row([("card.permit", t("devpanel.insert_permit"), self._insert_permit),
             ("card.technician", t("devpanel.insert_technician"), self._insert_technician)], 2)
        row([("card.take", t("devpanel.take_card"), self._take)], 1)
        heading("h.technician", t("devpanel.technician", card_id=tech.card_id, pin=tech.pin))
        heading("h.qr", t("devpanel.qr"))
        proofs = [(f"qr.proof.{n}", t("devpanel.show_proof", number=n), self._proof(n))
                  for n in proof_numbers(self.world.scenario)]
        if proofs:
            row(proofs, 1)
        row([("qr.type", self.typed or t("devpanel.type_payload"), self._focus),
             ("qr.scan", t("devpanel.scan_payload"), self._scan_typed)], 2)
        self.message_y = y
        x0, y = COLUMN_W, MARGIN
        heading("h.faults", t("devpanel.faults"))
        for device, kinds in HUB_FAULTS.items():
            if device == "qr_scanner" and self.world.qr_driver != "serial":
                kinds = ("vanish", "replug") if self.world.qr_driver == "camera" else ()
            if not kinds:
                continue
            heading(f"h.{device}", device)
            row([(f"fault.{device}.{k}", k, self._fault(device, k)) for k in kinds])
        heading("h.printer_clear", f"printer: {t('devpanel.clear')}")
        row([*((f"clear.printer.{k}", k, self._clear_printer(k)) for k in PRINTER_CLEARABLE),
             ("supplies.refill", t("devpanel.refill"), self._supplies("refill")),
             ("supplies.empty_bin", t("devpanel.empty_bin"), self._supplies("empty_bin"))])
        heading("h.camera_faults", "camera")
        row([("fault.camera.dead", "dead", self._camera(True)),
             ("clear.camera", t("devpanel.clear"), self._camera(False))], 2)
        heading("h.backend", "backend")
        row([*((f"fault.backend.{k}", k, self._backend(k)) for k in BACKEND_FAULTS),
             ("clear.backend", t("devpanel.clear"), self._backend_clear)])

    def control(self, cid: str) -> Control | None:
        return next((c for c in self.controls if c.id == cid), None)

    def _resident_name(self) -> str:
        r = self.world.scenario.residents.get(self.resident)
        return f"{r.name} ({self.resident})" if r is not None else "-"

    # --- what the controls do -----------------------------------------------------------------

    def _prev(self) -> dict[str, Any]:
        if self.residents:
            self.resident_i = (self.resident_i - 1) % len(self.residents)
        return {"ok": True}

    def _next(self) -> dict[str, Any]:
        if self.residents:
            self.resident_i = (self.resident_i + 1) % len(self.residents)
        return {"ok": True}

    def _place(self) -> dict[str, Any]:
        return dict(self.world.hub.call("present_id", resident=self.resident))

    def _lift(self) -> dict[str, Any]:
        return dict(self.world.hub.call("lift_id"))

    def _face(self) -> dict[str, Any]:
        r = self.world.scenario.residents.get(self.resident)
        self.world.camera.show("face", r.face if r is not None else self.resident)
        return {"ok": True}

    def _scene(self, scene: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            self.world.camera.show(scene, self.resident)  # the resident in that scene (issue 12)
            return {"ok": True}
        return run

    def _insert_permit(self) -> dict[str, Any]:
        return dict(self.world.hub.call("insert_permit", resident=self.resident))

    def _insert_technician(self) -> dict[str, Any]:
        t = self.technician
        return dict(self.world.hub.call("insert_technician", card_id=t.card_id, pin=t.pin, status=t.status, role=t.role,
                                        valid_until=t.valid_until.isoformat() if t.valid_until else None))

    def _take(self) -> dict[str, Any]:
        return dict(self.world.hub.call("take_card"))

    def _scan(self, data: bytes) -> dict[str, Any]:
        if self.world.qr_driver == "absent":
            return {"ok": False, "error": "no QR scanner"}
        if self.world.qr_driver == "camera":
            self.world.qr_camera.show_qr(data, frames=3)
            return {"ok": True}
        return dict(self.world.hub.call("scan_payload", hex=data.hex()))

    def _proof(self, number: str) -> Callable[[], dict[str, Any]]:
        from sim.proofs import proof_payload

        return lambda: self._scan(proof_payload(number).encode())

    def _focus(self) -> dict[str, Any]:
        self.typing = True
        return {"ok": True}

    def _scan_typed(self) -> dict[str, Any]:
        self.typing = False
        return self._scan(self.typed.encode("utf-8"))

    def _fault(self, device: str, kind: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            if device == "qr_scanner" and self.world.qr_driver == "camera":
                self.world.qr_camera.unplug(kind == "vanish")
                return {"ok": True}
            return dict(self.world.hub.call("fault", device=device, kind=kind, at=None, count=1))
        return run

    def _clear_printer(self, kind: str) -> Callable[[], dict[str, Any]]:
        return lambda: dict(self.world.hub.call("clear_fault", device="printer", kind=kind))

    def _supplies(self, op: str) -> Callable[[], dict[str, Any]]:
        return lambda: dict(self.world.hub.call(op))

    def _camera(self, dead: bool) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            self.world.camera.fail(dead)
            return {"ok": True}
        return run

    def _backend(self, kind: str) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            spec: dict[str, Any] = {"op": "*", "kind": kind, "count": 1}
            if kind == "slow":
                spec["delay_s"] = BACKEND_SLOW_S
            return self._post_faults([spec])
        return run

    def _post_faults(self, faults: list[dict[str, Any]]) -> dict[str, Any]:
        try:
            reply = self.world.http.post(f"{self.world.backend_url}/sim/faults", json=faults)
        except httpx.HTTPError as exc:
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": reply.is_success, **({} if reply.is_success else {"error": f"HTTP {reply.status_code}"})}

    def _backend_clear(self) -> dict[str, Any]:
        try:
            reply = self.world.http.delete(f"{self.world.backend_url}/sim/faults")
        except httpx.HTTPError as exc:
            return {"ok": False, "error": type(exc).__name__}
        return {"ok": reply.is_success}

    # --- input and drawing --------------------------------------------------------------------

    def press(self, pos: tuple[int, int]) -> None:
        self.hot = next((c.id for c in self.controls if c.run is not None and c.rect.collidepoint(pos)), None)

    def release(self, pos: tuple[int, int]) -> str | None:
        """Runs the control pressed and released under the pointer; returns its id."""
        hot, self.hot = self.hot, None
        found = next((c for c in self.controls if c.id == hot and c.rect.collidepoint(pos)), None)
        if found is None or found.run is None:
            return None
        if found.id != "qr.type":
            self.typing = False
        try:
            reply = found.run()
        except (OSError, ValueError) as exc:  # the hub gone, a closed socket: say so, keep the window
            reply = {"ok": False, "error": type(exc).__name__}
        what = found.id
        if reply.get("ok"):
            self.message, self.message_ok = self.texts.get("devpanel.ok", what=what), True
        else:
            self.message = self.texts.get("devpanel.failed", what=what, error=reply.get("error", reply.get("did", "")))
            self.message_ok = False
        self.last = (what, reply)
        self.layout()  # the resident's name, the typed payload
        return what

    def key(self, event: pygame.event.Event) -> bool:
        if not self.typing:
            return False
        if event.type == pygame.TEXTINPUT:
            self.typed += event.text
        elif event.type == pygame.KEYDOWN and event.key == pygame.K_BACKSPACE:
            self.typed = self.typed[:-1]
        elif event.type == pygame.KEYDOWN and event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            self.message_ok = bool(self._scan_typed().get("ok"))
        else:
            return False
        self.layout()
        return True

    def draw(self, surf: pygame.Surface) -> None:
        surf.fill(BG)
        for c in self.controls:
            if c.run is None:
                self._text(surf, c.label, (c.rect.x, c.rect.y + 3), HEADING, 14)
                continue
            color = BUTTON_HOT if c.id == self.hot or (c.id == "qr.type" and self.typing) else BUTTON
            pygame.draw.rect(surf, color, c.rect, border_radius=5)
            self._text(surf, c.label, (c.rect.x + 6, c.rect.y + 7), TEXT, 13, c.rect.width - 12)
        if self.message:
            self._text(surf, self.message, (MARGIN, self.message_y), OK if self.message_ok else BAD, 13,
                       COLUMN_W - 2 * MARGIN)

    def _text(self, surf: pygame.Surface, text: str, at: tuple[int, int], color: tuple[int, int, int],
              size: int, room: int | None = None) -> None:
        while room is not None and len(text) > 1 and self.font.get_rect(text, size=size).width > room:
            text = text[:-2] + "…"
        self.font.render_to(surf, at, text, color, size=size)


class PanelWindow:
    """The window of windowed --sim: the kiosk's frame scaled on the left, the panel on the right.

    Stands where the kiosk's Display stands for the main loop (poll, render, present)."""

    def __init__(self, config: KioskConfig, world: World, font: FontFile, scale: float | None = None) -> None:
        from screens.display import Display

        pygame.display.init()  # (freetype: by the Display, with the glyph cache its text needs)
        if scale is None:
            sizes = pygame.display.get_desktop_sizes()
            scale = default_scale(sizes[0]) if sizes else 1.0
        self.scale = scale
        kw, kh = KIOSK_SIZE
        self.kiosk_size = (round(kw * scale), round(kh * scale))
        texts = Texts(config.display.lang)
        self.window = pygame.display.set_mode((self.kiosk_size[0] + PANEL_W, max(self.kiosk_size[1], 720)))
        pygame.display.set_caption(f"{texts.get('app.title')} · {texts.get('devpanel.title')}")
        canvas = pygame.Surface(KIOSK_SIZE, 0, self.window)
        self.kiosk = Display(KIOSK_SIZE, font=font, lang=config.display.lang, show_cursor=True, surface=canvas,
                             present=self._compose)
        panel_font = pygame.freetype.Font(font.path, size=13, font_index=font.index)
        self.panel = DevPanel(world, texts, panel_font, self.window.get_height())
        self.panel_surface = self.window.subsurface(pygame.Rect(self.kiosk_size[0], 0, PANEL_W,
                                                                self.window.get_height()))
        self.kiosk_area = self.window.subsurface(pygame.Rect((0, 0), self.kiosk_size))
        self.world = world

    # --- what the main loop calls --------------------------------------------------------------

    def render(self, view: Any) -> None:
        self.kiosk.render(view)

    def present(self) -> None:
        self._compose()

    def forget_session(self) -> None:
        self.kiosk.forget_session()  # SH-PRIV-1: the kiosk picture's caches go with the session

    def needs_frame(self) -> bool:
        return self.kiosk.needs_frame()  # the photo screen's live preview

    def attach_preview(self, source: Any) -> None:
        self.kiosk.attach_preview(source)

    def poll(self) -> list[Any]:
        kiosk_events: list[pygame.event.Event] = []
        changed = False
        for event in pygame.event.get():
            if event.type in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP, pygame.MOUSEMOTION):
                x, y = event.pos
                if x < self.kiosk_size[0]:
                    kiosk_events.append(pygame.event.Event(event.type, pos=self.to_kiosk(event.pos),
                                                           button=getattr(event, "button", 1)))
                elif event.type == pygame.MOUSEBUTTONDOWN and getattr(event, "button", 1) == 1:
                    self.panel.press((x - self.kiosk_size[0], y))
                    changed = True
                elif event.type == pygame.MOUSEBUTTONUP and getattr(event, "button", 1) == 1:
                    self.panel.release((x - self.kiosk_size[0], y))
                    changed = True
            elif event.type in (pygame.TEXTINPUT, pygame.KEYDOWN):
                changed = self.panel.key(event) or changed
            else:
                kiosk_events.append(event)
        intents = self.kiosk.handle_events(kiosk_events)
        if changed:
            self._compose()
        return intents

    # --- coordinates ---------------------------------------------------------------------------

    def to_kiosk(self, pos: tuple[int, int]) -> tuple[int, int]:
        kw, kh = KIOSK_SIZE
        return (min(kw - 1, int(pos[0] / self.scale)), min(kh - 1, int(pos[1] / self.scale)))

    def kiosk_button_center(self, button_id: str) -> tuple[int, int] | None:
        """Where in the window the kiosk's button is shown (the scaled centre of its drawn rect)."""
        rect = self.kiosk.button_rect(button_id)
        if rect is None:
            return None
        return (int(rect.centerx * self.scale), int(rect.centery * self.scale))

    def control_center(self, control_id: str) -> tuple[int, int] | None:
        c = self.panel.control(control_id)
        if c is None or c.run is None:
            return None
        return (self.kiosk_size[0] + c.rect.centerx, c.rect.centery)

    # --- drawing -------------------------------------------------------------------------------

    def _compose(self) -> None:
        if self.scale == 1.0:
            self.kiosk_area.blit(self.kiosk.screen, (0, 0))
        else:
            pygame.transform.smoothscale(self.kiosk.screen, self.kiosk_size, self.kiosk_area)
        self.panel.draw(self.panel_surface)
        pygame.display.flip()

    def button_rect(self, button_id: str) -> Any:
        return self.kiosk.button_rect(button_id)

    def reveal(self, button_id: str) -> None:
        self.kiosk.reveal(button_id)

    def screenshot(self, path: str) -> None:
        """The whole window: the scaled kiosk and the panel."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.window, path)

    def pages(self) -> Iterator[pygame.Surface]:
        """The whole window: a scrolled page is not taken apart."""
        yield self.window

    def close(self) -> None:
        self.world.http.close()
        self.kiosk.close()


class PanelSession:
    """Windowed --sim: the emulators and the backend for a scenario file's residents, the kiosk,
    and the panel window. Real time, the scenario's date."""

    def __init__(self, scenario: Scenario, *, config: KioskConfig, sim: SimConfig, build: Any,
                 font: FontFile, scale: float | None = None) -> None:
        from dataclasses import replace

        from sim.runner import SimRig

        real_time = replace(sim, run=replace(sim.run, virtual_clock=False))
        self.window: PanelWindow | None = None
        self.font = font
        self.scale = scale
        self.rig = SimRig(scenario, config=config, sim=real_time, build=build, make_display=self._make_window)

    def _make_window(self, cfg: KioskConfig) -> PanelWindow:
        rig = self.rig
        world = World(rig.scenario, rig.client, rig.camera, rig.qr_camera, rig.qr_driver, cfg.backend.url)
        self.window = PanelWindow(cfg, world, self.font, self.scale)
        return self.window

    def start(self) -> None:
        self.rig.start()
        assert self.rig.kiosk is not None
        self.rig.kiosk.start()
        self.rig.started = True

    def run(self, hook: Callable[[Any], float | None] | None = None) -> None:
        """Until the window is closed (or `hook` returns None)."""
        from kiosk.mainloop import run

        assert self.rig.kiosk is not None and self.window is not None
        run(self.rig.kiosk, self.window, fps=self.rig.cfg.display.fps, hook=hook)

    def close(self) -> None:
        self.rig.close()
