"""Shared fixtures: one ledger per test on each store (memory, SQLite file, PostgreSQL), and the
hypothesis profiles:

* `dev` (default on a developer's machine): random exploration, failures kept in the local database;
* `ci` (CI=true selects it): derandomized (a fixed seed: the same examples on every run and every
  xdist split), no example database, so a run passes or fails on the code alone. A test's own
  `@settings(...)` inherits this (it sets only counts and health checks); `pytest_collection_modifyitems`
  refuses a test that would silently turn derandomize off;
* `fuzz` (scripts/fuzz.sh): random, every test's example count multiplied by
  TIMELEDGER_FUZZ_FACTOR (default 10).

HYPOTHESIS_PROFILE overrides the choice. Every failure found by `dev` or `fuzz` becomes an explicit
`@example(...)` on the test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ledger.application import Ledger

_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("dev", max_examples=40, deadline=None, suppress_health_check=_SUPPRESSED)
settings.register_profile("ci", max_examples=80, deadline=None, derandomize=True, database=None,
                          print_blob=True, suppress_health_check=_SUPPRESSED)
settings.register_profile("fuzz", max_examples=400, deadline=None, print_blob=True, suppress_health_check=_SUPPRESSED)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes")
                         else "dev")
settings.load_profile(PROFILE)
FUZZ_FACTOR = int(os.environ.get("TIMELEDGER_FUZZ_FACTOR", "10"))


def _hypothesis_settings(item: pytest.Item) -> tuple[object, str, settings] | None:
    """Where a collected hypothesis test keeps its settings: (holder, attribute, settings)."""
    function = getattr(item, "obj", None)
    cls = getattr(item, "cls", None)
    if hasattr(function, "_hypothesis_state_machine_class") and cls is not None:  # a state machine's TestCase
        return cls, "settings", cls.settings
    if function is not None and getattr(function, "is_hypothesis_test", False):
        return function, "_hypothesis_internal_use_settings", getattr(
            function, "_hypothesis_internal_use_settings", settings.default)
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In CI, no test may run random examples; under `fuzz`, every test runs FUZZ_FACTOR times more."""
    wrong = []
    for item in items:
        found = _hypothesis_settings(item)
        if found is None:
            continue
        holder, attribute, own = found
        if PROFILE == "ci" and not (own.derandomize and own.database is None):
            wrong.append(item.nodeid)
        elif PROFILE == "fuzz" and not getattr(holder, "_timeledger_fuzzed", False):
            setattr(holder, attribute, settings(own, max_examples=own.max_examples * FUZZ_FACTOR))
            holder._timeledger_fuzzed = True
    if wrong:
        raise pytest.UsageError("hypothesis tests whose own @settings turn off the ci profile's derandomize or "
                                "database=None (set only counts and health checks): " + ", ".join(wrong))

POSTGRES_URL = os.environ.get("TIMELEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STORES = ["memory", "sqlite", "postgres"]


def postgres_available() -> bool:
    if os.environ.get("TIMELEDGER_SKIP_POSTGRES"):
        return False
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=2):
            return True
    except Exception:
        return False


_POSTGRES = postgres_available()


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def store_url(store: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL of one kind: memory, sqlite (a file) or postgres (a schema)."""
    if store == "memory":
        yield "memory:"
    elif store == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        if not _POSTGRES:
            if os.environ.get("CI"):
                pytest.fail("PostgreSQL on 127.0.0.1:5432 is required in CI")
            pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
        schema = f"t_{uuid.uuid4().hex[:16]}"
        yield f"{POSTGRES_URL}?schema={schema}"
        drop_schema(schema)


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The kind named by the `store` parameter (default sqlite)."""
    yield from store_url(getattr(request, "param", "sqlite"), tmp_path)


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    instance = Ledger(database_url)
    yield instance
    instance.close()


@pytest.fixture(params=STORES)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Parametrised over every store: the same test runs on memory, SQLite and PostgreSQL."""
    yield from store_url(request.param, tmp_path)


@pytest.fixture
def any_ledger(any_store_url: str) -> Iterator[Ledger]:
    instance = Ledger(any_store_url)
    yield instance
    instance.close()
