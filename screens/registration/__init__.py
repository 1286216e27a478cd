"""The residence-registration screens (kiosk/flows/registration_views.py builds their views)."""
