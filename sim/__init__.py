"""Emulators of every device and of the backend, synthetic residents, the scenario runner.

Production code never imports this package.
"""
