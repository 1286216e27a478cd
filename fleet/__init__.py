"""Fleet telemetry over MQTT: the kiosk's adapter to a city's broker (fleet/link.py), the on-disk
outbox it publishes from (fleet/outbox.py), what it derives from the log channel (fleet/derive.py),
the fleet view (python -m fleet.view) and the fleet simulator (python -m fleet.simulate).

Layer: outside the core, beside devices/. kiosk/ never imports fleet/; fleet/ reads the core's
log records and posts `kiosk.remote.RemoteCommand` events into the core's one event queue.
"""
