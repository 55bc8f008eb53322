"""Pure helpers of call control: why a ringing leg failed, caller id sanitising."""

from __future__ import annotations

import pytest

from callcontrol.calls.control import _caller_id, _failure
from callcontrol.calls.model import Leg, Role


@pytest.mark.parametrize(("dialstatus", "cause", "mine", "expected"), [
    ("BUSY", 0, "", "busy"),                 # a Local ;1 reports cause 0 on busy (lesson 6)
    ("BUSY", 21, "", "busy"),
    ("NOANSWER", 16, "", "no_answer"),
    ("CONGESTION", 34, "", "unreachable"),
    ("CHANUNAVAIL", 1, "", "unreachable"),
    ("", 19, "", "no_answer"),                # originate timeout: no Dial NOANSWER (lesson 8)
    ("", 17, "", "busy"),
    ("", 21, "", "rejected"),
    ("RINGING", 16, "", "no_answer"),
    ("CANCEL", 16, "no_answer", "no_answer"),  # our own ring timeout wins over what follows
])
def test_failure_reason(dialstatus, cause, mine, expected):
    leg = Leg("x", Role.AGENT, dialstatus=dialstatus, cause=cause, fail_reason=mine)
    assert _failure(leg) == expected


def test_caller_id_is_sanitised():
    assert _caller_id("Maria", "+357 99 123456") == '"Maria" <+35799123456>'
    assert _caller_id('Evil" <1> \r\nX', "99<>1") == '"Evil 1 X" <991>'
    assert _caller_id("", "") is None
    assert _caller_id("", "+35799") == "+35799"
