"""The base aggregate: a clock for event timestamps, and the hash-chain head.

Event timestamps come from `CLOCK` (the server clock unless a caller such as the demo generator
sets another); appliers never read it. The server clock is the wall clock, unless a demo or a test
moved it with `start_clock_at` (`timeledger serve --demo` does so when TIMELEDGER_CLOCK_START is set):
then it reads that instant at that moment and runs on in real time from there. `_chain_head` is the SHA-256 of the aggregate's last signed
statement: the mapper attaches it to events it loads, and the ledger sets it when it signs.
"""

from __future__ import annotations

import copy
from contextvars import ContextVar
from datetime import date, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Callable
from uuid import UUID

from eventsourcing.domain import Aggregate

_CLOCK_OFFSET = timedelta(0)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc) + _CLOCK_OFFSET


def start_clock_at(instant: datetime) -> None:
    """Move this process's server clock so that it reads `instant` now (and runs on from there).
    For demos and tests only: `timeledger serve --demo` with TIMELEDGER_CLOCK_START."""
    global _CLOCK_OFFSET
    if instant.tzinfo is None:
        raise ValueError("the clock start needs a time zone (e.g. 2026-12-01T02:00:00Z)")
    _CLOCK_OFFSET = instant - datetime.now(timezone.utc)


def utc_now() -> datetime:
    """The time as the ledger sees it (the context's clock; see `CLOCK`)."""
    return CLOCK.get()()


CLOCK: ContextVar[Callable[[], datetime]] = ContextVar("CLOCK", default=_utc_now)
CHAIN_ATTRIBUTE = "_statement_sha256"


_IMMUTABLE = (str, int, float, bool, bytes, type(None), UUID, datetime, date, Enum, tuple, frozenset)


def _copy_container(value: Any) -> Any:
    """One level of copy: appliers replace nested values, never change them in place."""
    if isinstance(value, _IMMUTABLE):
        return value
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    if isinstance(value, set):
        return set(value)
    return copy.deepcopy(value)


class LedgerAggregate(Aggregate):
    def __deepcopy__(self, memo: dict[int, Any]) -> "LedgerAggregate":
        """The repository copies cached aggregates on every read; a full deep copy was most of a
        command's cost. Appliers only assign or add at the top level (tests hold them to it), so
        copying each attribute's container one level deep is enough to keep the cache unshared."""
        clone = object.__new__(type(self))
        clone.__dict__.update({name: _copy_container(value) for name, value in self.__dict__.items()})
        return clone

    class Event(Aggregate.Event):
        @staticmethod
        def create_timestamp() -> datetime:
            return CLOCK.get()()

        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            chain = self.__dict__.get(CHAIN_ATTRIBUTE)
            if chain is not None:
                aggregate._chain_head = chain
            return aggregate

    class Created(Event, Aggregate.Created):
        def mutate(self, aggregate: Any) -> Any:
            aggregate = super().mutate(aggregate)
            aggregate.__dict__.setdefault("_chain_head", None)
            return aggregate
