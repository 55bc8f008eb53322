import pytest

from callcontrol.agents.states import (
    AgentState as S,
)
from callcontrol.agents.states import (
    Cause,
    TransitionRefused,
    can_take_calls,
    transition,
)


def test_a_full_inbound_cycle_is_allowed() -> None:
    steps = [
        (S.LOGGED_OUT, S.READY, Cause.AGENT),
        (S.READY, S.RINGING, Cause.CALL),
        (S.RINGING, S.ON_CALL, Cause.CALL),
        (S.ON_CALL, S.WRAP_UP, Cause.CALL),
        (S.WRAP_UP, S.READY, Cause.TIMER),
    ]
    for old, new, cause in steps:
        assert transition(old, new, cause).new is new


def test_an_agent_cannot_go_not_ready_in_the_middle_of_a_call() -> None:
    with pytest.raises(TransitionRefused, match="while on call"):
        transition(S.ON_CALL, S.NOT_READY, Cause.AGENT, "lunch")


def test_logged_out_agents_are_told_to_log_in() -> None:
    with pytest.raises(TransitionRefused, match="log in"):
        transition(S.LOGGED_OUT, S.RINGING, Cause.CALL)


def test_only_ready_agents_take_calls_and_not_ready_keeps_its_reason() -> None:
    assert [s for s in S if can_take_calls(s)] == [S.READY]
    assert transition(S.READY, S.NOT_READY, Cause.AGENT, "lunch").reason == "lunch"
    assert transition(S.READY, S.NOT_READY, Cause.AGENT).reason == "not ready"
    assert transition(S.NOT_READY, S.READY, Cause.AGENT, "ignored").reason is None


def test_a_ringing_call_that_is_not_answered_parks_the_agent_not_ready() -> None:
    t = transition(S.RINGING, S.NOT_READY, Cause.CALL, "no answer")
    assert (t.new, t.reason) == (S.NOT_READY, "no answer")


def test_the_wrap_up_timer_cannot_make_a_not_ready_agent_ready() -> None:
    with pytest.raises(TransitionRefused):
        transition(S.NOT_READY, S.READY, Cause.TIMER)
