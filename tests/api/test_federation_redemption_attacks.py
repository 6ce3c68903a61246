"""`POST /v1/federation/redemptions` needs no login, so anyone can send it anything: every body — too
big (declared or streamed), nested deep, not UTF-8, empty, a request signed by no peer — is refused
with a named code and a 4xx, and the store does not move."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.ratelimit import TokenBucket
from api.routers.federation import FederationGuard
from api.settings import settings_for_tests
from ledger.application import Ledger, anywhere
from tests.api.world import World, build_world


@pytest.fixture
def home() -> Iterator[tuple[TestClient, World]]:
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        world = build_world(app)
        app.state.federation_guard = FederationGuard(
            buckets=TokenBucket(rate_per_second=100, burst=100), concurrent_max=4,
            redemption_buckets=TokenBucket(rate_per_second=100, burst=100))
        yield client, world
    ledger.close()


def _chunks(total: int) -> Iterator[bytes]:
    for _ in range(total // 4096):
        yield b"[" * 4096


def test_any_body_gets_a_named_refusal_and_the_store_does_not_move(home: tuple[TestClient, World]) -> None:
    client, world = home
    before = world.ledger.recorder.max_notification_id()
    path = anywhere.FEDERATION_REDEMPTION_PATH
    too_big = anywhere.MESSAGE_BYTES_MAX + 1
    sent = [
        client.post(path, content=b"{" * too_big),
        client.post(path, content=_chunks(too_big + 4096)),  # chunked: no Content-Length to refuse by
        client.post(path, content=b"[" * 30_000 + b"]" * 30_000),
        client.post(path, content=b"\xff\xfe\x00garbage"),
        client.post(path, content=b""),
        client.post(path, content=b'{"body":{},"key_id":"","signature":""}'),
        client.post(path, content=b"{}", headers={"Content-Length": "-1"}),
    ]
    for response in sent:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["code"] in ("request_too_large", "anywhere_message_unreadable", "invalid_input",
                                           "bundle_too_large"), response.text
    assert world.ledger.recorder.max_notification_id() == before
