"""kiosk/allocator.py: the C heap's settings are taken (their effect is measured by sim.soak)."""

import ctypes

from kiosk import allocator


def test_glibc_takes_the_heap_settings():  # the kiosk runs on Debian's glibc
    assert allocator.tune() is True


def test_a_c_library_without_mallopt_changes_nothing(monkeypatch):
    class NoMallopt:
        def __init__(self, _name):
            pass

    monkeypatch.setattr(ctypes, "CDLL", NoMallopt)
    assert allocator.tune() is False
