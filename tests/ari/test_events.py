import json
from pathlib import Path

from callcontrol.ari.errors import Conflict, NotFound, ServerError, error_for
from callcontrol.ari.events import StasisStart, UnknownEvent, parse_event

TRACES = Path(__file__).parent / "traces"


def _events():
    for f in sorted(TRACES.glob("*.json")):
        data = json.loads(f.read_text())
        entries = data.get("entries", data) if isinstance(data, dict) else data
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and e.get("kind") == "event":
                yield e["event"]


def test_every_traced_event_parses_without_raising():
    events = list(_events())
    assert events
    parsed = [parse_event(e) for e in events]
    assert any(isinstance(p, StasisStart) for p in parsed)
    starts = [p for p in parsed if isinstance(p, StasisStart)]
    assert all(p.timestamp is not None and p.timestamp.tzinfo for p in starts)


def test_unknown_and_malformed_events_become_unknown_event():
    assert isinstance(parse_event({"type": "Nope"}), UnknownEvent)
    assert isinstance(parse_event({"type": "StasisStart"}), UnknownEvent)


def test_error_for_maps_status_to_class():
    assert isinstance(error_for(404, "Channel not found", "GET", "/channels/x"), NotFound)
    assert isinstance(error_for(409, "not in Stasis", "POST", "/x"), Conflict)
    assert error_for(500, "Allocation failed", "POST", "/x").status == 500
    assert isinstance(error_for(503, "x", "GET", "/"), ServerError)
