"""The aggregate cache hands out one-level copies (LedgerAggregate.__deepcopy__). That is only
safe if no applier changes a nested value in place: replay a demo year and check that applying
each event to a copy never changes the original."""

from __future__ import annotations

import copy
from uuid import UUID

from ledger.application import Ledger
from ledger.demo import generate


def test_applying_an_event_to_a_cached_copy_never_changes_the_original() -> None:
    ledger = Ledger("memory:")
    generate(ledger, members=20, seed=11)
    by_aggregate: dict[UUID, list] = {}
    for notification in ledger.recorder.select_notifications(start=1, limit=10**6):
        by_aggregate.setdefault(UUID(str(notification.originator_id)), []).append(notification)
    checked = 0
    for notifications in by_aggregate.values():
        aggregate = None
        for notification in notifications:
            event = ledger.mapper.to_domain_event(notification)
            if aggregate is not None:
                before = {name: copy.deepcopy(value) for name, value in aggregate.__dict__.items()}
                clone = copy.deepcopy(aggregate)
                event.mutate(clone)
                assert aggregate.__dict__ == before, type(event).__qualname__
                checked += 1
            aggregate = event.mutate(aggregate)
    assert checked > 300


def test_a_command_refused_halfway_leaves_the_cache_as_it_was() -> None:
    from tests.scenario import build_region, redeem, serve
    from ledger.domain.errors import BalanceWouldGoNegative

    ledger = Ledger("memory:")
    region = build_region(ledger, members=1)
    member = region.members[0]
    serve(region, member, 30)
    before = ledger.get_account(member.actor_id).__dict__
    try:
        redeem(region, member, quantity=2)
    except BalanceWouldGoNegative:
        pass
    assert ledger.get_account(member.actor_id).__dict__ == before
