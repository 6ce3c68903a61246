"""Members' logins on the web pages (issue #10, defect 2): a unit or community issues a one-time
activation code from its list of members; the member sets up their own login at `/activate`.

The pages run the API's functions, so the rules are those of `test_member_logins.py`; what is tested
here is what a person meets: the code shown once and not cached, a form that keeps what was typed
(never the password) and says in Chinese (or English) what is wrong, nothing created by a refused
attempt, another side's member refused, and the member signed in at the end."""

from __future__ import annotations

import re
from uuid import UUID

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.services import services_of
from api.store import activation_codes
from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import Actor
from ledger.domain.values import Role
from tests.api.world import World

PASSWORD = "plum blossom river 7"
CODE = re.compile(r'id="activation-code"><code>([A-Za-z0-9_-]{20})</code>')


def _fresh_member(world: World) -> Actor:
    ledger = world.ledger
    member_id = ledger.enrol_member(actor=world.a.unit, name="李红梅", party_status="正式")
    ledger.register_member(actor=world.a.community, member_id=member_id, post_ids=[world.a.post_id])
    return Actor(member_id, Role.MEMBER)


def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _issue(client: TestClient, world: World, office: Actor, member_id: UUID) -> object:
    csrf = _as(client, world, office)
    prefix = "/community" if office.role is Role.COMMUNITY else "/unit"
    return client.post(f"{prefix}/logins/{member_id}/activation-code", data={CSRF_FIELD: csrf},
                       follow_redirects=False)


def _codes(app: FastAPI, member_id: UUID) -> int:
    with services_of(app).store.connect() as connection:
        return len(connection.execute(sa.select(activation_codes.c.code_sha256)
                                      .where(activation_codes.c.member_id == str(member_id))).all())


def _activate(client: TestClient, **form: str) -> object:
    client.cookies.clear()
    return client.post("/activate", data=form, follow_redirects=False)


def _logins(app: FastAPI, member_id: UUID) -> list[str]:
    return [login.username for login in services_of(app).auth.logins(actor_id=member_id)]


def test_an_office_issues_a_code_and_the_member_sets_up_their_own_login(app: FastAPI, client: TestClient,
                                                                          world: World) -> None:
    member = _fresh_member(world)
    _as(client, world, world.a.community)
    listing = client.get("/community/logins")
    assert listing.status_code == 200 and "李红梅" in listing.text
    assert f"/community/logins/{member.actor_id}/activation-code" in listing.text  # no login yet: a button

    shown = _issue(client, world, world.a.community, member.actor_id)
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    code = CODE.search(shown.text).group(1)  # type: ignore[union-attr]  # absent: the test fails here
    assert "李红梅" in shown.text and "北京时间" in shown.text

    # A mistake: the form comes back with what was typed, except the password, and nothing is created.
    differ = _activate(client, code=code, username="li-hongmei", password=PASSWORD, password_again="other pass 9")
    assert differ.status_code == 422 and "两次输入的密码不一致" in differ.text
    assert f'value="{code}"' in differ.text and 'value="li-hongmei"' in differ.text and PASSWORD not in differ.text
    weak = _activate(client, code=code, username="li-hongmei", password="1234567890", password_again="1234567890")
    assert weak.status_code == 422 and "密码过于简单" in weak.text and "too simple" not in weak.text
    wrong = _activate(client, code="not-the-code", username="li-hongmei", password=PASSWORD, password_again=PASSWORD)
    assert wrong.status_code == 403 and "激活码无效" in wrong.text
    assert _logins(app, member.actor_id) == []

    done = _activate(client, code=code, username="li-hongmei", password=PASSWORD, password_again=PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/me"
    assert _logins(app, member.actor_id) == ["li-hongmei"]
    session = done.cookies.get(SESSION_COOKIE)
    assert session
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, session)
    assert client.get("/me", follow_redirects=False).status_code == 200  # signed in as the member

    again = _activate(client, code=code, username="li-hongmei-2", password=PASSWORD, password_again=PASSWORD)
    assert again.status_code == 403 and _logins(app, member.actor_id) == ["li-hongmei"]

    _as(client, world, world.a.community)
    listing = client.get("/community/logins")  # now set up: no button, a badge
    assert f"/community/logins/{member.actor_id}/activation-code" not in listing.text


def test_a_member_with_a_login_gets_no_new_code_from_an_office(app: FastAPI, client: TestClient,
                                                              world: World) -> None:
    before = _codes(app, world.a.member.actor_id)
    for office in (world.a.community, world.a.unit):
        refused = _issue(client, world, office, world.a.member.actor_id)
        assert refused.status_code == 303  # back to the list, with the reason
        assert "%E5%B7%B2%E8%AE%BE%E7%BD%AE%E6%9C%AC%E4%BA%BA%E7%99%BB%E5%BD%95" in refused.headers["set-cookie"]  # 已设置本人登录
    assert _codes(app, world.a.member.actor_id) == before


def test_another_sides_member_is_refused_and_no_code_is_made(app: FastAPI, client: TestClient,
                                                            world: World) -> None:
    member = _fresh_member(world)  # side A's
    for office in (world.b.community, world.b.unit):
        refused = _issue(client, world, office, member.actor_id)
        assert refused.status_code == 403, refused.text
        assert "李红梅" not in refused.text
    assert _codes(app, member.actor_id) == 0


def test_the_activation_page_in_english_and_without_fields(client: TestClient) -> None:
    client.cookies.clear()
    page = client.get("/activate?lang=en")
    assert page.status_code == 200 and "Set up my login" in page.text
    empty = client.post("/activate?lang=en", data={"code": "abc"}, follow_redirects=False)
    assert empty.status_code == 422 and "Fill in the activation code" in empty.text and 'value="abc"' in empty.text
    wrong = client.post("/activate?lang=en", data={"code": "x" * 20, "username": "someone", "password": PASSWORD,
                                                   "password_again": PASSWORD}, follow_redirects=False)
    assert wrong.status_code == 403 and "ask your unit or community" in wrong.text
