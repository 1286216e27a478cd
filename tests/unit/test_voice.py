"""Voice prompts (issue 13): every resident screen has a prompt in each language and every refusal
reason one too; each renders offline to audio that is not silent and is plausibly long; the
Mandarin voice speaks Mandarin (no English fallback in its phonemes); no prompt carries a
resident's data; the mixer plays the new screen's prompt, mutes at volume 0 and replays."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from devices.speech import Espeak, rms
from kiosk import chrome
from kiosk.reasons import Reason
from kiosk.view import View, Waiting
from render_voice import DEFAULT_CACHE, RMS_FLOOR, render
from screens import registry
from screens.text import LANGUAGES
from screens.voice import Voice, prompt_of, prompts

RESIDENT_SCREENS = [s for s in registry.SCREENS if chrome.has_chrome(s)]


@pytest.fixture(scope="module")
def engine() -> Espeak:
    return Espeak()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The prompts as render() leaves them. Set-up rendered them into out/voice: copied here, each
    language's first prompt removed so that render() synthesises those again and keeps the rest by
    the manifest (rendering all 158 again took 3.2 s of the suite's CPU). Without out/voice (a
    pytest run without scripts/setup.sh), all of them are rendered."""
    out = tmp_path_factory.mktemp("voice")
    redo = {f"{lang}/{min(prompts(lang))}" for lang in LANGUAGES}
    if (DEFAULT_CACHE / "manifest.json").is_file():
        shutil.copytree(DEFAULT_CACHE, out, dirs_exist_ok=True)
        for name in redo:
            (out / f"{name}.wav").unlink(missing_ok=True)
    got = render(out)
    assert got["silent"] == [] and got["prompts"] == sum(len(prompts(lang)) for lang in LANGUAGES)
    assert int(got["rendered"]) >= len(redo), got  # type: ignore[call-overload]
    return out


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_resident_screen_and_every_refusal_has_a_prompt(lang: str) -> None:
    have = prompts(lang)
    for screen in RESIDENT_SCREENS:
        if screen != "refusal":
            assert prompt_of(View(screen, Waiting.TOUCH)) in have, f"{lang}: no prompt for {screen}"
    for reason in Reason:
        assert prompt_of(View("refusal", Waiting.TOUCH, data={"reason": str(reason)})) in have, (lang, reason)
    # Translations only: nothing formatted in (no resident's name or number is ever spoken).
    assert not [p for p, text in have.items() if "{" in text], "a prompt with a placeholder"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_prompt_is_audible_and_plausibly_long(cache: Path, lang: str) -> None:
    import wave
    from array import array

    for prompt, text in prompts(lang).items():
        with wave.open(str(cache / lang / f"{prompt}.wav")) as wav:
            samples = array("h", wav.readframes(wav.getnframes()))
            seconds = wav.getnframes() / wav.getframerate()
        assert rms(samples) > RMS_FLOOR, f"{lang}/{prompt} is silent"
        # Mandarin about 4-6 syllables a second, English about 12-18 characters a second.
        per_second = len(text) / seconds
        assert (1.5 < per_second < 9) if lang == "zh" else (5 < per_second < 30), (lang, prompt, per_second)


def test_the_mandarin_voice_speaks_mandarin_not_english(engine: Espeak) -> None:
    """Debian 12's espeak-ng 1.51 cmn reads most syllables in English ("(en)kI55NTr'i:55": "qing
    three"); the wheel's 1.52 must give Mandarin phonemes with tone contours and no switch."""
    assert engine.version.startswith("1.52")
    ph = engine.phonemes("请把身份证平放在读卡区上", "zh")
    assert "(en)" not in ph and "214" in ph and "51" in ph, ph
    # Every Mandarin prompt without Latin words stays in Mandarin but for a rare dictionary gap
    # (1.52 lacks 兄 today: one prompt of 75 switches for that syllable).
    chinese = [t for t in prompts("zh").values() if not any("a" <= ch.lower() <= "z" for ch in t)]
    fallback = [t for t in chinese if "(en)" in engine.phonemes(t, "zh")]
    assert len(chinese) > 50 and len(fallback) <= len(chinese) // 20, fallback


def test_the_mixer_plays_each_new_screen_mutes_and_replays(cache: Path) -> None:
    voice = Voice(cache, "zh")
    assert voice.ready, "SDL_AUDIODRIVER=dummy still opens the mixer"
    try:
        v = View("new_permit.read_id", Waiting.ID_CARD, lang="zh")
        voice.follow(v)
        voice.follow(v)  # the same screen redrawn: said once
        assert voice.played == ["zh/step.new_permit.read_id"]
        voice.follow(View("refusal", Waiting.TOUCH, data={"reason": "NO_REGISTRATION"}, lang="en"))
        assert voice.played[-1] == "en/reason.NO_REGISTRATION"
        voice.follow(View("new_permit.photo", Waiting.FACE, lang="zh", volume=0))
        assert voice.played[-1] == "en/reason.NO_REGISTRATION", "muted: nothing played"
        voice.follow(View("new_permit.photo", Waiting.FACE, lang="zh", volume=2, replay=1))
        assert voice.played[-1] == "zh/step.new_permit.photo"
        voice.follow(View("new_permit.photo", Waiting.FACE, lang="zh", volume=2, replay=2))
        assert voice.played[-2:] == ["zh/step.new_permit.photo"] * 2
    finally:
        voice.close()


def test_the_retract_warning_cue_reaches_the_mixer_and_outlasts_the_prompt(cache: Path) -> None:
    """Issue 13: before an untaken card is taken back in, a loud sound. The kiosk's display as
    run_kiosk.py makes it (on_cue wired to the voice) plays the last-call screen's cue on the
    mixer's cue channel at full volume, even muted; the screen's spoken prompt, started in the
    same frame, goes on the speech channel and does not stop it."""
    from array import array

    import pygame

    import render_voice
    import run_kiosk
    from kiosk.config import load_kiosk_config
    from screens import voice as voice_mod

    old = render_voice.DEFAULT_CACHE
    render_voice.DEFAULT_CACHE = cache
    try:
        display = run_kiosk.make_display(load_kiosk_config(), headless=False)
    finally:
        render_voice.DEFAULT_CACHE = old
    try:
        assert display.voice is not None and display.voice.ready and display.on_cue == display.voice.cue
        last_call = View("new_permit.last_call", Waiting.TOUCH, data={"service": "new_permit",
                                                                       "cue": "retract_warning"},
                         countdown=20, lang="zh", volume=0)
        display.render(View("new_permit.take_card", Waiting.TOUCH, lang="zh"))
        display.render(last_call)
        cue = pygame.mixer.Channel(voice_mod.CUE)
        assert cue.get_busy(), "the cue is not playing"
        sound = cue.get_sound()
        assert sound is not None and cue.get_volume() == 1.0 and sound.get_volume() == 1.0
        assert sound.get_length() > 1.0, sound.get_length()
        samples = array("h", sound.get_raw())
        assert rms(samples) > RMS_FLOOR * 10, "the cue is (nearly) silent"
        assert display.voice.played[-1] == "cue/retract_warning"
        # Volume up again and the prompt of the same screen replayed: speech starts, the cue goes on.
        display.render(replace(last_call, volume=3, replay=1))
        assert display.voice.played[-1] == "zh/step.new_permit.last_call"
        assert pygame.mixer.Channel(voice_mod.SPEECH).get_busy() and cue.get_busy()
        # The next frame of the same screen: the cue is not started again.
        display.render(replace(last_call, volume=3, replay=1, countdown=19))
        assert display.voice.played.count("cue/retract_warning") == 1
    finally:
        display.voice.close()
        display.close()
