"""The call record layer on SQLite and PostgreSQL: idempotent writes, drafts by app prefix."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import func, select

from callcontrol.calls.records import (
    Journal,
    Records,
    callback_op,
    contact_if_unset_op,
    draft_op,
    update_op,
)
from callcontrol.calls.store import INLINE_BYTES, RecordingStore
from callcontrol.crm.models import Activity, Communication


async def test_writes_are_idempotent_and_drafts_found_by_app_prefix(db):
    records = Records(db.sessions)
    now = datetime.now(UTC)
    fields = {"direction": "incoming", "started_at": now, "caller_number": "+35799123456"}
    first = await records.run(draft_op("call_ctl:1", fields))
    assert await records.run(draft_op("call_ctl:1", fields)) == first     # no duplicate
    await records.run(draft_op("callXctl:2", fields))                      # '_' is no wildcard
    await records.run(draft_op("call_ctl:3", fields))
    await records.run(update_op("call_ctl:3", {"state": "completed", "ended_at": now}))
    assert [c.call_id for c in await records.drafts("call_ctl:")] == ["call_ctl:1"]
    a = await records.run(callback_op("call_ctl:1", None, "+35799123456", now))
    assert await records.run(callback_op("call_ctl:1", None, "+35799123456", now)) == a
    async with db.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Communication)) == 3
        activity = await session.get(Activity, a)
        assert activity.subject == "Call back +35799123456" and activity.state == "Pending"


async def test_journal_keeps_order_and_retries(db):
    records = Records(db.sessions, retry_initial=0.01, retry_max=0.02)
    real = records.run
    failures: list[object] = []

    async def flaky(op):
        if len(failures) < 3:
            failures.append(op)
            raise ConnectionError("database restarting")
        return await real(op)
    records.run = flaky  # type: ignore[method-assign]
    journal = Journal(records, "app:9")
    now = datetime.now(UTC)
    draft = journal.submit(draft_op("app:9", {"direction": "incoming", "started_at": now}))
    journal.submit(update_op("app:9", {"answered_at": now}))
    journal.submit(update_op("app:9", {"state": "completed", "hangup_cause": "caller_hangup"}))
    assert await journal.flush(5) and journal.idle
    assert draft.result() and journal.failures == 3
    comm = await Records(db.sessions).communication("app:9")
    assert comm is not None and comm.state == "completed" and comm.answered_at is not None


async def test_when_written_runs_once_the_journal_has_written_what_it_had(db):
    """An ended call's journal is let go once its writes are out (a callback, no task
    waiting on it); with nothing pending, at once."""
    records = Records(db.sessions)
    gate = asyncio.Event()
    real = records.run

    async def slow(op):
        await gate.wait()
        return await real(op)
    records.run = slow  # type: ignore[method-assign]
    journal = Journal(records, "app:10")
    seen: list[str] = []
    journal.when_written(lambda: seen.append("idle at once"))
    assert seen == ["idle at once"]
    draft = journal.submit(draft_op("app:10", {"direction": "incoming",
                                               "started_at": datetime.now(UTC)}))
    journal.when_written(lambda: seen.append("written"))
    await asyncio.sleep(0.05)
    assert seen == ["idle at once"] and not draft.done()
    gate.set()
    await asyncio.wait_for(draft, 5)
    await asyncio.sleep(0)
    assert seen == ["idle at once", "written"] and journal.idle


def test_recording_store_refuses_names_that_escape(tmp_path):
    store = RecordingStore(tmp_path)
    assert store.path("callcontrol_1.2-a") == tmp_path / "callcontrol_1.2-a.wav"
    for bad in ("../x", "a/b", "", ".hidden", "a..b", "x" * 200, "a:b"):
        try:
            store.path(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")


async def test_recording_store_makes_its_directory_when_a_save_finds_it_missing(tmp_path):
    """The first recording makes the directory; one removed meanwhile is made again; a
    recording bigger than what is written on the event loop too."""
    import shutil

    store = RecordingStore(tmp_path / "rec" / "day")
    path = await store.save("call-1", b"RIFF1")
    assert path.read_bytes() == b"RIFF1"
    shutil.rmtree(tmp_path / "rec")
    assert (await store.save("call-2", b"RIFF2")).read_bytes() == b"RIFF2"
    shutil.rmtree(tmp_path / "rec")
    big = b"R" * (INLINE_BYTES + 1)
    assert (await store.save("call-3", big)).read_bytes() == big
    assert sorted(p.name for p in (tmp_path / "rec" / "day").iterdir()) == ["call-3.wav"]
    # a part file a crash left behind, longer than the new recording: nothing of it stays
    (tmp_path / "rec" / "day" / "call-4.wav.part").write_bytes(b"X" * 100)
    assert (await store.save("call-4", b"RIFF4")).read_bytes() == b"RIFF4"
    assert (await store.save("call-4", b"RIFF")).read_bytes() == b"RIFF"
    assert not list((tmp_path / "rec" / "day").glob("*.part"))


async def test_late_contact_fills_the_missed_call_and_its_callback(db):
    from callcontrol.crm.models import Contact

    records = Records(db.sessions)
    now = datetime.now(UTC)
    async with db.sessions() as session, session.begin():
        contact = Contact(kind="person", first_name="Maria", search_name="maria")
        session.add(contact)
        await session.flush()
        contact_id = contact.id
    await records.run(draft_op("app:7", {"direction": "incoming", "started_at": now}))
    activity_id = await records.run(callback_op("app:7", None, "+35799123456", now))
    await records.run(contact_if_unset_op("app:7", contact_id))
    comm = await records.communication("app:7")
    async with db.sessions() as session:
        activity = await session.get(Activity, activity_id)
    assert comm is not None and comm.contact_id == contact_id
    assert activity is not None and activity.contact_id == contact_id


async def test_a_write_that_can_never_succeed_does_not_block_the_call(db):
    records = Records(db.sessions, retry_initial=0.01, retry_max=0.02)
    journal = Journal(records, "app:5")
    now = datetime.now(UTC)
    bad = journal.submit(draft_op("app:5", {"direction": "incoming", "started_at": now,
                                            "contact_id": 987654}))   # no such contact
    later = journal.submit(callback_op("app:5", None, "+35799123456", now))
    assert await journal.flush(5) and journal.idle
    assert bad.exception() is not None and journal.failures == 3
    assert later.result()          # the writes after it still happened


async def test_calls_writing_at_once_share_transactions(db):
    """Group commit: forty calls' drafts and answers land in far fewer transactions than
    writes, each call's writes still in order."""
    records = Records(db.sessions)
    now = datetime.now(UTC)
    journals = [Journal(records, f"app:g{i}") for i in range(40)]
    drafts = [j.submit(draft_op(j.call_id, {"direction": "incoming", "started_at": now}))
              for j in journals]
    for j in journals:
        j.submit(update_op(j.call_id, {"answered_at": now, "state": "completed"}))
    for j in journals:
        assert await j.flush(10)
    ids = [d.result() for d in drafts]
    assert len(set(ids)) == 40 and journals[0].failures == 0
    assert 1 <= records.batches < 40          # 80 writes, a handful of transactions
    async with db.sessions() as session:
        states = (await session.execute(
            select(Communication.state, func.count()).where(
                Communication.call_id.startswith("app:g")).group_by(Communication.state)
        )).all()
    assert states == [("completed", 40)]


async def test_a_bad_write_in_a_shared_transaction_fails_only_itself(db):
    records = Records(db.sessions, retry_initial=0.01, retry_max=0.02)
    now = datetime.now(UTC)
    good, bad = Journal(records, "app:ok"), Journal(records, "app:bad")
    bad_draft = bad.submit(draft_op("app:bad", {"direction": "incoming", "started_at": now,
                                                "contact_id": 987654}))  # no such contact
    good_draft = good.submit(draft_op("app:ok", {"direction": "incoming", "started_at": now}))
    assert await good.flush(5) and await bad.flush(5)
    assert good_draft.result() and good.failures == 0
    assert bad_draft.exception() is not None and bad.failures == 3
    assert (await records.communication("app:ok")) is not None
    assert (await records.communication("app:bad")) is None


async def test_one_statement_writes_go_without_a_transaction_on_postgresql(db, monkeypatch):
    """A lone draft or update is one statement: on PostgreSQL no BEGIN/COMMIT round trips
    around it; writes that share a transaction (and SQLite's) keep theirs."""
    import asyncpg.transaction

    async with db.sessions() as session:   # the first connection initialises the dialect
        await session.execute(select(1))
    started: list[object] = []
    real = asyncpg.transaction.Transaction.start

    async def counted(self):  # noqa: ANN001, ANN202
        started.append(self)
        return await real(self)
    monkeypatch.setattr(asyncpg.transaction.Transaction, "start", counted)
    records = Records(db.sessions)
    now = datetime.now(UTC)
    first = await records.run(draft_op("app:1", {"direction": "incoming", "started_at": now}))
    assert await records.run(draft_op("app:1", {"direction": "incoming"})) == first
    assert await records.run(update_op("app:1", {"answered_at": now})) == 1
    postgres = db.sessions.kw["bind"].dialect.name == "postgresql"
    assert started == []      # PostgreSQL: none; SQLite: aiosqlite has no such transactions
    await records.run(callback_op("app:1", None, "+35799123456", now))   # several statements
    assert len(started) == (1 if postgres else 0)   # and this one keeps its transaction
    async with db.sessions() as session:
        comm = (await session.execute(select(Communication))).scalar_one()
        assert (comm.id, comm.call_id, comm.state, comm.answered_at) == (first, "app:1",
                                                                        "draft", now)
        assert comm.created_at is not None and comm.media == "phone"
