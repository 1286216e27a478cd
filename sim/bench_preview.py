"""The photo screen with the live preview on, for `python -m sim.bench_frames`.

The whole chain runs as in the kiosk: the camera emulator draws a resident's face, the camera
adapter's worker reads it at up to 30 frames a second and offers every frame to the preview
channel, whose thread mirrors, scales and packs it; the adapter also posts a sample every
0.25 s, which is analysed by the photo checks and turned into guidance on a worker thread, as
the new-permit flow does. The main thread only renders: each timed frame is `render` + `present`
of the photo view with a new preview frame to blit. Everything shares the one core the
benchmark is pinned to, so the threads' work competes with the frames as on the kiosk.

Kinds, as for the other screens: `first` (no cached layer nor text, a preview frame waiting),
`entry` (the layer gone, the translations cached), `rebuild` (a new preview frame with the
guidance or the countdown changing), `steady` (a new preview frame, nothing else changing).
Besides: the rate of distinct preview frames shown, and the channel's time per frame.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

GUIDES = ("ok", "closer", "too_dark", "move_left", "hold_still", None)


def _wait_frame(display: Any, limit: float = 1.0) -> bool:
    """Until the display has a preview frame newer than the one it shows (the main loop's test)."""
    deadline = time.monotonic() + limit
    while not display.needs_frame():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def _wait_ready(channel: Any, limit: float = 2.0) -> bool:
    deadline = time.monotonic() + limit
    while channel.latest() is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def measure(display: Any, view: Any, counts: dict[str, int], timed: Any, boot: Any,
            shot: Path | None = None) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """`boot(display)`: the display's text as after boot (sim/bench_frames.Boot). `shot`: also save
    a half-size screenshot of the screen with the live picture there (docs)."""
    from devices.camera import Camera
    from devices.camera_preview import PreviewChannel
    from devices.events import PreviewSampled
    from kiosk import photo, photo_guidance
    from kiosk.face_haar import HaarFaceDetector
    from sim.camera_emu import SceneFrameSource

    source = SceneFrameSource()
    source.show("face", "zhang")
    channel = PreviewChannel()
    pool = ThreadPoolExecutor(max_workers=1)
    busy = threading.Event()
    analysed: list[str] = []
    detector = HaarFaceDetector()  # the kiosk's own ([devices.camera] detector = "haar")

    def analyse(e: PreviewSampled) -> None:
        try:
            check = photo.check_photo(e.width, e.height, e.rgb, detector=detector)
            analysed.append(photo_guidance.guidance(check, e.width, e.height).key)
        finally:
            busy.clear()

    def sink(event: object) -> None:
        if isinstance(event, PreviewSampled) and not busy.is_set():
            busy.set()
            pool.submit(analyse, event)

    camera = Camera(source, sink, preview=channel)
    display.attach_preview(channel)
    out: dict[str, list[float]] = {"first": [], "entry": [], "rebuild": [], "steady": []}
    # The main thread's own CPU time per frame: what a frame costs it, without the time the other
    # threads (and other processes) had the one core.
    cpu: dict[str, list[float]] = {k: [] for k in out}

    def timed_cpu(kind: str, v: Any) -> None:
        c0 = time.thread_time()
        out[kind].append(timed(display, v))
        cpu[kind].append((time.thread_time() - c0) * 1000)
    shown = 0
    try:
        camera.start()
        camera.set_preview(True)
        display.render(view)  # the display asks the channel for its size
        _wait_ready(channel)
        forget = display.text.forget_session
        for kind in ("first", "entry"):
            for _ in range(counts["first"]):
                if kind == "first":
                    boot(display)
                else:
                    display._layers.clear()
                    forget()
                _wait_frame(display)
                timed_cpu(kind, view)
        for i in range(counts["rebuilds"]):
            data = dict(view.data, guidance=GUIDES[i % len(GUIDES)], countdown=(3 - i % 4) or None)
            _wait_frame(display)
            timed_cpu("rebuild", replace(view, data=data))
        a, b = replace(view, clock_text="2026-11-22 09:00"), replace(view, clock_text="2026-11-22 09:01")
        started = time.monotonic()
        for i in range(counts["steady"]):
            if _wait_frame(display):
                shown += 1
            timed_cpu("steady", a if i % 60 < 30 else b)
        elapsed = time.monotonic() - started
        if shot is not None:
            # The advice the checks gave on the live frames, drawn over the newest of them.
            guide = analysed[-1] if analysed else None
            _wait_frame(display)
            display.render(replace(view, data=dict(view.data, guidance=guide)))
            save_half(display, shot)
    finally:
        camera.set_preview(False)
        camera.stop()
        pool.shutdown(wait=True)
        display.attach_preview(None)
    extra = {"preview_fps": round(shown / elapsed, 1) if elapsed > 0 else 0.0,
             "preview_frames_shown": shown, "channel_frames": channel.converted,
             "channel_ms_per_frame": round(channel.convert_ms / channel.converted, 2) if channel.converted else None,
             "guidance_analyses": len(analysed),
             "guidance_seen": sorted(set(analysed)),
             "first_frame_ms_each": [round(v, 2) for v in out["first"]],
             "main_cpu_ms": {k: {"p50": median(v), "max": round(max(v), 2) if v else 0.0} for k, v in cpu.items()}}
    return out, extra


def save_half(display: Any, path: Path) -> None:
    import pygame

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = display.screen.get_size()
    pygame.image.save(pygame.transform.smoothscale(display.screen, (w // 2, h // 2)), str(path))


def median(values: list[float]) -> float:
    return round(statistics.median(values), 2) if values else 0.0
