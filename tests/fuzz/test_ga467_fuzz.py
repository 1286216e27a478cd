"""The GA 467 fuzz targets (fuzz_ga467.py) at their small default size, so the regular suite runs them too.

A longer run uses the target directly: FUZZ_EXAMPLES=100000 .venv/bin/python -m pytest tests/fuzz/fuzz_ga467.py
"""

from __future__ import annotations

from tests.fuzz.fuzz_ga467 import (
    test_card_text_gives_an_identity_or_a_card_data_error,
    test_command_decoder_accounts_for_every_byte_and_invents_no_frame,
    test_commands_between_noise_all_come_out_in_order,
    test_one_damaged_byte_is_never_accepted_as_that_frame,
    test_read_data_split_is_exact_or_none,
    test_replies_between_noise_all_come_out_in_order,
    test_reply_decoder_accounts_for_every_byte_and_invents_no_frame,
    test_stand_in_photo_decodes_to_a_whole_photo_or_none,
)

__all__ = [
    "test_card_text_gives_an_identity_or_a_card_data_error",
    "test_command_decoder_accounts_for_every_byte_and_invents_no_frame",
    "test_commands_between_noise_all_come_out_in_order",
    "test_one_damaged_byte_is_never_accepted_as_that_frame",
    "test_read_data_split_is_exact_or_none",
    "test_replies_between_noise_all_come_out_in_order",
    "test_reply_decoder_accounts_for_every_byte_and_invents_no_frame",
    "test_stand_in_photo_decodes_to_a_whole_photo_or_none",
]
