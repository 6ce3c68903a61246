"""Group commit: concurrent commands share transactions, never overdraw, and a batch that cannot be
saved falls back to one-by-one without losing or double-applying anything."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import services_of
from api.settings import settings_for_tests
from api.writer import GroupCommitWriter
from ledger.application import Ledger
from ledger.domain.errors import BalanceWouldGoNegative, ConcurrentUpdate, LedgerError
from tests.api.world import World, build_world

PRICE = 30


@pytest.fixture
def rich_world(tmp_path: Path) -> Iterator[tuple[FastAPI, TestClient, World]]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield app, client, build_world(app, balance_sessions=2)  # 180 + 600 minutes each
    ledger.close()


def test_concurrent_redemptions_never_overdraw(rich_world: tuple[FastAPI, TestClient, World]) -> None:
    app, client, world = rich_world
    members = [world.a.member.actor_id, world.b.member.actor_id]
    counters = {world.a.member.actor_id: (world.a.counter, world.a.item_id),
                world.b.member.actor_id: (world.b.counter, world.b.item_id)}
    before = {m: world.ledger.get_balance_minutes(m) for m in members}
    accepted: dict[object, int] = {m: 0 for m in members}
    lock = threading.Lock()

    def client_loop(n: int) -> list[int]:
        statuses = []
        for i in range(4):
            member = members[(n + i) % 2]
            counter, item = counters[member]
            response = client.post("/v1/redemptions", headers=world.headers(counter, **{"Idempotency-Key": str(uuid4())}),
                                   json={"member_id": str(member), "redemption_id": str(uuid4()),
                                         "items": [{"item_id": str(item), "quantity": 1}]})
            statuses.append(response.status_code)
            if response.status_code == 201:
                with lock:
                    accepted[member] += response.json()["minutes"]
            else:
                assert response.json()["code"] == "balance_would_go_negative", response.text
        return statuses

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = [s for result in pool.map(client_loop, range(32)) for s in result]
    assert statuses.count(201) == sum(before.values()) // PRICE  # everything that fitted, nothing more
    for member in members:
        after = world.ledger.get_balance_minutes(member)
        assert after >= 0 and before[member] - after == accepted[member]
    stats = services_of(app).writer.stats
    assert stats.largest_batch > 1, stats  # concurrent commands did share a transaction


def test_a_refusal_inside_a_batch_does_not_disturb_the_others(rich_world: tuple[FastAPI, TestClient, World]) -> None:
    _, _, world = rich_world
    ledger = world.ledger
    member = world.a.member.actor_id
    writer = GroupCommitWriter(ledger)  # not started: we drive `_run` by hand to get one exact batch

    def redeem(quantity: int) -> object:
        return lambda: ledger.redeem(actor=world.a.counter, member_id=member, redemption_id=uuid4(),
                                     items=[(world.a.item_id, quantity)])

    jobs = [writer_job(redeem(1)), writer_job(redeem(99)), writer_job(redeem(2))]
    writer._run(jobs)
    assert jobs[0].future.result().balance_minutes == 750
    with pytest.raises(BalanceWouldGoNegative):
        jobs[1].future.result()
    assert jobs[2].future.result().balance_minutes == 690
    assert writer.stats.fallbacks == 0 and ledger.get_balance_minutes(member) == 690


def test_a_job_that_fails_after_changing_state_poisons_the_batch(rich_world: tuple[FastAPI, TestClient, World]) -> None:
    _, _, world = rich_world
    ledger = world.ledger
    member = world.a.member.actor_id
    writer = GroupCommitWriter(ledger)

    def good() -> object:
        return ledger.redeem(actor=world.a.counter, member_id=member, redemption_id=uuid4(),
                             items=[(world.a.item_id, 1)])

    def half_done() -> object:  # changes the shared account, then fails before committing
        account = ledger.get_account(member)
        account.redeem(redemption_id=uuid4(), counter_id=world.a.counter.actor_id, lines=[], minutes=500)
        raise LedgerError("failed half way")

    jobs = [writer_job(good), writer_job(half_done), writer_job(good)]
    writer._run(jobs)
    assert writer.stats.fallbacks == 1
    assert jobs[0].future.result().applied and jobs[2].future.result().applied
    with pytest.raises(LedgerError):
        jobs[1].future.result()
    assert ledger.get_balance_minutes(member) == 780 - 2 * PRICE  # the 500 minutes were never saved


def test_a_conflicting_write_from_another_process_falls_back(rich_world: tuple[FastAPI, TestClient, World],
                                                             tmp_path: Path) -> None:
    _, _, world = rich_world
    ledger = world.ledger
    other = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")  # a second process on the same database
    member = world.a.member.actor_id
    writer = GroupCommitWriter(ledger)

    def mine() -> object:
        return ledger.redeem(actor=world.a.counter, member_id=member, redemption_id=uuid4(),
                             items=[(world.a.item_id, 1)])

    def theirs_meanwhile() -> object:
        return other.redeem(actor=world.a.counter, member_id=member, redemption_id=uuid4(),
                            items=[(world.a.item_id, 1)])

    jobs = [writer_job(mine), writer_job(theirs_meanwhile)]
    try:
        writer._run(jobs)
    finally:
        other.close()
    assert writer.stats.fallbacks == 1
    assert jobs[0].future.result().applied
    assert ledger.get_balance_minutes(member) == 780 - 3 * PRICE  # mine once (retried), theirs twice: no loss


def writer_job(run: object) -> object:
    from api.writer import Job

    return Job(run)  # type: ignore[arg-type]  # a plain callable as the job


def test_concurrent_update_alone_is_retried_once() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise ConcurrentUpdate("first try lost the race")
        return "ok"

    writer = GroupCommitWriter(Ledger("memory:"))
    assert writer.submit(flaky) == "ok" and len(calls) == 2
