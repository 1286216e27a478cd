"""Screens of the ready state: the attract screen and the service menu."""
