"""Fixtures of the projection tests: the hand-built golden year on every store, and its views.

`golden` / `golden_views` are made afresh for each test (for tests that add events or rebuild);
`shared` builds the golden year once per module and store, for the many tests that only read it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from ledger.application import Ledger
from projections.projector import Views
from tests.conftest import _POSTGRES, POSTGRES_URL, STORES, drop_schema
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


@pytest.fixture(scope="module", params=STORES)
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Golden, Views]]:
    """The golden year and its views, built once per module and store: for read-only tests."""
    schema = None
    if request.param == "memory":
        url = "memory:"
    elif request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('golden') / 'ledger.db'}"
    else:
        if not _POSTGRES:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        schema = f"t_{uuid.uuid4().hex[:16]}"
        url = f"{POSTGRES_URL}?schema={schema}"
    ledger = Ledger(url)
    golden = build(ledger)
    views = Views(ledger)
    views.catch_up(page_events=7)
    yield golden, views
    views.close()
    ledger.close()
    if schema is not None:
        drop_schema(schema)
