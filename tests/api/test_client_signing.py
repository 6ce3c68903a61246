"""Client-signed submissions: a counter device holds its own key; the service checks and stores
its signatures verbatim. Uses the same Client the CLI uses (`timeledger client submit`)."""

from __future__ import annotations

import base64
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.client import Client, key_id_of
from ledger.signing import keys as ed25519
from ledger.signing.statement import unpack
from ledger.verification.store import verify_store
from tests.api.world import World


@pytest.fixture
def device(client: TestClient, world: World) -> tuple[Client, object]:
    """Counter A's own key, registered by community A, and a client signed in as counter A."""
    private = ed25519.generate()
    public = ed25519.b64(ed25519.public_bytes(private.public_key()))
    response = client.post("/v1/keys", headers=world.headers(world.a.community), json={
        "owner_id": str(world.a.counter.actor_id), "public_key": public, "label": "收银终端2号"})
    assert response.status_code == 201, response.text
    assert response.json()["key_id"] == key_id_of(private)
    return Client(http=client, token=world.tokens[world.a.counter.actor_id]), private


def _redemption(world: World) -> dict[str, object]:
    return {"member_id": str(world.a.member.actor_id), "redemption_id": str(uuid4()),
            "items": [{"item_id": str(world.a.item_id), "quantity": 2}]}


def test_prepare_stores_nothing_and_returns_the_statements(client: TestClient, world: World, device) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, private = device
    before = world.ledger.recorder.max_notification_id()
    response = client.post("/v1/redemptions", json=_redemption(world), headers=world.headers(
        world.a.counter, **{"Timeledger-Key-Id": key_id_of(private), "Timeledger-Prepare": "true"}))
    assert response.status_code == 202
    statements = response.json()["statements"]
    assert len(statements) == 1 and base64.b64decode(statements[0]).startswith(b"timeledger/v1\n320102\n")
    assert world.ledger.recorder.max_notification_id() == before


def test_signed_redemption_is_stored_verbatim_and_verifies(app: FastAPI, world: World, device) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    signer, private = device
    answer = signer.submit_signed("POST", "/v1/redemptions", _redemption(world), private, idempotency_key="dev-1")
    assert answer.status_code == 201, answer.body
    assert answer.body["balance_minutes"] == 120
    last = world.ledger.recorder.select_notifications(start=world.ledger.recorder.max_notification_id(), limit=1)[0]
    signature, signed_bytes = unpack(last.state)
    assert ed25519.verify(private.public_key(), signature, signed_bytes)  # the device's own signature
    root = base64.b64decode(world.ledger.root_public_key())
    assert verify_store(world.ledger.database, root_public_key=root, region_code="320102",
                        recorder=world.ledger.recorder, workers=0).ok


def test_a_bad_signature_is_refused_and_changes_nothing(client: TestClient, world: World, device) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, private = device
    body = _redemption(world)
    headers = world.headers(world.a.counter, **{"Timeledger-Key-Id": key_id_of(private)})
    prepared = client.post("/v1/redemptions", json=body, headers={**headers, "Timeledger-Prepare": "true"}).json()
    wrong = ed25519.generate().sign(base64.b64decode(prepared["statements"][0]))
    before = world.ledger.recorder.max_notification_id()
    response = client.post("/v1/redemptions", json=body, headers={
        **headers, "Timeledger-Signed-At": prepared["signed_at"],
        "Timeledger-Signatures": base64.b64encode(wrong).decode()})
    assert response.status_code == 422 and response.json()["code"] == "signature_invalid"
    assert world.ledger.recorder.max_notification_id() == before


def test_signing_with_someone_elses_key_is_forbidden(client: TestClient, world: World, device) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, private = device
    response = client.post("/v1/redemptions", json=_redemption(world), headers=world.headers(
        world.b.counter, **{"Timeledger-Key-Id": key_id_of(private), "Timeledger-Prepare": "true"}))
    assert response.status_code == 403 and response.json()["code"] == "not_permitted"


def test_a_revoked_client_key_is_refused(client: TestClient, world: World, device) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    signer, private = device
    revoked = client.post(f"/v1/keys/{key_id_of(private)}/revocation", headers=world.headers(world.a.community),
                          json={"reason": "终端丢失"})
    assert revoked.status_code == 200, revoked.text
    answer = signer.submit_signed("POST", "/v1/redemptions", _redemption(world), private)
    assert answer.status_code == 403 and answer.body["code"] == "key_revoked"


def test_multi_event_command_can_be_client_signed(client: TestClient, world: World) -> None:
    """Certification writes two events (session + account): both statements carry the same time."""
    private = ed25519.generate()
    public = ed25519.b64(ed25519.public_bytes(private.public_key()))
    assert client.post("/v1/keys", headers=world.headers(world.region), json={
        "owner_id": str(world.a.community.actor_id), "public_key": public, "label": "社区办公电脑"}).status_code == 201
    office = Client(http=client, token=world.tokens[world.a.community.actor_id])
    session = world.a.open_session_id
    assert office.submit_signed("POST", f"/v1/sessions/{session}/rating", {"rating": "良"}, private).status_code == 200
    answer = office.submit_signed("POST", f"/v1/sessions/{session}/certification", None, private)
    assert answer.status_code == 200 and answer.body == {"minutes": 120}
