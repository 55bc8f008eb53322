from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from callcontrol.agents.errors import ExtensionInUse, NoExtension, StateConflict
from callcontrol.agents.models import AgentStatusRow
from callcontrol.agents.service import AgentService
from callcontrol.agents.states import AgentState, Cause
from callcontrol.bus import create_bus
from callcontrol.crm.models import AgentStateChange, utcnow
from callcontrol.crm.users import create_user
from callcontrol.metrics import product_registry

S = AgentState


async def _agents(db, n: int, prefix: str = "agent") -> list[int]:
    async with db.sessions() as session, session.begin():
        users = [await create_user(session, f"{prefix}{i}", "password-123", "agent",
                                   extension=f"{prefix[:1]}{1000 + i}") for i in range(n)]
        return [u.id for u in users]


@pytest.fixture
async def service(db):
    bus = create_bus(None)
    svc = AgentService(db.sessions, bus, metrics=product_registry(), wrapup_seconds=0.15)
    await svc.start()
    yield svc
    await svc.close()


async def _history(db, user_id: int) -> list[tuple[str, str | None]]:
    async with db.sessions() as session:
        rows = await session.execute(select(AgentStateChange.state, AgentStateChange.reason)
                                     .where(AgentStateChange.user_id == user_id)
                                     .order_by(AgentStateChange.id))
        return [tuple(r) for r in rows.all()]


async def test_cti_login_binds_the_users_extension_and_publishes_ready(db, service):
    [uid] = await _agents(db, 1)
    async with service._bus.subscribe(f"agent.{uid}") as sub:
        status = await service.cti_login(uid)
        message = await sub.get(timeout=1)
    assert status.state is S.READY and status.extension == "a1000"
    assert status.device == "PJSIP/a1000"
    assert message.data["type"] == "agent.state" and message.data["state"] == "ready"
    assert await _history(db, uid) == [("ready", None)]
    out = await service.cti_logout(uid)
    assert out.state is S.LOGGED_OUT
    assert await _history(db, uid) == [("ready", None), ("logged_out", None)]


async def test_login_refuses_an_extension_held_by_another_agent(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a, extension="2001", device="PJSIP/2001")
    with pytest.raises(ExtensionInUse):
        await service.cti_login(b, extension="2001")
    async with db.sessions() as session, session.begin():
        nobody = await create_user(session, "noext", "password-123", "agent")
    with pytest.raises(NoExtension):
        await service.cti_login(nobody.id)


async def test_login_cannot_point_call_control_at_someone_elses_phone(db, service):
    from callcontrol.errors import ValidationFailed

    a, b = await _agents(db, 2)  # own extensions a1000, a1001
    with pytest.raises(ExtensionInUse, match="belongs to another user"):
        await service.cti_login(a, extension="a1001")
    for device in ("PJSIP/a1001", "Local/0044123@outbound", "PJSIP/trunk/sip:+44@x",
                   "PJSIP/2001@trunk"):
        with pytest.raises(ValidationFailed, match="device"):
            await service.cti_login(a, extension="2001", device=device)
    with pytest.raises(ValidationFailed, match="extension"):
        await service.cti_login(a, extension="20 01; drop")
    hot_desk = await service.cti_login(a, extension="2001")
    assert hot_desk.device == "PJSIP/2001"  # not the user's own phone elsewhere
    await service.cti_logout(a)
    assert (await service.cti_login(b)).device == "PJSIP/a1001"


async def test_reserve_takes_the_longest_idle_agent_first(db, service):
    a, b, c = await _agents(db, 3)
    for uid in (b, a, c):  # b has been idle longest
        await service.cti_login(uid)
        await asyncio.sleep(0.01)
    first = await service.reserve()
    second = await service.reserve(exclude=[a])
    assert first.user_id == b and first.state is S.RINGING
    assert second.user_id == c
    assert (await service.reserve(exclude=[a])) is None
    assert (await service.reserve()).user_id == a
    assert await service.reserve() is None


async def test_twenty_concurrent_reservers_never_get_the_same_agent(db, service):
    ids = await _agents(db, 6)
    for uid in ids:
        await service.cti_login(uid)
    got = await asyncio.gather(*(service.reserve() for _ in range(20)))
    taken = [s.user_id for s in got if s is not None]
    assert sorted(taken) == sorted(ids)  # each ready agent exactly once, the rest None
    for uid in ids:
        assert (await service.get(uid)).state is S.RINGING
        assert await _history(db, uid) == [("ready", None), ("ringing", None)]


async def test_two_services_on_one_database_share_agents_safely(db, service):
    """Two processes' services (separate engines) reserving at once: no double booking."""
    from callcontrol.crm.db import create_engine, session_factory

    ids = await _agents(db, 4)
    for uid in ids:
        await service.cti_login(uid)
    engine = create_engine(db.url)
    other = AgentService(session_factory(engine), create_bus(None))
    try:
        got = await asyncio.gather(*(svc.reserve() for svc in [service, other] * 5))
    finally:
        await other.close()
        await engine.dispose()
    taken = [s.user_id for s in got if s is not None]
    assert sorted(taken) == sorted(ids)


async def test_rona_puts_the_agent_not_ready_and_skips_them(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a)
    await service.cti_login(b)
    first = await service.reserve()
    status = await service.ring_failed(first.user_id, "no answer")
    assert status.state is S.NOT_READY and status.reason == "no answer"
    nxt = await service.reserve()
    assert nxt.user_id != first.user_id
    assert await service.reserve() is None


async def test_ring_cancelled_keeps_the_agents_place_in_the_queue(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a)
    await asyncio.sleep(0.01)
    await service.cti_login(b)
    first = await service.reserve()
    assert first.user_id == a
    back = await service.ring_cancelled(a)
    assert back.state is S.READY and back.idle_since == first.idle_since
    assert (await service.reserve()).user_id == a


async def test_call_ends_in_wrap_up_then_ready_after_the_wrap_up_time(db, service):
    [uid] = await _agents(db, 1)
    await service.cti_login(uid)
    await service.reserve()
    assert (await service.answered(uid)).state is S.ON_CALL
    loop = asyncio.get_running_loop()
    ended = loop.time()
    wrap = await service.call_ended(uid)
    assert wrap.state is S.WRAP_UP
    while (await service.get(uid)).state is S.WRAP_UP and loop.time() - ended < 3:  # noqa: ASYNC110 - polls the database
        await asyncio.sleep(0.01)
    # ready again by the timer, not before the wrap-up time (0.15 s) was over
    assert (await service.get(uid)).state is S.READY
    assert loop.time() - ended >= 0.15
    assert [s for s, _ in await _history(db, uid)] == [
        "ready", "ringing", "on_call", "wrap_up", "ready"]


async def test_wrap_up_ends_on_time_when_the_wall_clock_runs_behind_the_loops_timers(
        db, monkeypatch):
    """The wrap-up's deadline is wall-clock time, its timer runs on the loop's monotonic
    clock: a timer that fires before the wall clock reaches the deadline (a clock being
    slewed, uvloop rounding timers to the millisecond) must wait out the rest, not leave
    the agent in wrap-up until the sweep seconds later."""
    import callcontrol.agents.service as service_module

    real = service_module.utcnow
    origin = real()

    def slow() -> object:      # the wall clock at 80 % of the loop's pace
        return origin + (real() - origin) * 0.8
    monkeypatch.setattr(service_module, "utcnow", slow)
    svc = AgentService(db.sessions, create_bus(None), wrapup_seconds=0.1, sweep_seconds=60)
    await svc.start()
    try:
        [uid] = await _agents(db, 1)
        await svc.cti_login(uid)
        await svc.reserve()
        await svc.answered(uid)
        loop = asyncio.get_running_loop()
        ended = loop.time()
        assert (await svc.call_ended(uid)).state is S.WRAP_UP
        while (await svc.get(uid)).state is S.WRAP_UP and loop.time() - ended < 2:  # noqa: ASYNC110 - polls the database
            await asyncio.sleep(0.01)
        assert (await svc.get(uid)).state is S.READY
        assert 0.1 <= loop.time() - ended < 1.0    # 0.125 s of the loop's clock, not a sweep
    finally:
        await svc.close()


async def test_a_restarted_service_finishes_a_persisted_wrap_up(db):
    [uid] = await _agents(db, 1)
    first = AgentService(db.sessions, create_bus(None), wrapup_seconds=30)
    await first.cti_login(uid)
    await first.reserve()
    await first.answered(uid)
    await first.call_ended(uid)
    await first.close()  # the process dies during wrap-up
    async with db.sessions() as session, session.begin():
        await session.execute(update(AgentStatusRow).where(AgentStatusRow.user_id == uid)
                              .values(wrapup_until=utcnow() + timedelta(seconds=0.1)))
    second = AgentService(db.sessions, create_bus(None), wrapup_seconds=30)
    await second.start()
    try:
        await asyncio.sleep(0.4)
        assert (await second.get(uid)).state is S.READY
    finally:
        await second.close()


async def test_a_running_service_finishes_the_wrap_up_of_a_process_that_died(db):
    [uid] = await _agents(db, 1)
    survivor = AgentService(db.sessions, create_bus(None), wrapup_seconds=30, sweep_seconds=0.05)
    await survivor.start()
    dying = AgentService(db.sessions, create_bus(None), wrapup_seconds=30)
    try:
        await dying.cti_login(uid)
        await dying.reserve()
        await dying.answered(uid)
        await dying.call_ended(uid)
        await dying.close()  # its timer is gone with it
        async with db.sessions() as session, session.begin():
            await session.execute(update(AgentStatusRow).where(AgentStatusRow.user_id == uid)
                                  .values(wrapup_until=utcnow() + timedelta(seconds=0.1)))
        await asyncio.sleep(0.5)
        assert (await survivor.get(uid)).state is S.READY
        assert [s for s, _ in await _history(db, uid)].count("ready") == 2  # once, not twice
    finally:
        await survivor.close()


async def test_agent_can_end_wrap_up_early_and_the_timer_does_nothing(db, service):
    [uid] = await _agents(db, 1)
    await service.cti_login(uid)
    await service.reserve()
    await service.answered(uid)
    await service.call_ended(uid)
    await service.set_state(uid, S.NOT_READY, reason="break")
    await asyncio.sleep(0.3)
    status = await service.get(uid)
    assert status.state is S.NOT_READY and status.reason == "break"


async def test_refused_changes_raise_a_409_conflict_with_a_readable_message(db, service):
    [uid] = await _agents(db, 1)
    with pytest.raises(StateConflict, match="log in to the CTI first"):
        await service.set_state(uid, S.READY)
    await service.cti_login(uid)
    await service.reserve()
    with pytest.raises(StateConflict, match="while ringing") as info:
        await service.set_state(uid, S.NOT_READY, reason="lunch")
    assert info.value.status == 409
    with pytest.raises(StateConflict):
        await service.cti_logout(uid)


async def test_outbound_reservation_refuses_an_agent_on_a_call(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a)
    await service.set_state(a, S.NOT_READY, reason="paperwork")
    status = await service.reserve_for_outbound(a)
    assert status.state is S.RINGING
    with pytest.raises(StateConflict, match="already on a call"):
        await service.reserve_for_outbound(a)
    with pytest.raises(StateConflict, match="log in"):
        await service.reserve_for_outbound(b)


async def test_a_cancelled_click_to_call_returns_the_agent_to_where_they_were(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a)
    await service.cti_login(b)
    await service.set_state(a, S.NOT_READY, reason="paperwork")
    await service.reserve_for_outbound(a)
    back = await service.ring_cancelled(a)
    assert back.state is S.NOT_READY and back.reason == "paperwork"
    await service.reserve_for_outbound(b)
    assert (await service.ring_cancelled(b)).state is S.READY
    # An inbound reservation clears what an earlier click-to-call remembered.
    await service.set_state(a, S.READY)
    assert (await service.reserve(exclude=[b])).user_id == a
    assert (await service.ring_cancelled(a)).state is S.READY


async def test_a_deactivated_agent_is_never_reserved(db, service):
    from callcontrol.crm.models import User

    a, b = await _agents(db, 2)
    await service.cti_login(a)
    await asyncio.sleep(0.01)
    await service.cti_login(b)
    async with db.sessions() as session, session.begin():
        await session.execute(update(User).where(User.id == a).values(active=False))
    assert (await service.reserve()).user_id == b
    assert await service.reserve() is None


async def test_gauge_counts_agents_by_state(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a)
    await service.cti_login(b)
    await service.set_state(b, S.NOT_READY, Cause.AGENT, "lunch")
    await asyncio.sleep(0.05)
    gauge = service._gauge
    assert gauge.value(state="ready") == 1 and gauge.value(state="not_ready") == 1
    assert gauge.value(state="on_call") == 0


async def test_the_gauge_follows_changes_made_by_another_process(db):
    metrics = product_registry()
    watcher = AgentService(db.sessions, create_bus(None), metrics, sweep_seconds=0.05)
    other = AgentService(db.sessions, create_bus(None))
    await watcher.start()
    try:
        [uid] = await _agents(db, 1)
        await other.cti_login(uid)
        await asyncio.sleep(0.3)
        assert metrics["callcontrol_agents"].value(state="ready") == 1
    finally:
        await watcher.close()
        await other.close()


async def test_pop_preference_is_persisted_and_validated(db, service):
    [uid] = await _agents(db, 1)
    assert (await service.set_pop_preference(uid, "answer")).pop_preference == "answer"
    assert (await service.get(uid)).pop_preference == "answer"
    with pytest.raises(Exception, match="one of ring, answer, never"):
        await service.set_pop_preference(uid, "sometimes")


async def test_list_shows_agents_and_by_extension_finds_the_logged_in_one(db, service):
    a, b = await _agents(db, 2)
    await service.cti_login(a, extension="3001")
    listed = {s.username: s.state for s in await service.list()}
    assert listed == {"agent0": S.READY, "agent1": S.LOGGED_OUT}
    assert (await service.by_extension("3001")).user_id == a
    assert (await service.by_extension("a1001")).user_id == b
    assert await service.by_extension("9999") is None


async def test_an_unmigrated_database_gives_a_clear_error(tmp_path):
    from callcontrol.crm.db import create_engine, session_factory

    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        svc = AgentService(session_factory(engine), create_bus(None))
        with pytest.raises(RuntimeError, match="callcontrol db upgrade"):
            await svc.start()
    finally:
        await engine.dispose()


async def test_a_call_moves_its_agent_without_reading_the_row_each_time(db, service):
    """This process's last write is where the next transition starts: answered, call ended
    and the wrap-up's end compare-and-set it without a SELECT of agent_status first."""
    from sqlalchemy import event

    [uid] = await _agents(db, 1)
    await service.cti_login(uid)
    assert (await service.reserve()).user_id == uid
    reads: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("SELECT") and "agent_status" in statement:
            reads.append(statement)
    event.listen(db.engine.sync_engine, "before_cursor_execute", seen)
    try:
        assert (await service.answered(uid)).state is S.ON_CALL
        assert (await service.call_ended(uid)).state is S.WRAP_UP
        await asyncio.sleep(0.4)                       # the wrap-up ends (0.15 s)
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", seen)
    assert [s for s, _ in await _history(db, uid)] == [
        "ready", "ringing", "on_call", "wrap_up", "ready"]
    assert [r for r in reads if "count" not in r.lower()] == []   # the gauge's recount aside


async def test_another_process_change_is_seen_by_the_next_transition(db, service):
    """What this process remembers is only a starting point: a change by another process
    fails its compare-and-set, and a "nothing to do" is decided on the database's row."""
    [uid] = await _agents(db, 1)
    other = AgentService(db.sessions, create_bus(None), wrapup_seconds=30)
    try:
        await service.cti_login(uid)                   # remembered: ready
        await other.set_state(uid, S.NOT_READY, reason="break")
        # ringing stopped? not ringing in the database: nothing to do, and it says so
        status = await service.ring_cancelled(uid)
        assert status.state is S.NOT_READY and status.reason == "break"
        # a real change planned on the remembered "ready" is planned again on "not ready"
        assert (await service.set_state(uid, S.READY)).state is S.READY
        await other.set_state(uid, S.NOT_READY, reason="lunch")
        await service.set_state(uid, S.NOT_READY, reason="meeting")
    finally:
        await other.close()
    assert await _history(db, uid) == [
        ("ready", None), ("not_ready", "break"), ("ready", None), ("not_ready", "lunch"),
        ("not_ready", "meeting")]
    assert (await service.get(uid)).reason == "meeting"


async def test_a_sweep_that_read_an_earlier_wrap_up_leaves_the_current_timer_alone(
        db, monkeypatch):
    """The sweeper reads the wrap-ups, then arms timers: an agent who meanwhile finished that
    wrap-up and took another call must keep the timer of the new wrap-up (re-arming the
    older deadline cancelled it, and the agent stayed in wrap-up until the next sweep)."""
    from callcontrol.agents import store

    [uid] = await _agents(db, 1)
    svc = AgentService(db.sessions, create_bus(None), wrapup_seconds=0.2,
                       sweep_seconds=3600)  # only the sweep this test runs
    await svc.start()
    try:
        await svc.cti_login(uid)
        await svc.reserve()
        await svc.answered(uid)
        await svc.call_ended(uid)
        async with db.sessions() as session:
            read_then = await store.wrapups(session)  # what a slow sweep read
        assert [u for u, _ in read_then] == [uid]
        await asyncio.sleep(0.4)
        assert (await svc.get(uid)).state is S.READY
        await svc.reserve()
        await svc.answered(uid)
        await svc.call_ended(uid)  # the next call's wrap-up, its own timer armed

        async def stale(session):
            return read_then
        monkeypatch.setattr(store, "wrapups", stale)
        await svc._rearm()  # the sweep lands now, with what it read before
        await asyncio.sleep(0.5)
        assert (await svc.get(uid)).state is S.READY
        assert [s for s, _ in await _history(db, uid)].count("ready") == 3
    finally:
        await svc.close()


async def test_ready_listeners_hear_each_agent_made_ready_here(db, service):
    [uid] = await _agents(db, 1)
    heard: list[int] = []
    service.on_ready(heard.append)
    service.on_ready(lambda _uid: 1 / 0)     # a failing listener does not undo the change
    assert (await service.cti_login(uid)).state is S.READY
    assert heard == [uid]
    await service.reserve()                   # ready -> ringing: nothing to hear
    assert heard == [uid]
    assert (await service.ring_cancelled(uid)).state is S.READY
    assert heard == [uid, uid]
    assert (await service.get(uid)).state is S.READY
