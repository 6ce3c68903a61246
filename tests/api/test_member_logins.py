"""A member's login and signature are the member's own (issue #10, defect 2).

Before the fix a unit or community could `POST /v1/logins` for its own member, sign in as the member
and give consents or submit suggestions signed with the member's key. Now: only the member sets up
their login (a one-time activation code from the unit or community), the region admin resets it only
with a reason (a signed event), the member's key is held under the member's password (the server
cannot sign as an activated member without the member's sign-in), and a member lists and revokes
their own logins and tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.services import services_of
from api.store import accounts, activation_codes
from ledger.application import Actor
from ledger.domain.errors import MemberKeyLocked
from ledger.domain.keys import Key
from ledger.domain.values import Role
from tests.api.world import PASSWORD, World

NEW_PASSWORD = "plum blossom river 7"


def _fresh_member(world: World) -> Actor:
    """A member of side A's unit, registered with community A, without any login."""
    ledger = world.ledger
    member_id = ledger.enrol_member(actor=world.a.unit, name="李红梅", party_status="正式")
    ledger.register_member(actor=world.a.community, member_id=member_id, post_ids=[world.a.post_id])
    return Actor(member_id, Role.MEMBER)


def _sign_in(client: TestClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _logins_of(app: FastAPI, member_id: UUID) -> list[str]:
    return [login.username for login in services_of(app).auth.logins(actor_id=member_id)]


def _activate(client: TestClient, code: str, username: str, password: str = NEW_PASSWORD) -> object:
    return client.post("/v1/auth/activate", json={"code": code, "username": username, "password": password})


def _consent(client: TestClient, headers: dict[str, str], member_id: UUID) -> object:
    unit_id = services_of(client.app).ledger.get_member(member_id).unit_id  # unit feedback goes to the member's unit
    return client.post(f"/v1/members/{member_id}/consents", headers=headers,
                       json={"purpose": "unit_feedback", "recipient": str(unit_id)})


@pytest.mark.parametrize("role", [Role.UNIT, Role.COMMUNITY, Role.REGION])
def test_nobody_creates_a_login_for_a_member(app: FastAPI, client: TestClient, world: World, role: Role) -> None:
    member = _fresh_member(world)
    authority = {Role.UNIT: world.a.unit, Role.COMMUNITY: world.a.community, Role.REGION: world.region}[role]
    response = client.post("/v1/logins", headers=world.headers(authority), json={
        "username": f"forged-{role.value}", "password": "a long password 3", "actor_id": str(member.actor_id)})
    assert response.status_code == 403
    assert response.json()["code"] in ("member_login_by_member_only", "not_permitted")
    assert role is Role.UNIT or response.json()["code"] == "member_login_by_member_only"
    assert "党员" in response.json()["detail"] or role is Role.UNIT
    assert _logins_of(app, member.actor_id) == []
    signed_in = client.post("/v1/auth/token", data={"username": f"forged-{role.value}", "password": "a long password 3"})
    assert signed_in.status_code == 401


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_the_member_activates_their_own_login_once(app: FastAPI, client: TestClient, world: World) -> None:
    member = _fresh_member(world)
    issued = client.post(f"/v1/members/{member.actor_id}/activation-codes", headers=world.headers(world.a.community),
                         json={})
    assert issued.status_code == 201
    code = issued.json()["code"]
    assert datetime.fromisoformat(issued.json()["expires_at"]) > datetime.now(UTC) + timedelta(hours=1)
    with services_of(app).store.connect() as connection:  # only the code's hash is stored
        stored = connection.execute(sa.select(activation_codes.c.code_sha256)).scalars().all()
    assert code not in stored and len(stored) >= 1

    wrong = _activate(client, "not-the-code", "li-hongmei")
    assert wrong.status_code == 403 and wrong.json()["code"] == "activation_code_invalid"
    weak = _activate(client, code, "li-hongmei", password="1234567890")
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    done = _activate(client, code, "li-hongmei")
    assert done.status_code == 201 and done.json()["actor_id"] == str(member.actor_id)
    again = _activate(client, code, "li-hongmei-2")
    assert again.status_code == 403 and again.json()["code"] == "activation_code_invalid"
    assert _logins_of(app, member.actor_id) == ["li-hongmei"]

    headers = _sign_in(client, "li-hongmei", NEW_PASSWORD)
    assert _consent(client, headers, member.actor_id).status_code == 201
    suggestion = client.post(f"/v1/members/{member.actor_id}/suggestions", headers=headers,
                             json={"content": "建议楼道加装扶手"})
    assert suggestion.status_code == 201


def test_after_activation_the_server_holds_no_usable_member_key(app: FastAPI, client: TestClient,
                                                                world: World) -> None:
    ledger = world.ledger
    member = _fresh_member(world)
    enrolment_key = ledger.key_id_of(member)
    code = client.post(f"/v1/members/{member.actor_id}/activation-codes", headers=world.headers(world.a.unit),
                       json={}).json()["code"]
    assert _activate(client, code, "li-hongmei").status_code == 201
    stored = ledger.secrets.active_key(member.actor_id)
    assert stored is not None and stored.key_id != enrolment_key and stored.private_key == b""
    old = ledger.get_key(enrolment_key)
    assert old.revoked_at is not None and old.replaced_by == stored.key_id
    assert ledger.get_key(stored.key_id).certified_by == ledger.key_id_of(world.a.unit)
    ledger.evict(member.actor_id)
    with pytest.raises(MemberKeyLocked):  # not even the server (office, operator) can sign as the member
        ledger.give_consent(actor=member, member_id=member.actor_id, purpose="unit_feedback",
                            recipient=str(ledger.get_member(member.actor_id).unit_id))
    with pytest.raises(MemberKeyLocked):
        ledger.submit_suggestion(actor=member, content="代签的建议")


def test_an_office_cannot_issue_a_code_once_the_member_has_a_login(client: TestClient, world: World) -> None:
    for office in (world.a.community, world.a.unit):
        response = client.post(f"/v1/members/{world.a.member.actor_id}/activation-codes",
                               headers=world.headers(office), json={})
        assert response.status_code == 409 and response.json()["code"] == "member_login_exists"
    other = client.post(f"/v1/members/{world.b.member.actor_id}/activation-codes",
                        headers=world.headers(world.a.community), json={})
    assert other.status_code == 403 and other.json()["code"] == "not_permitted"


def test_an_expired_code_is_refused(app: FastAPI, client: TestClient, world: World) -> None:
    member = _fresh_member(world)
    code = client.post(f"/v1/members/{member.actor_id}/activation-codes", headers=world.headers(world.a.community),
                       json={}).json()["code"]
    with services_of(app).store.begin() as connection:
        connection.execute(activation_codes.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    response = _activate(client, code, "li-hongmei")
    assert response.status_code == 403 and response.json()["code"] == "activation_code_invalid"
    assert _logins_of(app, member.actor_id) == []


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_region_reset_needs_a_reason_and_is_a_signed_event(app: FastAPI, client: TestClient, world: World) -> None:
    ledger = world.ledger
    member = world.a.member
    old_headers = world.headers(member)
    old_key = world.a.member_key_id
    path = f"/v1/members/{member.actor_id}/activation-codes"
    missing = client.post(path, headers=world.headers(world.region), json={})
    assert missing.status_code == 422 and missing.json()["code"] == "reason_required"
    assert client.get("/v1/auth/me", headers=old_headers).status_code == 200  # a refused reset changed nothing

    reset = client.post(path, headers=world.headers(world.region), json={"reason": "本人遗失手机，电话核实身份"})
    assert reset.status_code == 201
    assert client.get("/v1/auth/me", headers=old_headers).json()["code"] == "token_revoked"
    revoked = ledger.get_key(old_key)
    assert revoked.revoked_at is not None
    events = ledger.repository.get(Key.create_id(old_key)).version
    assert events == 2
    stored = ledger.recorder.select_events(Key.create_id(old_key), desc=True, limit=1)[0]
    event = ledger.mapper.to_domain_event(stored)
    assert type(event).__name__ == "Revoked" and "本人遗失手机" in event.reason

    assert _activate(client, reset.json()["code"], "member-a-new").status_code == 201
    headers = _sign_in(client, "member-a-new", NEW_PASSWORD)
    assert _consent(client, headers, member.actor_id).status_code == 201


def test_a_member_without_their_own_key_cannot_consent(app: FastAPI, client: TestClient, world: World) -> None:
    """A member login made before this release (straight into the table, key still on the server)
    may still read and record, but not consent or suggest: those need the member's own key."""
    services = services_of(app)
    member = _fresh_member(world)
    now = datetime.now(UTC)
    with services.store.begin() as connection:
        connection.execute(accounts.insert().values(
            username="legacy-member", actor_id=str(member.actor_id), role="member",
            password_hash=services.auth.hash_password(PASSWORD), disabled=False, created_at=now,
            password_changed_at=now))
    headers = _sign_in(client, "legacy-member", PASSWORD)
    refused = _consent(client, headers, member.actor_id)
    assert refused.status_code == 403 and refused.json()["code"] == "member_key_not_own"
    assert not world.ledger.get_member(member.actor_id).consents
    suggestion = client.post(f"/v1/members/{member.actor_id}/suggestions", headers=headers, json={"content": "建议"})
    assert suggestion.status_code == 403 and suggestion.json()["code"] == "member_key_not_own"


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_member_lists_and_revokes_their_own_tokens_and_logins(client: TestClient, world: World) -> None:
    member = world.a.member
    username = world.usernames[member.actor_id]
    phone = _sign_in(client, username, PASSWORD)
    desk = world.headers(member)
    listed = client.get("/v1/auth/tokens", headers=desk)
    assert listed.status_code == 200
    tokens = listed.json()
    assert len(tokens) >= 2 and sum(t["current"] for t in tokens) == 1
    assert all(set(t) == {"token_id", "username", "issued_at", "expires_at", "revoked_at", "current"} for t in tokens)
    phone_id = next(t["token_id"] for t in client.get("/v1/auth/tokens", headers=phone).json() if t["current"])
    assert client.post(f"/v1/auth/tokens/{phone_id}/revoke", headers=desk).json() == {"ok": True}
    assert client.get("/v1/auth/me", headers=phone).json()["code"] == "token_revoked"
    assert client.get("/v1/auth/me", headers=desk).status_code == 200

    others = client.get("/v1/auth/tokens", headers=world.headers(world.b.member)).json()
    stranger = client.post(f"/v1/auth/tokens/{others[0]['token_id']}/revoke", headers=desk)
    assert stranger.status_code == 404
    assert client.get("/v1/auth/me", headers=world.headers(world.b.member)).status_code == 200

    assert [login["username"] for login in client.get("/v1/auth/logins", headers=desk).json()] == [username]
    foreign = client.post(f"/v1/auth/logins/{world.usernames[world.b.member.actor_id]}/disable", headers=desk)
    assert foreign.status_code == 404
    assert client.post(f"/v1/auth/logins/{username}/disable", headers=desk).json() == {"ok": True}
    assert client.post("/v1/auth/token", data={"username": username, "password": PASSWORD}).status_code == 401


def test_a_password_change_keeps_the_members_key(client: TestClient, world: World) -> None:
    member = world.a.member
    username = world.usernames[member.actor_id]
    changed = client.post("/v1/auth/password", headers=world.headers(member),
                          json={"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200
    headers = _sign_in(client, username, NEW_PASSWORD)
    assert _consent(client, headers, member.actor_id).status_code == 201
    assert world.ledger.secrets.active_key(member.actor_id).key_id == world.a.member_key_id  # type: ignore[union-attr]  # the test knows it is there


def test_an_office_cannot_swap_an_activated_members_key_for_one_the_server_holds(client: TestClient,
                                                                                 world: World) -> None:
    member = world.a.member
    for office in (world.a.unit, world.a.community, world.region):
        response = client.post(f"/v1/actors/{member.actor_id}/key-rotation", headers=world.headers(office),
                               json={"reason": "轮换"})
        assert response.status_code in (403, 409), response.text
        assert response.json()["code"] in ("member_key_held_by_member", "not_permitted")
    assert world.ledger.secrets.active_key(member.actor_id).key_id == world.a.member_key_id  # type: ignore[union-attr]  # the test knows it is there


def test_the_cli_issues_a_member_code_only_with_a_reason(tmp_path: object) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from ledger.application import Ledger
    from api.cli import app

    db = f"sqlite:///{Path(str(tmp_path)) / 'cli.db'}"
    ledger = Ledger(db)
    ledger.init_region(code="320102", name="南京市玄武区")
    region = ledger.region_actor()
    unit = Actor(ledger.register_unit(actor=region, name="区财政局", unit_type="机关", declared_members=3), Role.UNIT)
    member_id = ledger.enrol_member(actor=unit, name="张三", party_status="正式")
    ledger.close()
    runner = CliRunner()
    forged = runner.invoke(app, ["logins", "create", "--actor", str(member_id), "--username", "member-zhang",
                                 "--password-stdin", "--db", db], input="a long password 9\n")
    assert forged.exit_code == 2 and "member_login_by_member_only" in forged.output
    refused = runner.invoke(app, ["logins", "member-code", "--member", str(member_id), "--reason", "", "--db", db])
    assert refused.exit_code == 2 and "reason_required" in refused.output
    issued = runner.invoke(app, ["logins", "member-code", "--member", str(member_id), "--reason", "本人申请开通",
                                 "--db", db])
    assert issued.exit_code == 0 and "activation code" in issued.output


def test_activation_without_a_valid_code_reveals_nothing_and_is_throttled(client: TestClient, world: World) -> None:
    taken = world.usernames[world.a.counter.actor_id]
    first = _activate(client, "no-such-code", taken)
    second = _activate(client, "no-such-code", "nobody-has-this-name")
    assert first.status_code == second.status_code == 403 and first.json() == second.json()
    for _ in range(6):
        _activate(client, "no-such-code", "nobody-has-this-name")
    throttled = _activate(client, "no-such-code", "nobody-has-this-name")
    assert throttled.status_code == 429 and throttled.json()["code"] == "too_many_attempts"
    assert int(throttled.headers["Retry-After"]) >= 1


def test_me_names_the_key_the_members_sign_in_unlocked(client: TestClient, world: World) -> None:
    me = client.get("/v1/auth/me", headers=world.headers(world.a.member)).json()
    assert me["role"] == "member" and me["key_id"] == world.a.member_key_id
