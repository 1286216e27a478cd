"""The developer panel's command-line options: --scale is for the window only (headless frames
keep the kiosk's own coordinates, which the scenario runner taps at)."""

from __future__ import annotations

import pytest

import run_kiosk


@pytest.mark.parametrize("argv", [
    ["--sim", "--headless", "--scale", "0.5"],  # headless: the kiosk's own 1080×1920
    ["--scale", "0.5"],  # not the simulator
    ["--sim", "--scale", "0"],  # no picture
    ["--sim", "--scale", "5"],
    ["--scenario", "sim/scenarios/demo.toml"],  # a scenario needs the simulator
])
def test_scale_and_scenario_outside_the_simulator_window_are_refused(argv: list[str],
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run_kiosk.main(argv) == 2
    assert "needs" in capsys.readouterr().err
