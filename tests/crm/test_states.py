from __future__ import annotations

import pytest

from callcontrol.crm.states import is_completed, open_states


def test_completed_states_per_entity() -> None:
    assert is_completed("job", "Cancelled")
    assert not is_completed("job", "In Progress")
    assert not is_completed("service_request", "Final Resolved")
    assert is_completed("notification", "Completed and Removed")
    assert is_completed("lead", "Won") and not is_completed("lead", "Pending")
    assert open_states("activity") == ("Pending", "In Progress")


def test_unknown_entity_or_state_is_refused() -> None:
    with pytest.raises(ValueError, match="entity"):
        is_completed("ticket", "Done")
    with pytest.raises(ValueError, match="state"):
        is_completed("job", "Done")
