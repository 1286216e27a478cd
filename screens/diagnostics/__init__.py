"""Technician diagnostics' screens (kiosk/flows/diagnostics.py)."""
