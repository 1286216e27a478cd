"""The photo checks on real photographs: a confusion table per check (`python -m sim.photo_confusion`).

Every case is a camera frame built from a real photograph (scikit-image's public-domain
`astronaut()`, through sim.faces' residents, and its CC0 non-portraits), with the outcome it
should have: accepted (None) or refused with one PhotoProblem. The frames are made from fixed
seeds, so the table is the same on every run; tests/unit/test_photo_real.py asserts the
outcome of each case of `cases(seeds=1)`. `--drawn` adds the synthetic drawn faces of
sim.drawn_faces (which a Haar cascade is not trained for: reported, not tuned on).

Prints the table and the detector's time per frame (CPU time, so that a busy machine does
not inflate it; wall time beside it).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from PIL import Image, ImageFilter

from kiosk.face_haar import HaarFaceDetector
from kiosk.photo import PhotoProblem, check_photo
from sim import faces

P = PhotoProblem
W, H = 640, 480

# scene kind → what the checks must say about it
KIND_EXPECTED: dict[str, PhotoProblem | None] = {
    "face": None,
    "nobody": P.NO_FACE,
    "two_people": P.TWO_FACES,
    "too_dark": P.TOO_DARK,
    "too_bright": P.TOO_BRIGHT,
    "blurred": P.BLURRED,
    "off_centre": P.OFF_CENTRE,
    "too_far": P.TOO_SMALL,
    "too_close": P.TOO_LARGE,
    "backlit": P.BACKLIT,
    "busy_background": P.BACKGROUND,
    "tilted": P.TILTED,
    "eyes_hidden": P.EYES_HIDDEN,
}


@dataclass(frozen=True)
class Case:
    name: str
    expected: PhotoProblem | None
    make: Callable[[], Image.Image]


def _key(index: int) -> str:
    """A face key of sim.faces.PEOPLE[index]."""
    return next(k for k in (f"resident-{i}" for i in range(10_000)) if faces.person_of(k) == index)


def _gain(img: Image.Image, k: float) -> Image.Image:
    return img.point([min(255, round(v * k)) for v in range(256)] * 3)


def _photo_frame(box: tuple[int, int, int, int]) -> Image.Image:
    """A 4:3 region of the astronaut's own photograph (flag and shuttle behind her), as a frame."""
    return faces._photograph().crop(box).resize((W, H), Image.Resampling.LANCZOS)


def _still(name: str) -> Image.Image:
    img = faces.picture(name).convert("RGB")
    return img.resize((W, round(W * img.height / img.width))).crop((0, 0, W, H))


def cases(seeds: int = 2, drawn: bool = False) -> Iterator[Case]:
    people = [_key(i) for i in range(len(faces.PEOPLE))]
    for kind, expected in KIND_EXPECTED.items():
        for i, key in enumerate(people):
            for seed in range(seeds):
                yield Case(f"{kind}/{i}/{seed}", expected,
                           lambda kind=kind, key=key, s=seed: faces.scene(kind, key, W, H, seed=s))
    # Thresholds from the other side: a little darker, softer or off-centre is still a good photo.
    for i, key in enumerate(people):
        yield Case(f"dimmer/{i}", None, lambda key=key: _gain(faces.scene("face", key, seed=7), 0.75))
        yield Case(f"soft/{i}", None,
                   lambda key=key: faces.scene("face", key, seed=8).filter(ImageFilter.GaussianBlur(1.0)))
        yield Case(f"shifted/{i}", None, lambda key=key: faces.scene("face", key, seed=9, offset=0.06))
        yield Case(f"shifted_far/{i}", P.OFF_CENTRE, lambda key=key: faces.scene("face", key, seed=9, offset=0.25))
    # The photograph itself, uncut: her studio backdrop with the flag and the shuttle model.
    yield Case("photo/whole", P.BACKGROUND, lambda: _photo_frame((0, 0, 512, 384)))
    yield Case("photo/head", P.BACKGROUND, lambda: _photo_frame((46, 0, 406, 270)))
    yield Case("photo/tight", P.TOO_LARGE, lambda: _photo_frame((120, 10, 333, 170)))
    # Real photographs without a face to take (CC0): a cat, a cup of coffee, a man behind a camera.
    for name in ("chelsea", "coffee", "camera"):
        yield Case(f"still/{name}", P.NO_FACE, lambda name=name: _still(name))
    if drawn:
        from sim import drawn_faces

        for i in range(16):
            yield Case(f"drawn/face/{i}", None, lambda i=i: drawn_faces.scene("face", f"person-{i}", seed=i))


@dataclass(frozen=True)
class Result:
    case: Case
    got: PhotoProblem | None
    cpu: float
    wall: float


def run(all_cases: Iterator[Case], detector: HaarFaceDetector | None = None) -> list[Result]:
    detector = detector or HaarFaceDetector()
    out = []
    for case in all_cases:
        img = case.make()
        rgb = img.tobytes()
        c0, w0 = time.process_time(), time.perf_counter()
        check = check_photo(img.width, img.height, rgb, detector=detector)
        out.append(Result(case, check.problem, time.process_time() - c0, time.perf_counter() - w0))
    return out


def _name(p: PhotoProblem | None) -> str:
    return "accepted" if p is None else p.value


def table(results: list[Result]) -> str:
    """Per expected outcome: how many, how many got it, and what the others got instead."""
    rows = ["| should be | images | right | wrong: what they got instead |", "| --- | ---: | ---: | --- |"]
    groups: dict[str, list[Result]] = {}
    for r in results:
        groups.setdefault(_name(r.case.expected), []).append(r)
    for name, group in groups.items():
        right = sum(r.got == r.case.expected for r in group)
        wrong = Counter(_name(r.got) for r in group if r.got != r.case.expected)
        rows.append(f"| {name} | {len(group)} | {right} | {', '.join(f'{k} {n}' for k, n in wrong.most_common())} |")
    rows += ["", "| check | refused by it | of which should be | false refusals (should be another) |",
             "| --- | ---: | ---: | ---: |"]
    for p in PhotoProblem:
        by = [r for r in results if r.got == p]
        if not by and all(r.case.expected != p for r in results):
            continue
        ok = sum(r.case.expected == p for r in by)
        rows.append(f"| {p.value} | {len(by)} | {ok} | {len(by) - ok} |")
    total = sum(r.got == r.case.expected for r in results)
    rows.append("")
    rows.append(f"{total} of {len(results)} images get the outcome they should.")
    return "\n".join(rows)


def timing(results: list[Result]) -> str:
    cpu = sorted(r.cpu * 1000 for r in results)
    wall = sorted(r.wall * 1000 for r in results)
    p95 = cpu[min(len(cpu) - 1, round(0.95 * len(cpu)))]
    return (f"check_photo with the Haar detector, {len(cpu)} frames of {W}×{H}: CPU ms per frame median "
            f"{statistics.median(cpu):.1f}, p95 {p95:.1f}, max {cpu[-1]:.1f}; "
            f"wall median {statistics.median(wall):.1f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=2, help="camera frames per scene kind and person")
    ap.add_argument("--drawn", action="store_true", help="also the synthetic drawn faces")
    ap.add_argument("--wrong", action="store_true", help="list every case with the wrong outcome")
    args = ap.parse_args(argv)
    import cv2

    cv2.setNumThreads(1)  # one core, as the kiosk's analysis worker gets on a busy machine
    results = run(cases(args.seeds, args.drawn))
    print(table(results))
    print()
    print(timing(results))
    if args.wrong:
        for r in results:
            if r.got != r.case.expected:
                print(f"  {r.case.name}: should be {_name(r.case.expected)}, got {_name(r.got)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
