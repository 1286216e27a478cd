"""Device adapters: one per device, behind one status model. Never imports kiosk/, screens/ or sim/."""
