"""Screens of the instant new permit (the fast card, issued on the spot): notice → read_id → … → done."""
