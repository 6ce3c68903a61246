"""Sign-in, token expiry and revocation, disabled logins, password changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.auth import token_digest
from api.services import services_of
from api.store import tokens
from tests.api.world import PASSWORD, World


def test_password_flow_issues_a_working_token(client: TestClient, world: World) -> None:
    username = world.usernames[world.a.counter.actor_id]
    response = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["role"] == "counter" and body["expires_in"] > 0
    me = client.get("/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["actor_id"] == str(world.a.counter.actor_id) and me.json()["key_id"] == world.a.counter_key_id


def test_wrong_password_and_unknown_login_are_the_same_401(client: TestClient, world: World) -> None:
    username = world.usernames[world.a.counter.actor_id]
    wrong = client.post("/v1/auth/token", data={"username": username, "password": "not the password"})
    unknown = client.post("/v1/auth/token", data={"username": "nobody-here", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"code": "invalid_credentials", "detail": "wrong username or password",
                                                "message": {"zh": "用户名或密码错误。",
                                                            "en": "Wrong username or password."}}


def test_requests_without_or_with_a_bad_token_are_401(client: TestClient, world: World) -> None:
    path = f"/v1/members/{world.a.member.actor_id}/balance"
    missing = client.get(path)
    assert missing.status_code == 401 and missing.json()["code"] == "not_authenticated"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    forged = client.get(path, headers={"Authorization": "Bearer tl_forged"})
    assert forged.status_code == 401 and forged.json()["code"] == "not_authenticated"


def test_expired_token_is_refused(app: FastAPI, client: TestClient, world: World) -> None:
    token = world.tokens[world.a.counter.actor_id]
    with services_of(app).store.begin() as connection:
        connection.execute(tokens.update().where(tokens.c.token_sha256 == token_digest(token))
                           .values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    response = client.get(f"/v1/members/{world.a.member.actor_id}/balance", headers=world.headers(world.a.counter))
    assert response.status_code == 401 and response.json()["code"] == "token_expired"


def test_revoked_token_stops_working_at_once(client: TestClient, world: World) -> None:
    headers = world.headers(world.a.member)
    assert client.post("/v1/auth/revoke", headers=headers).json() == {"ok": True}
    response = client.get("/v1/auth/me", headers=headers)
    assert response.status_code == 401 and response.json()["code"] == "token_revoked"


def test_disabling_a_login_revokes_its_tokens_and_blocks_sign_in(client: TestClient, world: World) -> None:
    username = world.usernames[world.a.counter.actor_id]
    response = client.post(f"/v1/logins/{username}/disable", headers=world.headers(world.a.community))
    assert response.status_code == 200
    assert client.get("/v1/auth/me", headers=world.headers(world.a.counter)).json()["code"] == "token_revoked"
    assert client.post("/v1/auth/token", data={"username": username, "password": PASSWORD}).status_code == 401
    client.post(f"/v1/logins/{username}/enable", headers=world.headers(world.a.community))
    assert client.post("/v1/auth/token", data={"username": username, "password": PASSWORD}).status_code == 200


def test_changing_the_password_revokes_every_token(client: TestClient, world: World) -> None:
    headers = world.headers(world.a.member)
    response = client.post("/v1/auth/password", headers=headers,
                           json={"old_password": PASSWORD, "new_password": "another long password"})
    assert response.status_code == 200
    assert client.get("/v1/auth/me", headers=headers).status_code == 401
    username = world.usernames[world.a.member.actor_id]
    assert client.post("/v1/auth/token", data={"username": username, "password": "another long password"}
                       ).status_code == 200


def test_tokens_and_passwords_are_stored_hashed(app: FastAPI, world: World) -> None:
    services = services_of(app)
    with services.store.connect() as connection:
        stored = " ".join(str(v) for row in connection.execute(sa.select(tokens)) for v in row)
        accounts = " ".join(str(v) for row in connection.execute(sa.text("SELECT * FROM api_accounts")) for v in row)
    assert not any(token in stored for token in world.tokens.values())
    assert PASSWORD not in accounts and "$argon2id$" in accounts


def test_a_login_is_made_only_for_an_actor_with_a_key(client: TestClient, world: World) -> None:
    response = client.post("/v1/logins", headers=world.headers(world.region), json={
        "username": "ghost-login", "password": "a long password", "actor_id": "00000000-0000-4000-8000-000000000000"})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
