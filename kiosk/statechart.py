"""Renders the transition table as mermaid into docs/state-chart.md: `python -m kiosk.statechart`."""

from __future__ import annotations

import sys
from pathlib import Path

from transitions.extensions import HierarchicalGraphMachine

from kiosk.flows import chart_parts
from kiosk.machine import Chart, DotState, names_only

CHART = Path(__file__).resolve().parent.parent / "docs" / "state-chart.md"


class _GraphMachine(HierarchicalGraphMachine):
    state_cls = DotState


class _Model:
    """Guards and callbacks are not run while drawing; a bare model is enough."""


def render() -> str:
    chart = Chart(chart_parts())
    machine = _GraphMachine(
        model=_Model(), states=chart.state_dicts(names_only), transitions=chart.transition_dicts(names_only),
        initial="boot",
        auto_transitions=False, graph_engine="mermaid", show_conditions=True,
    )
    mermaid = machine.get_graph().draw(None)
    lines = [ln.rstrip() for ln in mermaid.splitlines() if not ln.strip().startswith("Class ")]
    return (
        "# State chart\n\n"
        "Generated from the chart parts of `kiosk/flows/`, put together by `kiosk/machine.py`,\n"
        "by `python -m kiosk.statechart`; do not edit by hand.\n"
        "A test fails when this file differs from the table.\n\n"
        "```mermaid\n" + "\n".join(lines) + "\n```\n"
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        if not CHART.is_file() or CHART.read_text(encoding="utf-8") != render():
            print(f"{CHART} differs from kiosk/machine.py: run `python -m kiosk.statechart`", file=sys.stderr)
            return 1
        return 0
    CHART.parent.mkdir(parents=True, exist_ok=True)
    CHART.write_text(render(), encoding="utf-8")
    print(f"wrote {CHART}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
