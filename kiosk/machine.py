"""The one transition table of the kiosk (DESIGN.md, The state chart).

States are nested with "." (transitions' default "_" would split snake_case names).
Guards name predicates on the controller, which ask kiosk/policy.py; callbacks only
issue commands through ports. `docs/state-chart.md` is rendered from this table by
`python -m kiosk.statechart`, and a test fails when the two differ.
"""

from __future__ import annotations

from typing import Any

from transitions.extensions.nesting import HierarchicalMachine, NestedState

from kiosk.view import Waiting


class DotState(NestedState):
    separator = "."


class KioskMachine(HierarchicalMachine):
    state_cls = DotState


# What each state waits for (the cooperative resident reads it), and whether the resident
# may cancel there and is timed out when idle.
WAITING: dict[str, Waiting] = {
    "ready.attract": Waiting.TOUCH,
    "ready.menu": Waiting.TOUCH,
    "new_permit.notice": Waiting.TOUCH,
    "new_permit.read_id": Waiting.ID_CARD,
    "new_permit.residence": Waiting.TOUCH,
    "new_permit.photo": Waiting.FACE,
    "new_permit.details": Waiting.TOUCH,
    "new_permit.phone": Waiting.DIGITS,
    "new_permit.take_card": Waiting.TAKE_CARD,
    "new_permit.done": Waiting.TOUCH,
    "card_rewrite.notice": Waiting.TOUCH,
    "card_rewrite.insert_card": Waiting.PERMIT_CARD,
    "card_rewrite.return_card": Waiting.TAKE_CARD,
    "card_rewrite.done": Waiting.TOUCH,
    "refusal": Waiting.TOUCH,
    "fault": Waiting.TOUCH,
}

# Waiting states of a service: cancel and the idle warning apply.
SESSION_WAITING: tuple[str, ...] = (
    "new_permit.notice",
    "new_permit.read_id",
    "new_permit.residence",
    "new_permit.photo",
    "new_permit.details",
    "new_permit.phone",
    "card_rewrite.notice",
    "card_rewrite.insert_card",
)

# Screens that end a session and return by themselves after `timeouts.done`.
CLOSING: tuple[str, ...] = ("new_permit.done", "card_rewrite.done", "refusal", "fault")


def _state(name: str, **kw: Any) -> dict[str, Any]:
    return {"name": name, **kw}


STATES: list[Any] = [
    _state("boot"),
    _state("self_test", on_enter="enter_self_test"),
    _state("recovery", on_enter="enter_recovery"),
    _state("out_of_service", on_enter="enter_out_of_service"),
    {
        "name": "ready",
        "children": [
            _state("attract", on_enter="enter_attract"),
            _state("menu"),
        ],
    },
    {
        "name": "new_permit",
        "on_enter": "enter_new_permit",
        "children": [
            _state("notice"),
            _state("read_id", on_enter="enter_read_id", on_exit="exit_read_id"),
            _state("precheck", on_enter="enter_precheck"),
            _state("residence"),
            _state("photo", on_enter="enter_photo"),
            _state("verify_face", on_enter="enter_verify_face"),
            _state("details"),
            _state("phone"),
            _state("submit", on_enter="enter_submit"),
            _state("issuing", on_enter="enter_issuing"),
            _state("take_card", on_enter="enter_take_card", on_exit="exit_take_card"),
            _state("done", on_enter="enter_done"),
        ],
    },
    {
        "name": "card_rewrite",
        "on_enter": "enter_card_rewrite",
        "children": [
            _state("notice"),
            _state("insert_card", on_enter="enter_insert_card"),
            _state("read_chip", on_enter="enter_read_chip"),
            _state("check_endorsement", on_enter="enter_check_endorsement"),
            _state("rewrite", on_enter="enter_rewrite"),
            _state("verify", on_enter="enter_verify"),
            _state("return_card", on_enter="enter_return_card", on_exit="exit_take_card"),
            _state("done", on_enter="enter_rewrite_done"),
        ],
    },
    _state("refusal", on_enter="enter_refusal"),
    _state("fault", on_enter="enter_fault"),
    _state("goodbye", on_enter="enter_goodbye", on_exit="exit_goodbye"),
]


def _t(trigger: str, source: str | list[str], dest: str | None, **kw: Any) -> dict[str, Any]:
    return {"trigger": trigger, "source": source, "dest": dest, **kw}


TRANSITIONS: list[dict[str, Any]] = [
    # start-up
    _t("started", "boot", "self_test"),
    _t("self_test_done", "self_test", "recovery"),
    _t("recovered", "recovery", "ready.attract", conditions="any_service_available"),
    _t("recovered", "recovery", "out_of_service"),
    _t("recovery_blocked", "recovery", "out_of_service"),
    _t("devices_changed", "out_of_service", "recovery", conditions="recovery_needed"),
    _t("devices_changed", "out_of_service", "ready.attract", conditions="any_service_available"),
    _t("devices_changed", "ready", "out_of_service", unless="any_service_available"),
    # attract and menu
    _t("tap_start", "ready.attract", "ready.menu"),
    _t("tap_back", "ready.menu", "ready.attract"),
    _t("menu_timeout", "ready.menu", "ready.attract"),
    _t("tap_service_new_permit", "ready.menu", "new_permit.notice", conditions="new_permit_available"),
    # new permit (SH-PMT-3)
    _t("tap_confirm", "new_permit.notice", "new_permit.read_id"),
    _t("id_read", "new_permit.read_id", "refusal", conditions="id_card_refused"),
    _t("id_read", "new_permit.read_id", "new_permit.precheck"),
    _t("precheck_done", "new_permit.precheck", "fault", conditions="backend_failed"),
    _t("precheck_done", "new_permit.precheck", "refusal", conditions="refused_before_address"),
    _t("precheck_done", "new_permit.precheck", "new_permit.residence"),
    _t("tap_answer_no", "new_permit.residence", "refusal", before="note_address_changed"),
    _t("tap_answer_yes", "new_permit.residence", "refusal", conditions="refused_after_address"),
    _t("tap_answer_yes", "new_permit.residence", "new_permit.photo"),
    _t("tap_capture", "new_permit.photo", None, after="capture_photo", unless="photo_pending"),
    _t("photo_checked", "new_permit.photo", "new_permit.verify_face", conditions="photo_usable"),
    _t("photo_checked", "new_permit.photo", "refusal", conditions="photo_attempts_exhausted"),
    _t("photo_checked", "new_permit.photo", None),
    _t("face_checked", "new_permit.verify_face", "fault", conditions="backend_failed"),
    _t("face_checked", "new_permit.verify_face", "new_permit.details", conditions="face_matches"),
    _t("face_checked", "new_permit.verify_face", "refusal", before="note_face_mismatch"),
    _t("tap_confirm", "new_permit.details", "new_permit.phone"),
    _t("tap_back", "new_permit.details", "new_permit.photo"),
    _t("tap_key", "new_permit.phone", None),
    _t("tap_confirm", "new_permit.phone", "new_permit.submit", conditions="phone_valid"),
    _t("applied", "new_permit.submit", "fault", conditions="backend_failed"),
    _t("applied", "new_permit.submit", "new_permit.issuing", conditions="approved"),
    _t("applied", "new_permit.submit", "refusal"),
    _t("card_presented", "new_permit.issuing", "new_permit.take_card"),
    _t("issuing_failed", "new_permit.issuing", "fault"),
    _t("card_taken", "new_permit.take_card", "new_permit.done"),
    _t("take_timeout", "new_permit.take_card", "goodbye", before="retract_untaken_card"),
    _t("issuing_failed", "new_permit.take_card", "fault"),
    # card-face rewrite (SH-END-4): the card is always returned, or retained when it cannot be
    _t("tap_service_card_rewrite", "ready.menu", "card_rewrite.notice", conditions="card_rewrite_available"),
    _t("tap_confirm", "card_rewrite.notice", "card_rewrite.insert_card"),
    _t("card_inserted", "card_rewrite.insert_card", "card_rewrite.read_chip"),
    _t("chip_read", "card_rewrite.read_chip", "card_rewrite.check_endorsement"),
    _t("card_unusable", ["card_rewrite.read_chip", "card_rewrite.check_endorsement"], "card_rewrite.return_card"),
    _t("endorsement_checked", "card_rewrite.check_endorsement", "card_rewrite.rewrite", conditions="rewrite_due"),
    _t("endorsement_checked", "card_rewrite.check_endorsement", "card_rewrite.return_card"),
    _t("rewritten", "card_rewrite.rewrite", "card_rewrite.verify"),
    _t("verified", "card_rewrite.verify", "card_rewrite.return_card"),
    _t("rewrite_failed", ["card_rewrite.read_chip", "card_rewrite.rewrite", "card_rewrite.verify",
                          "card_rewrite.return_card"], "fault"),
    _t("card_returned", "card_rewrite.return_card", "card_rewrite.done", conditions="card_was_rewritten"),
    _t("card_returned", "card_rewrite.return_card", "card_rewrite.insert_card", conditions="card_was_unusable"),
    _t("card_returned", "card_rewrite.return_card", "fault", conditions="rewrite_faulted"),
    _t("card_returned", "card_rewrite.return_card", "refusal"),
    _t("take_timeout", "card_rewrite.return_card", "goodbye", before="retract_untaken_card"),
    # leaving a session: cancel, idle, a device lost, the closing screens
    _t("tap_cancel", list(SESSION_WAITING), "goodbye", before="note_cancelled"),
    _t("idle_timeout", list(SESSION_WAITING), "goodbye", before="note_timed_out"),
    _t("device_lost", list(SESSION_WAITING), "fault", before="note_device_fault"),
    _t("tap_confirm", list(CLOSING), "goodbye"),
    _t("closing_timeout", list(CLOSING), "goodbye"),
    _t("goodbye_done", "goodbye", "ready.attract", conditions="any_service_available"),
    _t("goodbye_done", "goodbye", "out_of_service"),
]


def build_machine(model: Any) -> KioskMachine:
    return KioskMachine(
        model=model,
        states=STATES,
        transitions=TRANSITIONS,
        initial="boot",
        auto_transitions=False,
        ignore_invalid_triggers=True,
        queued=True,
        after_state_change="_after_state_change",
    )


def state_names() -> list[str]:
    names: list[str] = []

    def walk(items: list[Any], prefix: str) -> None:
        for item in items:
            name = item["name"] if isinstance(item, dict) else item
            full = f"{prefix}{name}"
            children = item.get("children") if isinstance(item, dict) else None
            if children:
                walk(children, full + ".")
            else:
                names.append(full)

    walk(STATES, "")
    return names
