"""Shared fixtures: one ledger per test on each store (memory, SQLite file, PostgreSQL), and the
hypothesis profiles `dev` (default) and `ci` (more examples, no deadline; CI=true selects it)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from ledger.application import Ledger

settings.register_profile("dev", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("ci", max_examples=80, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

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
