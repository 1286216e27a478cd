"""The one transition table of the kiosk (DESIGN.md, The state chart).

The table is put together from the parts the flows declare (kiosk/flows/, each a
`ChartPart`), plus the edges every waiting state shares: cancel, the idle timeout and a lost
device lead to the end of the session, and closing screens close. States are nested with "."
(transitions' default "_" would split snake_case names). Guards are pure predicates on a
flow; callbacks command ports. Firing a trigger that is not in the table, or that the current
state does not take, raises `InvalidTrigger`: nothing is silently dropped.
`docs/state-chart.md` is rendered from this table by `python -m kiosk.statechart`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Any

from transitions.core import MachineError
from transitions.extensions.nesting import HierarchicalMachine, NestedState

from kiosk.chart import ChartPart, Edge, StateSpec, Trigger, leaves
from kiosk.view import Waiting

END = "end"  # the owner of the shared edges (kiosk/flows/ending.py)
GOODBYE = "goodbye"
FAULT = "fault"
MENU = "ready.menu"


class DotState(NestedState):
    separator = "."


class KioskMachine(HierarchicalMachine):
    state_cls = DotState


class InvalidTrigger(RuntimeError):
    """A trigger not in the table, or one the current state does not take: a bug."""

    def __init__(self, trigger: object, state: str) -> None:
        super().__init__(f"trigger {trigger!r} is not taken in state {state!r}")
        self.trigger = trigger
        self.state = state


class Chart:
    """The whole table: every part's states and edges, and the shared ones."""

    def __init__(self, parts: Iterable[ChartPart]) -> None:
        self.parts = tuple(parts)
        self.specs: dict[str, StateSpec] = {}
        self.owner_of_state: dict[str, str] = {}
        for part in self.parts:
            for name, spec in leaves(part.states):
                if name in self.specs:
                    raise ValueError(f"state {name} declared twice")
                self.specs[name] = spec
                self.owner_of_state[name] = part.owner
        waiting = tuple(n for n, s in self.specs.items() if s.session and not s.own_exits)
        cancellable = tuple(n for n, s in self.specs.items() if s.session)
        closing = tuple(n for n, s in self.specs.items() if s.closing)
        more_time = tuple(n for n, s in self.specs.items() if s.more_time)
        shared = (
            # Cancel asks once ("确定要取消吗？"): the question is an overlay on the same step, so
            # "no" goes on where the resident was (no state entered again, no timer restarted).
            Edge(Trigger.TAP_CANCEL, cancellable, None, after="ask_cancel"),
            Edge(Trigger.TAP_CANCEL_KEEP, cancellable, None, after="keep_going"),
            Edge(Trigger.TAP_CANCEL_CONFIRM, waiting, GOODBYE, before="note_cancelled"),
            Edge(Trigger.TAP_MORE_TIME, more_time, None, unless=("more_time_used_up",), after="more_time"),
            Edge(Trigger.IDLE_TIMEOUT, waiting, GOODBYE, before="note_timed_out"),
            Edge(Trigger.DEVICE_LOST, waiting, FAULT, before="note_device_fault"),
            Edge(Trigger.TAP_CONFIRM, closing, GOODBYE),
            Edge(Trigger.CLOSING_TIMEOUT, closing, GOODBYE),
        )
        self.edges: list[tuple[str, Edge]] = [(p.owner, e) for p in self.parts for e in p.edges]
        self.edges += [(END, e) for e in shared if e.sources]
        # A back button where a state declares one (StateSpec.back).
        self.edges += [(self.owner_of_state[n], Edge(Trigger.TAP_BACK, n, s.back))
                       for n, s in self.specs.items() if s.back is not None]
        # A service is entered from the menu; where a screen offers services, each service's own
        # entry edge applies there too, after the current session is handed over (closed).
        offering = tuple(n for n, s in self.specs.items() if s.offers)
        entries = [(o, e) for o, e in self.edges if e.trigger == Trigger.TAP_SERVICE and MENU in e.sources]
        self.edges += [(o, Edge(Trigger.TAP_SERVICE, offering, e.dest, conditions=e.conditions, unless=e.unless,
                                before=f"{END}:hand_over")) for o, e in entries if offering]
        self.triggers: frozenset[str] = frozenset(str(e.trigger) for _, e in self.edges)
        # an edge from a compound state is taken in each of its children: index states by prefix
        within: dict[str, list[str]] = {}
        for name in self.specs:
            steps = name.split(".")
            for depth in range(1, len(steps) + 1):
                within.setdefault(".".join(steps[:depth]), []).append(name)
        taken: dict[str, set[str]] = {name: set() for name in self.specs}
        for _, edge in self.edges:
            for src in edge.sources:
                for name in within.get(src, ()):
                    taken[name].add(str(edge.trigger))
        self._taken: dict[str, frozenset[str]] = {name: frozenset(t) for name, t in taken.items()}
        for _, edge in self.edges:
            for src in edge.sources:
                if src not in self.specs and not any(n.startswith(src + ".") for n in self.specs):
                    raise ValueError(f"edge {edge.trigger} from unknown state {src}")

    def spec(self, state: str) -> StateSpec:
        return self.specs[state]

    def waiting_for(self, state: str) -> Waiting:
        spec = self.specs.get(state)
        return spec.waits if spec is not None else Waiting.NOTHING

    def shown_timers(self, state: str) -> tuple[str, ...]:
        """The timers whose seconds left the state's screen shows: it moves on by itself."""
        spec = self.specs.get(state)
        if spec is None:
            return ()
        return (("closing",) if spec.closing else ()) + tuple(t.name for t in spec.timers if t.shown)

    def accepts(self, state: str, trigger: StrEnum) -> bool:
        return str(trigger) in self._taken.get(state, frozenset())

    def state_dicts(self, resolve: Callable[[str, str], Any]) -> list[dict[str, Any]]:
        def one(owner: str, spec: StateSpec) -> dict[str, Any]:
            d: dict[str, Any] = {"name": spec.name}
            if spec.on_enter:
                d["on_enter"] = resolve(owner, spec.on_enter)
            if spec.on_exit:
                d["on_exit"] = resolve(owner, spec.on_exit)
            if spec.children:
                d["children"] = [one(owner, c) for c in spec.children]
            return d

        return [one(p.owner, s) for p in self.parts for s in p.states]

    def transition_dicts(self, resolve: Callable[[str, str], Any]) -> list[dict[str, Any]]:
        out = []
        for owner, e in self.edges:
            d: dict[str, Any] = {"trigger": str(e.trigger), "source": list(e.sources), "dest": e.dest}
            if e.conditions:
                d["conditions"] = [resolve(owner, c) for c in e.conditions]
            if e.unless:
                d["unless"] = [resolve(owner, c) for c in e.unless]
            if e.before:
                d["before"] = resolve(owner, e.before)
            if e.after:
                d["after"] = resolve(owner, e.after)
            out.append(d)
        return out


def names_only(owner: str, name: str) -> str:
    """For drawing: a callback is shown by its name."""
    return name if ":" not in name else name.split(":", 1)[1]


def build_machine(model: Any, chart: Chart, owners: dict[str, Any], *,
                  after_state_change: Callable[[], None]) -> KioskMachine:
    def resolve(owner: str, name: str) -> Callable[..., Any]:
        if ":" in name:
            owner, name = name.split(":", 1)
        fn = getattr(owners[owner], name, None)
        if not callable(fn):
            raise ValueError(f"{owner} has no callback {name}")
        return fn

    return KioskMachine(
        model=model,
        states=chart.state_dicts(resolve),
        transitions=chart.transition_dicts(resolve),
        initial="boot",
        auto_transitions=False,
        ignore_invalid_triggers=False,
        queued=True,
        after_state_change=after_state_change,
    )


def fire(machine: KioskMachine, model: Any, chart: Chart, trigger: StrEnum) -> bool:
    """One trigger of the table; an unknown or untaken trigger raises InvalidTrigger."""
    state = str(model.state)
    if not isinstance(trigger, StrEnum) or str(trigger) not in chart.triggers:
        raise InvalidTrigger(trigger, state)
    if not chart.accepts(state, trigger):
        raise InvalidTrigger(trigger, state)
    try:
        return bool(machine.trigger_event(model, str(trigger)))
    except MachineError as exc:
        raise InvalidTrigger(trigger, state) from exc
