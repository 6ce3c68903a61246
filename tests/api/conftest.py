"""Fixtures for the API tests: an app over a fresh store, a TestClient with its lifespan running
(so the group-commit writer thread is live), and the two-sided world of tests/api/world.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from ledger.application import Ledger
from tests.api.world import World, build_world


@pytest.fixture
def app(database_url: str) -> Iterator[FastAPI]:
    ledger = Ledger(database_url)
    yield create_app(settings_for_tests(), ledger)
    ledger.close()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> World:
    return build_world(app)


@pytest.fixture
def memory_app() -> Iterator[FastAPI]:
    ledger = Ledger("memory:")
    yield create_app(settings_for_tests(), ledger)
    ledger.close()
