"""Render the voice prompts (语音播报) ahead of time: every resident screen's instruction and every
refusal, in Mandarin and English, into <cache>/<lang>/<prompt>.wav (screens/voice.py plays them).

  .venv/bin/python render_voice.py [--cache out/voice] [--force]

Offline: eSpeak NG 1.52 from the espeakng-loader wheel (devices/speech.py). Only translations
are spoken, never a resident's data. A prompt whose words did not change is not rendered again
(its text's hash is kept in <cache>/manifest.json). Exit 1 when a prompt renders silent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DEFAULT_CACHE = ROOT / "out" / "voice"
RMS_FLOOR = 300.0  # 16-bit samples: speech is thousands; silence or a click is well under this


def render(cache: Path, force: bool = False) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    from devices.speech import Espeak, rms, write_wav
    from screens.text import LANGUAGES
    from screens.voice import prompts

    engine = Espeak()
    manifest_path = cache / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() and not force else {}
    manifest: dict[str, str] = {}
    rendered, silent, total = 0, [], 0
    t0 = time.perf_counter()
    for lang in LANGUAGES:
        for prompt, text in sorted(prompts(lang).items()):
            path = cache / lang / f"{prompt}.wav"
            digest = hashlib.sha256(f"{engine.version}|{lang}|{text}".encode()).hexdigest()[:16]
            manifest[f"{lang}/{prompt}"] = digest
            if old.get(f"{lang}/{prompt}") != digest or not path.is_file():
                samples = engine.synth(text, lang)
                if rms(samples) < RMS_FLOOR:
                    silent.append(f"{lang}/{prompt}")
                write_wav(path, samples, engine.rate)
                rendered += 1
            total += path.stat().st_size
    cache.mkdir(parents=True, exist_ok=True)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return {"espeak": engine.version, "prompts": len(manifest), "rendered": rendered, "silent": silent,
            "bytes": total, "seconds": round(time.perf_counter() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--force", action="store_true", help="render every prompt again")
    args = ap.parse_args(argv)
    got = render(args.cache, args.force)
    print(f"espeak-ng {got['espeak']}: {got['prompts']} prompts ({got['rendered']} rendered now) in "
          f"{got['seconds']} s, {int(got['bytes']) / 1e6:.1f} MB in {args.cache}")  # type: ignore[call-overload]
    if got["silent"]:
        print(f"silent: {got['silent']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
