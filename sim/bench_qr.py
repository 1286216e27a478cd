"""Benchmark of the QR camera driver's two decoder backends on the same hard frames: measured and
printed, never asserted.

  python -m sim.bench_qr [--frames 40] [--repeat 3] [--seed 2026] [--json OUT]

The camera emulator's renderer (sim/qr_frames.py) draws a proof's QR code (sim/proofs.py) into
640x480 frames from `hard_views`: every frame noisy and low-contrast, most also rotated (up to
40 degrees) or blurred, every tenth pushed partly out of the picture. Both backends
(devices/qr_decode.py) decode exactly the same RGB frames, each frame `--repeat` times; a frame
counts as decoded when the backend returns exactly the payload's bytes. Time per frame is the
decode call alone (the frame's RGB to gray conversion included, which both backends share), median
and worst over the frames.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from devices.qr_decode import DECODERS, DecoderUnavailable, make_decoder
from sim.proofs import proof_payload
from sim.qr_frames import hard_views, render

WIDTH, HEIGHT = 640, 480


def bench(frames: int, repeat: int, seed: int) -> dict[str, Any]:
    payload = proof_payload("2026310105000123")
    want = payload.encode()
    views = hard_views(frames, seed)
    rgb = [render(payload, WIDTH, HEIGHT, view, seed=i).tobytes() for i, view in enumerate(views)]
    out: dict[str, Any] = {"frames": frames, "repeat": repeat, "seed": seed, "size": f"{WIDTH}x{HEIGHT}",
                           "backends": {}}
    for name in DECODERS:
        try:
            decoder = make_decoder(name)
        except DecoderUnavailable as exc:
            out["backends"][name] = {"error": str(exc)}
            continue
        decoded = 0
        per_frame_ms: list[float] = []
        missed: list[int] = []
        for i, frame in enumerate(rgb):
            times = []
            ok = False
            for _ in range(repeat):
                t0 = time.perf_counter()
                got = decoder.decode(WIDTH, HEIGHT, frame)
                times.append((time.perf_counter() - t0) * 1000)
                ok = got == [want]
            per_frame_ms.append(statistics.median(times))
            if ok:
                decoded += 1
            else:
                missed.append(i)
        out["backends"][name] = {
            "decoded": decoded,
            "median_ms": round(statistics.median(per_frame_ms), 2),
            "mean_ms": round(statistics.fmean(per_frame_ms), 2),
            "max_ms": round(max(per_frame_ms), 2),
            "missed_frames": missed,
        }
    return out


def _missed(missed: list[int], frames: int) -> str:
    if not missed:
        return "-"
    return "all" if len(missed) == frames else ", ".join(map(str, missed))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    result = bench(args.frames, args.repeat, args.seed)
    print(f"QR decoders on {result['frames']} hard {result['size']} frames (noisy, low contrast, rotated, "
          f"blurred, partly out of view), seed {result['seed']}, median of {result['repeat']} per frame")
    print(f"{'backend':<8} {'decoded':>9} {'median ms':>10} {'mean ms':>8} {'max ms':>7}  missed frames")
    for name, r in result["backends"].items():
        if "error" in r:
            print(f"{name:<8} unavailable: {r['error']}")
            continue
        print(f"{name:<8} {r['decoded']:>4} of {result['frames']:<2} {r['median_ms']:>10.2f} {r['mean_ms']:>8.2f} "
              f"{r['max_ms']:>7.2f}  {_missed(r['missed_frames'], result['frames'])}")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
