"""The one paged catch-up loop: the Merkle log and the projections both follow the event store this way.

Read a page of stored events after the follower's position, apply it (the follower commits the page
and its new position in one transaction, compare-and-set on the old position), repeat until the
store has no more or a bound is reached. A follower that finds its position moved under it (another
process applied the page first) either reloads and continues (`reload`) or lets the error through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Followed(Generic[S]):
    state: S  # the follower's state after the last page it applied
    events: int  # events applied by this call
    pages: int  # pages (transactions) applied by this call


def follow(state: S, *, read: Callable[[S, int], Sequence[Any]], apply: Callable[[S, Sequence[Any]], S],
           page_events: int, events_max: int | None = None, pages_max: int | None = None,
           moved: type[Exception] | None = None, reload: Callable[[], S] | None = None) -> Followed[S]:
    """Apply pages of at most `page_events` events until the store has none left after `state`, or
    `events_max` events or `pages_max` pages are applied. `read(state, limit)` returns the next events
    after `state`; `apply(state, events)` commits them and returns the new state. When `apply` raises
    `moved`, the state is reloaded with `reload` and the loop goes on from there."""
    assert page_events >= 1
    assert (moved is None) == (reload is None), "a moved position is either reloaded or raised"
    events = pages = 0
    while (events_max is None or events < events_max) and (pages_max is None or pages < pages_max):
        limit = page_events if events_max is None else min(page_events, events_max - events)
        page = read(state, limit)
        if not page:
            break
        try:
            state = apply(state, page)
        except Exception as error:
            if moved is None or reload is None or not isinstance(error, moved):
                raise
            state = reload()  # another follower got there first: continue from its state
            continue
        events += len(page)
        pages += 1
    return Followed(state, events, pages)
