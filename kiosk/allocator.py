"""The C heap's settings for a process that runs for months (issue 15, the 10,000-session soak).

The kiosk allocates and frees full-screen layers and large text lines (hundreds of kB to 8 MB,
through SDL's malloc) on several threads. Under glibc's defaults a freed large block raises the
mmap threshold to its size, so the next ones come from the heap instead of mmap, and every
thread may get an arena of its own: freed blocks then stay in the process as holes between live
ones. Measured (`python -m sim.soak --sessions 700`, the heap's bytes from mallinfo2): in use
flat at 84 MB, free-but-kept 58 -> 65 MB and RSS 240 -> 248 MB; with the threshold fixed at
256 kB and two arenas, free 5 -> 8 MB and RSS 189 -> 193 MB, at the same session rate.

A fixed threshold sends every large block to mmap, so freeing it gives the pages back; two
arenas bound what the threads' heaps keep. Off glibc nothing is changed.
"""

from __future__ import annotations

import ctypes

M_ARENA_MAX = -8  # glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 * 1024
ARENAS = 2


def tune() -> bool:
    """Applies the settings; True when glibc took both. Call it before the worker threads start
    (an arena is given to a thread on its first allocation)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_ARENA_MAX, ARENAS))
