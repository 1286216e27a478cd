"""The QR payload fuzz properties (qr_payload.py) at their small default size, so the regular suite
runs them too. The long run: .venv/bin/python -m tests.fuzz.qr_payload --examples 100000
"""

from __future__ import annotations

from tests.fuzz.qr_payload import EXAMPLES, PROPERTIES


def test_arbitrary_bytes_give_a_typed_result_and_only_canonical_payloads_are_accepted() -> None:
    PROPERTIES["arbitrary_bytes"](EXAMPLES)()


def test_hostile_edits_of_valid_payloads_are_refused_unless_still_canonical() -> None:
    PROPERTIES["hostile_text"](EXAMPLES)()


def test_every_documented_payload_is_accepted() -> None:
    PROPERTIES["valid_payloads_are_accepted"](EXAMPLES)()
