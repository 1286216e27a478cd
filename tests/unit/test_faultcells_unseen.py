"""The fault matrix's exemption for a retention record the kiosk wrote while the printer did not
answer with the card at the slot (sim/faultcells.py `_unseen_at_slot`)."""

from __future__ import annotations

from sim.faultcells import Cell, _unseen_at_slot

TAKEN = {"records": [{"job": 1, "origin": "inserted", "outcome": "taken"}]}
BINNED = {"records": [{"job": 1, "origin": "inserted", "outcome": "retained"}]}


def test_a_silent_printer_at_read_chip_whose_card_left_through_the_slot_is_unseen_at_the_slot() -> None:
    """card_rewrite/printer/silent/@read_chip: the silence can land before the TAKE_IN; the card stays
    at the slot and the resident takes it there, which the printer's records show."""
    cell = Cell("card_rewrite", "printer", "silent", None, "read_chip")
    assert _unseen_at_slot(cell, TAKEN)
    assert not _unseen_at_slot(cell, BINNED)  # the card was binned: a record for it is no excess
    assert not _unseen_at_slot(cell, {})


def test_only_a_printer_that_stopped_answering_is_exempt() -> None:
    assert not _unseen_at_slot(Cell("card_rewrite", "printer", "jam", "take_in"), TAKEN)
    assert not _unseen_at_slot(Cell("card_rewrite", "printer", "cover_open", None, "read_chip"), TAKEN)
    assert _unseen_at_slot(Cell("card_rewrite", "printer", "vanish", None, "return_card"), BINNED)
