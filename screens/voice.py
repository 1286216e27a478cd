"""Voice prompts (yuyin bobao): every resident screen's main instruction and every refusal, spoken.

The prompt of a view is `step.<state>` (the help text of the step: what to do now) or, on the
refusal screen, `reason.<code>` (what was refused and where to go). Their words are the
translation files' (never a resident's name or number), rendered ahead of time by
`render_voice.py` into `<cache>/<lang>/<prompt>.wav` and played here with pygame's mixer when a
screen appears, again on the header's replay, at the header's volume (0 mutes).

Sound cues (View data `cue`, through Display.on_cue) are tones made here, not speech: the last
warning before an untaken card is taken back in (`retract_warning`) plays at full volume on a
channel of its own, whatever the header's volume (its mute is the speech's: a card about to be
lost is worth a sound), and the prompt that follows does not cut it off.

Without a mixer (no audio device) or without the cache the kiosk runs silent; nothing fails.
"""

from __future__ import annotations

import math
from array import array
from pathlib import Path

import pygame

from kiosk.view import View
from screens.text import load_table

VOLUMES = (0.0, 0.35, 0.7, 1.0)  # View.volume 0..3: 0 is mute
RATE = 22050  # the mixer's samples a second (16-bit mono), the prompts' and the cues'
SPEECH, CUE = 0, 1  # reserved channels: a prompt never stops a cue, nor a cue a prompt
# Each cue: (frequency Hz, seconds) tones with a short gap, repeated. The retract warning is an
# alarm-like falling pair, three times (about 1.7 s), loud.
CUES: dict[str, tuple[tuple[tuple[float, float], ...], int]] = {
    "retract_warning": (((988.0, 0.22), (740.0, 0.22)), 3),
}


def tone_samples(name: str, rate: int = RATE) -> array:
    """A cue's 16-bit samples: its tones at 80% of full scale, each faded in and out (no clicks)."""
    tones, repeat = CUES[name]
    out = array("h")
    gap = array("h", bytes(2 * int(rate * 0.06)))
    for _ in range(repeat):
        for freq, seconds in tones:
            n = int(rate * seconds)
            fade = max(1, int(rate * 0.01))
            out.extend(int(26000 * min(1.0, i / fade, (n - i) / fade) * math.sin(2 * math.pi * freq * i / rate))
                       for i in range(n))
            out.extend(gap)
    return out


def prompt_of(view: View) -> str | None:
    if view.help is not None or view.overlay is not None:
        return None
    if view.screen == "refusal":
        reason = view.data.get("reason")
        return f"reason.{reason}" if reason else None
    return f"step.{view.screen}"


def prompts(lang: str) -> dict[str, str]:
    """Every prompt's words in a language: the steps' help texts and every refusal reason's."""
    table = load_table(lang)
    out: dict[str, str] = {}
    for key, text in table.items():
        if key.startswith("help.step.") and key != "help.step.default":
            out["step." + key.removeprefix("help.step.")] = text
        elif key.startswith("reason.") and key.endswith(".title"):
            code = key.removeprefix("reason.").removesuffix(".title")
            advice = table.get(f"reason.{code}.advice", "")
            out[f"reason.{code}"] = table["voice.reason"].format(title=text, advice=advice)
    return out


class Voice:
    def __init__(self, cache: Path, lang: str = "zh") -> None:
        self.cache = cache
        self.lang = lang
        self.ready = False
        self.played: list[str] = []  # what was started, for tests and the developer panel
        self._sounds: dict[tuple[str, str], pygame.mixer.Sound] = {}
        self._said: tuple[str | None, str, int] | None = None
        self._cues: dict[str, pygame.mixer.Sound] = {}
        try:
            pygame.mixer.init(frequency=RATE, size=-16, channels=1)
            self.ready = pygame.mixer.get_init() is not None
        except pygame.error:
            self.ready = False  # no audio device: silent, the screens still say everything
        if self.ready:
            pygame.mixer.set_reserved(2)
            self._speech, self._cue = pygame.mixer.Channel(SPEECH), pygame.mixer.Channel(CUE)

    def cue(self, name: str) -> None:
        """Display.on_cue: play a sound cue now, at full volume (an unknown name is silent)."""
        if not self.ready or name not in CUES:
            return
        if name not in self._cues:
            self._cues[name] = pygame.mixer.Sound(buffer=tone_samples(name).tobytes())
        self._cue.play(self._cues[name])
        self.played.append(f"cue/{name}")

    def _sound(self, lang: str, prompt: str) -> pygame.mixer.Sound | None:
        key = (lang, prompt)
        if key not in self._sounds:
            path = self.cache / lang / f"{prompt}.wav"
            if not path.is_file():
                return None
            self._sounds[key] = pygame.mixer.Sound(str(path))
        return self._sounds[key]

    def follow(self, view: View) -> None:
        """Speak the view's prompt when it is new (another screen, language or a replay)."""
        lang = view.lang or self.lang
        prompt = prompt_of(view)
        said = (prompt, lang, view.replay)
        if said == self._said:
            return
        self._said = said
        if not self.ready or prompt is None or view.volume <= 0:
            if self.ready:
                self._speech.stop()
            return
        sound = self._sound(lang, prompt)
        if sound is None:
            return
        self._speech.stop()  # the previous screen's prompt stops when the screen changes
        self._speech.set_volume(VOLUMES[max(0, min(view.volume, len(VOLUMES) - 1))])
        self._speech.play(sound)
        self.played.append(f"{lang}/{prompt}")

    def close(self) -> None:
        self._sounds.clear()
        if self.ready:
            pygame.mixer.quit()
