"""Claiming outbox rows one per recipient: each person's messages leave in order, several people's side by side,
and a recipient whose row is still being sent (by this process or another) is left alone. SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, insert
from sqlalchemy.util import await_only

from storage.database import session_factory
from storage.outbox import HEAD_PAGE, OutboxStore
from storage.tables import OutboxRow
from tests.harness import Harness

GROUP, ANI, BUDI = "-100200", "8101", "8102"


async def queue(h: Harness, rows: list[tuple[str, str, int]]) -> list[int]:
    """(recipient, text, due in seconds from now) rows, inserted in this order; returns their ids."""
    now = h.clock.now()
    assert h.engine is not None
    async with h.engine.begin() as connection:
        inserted = await connection.execute(
            insert(OutboxRow).returning(OutboxRow.id),  # type: ignore[call-overload]
            [
                {"channel": "telegram", "external_id": to, "kind": "decision", "state": "pending",
                 "payload": {"messages": [{"type": "text", "body": body}], "extra": {}},
                 "due_at": now + timedelta(seconds=due), "attempts": 0, "created_at": now}
                for to, body, due in rows
            ],
        )  # fmt: skip
        return [int(row_id) for (row_id,) in inserted.all()]


def store(h: Harness) -> OutboxStore:
    assert h.engine is not None
    return OutboxStore(session_factory(h.engine))


async def test_one_row_per_recipient_the_oldest_due_first(sql_h: Harness) -> None:
    h = sql_h
    ids = await queue(h, [(GROUP, "g1", -30), (GROUP, "g2", -20), (ANI, "a1", -10), (ANI, "a2", -5), (BUDI, "b1", 60)])
    outbox = store(h)
    first = await outbox.claim(h.clock.now(), channel="telegram", one_per_recipient=True)
    assert [i.id for i in first] == [ids[0], ids[2]]  # Budi's is not due yet
    # Both recipients have a row on its way: nothing more for them until it is sent.
    assert await outbox.claim(h.clock.now(), channel="telegram", one_per_recipient=True) == []
    await outbox.mark_sent(ids[2], h.clock.now())
    following = await outbox.claim(h.clock.now(), channel="telegram", one_per_recipient=True)
    assert [i.id for i in following] == [ids[3]]  # Ani's second; the group still waits for its first


async def test_a_row_whose_sender_died_is_taken_again_before_the_next_one(sql_h: Harness) -> None:
    h = sql_h
    ids = await queue(h, [(ANI, "a1", -10), (ANI, "a2", -5)])
    outbox = store(h)
    assert [i.id for i in await outbox.claim(h.clock.now(), one_per_recipient=True)] == [ids[0]]
    h.clock.advance(minutes=3)  # the lease (2 minutes) ran out: the deliverer died mid-send
    again = await outbox.claim(h.clock.now(), one_per_recipient=True)
    assert [(i.id, i.attempts) for i in again] == [(ids[0], 2)]


async def test_a_failed_row_retried_later_lets_the_next_one_go(sql_h: Harness) -> None:
    h = sql_h
    ids = await queue(h, [(ANI, "a1", -10), (ANI, "a2", -5)])
    outbox = store(h)
    await outbox.claim(h.clock.now(), one_per_recipient=True)
    await outbox.mark_failed(ids[0], "NetworkError", retry_at=h.clock.now() + timedelta(seconds=30))
    assert [i.id for i in await outbox.claim(h.clock.now(), one_per_recipient=True)] == [ids[1]]


async def test_simultaneous_claims_never_take_two_rows_of_one_recipient(sql_h: Harness) -> None:
    h = sql_h
    people = [str(9000 + n) for n in range(20)]
    await queue(h, [(person, f"{person}-{k}", -k) for person in people for k in (3, 2, 1)])
    outboxes = [store(h) for _ in range(4)]
    on_the_way: dict[str, int] = {}  # recipient -> the row claimed for them and not yet sent
    sent: dict[str, list[str]] = {person: [] for person in people}

    async def deliver(outbox: OutboxStore) -> None:
        for item in await outbox.claim(h.clock.now(), one_per_recipient=True, limit=7):
            assert item.external_id not in on_the_way, f"two rows of {item.external_id} on their way at once"
            on_the_way[item.external_id] = item.id
            await asyncio.sleep(0)  # others claim meanwhile
            sent[item.external_id].append(item.messages[0].body)
            del on_the_way[item.external_id]
            await outbox.mark_sent(item.id, h.clock.now())

    for _ in range(12):  # several rounds of four deliverers claiming and sending side by side
        await asyncio.gather(*(deliver(o) for o in outboxes))
    assert all(sent[p] == [f"{p}-3", f"{p}-2", f"{p}-1"] for p in people)  # each once, oldest first


@pytest.mark.parametrize("after_reads", [1, 2])
async def test_a_row_claimed_by_another_process_while_this_one_reads_the_queue_holds_back_its_recipient(
    sql_h: Harness, after_reads: int
) -> None:
    """The interleaving that once let two of one person's rows out together, made to happen every time: another
    process claims her oldest row between this claim's reads of the queue (after the first, then the second)."""
    h = sql_h
    if h.backend == "sqlite":
        pytest.skip("SQLite takes its write lock at BEGIN: a second claim cannot run while the first reads")
    assert h.engine is not None
    ids = await queue(h, [(ANI, "a1", -10), (ANI, "a2", -5)])
    other_process: list[int] = []
    reads = 0

    def claim_elsewhere(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        nonlocal reads
        if reads < after_reads and statement.startswith("SELECT outbox."):
            reads += 1  # counted before claiming: the other process's own reads pass through here too
            if reads == after_reads:
                other_process.extend(i.id for i in await_only(store(h).claim(h.clock.now(), one_per_recipient=True)))

    event.listen(h.engine.sync_engine, "after_cursor_execute", claim_elsewhere)
    try:
        mine = await store(h).claim(h.clock.now(), one_per_recipient=True)
    finally:
        event.remove(h.engine.sync_engine, "after_cursor_execute", claim_elsewhere)
    assert other_process == [ids[0]]  # the other process took Ani's first while this one read the queue
    assert mine == []  # and this one did not take her second: it would have reached her before her first


async def test_a_long_queue_for_one_recipient_does_not_hide_the_others(sql_h: Harness) -> None:
    h = sql_h
    backlog = [(GROUP, f"g{n}", -300 + n) for n in range(HEAD_PAGE + 50)]  # more than one page of the group's
    ids = await queue(h, [*backlog, (ANI, "a1", 0)])
    claimed = await store(h).claim(h.clock.now(), channel="telegram", one_per_recipient=True)
    assert [i.id for i in claimed] == [ids[0], ids[-1]]  # the group's oldest, and Ani's from the second page


async def test_a_row_set_aside_in_this_round_keeps_its_recipients_later_rows_waiting(sql_h: Harness) -> None:
    h = sql_h
    ids = await queue(h, [(ANI, "a1", -10), (ANI, "a2", -5), (BUDI, "b1", -1)])
    claimed = await store(h).claim(h.clock.now(), one_per_recipient=True, exclude={ids[0]})
    assert [i.id for i in claimed] == [ids[2]]  # Ani's second would overtake her first
