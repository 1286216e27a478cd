"""sim/shell_check.py checks a real display in a kiosk shell (docs/operations.md, cage): it refuses
to pass on SDL's dummy driver, where it would check nothing."""

from __future__ import annotations

import pytest

from sim import shell_check


@pytest.mark.parametrize("driver", ["", "dummy"])
def test_no_real_video_driver_is_refused(driver: str, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", driver)
    assert shell_check.main([]) == 2
    assert "SDL_VIDEODRIVER" in capsys.readouterr().err
