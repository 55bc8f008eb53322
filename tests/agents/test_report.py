from __future__ import annotations

from datetime import UTC, datetime, timedelta

from callcontrol.agents.report import Change, occupancy

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_time_is_split_by_the_state_in_force_and_clipped_to_the_window():
    changes = [Change(at(10), "not_ready", "lunch"), Change(at(40), "ready", None),
               Change(at(50), "ringing", None), Change(at(51), "on_call", None),
               Change(at(56), "wrap_up", None), Change(at(57), "not_ready", None)]
    before = Change(at(-30), "ready", None)  # logged in before the window opened
    result = occupancy(before, changes, at(0), at(60))
    body = result.to_json()
    minutes = {k: v / 60 for k, v in body["seconds"].items() if v}
    assert minutes == {"ready": 20, "not_ready": 33, "ringing": 1, "on_call": 5, "wrap_up": 1}
    assert body["not_ready_reasons"] == {"lunch": 1800, "not ready": 180}
    assert body["occupancy"] == round(7 / 60, 4) and body["changes"] == 6


def test_an_agent_never_logged_in_has_no_occupancy():
    body = occupancy(None, [], at(0), at(60)).to_json()
    assert body["seconds"]["logged_out"] == 3600 and body["occupancy"] is None


def test_changes_after_the_window_do_not_count():
    result = occupancy(None, [Change(at(30), "ready", None)], at(0), at(20))
    assert result.seconds["ready"] == 0 and result.seconds["logged_out"] == 1200
