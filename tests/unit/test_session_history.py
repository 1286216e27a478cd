"""The kiosk keeps only the last summaries of the sessions that ended (a terminal runs for months):
the 10,000-session soak's RSS crept up by about 1 kB a session while every summary stayed in a list."""

from __future__ import annotations

import pytest

from kiosk.session import SessionHistory, SessionSummary


def summary(n: int) -> SessionSummary:
    return SessionSummary(session=f"s{n}", service="new_permit", outcome="issued", reason="OK",
                          available_on=None, screens=("ready.attract",))


def test_only_the_last_summaries_are_held_and_numbers_count_from_start() -> None:
    history = SessionHistory(keep=3)
    for n in range(10):
        history.append(summary(n))
    assert len(history) == 10  # how many ended, not how many are held
    assert [s.session for s in history] == ["s7", "s8", "s9"]
    assert history[-1].session == "s9" and history[7].session == "s7"
    assert [s.session for s in history[8:]] == ["s8", "s9"]
    assert history[10:] == []


def test_a_caller_that_noted_len_reads_the_sessions_after_it() -> None:
    history = SessionHistory(keep=2)
    for n in range(5):
        history.append(summary(n))
    start = len(history)
    history.append(summary(5))
    history.append(summary(6))
    assert [s.session for s in history[start:]] == ["s5", "s6"]
    assert history[start].session == "s5"


def test_a_summary_no_longer_held_is_an_error_never_another_sessions() -> None:
    history = SessionHistory(keep=2)
    for n in range(5):
        history.append(summary(n))
    with pytest.raises(IndexError):
        history[1]
    with pytest.raises(IndexError):
        history[1:]
    with pytest.raises(IndexError):
        history[-4]
