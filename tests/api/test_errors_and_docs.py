"""One error model everywhere; no personal data in errors; OpenAPI and offline docs."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.api.world import World, today_iso


def test_unknown_route_and_wrong_method_use_the_error_model(client: TestClient) -> None:
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = client.delete("/v1/auth/token")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_invalid_body_is_422_and_never_echoes_the_input(client: TestClient, world: World) -> None:
    phone = "13912345678"
    response = client.post(f"/v1/members/{world.b.member.actor_id}/registration",
                           headers=world.headers(world.a.community),
                           json={"post_ids": [], "personal": {"mobile": phone, "blood_type": "O"}})
    assert response.status_code == 422
    body = response.json()
    assert set(body) == {"code", "detail", "message"} and body["code"] == "invalid_request"
    assert phone not in response.text and "blood_type" in body["detail"]


def test_malformed_json_is_422(client: TestClient, world: World) -> None:
    response = client.post("/v1/redemptions", headers={**world.headers(world.a.counter),
                                                       "Content-Type": "application/json"}, content=b"{not json")
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


def test_domain_refusals_keep_their_stable_codes(client: TestClient, world: World) -> None:
    community = world.headers(world.a.community)
    response = client.delete(f"/v1/members/{world.a.member.actor_id}/posts/{world.a.post_id}", headers=community)
    assert response.status_code == 409 and response.json()["code"] == "last_post_cannot_be_released"
    late = client.post("/v1/sessions", headers=world.headers(world.a.member), json={
        "member_id": str(world.a.member.actor_id), "activity": "a", "content": "b", "place": "c",
        "service_date": today_iso(world.ledger), "start_time": "10:00", "end_time": "09:00", "minutes": 30})
    assert late.status_code == 422 and late.json()["code"] == "invalid_input"


def test_openapi_is_bilingual_with_examples_and_security(app: FastAPI, client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert len(operations) >= 60
    assert all(re.search(r"[\u4e00-\u9fff]", op.get("summary", "")) and re.search(r"[A-Za-z]", op["summary"])
               for op in operations), "every operation has a Chinese + English summary"
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]
    redemption = schema["components"]["schemas"]["RedemptionIn"]
    assert "examples" in redemption["properties"]["member_id"]
    assert schema["components"]["schemas"]["ErrorOut"]["required"] == ["code", "detail", "message"]
    commands = [op for path in schema["paths"].values() for method, op in path.items() if method != "get"
                and "Idempotency-Key" in {p["name"] for p in op.get("parameters", [])}]
    assert len(commands) >= 45


def test_docs_work_offline(client: TestClient) -> None:
    pytest.importorskip("fastapi_offline", reason="the offline docs assets come from the fastapi-offline package")
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html) + re.findall(r"url: '([^']+)'", html)
        assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
        for url in urls:
            assert client.get(url).status_code == 200, url
    assert "SwaggerUIBundle" in client.get("/docs-assets/swagger-ui-bundle.js").text[:200_000]
