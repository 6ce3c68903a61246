"""Fixtures of the projection tests: the hand-built golden year on every store, and its views."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger.application import Ledger
from projections.projector import Views
from tests.projections.golden import Golden, build


@pytest.fixture
def golden(any_ledger: Ledger) -> Golden:
    return build(any_ledger)


@pytest.fixture
def golden_views(golden: Golden) -> Iterator[Views]:
    views = Views(golden.ledger)
    views.catch_up(page_events=7)  # small pages: the golden numbers must not depend on page boundaries
    yield views
    views.close()
