"""The screens: one module per screen id, drawn with pygame; touches become intents.

Imports only kiosk's view models (kiosk.view, kiosk.intents, kiosk.fonts, kiosk.reasons);
never devices, the backend or sim. Screens draw the View and decide nothing.
"""
