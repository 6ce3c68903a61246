"""Crash in the middle: a projector stopped (or killed mid-transaction) after k events resumes to
the same views as a clean rebuild, on every store; two projectors never apply a page twice."""

from __future__ import annotations

import pytest

from projections.projector import TrackingMoved, Views
from tests.projections.golden import Golden
from tests.projections.helpers import clean_rebuild, differences, dump


@pytest.mark.parametrize("stop_after", [1, 23, 101])
def test_stopping_after_k_events_and_resuming_equals_a_clean_rebuild(golden: Golden, stop_after: int) -> None:
    first = Views(golden.ledger)
    assert first.catch_up(events_max=stop_after, page_events=10).events == stop_after
    assert first.position() == stop_after
    if golden.ledger.database.kind == "memory":  # the in-memory views live and die with their engine
        resumed = first
    else:  # a new process: nothing but the database carries over
        first.close()
        resumed = Views(golden.ledger)
    resumed.catch_up(page_events=10)
    assert not differences(dump(resumed), clean_rebuild(golden.ledger))
    resumed.close()


class Crash(RuntimeError):
    pass


def test_a_crash_inside_a_page_commits_nothing_of_it(golden: Golden, monkeypatch: pytest.MonkeyPatch) -> None:
    views = Views(golden.ledger)
    pages = {"written": 0}
    real_write = views._write

    def write_then_crash_on_page_three(connection, page):  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
        real_write(connection, page)  # the rows are written …
        pages["written"] += 1
        if pages["written"] == 3:
            raise Crash("killed before the commit")  # … but the transaction never commits

    monkeypatch.setattr(views, "_write", write_then_crash_on_page_three)
    with pytest.raises(Crash):
        views.catch_up(page_events=20)
    assert views.position() == 40  # two whole pages, nothing of the third
    monkeypatch.undo()
    views.catch_up(page_events=20)
    assert not differences(dump(views), clean_rebuild(golden.ledger))
    views.close()


def test_rebuilding_in_place_gives_the_same_views(golden: Golden) -> None:
    views = Views(golden.ledger)
    views.catch_up(page_events=3)
    incremental = dump(views)
    views.rebuild(page_events=1000)
    assert not differences(incremental, dump(views))
    views.close()


def test_two_projectors_on_one_database_never_apply_a_page_twice(golden: Golden) -> None:
    if golden.ledger.database.kind == "memory":
        pytest.skip("views of the in-memory store live in each projector's own in-memory database")
    one, two = Views(golden.ledger), Views(golden.ledger)
    page = one.reader.page(1, 10)
    two.apply_page(page, 0)
    with pytest.raises(TrackingMoved):
        one.apply_page(page, 0)  # the tracking row moved: nothing of this page is written again
    one.catch_up(events_max=30, page_events=7)  # resumes from where `two` left the tracking row
    two.catch_up(page_events=11)
    one.catch_up()
    assert one.position() == two.position() == golden.ledger.recorder.max_notification_id()
    assert not differences(dump(one), clean_rebuild(golden.ledger))
    one.close()
    two.close()
