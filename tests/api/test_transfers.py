"""转移接续 over HTTP: two services under one province root move a member with history and balance."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import services_of
from api.provision import provision
from api.settings import settings_for_tests
from ledger.application import Ledger
from tests.api.world import World


@pytest.fixture
def destination(world: World) -> Iterator[tuple[FastAPI, TestClient, dict[str, str]]]:
    ledger = Ledger("memory:")
    ledger.init_region(code="320104", name="南京市秦淮区", province_key=world.root_key)
    app = create_app(settings_for_tests(), ledger)
    admin = provision(ledger, services_of(app).auth)[0]
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post("/v1/auth/token", data={"username": admin.username, "password": admin.password})
        yield app, client, {"Authorization": f"Bearer {token.json()['access_token']}"}
    ledger.close()


def test_a_member_moves_between_two_services(client: TestClient, world: World, destination) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, remote, remote_admin = destination
    region = world.headers(world.region)
    member_id = str(world.a.member.actor_id)
    # each region registers the other from its card
    assert remote.post("/v1/region/peers", headers=remote_admin,
                       json=client.get("/v1/region/card", headers=region).json()).status_code == 200
    assert client.post("/v1/region/peers", headers=region,
                       json=remote.get("/v1/region/card", headers=remote_admin).json()).status_code == 200
    refused = client.post("/v1/transfers", headers=region, json={"member_id": member_id, "destination": "320104"})
    assert refused.status_code == 403 and refused.json()["code"] == "consent_missing"
    consent = client.post(f"/v1/members/{member_id}/consents", headers=world.headers(world.a.member),
                          json={"purpose": "transfer", "recipient": "320104"})
    assert consent.status_code == 201
    started = client.post("/v1/transfers", headers=region, json={"member_id": member_id, "destination": "320104"})
    assert started.status_code == 201 and started.json()["status"] == "pending"
    transfer_id = started.json()["id"]
    frozen = client.post("/v1/redemptions", headers=world.headers(world.a.counter), json={
        "member_id": member_id, "redemption_id": "6b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        "items": [{"item_id": str(world.a.item_id), "quantity": 1}]})
    assert frozen.status_code == 409 and frozen.json()["code"] == "member_frozen"

    bundle = client.post(f"/v1/transfers/{transfer_id}/export", headers=region)
    assert bundle.status_code == 200 and b"13800000000" not in bundle.content  # personal fields travel sealed
    receipt = remote.post("/v1/transfer-imports", headers=remote_admin, content=bundle.content)
    assert receipt.status_code == 201, receipt.text
    again = remote.post("/v1/transfer-imports", headers=remote_admin, content=bundle.content)
    assert again.json() == receipt.json()  # importing twice is a no-op with the same receipt
    done = client.post(f"/v1/transfers/{transfer_id}/completion", headers=region, json=receipt.json())
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert client.get(f"/v1/members/{member_id}", headers=region).json()["status"] == "moved"
    assert remote.get(f"/v1/members/{member_id}/balance", headers=remote_admin).json()["balance_minutes"] == 180


def test_a_tampered_bundle_is_refused_with_a_reason(client: TestClient, world: World, destination) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, remote, remote_admin = destination
    response = remote.post("/v1/transfer-imports", headers=remote_admin, content=b'{"format": "not a bundle"}')
    assert response.status_code == 422 and response.json()["code"].startswith("bundle_")
