"""The Merkle log as a catch-up projection: roots, proofs, gaps, crashes, concurrent builders."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.application import Ledger
from ledger.signing import merkle
from ledger.storage import log_tables as t
from ledger.storage.merkle_log import LogMoved, MerkleLog
from tests.scenario import build_region, redeem, serve

ROOT = Path(__file__).resolve().parents[2]


def expected_leaves(ledger: Ledger) -> list[tuple[int, bytes]]:
    notifications = ledger.recorder.select_notifications(start=1, limit=10**6)
    return [(n.id, merkle.leaf_hash(n.state)) for n in notifications]


def tree_root(hashes: list[bytes]) -> bytes:
    size, peaks, _ = merkle.append_leaves(0, [], hashes)
    return merkle.root_from_compact_range(size, peaks)


def logged(log: MerkleLog) -> list[tuple[int, int, bytes]]:
    return [(leaf.index, leaf.position, leaf.leaf_hash) for leaf in log.iter_leaves()]


@pytest.fixture
def small_region(any_ledger: Ledger) -> Ledger:
    region = build_region(any_ledger, members=2)
    for member in region.members:
        serve(region, member, 90)
        redeem(region, member)
    return any_ledger


def test_log_matches_the_store_and_proves_every_size(small_region: Ledger) -> None:
    ledger = small_region
    log = MerkleLog.for_ledger(ledger)
    result = log.catch_up(page_events=7)
    leaves = expected_leaves(ledger)
    hashes = [h for _, h in leaves]
    state = log.state()
    assert result.appended == state.size == len(leaves) and state.position == leaves[-1][0]
    assert state.root == tree_root(hashes) == log.root_at(state.size)
    assert logged(log) == [(i, p, h) for i, (p, h) in enumerate(leaves)]
    for size in range(1, state.size + 1):
        root = log.root_at(size)
        assert root == tree_root(hashes[:size])
        index = size // 2
        merkle.verify_inclusion(hashes[index], index, size, log.inclusion_proof(index, size), root)
        merkle.verify_consistency(size, state.size, log.consistency_proof(size, state.size), root, state.root)
    assert log.catch_up().appended == 0  # nothing new: nothing appended


def test_page_size_does_not_change_the_tree(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'a.db'}")
    region = build_region(ledger, members=1)
    serve(region, region.members[0], 60)
    roots = set()
    for page in (1, 3, 1000):
        engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
        log = MerkleLog(ledger, engine=engine)
        log.catch_up(page_events=page)
        roots.add((log.state().size, log.state().root, len(logged(log))))
        engine.dispose()
    assert len(roots) == 1
    ledger.close()


@dataclass
class FakeNotification:
    id: int
    originator_id: str
    originator_version: int
    state: bytes


def test_leaf_indexes_are_contiguous_where_positions_have_gaps() -> None:
    rows = [FakeNotification(p, f"00000000-0000-0000-0000-{p:012d}", 1, f"event {p}".encode())
            for p in (1, 2, 5, 6, 7, 19, 20, 400)]
    engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool)
    log = MerkleLog(engine=engine, select=lambda after, limit: [r for r in rows if r.id > after][:limit])
    log.catch_up(page_events=3)
    assert [(i, p) for i, p, _ in logged(log)] == list(enumerate(r.id for r in rows))
    assert log.state().root == tree_root([merkle.leaf_hash(r.state) for r in rows])
    assert log.leaf_at_position(19).index == 5 and log.leaf_at_position(3) is None


@pytest.mark.parametrize("any_store_url", ["postgres"], indirect=True)
def test_a_failed_write_leaves_a_gap_in_positions_but_not_in_leaves(any_ledger: Ledger) -> None:
    from eventsourcing.persistence import IntegrityError, StoredEvent

    region = build_region(any_ledger, members=1)
    member = region.members[0]
    clash = any_ledger.recorder.select_events(member.actor_id, limit=1)[0]  # version 1 exists already
    with pytest.raises(IntegrityError):  # the insert fails after taking a sequence value: a gap
        any_ledger.recorder.insert_events([StoredEvent(clash.originator_id, 1, clash.topic, clash.state)])
    serve(region, member, 60)
    log = MerkleLog.for_ledger(any_ledger)
    log.catch_up()
    positions = [p for _, p, _ in logged(log)]
    assert any(b - a > 1 for a, b in zip(positions, positions[1:])), "expected a gap in notification ids"
    assert [i for i, _, _ in logged(log)] == list(range(len(positions)))
    assert log.state().root == tree_root([h for _, h in expected_leaves(any_ledger)])


class Crash(Exception):
    pass


@pytest.mark.parametrize("any_store_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("stage", ["state", "leaves", "nodes"])
def test_a_crash_inside_a_page_neither_loses_nor_duplicates_leaves(small_region: Ledger, stage: str) -> None:
    ledger = small_region
    log = MerkleLog(ledger)
    pages = 0

    def crash_on_third_page(where: str) -> None:
        nonlocal pages
        if where == "state":
            pages += 1
        if pages == 3 and where == stage:
            raise Crash(where)

    log.fault = crash_on_third_page
    with pytest.raises(Crash):
        log.catch_up(page_events=5)
    assert log.state().size == 10 and len(logged(log)) == 10  # two pages committed, the third not at all
    log.close()
    resumed = MerkleLog(ledger)  # a new process would start like this
    resumed.catch_up(page_events=5)
    leaves = expected_leaves(ledger)
    assert logged(resumed) == [(i, p, h) for i, (p, h) in enumerate(leaves)]
    assert resumed.state().root == tree_root([h for _, h in leaves])
    resumed.close()


CHILD = textwrap.dedent("""
    import os, sys
    from ledger.application import Ledger
    from ledger.storage.merkle_log import LogMoved, MerkleLog
    ledger = Ledger(sys.argv[1])
    log = MerkleLog(ledger)
    pages = 0
    def die(where):
        global pages
        pages += where == "state"
        if pages == 2 and where == "leaves":
            os._exit(9)  # the process dies mid-transaction: no rollback, no cleanup
    log.fault = die
    log.catch_up(page_events=4)
""")


@pytest.mark.parametrize("any_store_url", ["sqlite", "postgres"], indirect=True)
def test_a_killed_builder_resumes_without_loss_or_duplicates(small_region: Ledger) -> None:
    ledger = small_region
    child = subprocess.run([sys.executable, "-c", CHILD, ledger.database.url], cwd=ROOT, timeout=120,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.returncode == 9
    log = MerkleLog(ledger)
    assert log.state().size == 4 and len(logged(log)) == 4
    log.catch_up(page_events=4)
    leaves = expected_leaves(ledger)
    assert logged(log) == [(i, p, h) for i, (p, h) in enumerate(leaves)]
    assert log.state().root == tree_root([h for _, h in leaves])
    log.close()


@pytest.mark.parametrize("any_store_url", ["sqlite", "postgres"], indirect=True)
def test_two_builders_never_append_the_same_event_twice(small_region: Ledger) -> None:
    ledger = small_region
    first, second = MerkleLog(ledger), MerkleLog(ledger)
    first_state = first.state()
    second.catch_up(page_events=3, pages_max=2)
    # the first builder still believes in its old state: its compare-and-set fails and it moves on
    with pytest.raises(LogMoved):  # drive one stale page directly
        first._append_page(first_state, ledger.recorder.select_notifications(start=1, limit=3))
    first.catch_up(page_events=4)
    second.catch_up(page_events=2)
    leaves = expected_leaves(ledger)
    assert logged(first) == [(i, p, h) for i, (p, h) in enumerate(leaves)]
    with first.engine.connect() as connection:
        nodes = connection.execute(sa.select(sa.func.count()).select_from(t.nodes)).scalar_one()
    size = len(leaves)
    assert nodes == sum(size >> level for level in range(1, size.bit_length()))
    first.close()
    second.close()
