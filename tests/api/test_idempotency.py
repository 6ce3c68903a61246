"""Idempotency-Key on commands: a retry returns the original response once; a different body is 409."""

from __future__ import annotations

import threading
from uuid import uuid4

from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.services import services_of
from tests.api.world import World, today_iso


def _redemption(world: World) -> dict[str, object]:
    return {"member_id": str(world.a.member.actor_id), "redemption_id": str(uuid4()),
            "items": [{"item_id": str(world.a.item_id), "quantity": 1}]}


def _session(world: World) -> dict[str, object]:
    return {"member_id": str(world.a.member.actor_id), "activity": "平安巡逻", "content": "夜间巡逻", "place": "小区",
            "service_date": today_iso(world.ledger), "start_time": "19:00", "end_time": "21:00", "minutes": 90}


def test_retry_returns_the_original_response_and_records_once(app: FastAPI, client: TestClient, world: World) -> None:
    headers = world.headers(world.a.member, **{"Idempotency-Key": "session-1"})
    events_before = world.ledger.recorder.max_notification_id()
    first = client.post("/v1/sessions", headers=headers, json=_session(world))
    second = client.post("/v1/sessions", headers=headers, json=_session(world))
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second.headers.get("Idempotent-Replayed") == "true"
    assert world.ledger.recorder.max_notification_id() == events_before + 1  # one Recorded event, not two


def test_same_key_different_body_is_a_conflict(client: TestClient, world: World) -> None:
    headers = world.headers(world.a.member, **{"Idempotency-Key": "session-2"})
    assert client.post("/v1/sessions", headers=headers, json=_session(world)).status_code == 201
    changed = client.post("/v1/sessions", headers=headers, json={**_session(world), "minutes": 60})
    assert changed.status_code == 409 and changed.json()["code"] == "idempotency_key_reused"


def test_keys_are_per_actor(client: TestClient, world: World) -> None:
    body_a = _redemption(world)
    a = client.post("/v1/redemptions", headers=world.headers(world.a.counter, **{"Idempotency-Key": "k"}), json=body_a)
    body_b = {"member_id": str(world.b.member.actor_id), "redemption_id": str(uuid4()),
              "items": [{"item_id": str(world.b.item_id), "quantity": 1}]}
    b = client.post("/v1/redemptions", headers=world.headers(world.b.counter, **{"Idempotency-Key": "k"}), json=body_b)
    assert a.status_code == b.status_code == 201 and a.json() != b.json()


def test_refusals_are_not_stored_so_a_retry_can_succeed_later(client: TestClient, world: World) -> None:
    headers = world.headers(world.a.counter, **{"Idempotency-Key": "big"})
    body = {**_redemption(world), "items": [{"item_id": str(world.a.item_id), "quantity": 9}]}  # 270 > 180
    refused = client.post("/v1/redemptions", headers=headers, json=body)
    assert refused.status_code == 409 and refused.json()["code"] == "balance_would_go_negative"
    community = world.headers(world.a.community)
    session_id = client.post("/v1/sessions", headers=community, json=_session(world)).json()["id"]
    client.post(f"/v1/sessions/{session_id}/rating", headers=community, json={"rating": "良"})
    assert client.post(f"/v1/sessions/{session_id}/certification", headers=community).status_code == 200
    assert client.post("/v1/redemptions", headers=headers, json=body).status_code == 201


def test_invalid_key_is_refused(client: TestClient, world: World) -> None:
    response = client.post("/v1/sessions", headers=world.headers(world.a.member, **{"Idempotency-Key": "has space"}),
                           json=_session(world))
    assert response.status_code == 422 and response.json()["code"] == "invalid_header"


def test_concurrent_retries_apply_once(app: FastAPI, client: TestClient, world: World) -> None:
    headers = world.headers(world.a.counter, **{"Idempotency-Key": "burst"})
    body = _redemption(world)
    answers: list[tuple[int, dict[str, object]]] = []

    def send() -> None:
        response = client.post("/v1/redemptions", headers=headers, json=body)
        answers.append((response.status_code, response.json()))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _ in answers} == {201}
    assert len({repr(body) for _, body in answers}) == 1
    assert world.ledger.get_balance_minutes(world.a.member.actor_id) == 150  # 180 − one 30-minute item
    assert services_of(app).writer.stats.commands >= 1
