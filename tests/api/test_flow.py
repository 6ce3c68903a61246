"""The whole 报到 → 服务 → 认证 → 兑换 flow over HTTP, on SQLite and PostgreSQL: every role signs in
with a password, acts through the API, and the store verifies afterwards."""

from __future__ import annotations

import base64
from datetime import timedelta
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.services import services_of
from api.provision import provision
from ledger.verification.store import verify_store

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)


def sign_in(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def ok(response, status: int = 200):  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    assert response.status_code == status, response.text
    return response.json()


def test_every_role_through_the_api_then_the_store_verifies(app: FastAPI, client: TestClient) -> None:
    services = services_of(app)
    ledger = services.ledger
    ledger.init_region(code="320102", name="南京市玄武区")
    admin_login = provision(ledger, services.auth)[0]  # a fresh install: the region admin's login
    assert admin_login.username == "region-admin"
    region = sign_in(client, "region-admin", admin_login.password)

    unit_id = ok(client.post("/v1/units", headers=region, json={
        "name": "江苏省财政厅机关党委", "unit_type": "机关", "declared_members": 78}), 201)["id"]
    community_id = ok(client.post("/v1/communities", headers=region, json={
        "name": "紫鑫城社区", "county": "玄武区", "street": "锁金村街道"}), 201)["id"]
    for username, actor_id in (("unit-caiting", unit_id), ("community-zixin", community_id)):
        ok(client.post("/v1/logins", headers=region, json={
            "username": username, "password": "a long password 1", "actor_id": actor_id}), 201)
    unit = sign_in(client, "unit-caiting", "a long password 1")
    community = sign_in(client, "community-zixin", "a long password 1")

    ok(client.post(f"/v1/units/{unit_id}/pairing", headers=unit, json={"community_id": community_id}))
    member_id = ok(client.post("/v1/members", headers=unit, json={"name": "王建国", "party_status": "正式"}), 201)["id"]
    slip_id = ok(client.post(f"/v1/members/{member_id}/report-slips", headers=unit,
                             json={"community_id": community_id}), 201)["id"]
    posts = ok(client.get(f"/v1/communities/{community_id}", headers=community))["posts"]
    assert len(posts) == 8 and all(not p["retired"] for p in posts)
    ok(client.post(f"/v1/members/{member_id}/registration", headers=community, json={
        "post_ids": [posts[0]["id"]], "slip_id": slip_id, "willing_other_service": True,
        "profile": {"sex": "男", "education": "本科"}, "personal": {"mobile": "13912345678"}}))
    slip = ok(client.get(f"/v1/report-slips/{slip_id}", headers=unit))
    assert slip["receipt_sent_on"] is not None and slip["post_names"] == [posts[0]["name"]]

    counter_id = ok(client.post(f"/v1/communities/{community_id}/counters", headers=community,
                                json={"name": "爱心超市收银台"}), 201)["id"]
    item_id = ok(client.post(f"/v1/communities/{community_id}/catalogue", headers=community,
                             json={"name": "大米 5kg", "price_minutes": 90}), 201)["id"]
    ok(client.post("/v1/logins", headers=community, json={
        "username": "counter-zixin", "password": "a long password 2", "actor_id": counter_id}), 201)
    code = ok(client.post(f"/v1/members/{member_id}/activation-codes", headers=community, json={}), 201)["code"]
    ok(client.post("/v1/auth/activate", json={"code": code, "username": "member-wang",  # the member, not the office
                                              "password": "a long password 2"}), 201)
    member = sign_in(client, "member-wang", "a long password 2")
    counter = sign_in(client, "counter-zixin", "a long password 2")

    day = (ledger.today() - timedelta(days=1)).isoformat()
    session_id = ok(client.post("/v1/sessions", headers=member, json={
        "member_id": member_id, "activity": "敬老助残", "content": "为空巢老人打扫卫生", "place": "社区",
        "service_date": day, "start_time": "09:00", "end_time": "12:00", "minutes": 150}), 201)["id"]
    refused = client.post(f"/v1/sessions/{session_id}/certification", headers=community)
    assert refused.status_code == 409 and refused.json()["code"] == "session_not_rated"
    ok(client.post(f"/v1/sessions/{session_id}/rating", headers=community, json={"rating": "优"}))
    assert ok(client.post(f"/v1/sessions/{session_id}/certification", headers=community)) == {"minutes": 150}
    assert ok(client.get(f"/v1/members/{member_id}/balance", headers=counter))["balance_minutes"] == 150

    redemption = {"member_id": member_id, "redemption_id": str(uuid4()), "items": [{"item_id": item_id, "quantity": 1}]}
    first = ok(client.post("/v1/redemptions", headers={**counter, "Idempotency-Key": "r-1"}, json=redemption), 201)
    assert first["balance_minutes"] == 60 and first["applied"] is True
    again = client.post("/v1/redemptions", headers={**counter, "Idempotency-Key": "r-1"}, json=redemption)
    assert again.json() == first and again.headers["Idempotent-Replayed"] == "true"
    too_much = client.post("/v1/redemptions", headers=counter, json={**redemption, "redemption_id": str(uuid4())})
    assert too_much.status_code == 409 and too_much.json()["code"] == "balance_would_go_negative"

    delta = ok(client.post(f"/v1/sessions/{session_id}/corrections", headers=community,
                           json={"reason": "实际少半小时", "minutes": 120}))
    assert delta == {"delta_minutes": -30}
    assert ok(client.get(f"/v1/members/{member_id}/personal", headers=member))["fields"] == {"mobile": "13912345678"}
    entries = ok(client.get(f"/v1/members/{member_id}/account/entries", headers=member))["entries"]
    assert [e["type"] for e in entries] == ["Opened", "Credited", "Redeemed", "ClawedBack"]
    # a passbook: oldest first, China time, each entry's change and the running balance after it
    assert [(e["change_minutes"], e["balance_minutes"]) for e in entries] == [(0, 0), (150, 150), (-90, 60), (-30, 30)]
    assert all(e["time"].endswith("+08:00") for e in entries)
    assert [e["time"] for e in entries] == sorted(e["time"] for e in entries)
    later = ok(client.get(f"/v1/members/{member_id}/account/entries", headers=member,
                          params={"after_version": 2}))["entries"]
    assert [(e["change_minutes"], e["balance_minutes"]) for e in later] == [(-90, 60), (-30, 30)]

    root = base64.b64decode(ledger.root_public_key())
    report = verify_store(ledger.database, root_public_key=root, region_code="320102", recorder=ledger.recorder,
                          workers=0)
    assert report.ok, report.problems
