"""The topic layout, in one place (docs/fleet.md). Every terminal's topics sit under
`<prefix>/<terminal>/`; the fleet view subscribes to `<prefix>/+/#`."""

from __future__ import annotations

import re
from dataclasses import dataclass

# What a terminal id may be: no MQTT wildcard, no level separator, nothing a shell or a path misreads.
TERMINAL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_PREFIX = "rpkiosk/v1"

# Kinds a terminal publishes (retained: the last one is what a subscriber joining later sees).
STATE = "state"  # retained: online | offline (the last will)
STATUS = "status"  # retained: device statuses, supplies, services offered
COUNTERS = "counters"  # retained: counters since the outbox's database was made
OUTCOME = "outcome"  # one per session: service, outcome, reason
ALERT = "alert"  # retained, one topic per alert: alert/<key>, raised (active) or cleared
COMMAND = "cmd"  # in: remote commands (only the operator's certificate may publish here)
REPLY = "cmd/reply"  # out: each command's result, accepted or refused
RETAINED = frozenset({STATE, STATUS, COUNTERS, ALERT})
PUBLISHED = (STATE, STATUS, COUNTERS, OUTCOME, ALERT, REPLY)


@dataclass(frozen=True)
class Topics:
    prefix: str
    terminal: str

    def of(self, kind: str) -> str:
        return f"{self.prefix}/{self.terminal}/{kind}"


def retained(kind: str) -> bool:
    """Whether a kind's messages are retained (`alert/<key>` counts as `alert`)."""
    return kind.split("/", 1)[0] in RETAINED and kind != REPLY


def split(prefix: str, topic: str) -> tuple[str, str] | None:
    """(terminal, kind) of a topic under `prefix`, or None."""
    head = prefix + "/"
    if not topic.startswith(head):
        return None
    terminal, _, kind = topic[len(head):].partition("/")
    return (terminal, kind) if terminal and kind else None
