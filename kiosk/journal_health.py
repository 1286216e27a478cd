"""Can the journal take a whole session's writes? Asked before a journaling service is offered (issue 15).

A card must never move unless its steps can be journaled first (DESIGN.md, the write-ahead
journal), so a full or read-only disk takes every service that journals out of service before a
resident starts one, rather than failing halfway with a card in the machine. The answer is read
from the filesystem, without writing: mounted read-only or the journal's files not writable →
READ_ONLY; less than MIN_FREE_BYTES free for an unprivileged writer → FULL. A write that fails
anyway (the disk filled in between) is a JournalError(STORAGE) at the write itself
(kiosk/journal.py), which the flows already treat as a refused write.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path

from kiosk.availability import Availability
from kiosk.logevents import EventLog, LogEvent

# One session journals a few kB (a row, its marks, the application intent); the WAL grows by a
# page per commit until its checkpoint. 1 MiB is dozens of sessions of headroom.
MIN_FREE_BYTES = 1 << 20


class StorageProblem(StrEnum):
    READ_ONLY = "journal_read_only"
    FULL = "journal_full"
    GONE = "journal_gone"  # the journal's folder is missing or cannot be examined


def free_bytes(journal_file: str | Path) -> int | None:
    try:
        fs = os.statvfs(Path(journal_file).parent)
    except OSError:
        return None
    return fs.f_bavail * fs.f_frsize


def storage_problem(journal_file: str | Path, min_free: int = MIN_FREE_BYTES) -> StorageProblem | None:
    path = Path(journal_file)
    folder = path.parent
    try:
        fs = os.statvfs(folder)
    except OSError:
        return StorageProblem.GONE
    if fs.f_flag & os.ST_RDONLY:
        return StorageProblem.READ_ONLY
    files = [folder, *(p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())]
    if not all(os.access(p, os.W_OK) for p in files):
        return StorageProblem.READ_ONLY
    if fs.f_bavail * fs.f_frsize < min_free:
        return StorageProblem.FULL
    return None


def watch_storage(journal_file: str | Path, availability: Availability, log: EventLog) -> bool:
    """Looks again; on a change, sets `availability.storage` and logs it. True when it changed."""
    problem = storage_problem(journal_file)
    found = None if problem is None else problem.value
    if found == availability.storage:
        return False
    availability.storage = found
    if found is None:
        log.emit(LogEvent.JOURNAL_STORAGE_OK, free_bytes=free_bytes(journal_file))
    else:
        log.emit(LogEvent.JOURNAL_STORAGE_FAULT, problem=found, free_bytes=free_bytes(journal_file))
    return True
