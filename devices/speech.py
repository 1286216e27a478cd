"""Offline speech: eSpeak NG 1.52 from the `espeakng-loader` wheel, through its C API (ctypes).

Debian 12's espeak-ng 1.51 `cmn` voice falls back to English for most syllables and reads pinyin
tone numbers as English words ("qing3" -> "qing three"); the wheel's 1.52 speaks Mandarin with
tone contours (compare `espeak-ng -v cmn -x` with `phonemes()`: docs/screens.md, Voice).

Only prompts are rendered (translations: never a resident's data), ahead of time, into WAV files
the screens play with pygame's mixer.
"""

from __future__ import annotations

import ctypes
import math
import threading
import wave
from array import array
from pathlib import Path

VOICES = {"zh": "cmn", "en": "en"}
_SYNCHRONOUS = 0x02  # AUDIO_OUTPUT_SYNCHRONOUS
_UTF8 = 0x01  # espeakCHARS_UTF8
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class SpeechUnavailable(RuntimeError):
    pass


class Espeak:
    """One eSpeak NG instance (the library is process-global: one at a time, under a lock)."""

    _lock = threading.Lock()

    def __init__(self) -> None:
        try:
            import espeakng_loader  # type: ignore[import-untyped]
        except ImportError as exc:  # pragma: no cover - the dependency is in pyproject.toml
            raise SpeechUnavailable("espeakng-loader is not installed (pip install espeakng-loader)") from exc
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Info.restype = ctypes.c_char_p
        self._lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self._lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        self.rate = int(self._lib.espeak_Initialize(_SYNCHRONOUS, 0, espeakng_loader.get_data_path().encode(), 0))
        if self.rate <= 0:
            raise SpeechUnavailable("espeak-ng did not start (its data folder is missing?)")
        self._samples = array("h")
        self._callback = _CALLBACK(self._collect)  # kept: the library holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self.version = (self._lib.espeak_Info(None) or b"").decode()

    def _collect(self, wav: ctypes.Array[ctypes.c_short], n: int, events: int) -> int:
        if wav and n > 0:
            self._samples.extend(wav[:n])
        return 0

    def _voice(self, lang: str) -> None:
        if self._lib.espeak_SetVoiceByName(VOICES[lang].encode()) != 0:
            raise SpeechUnavailable(f"espeak-ng has no voice {VOICES[lang]!r}")

    def synth(self, text: str, lang: str) -> array:
        """16-bit mono samples at `self.rate`."""
        with self._lock:
            self._voice(lang)
            self._samples = array("h")
            data = text.encode()
            self._lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, _UTF8, None, None)
            return self._samples

    def phonemes(self, text: str, lang: str) -> str:
        """eSpeak's phoneme mnemonics (as `espeak-ng -x`): a "(en)" in a Mandarin text is a fallback."""
        with self._lock:
            self._voice(lang)
            buf = ctypes.create_string_buffer(text.encode())
            ptr = ctypes.c_void_p(ctypes.addressof(buf))
            out: list[str] = []
            while ptr.value:
                got = self._lib.espeak_TextToPhonemes(ctypes.byref(ptr), _UTF8, 0)
                if not got:
                    break
                out.append(got.decode())
            return " ".join(out)


def rms(samples: array) -> float:
    if not samples:
        return 0.0
    import numpy as np  # a prompt is 10^5 samples: a Python sum of squares took 20 ms of each

    values = np.frombuffer(samples, dtype=np.int16).astype(np.float64)
    return math.sqrt(float(np.dot(values, values)) / len(values))


def write_wav(path: Path, samples: array, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
