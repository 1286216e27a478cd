"""The status-query screens (issue 10): read the ID card, look up, show, done."""
