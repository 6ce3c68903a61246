"""Issue #12 on the web, for the offices: the counter (who is spending: name and masked phone; search
by name or the phone's last four digits within the counter's community), the unit (enrol, 报到单,
the chase list) and the community's certification queue (what was done, filters, bulk decisions),
late records and year table.

What a person meets is tested: Chinese messages next to the field, every typed value kept, nothing
written by a refused attempt, another side's members never shown, and a phone never in clear."""

from __future__ import annotations

import json
import logging
import urllib.parse
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from api.web.pages.counter import mask_phone
from ledger.application import Actor
from ledger.domain.values import Role
from tests.api.world import World, today_iso


def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _post(client: TestClient, world: World, actor: Actor, path: str, form: dict[str, Any]) -> Any:
    csrf = _as(client, world, actor)
    return client.post(path, data={**form, CSRF_FIELD: csrf, "nonce": uuid4().hex}, follow_redirects=False)


def _flash(response: Any) -> dict[str, str]:
    raw = response.cookies.get("tl_flash")
    return json.loads(urllib.parse.unquote(raw.strip('"'))) if raw else {}


def _events(world: World) -> int:
    return int(world.ledger.recorder.max_notification_id() or 0)


# -- the counter --------------------------------------------------------------------------------------------

def test_mask_phone_keeps_only_the_head_and_the_last_four() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("8460 1234") == "****1234"  # a landline without the area code
    assert mask_phone("12") == "**"
    assert mask_phone("") == ""


def test_counter_lookup_shows_the_name_and_a_masked_phone(client: TestClient, world: World,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    _as(client, world, world.a.counter)
    with caplog.at_level(logging.DEBUG):
        answer = client.get(f"/counter/balance?member={world.a.member.actor_id}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["identified"] is True and body["name"] == "党员甲"
    assert body["phone_masked"] == "138****0000"
    assert "13800000000" not in answer.text and "13800000000" not in caplog.text


def test_counter_lookup_of_another_communitys_member_gives_no_name(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    answer = client.get(f"/counter/balance?member={world.b.member.actor_id}")  # 通存通兑: may redeem
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["identified"] is False and "name" not in body and "phone_masked" not in body
    assert "党员乙" not in answer.text


def test_counter_search_by_name_and_by_the_last_four_digits(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    by_name = client.get("/counter/search", params={"q": "党员"})
    assert by_name.status_code == 200, by_name.text
    assert by_name.json()["items"] == [{"member_id": str(world.a.member.actor_id), "name": "党员甲",
                                        "phone_masked": "138****0000"}]  # never side B's member
    by_phone = client.get("/counter/search", params={"q": "0000"})
    assert [i["name"] for i in by_phone.json()["items"]] == ["党员甲"]
    assert "13800000000" not in by_phone.text
    none = client.get("/counter/search", params={"q": "9999"})
    assert none.status_code == 200 and none.json()["items"] == [] and "没有找到" in none.json()["message"]


def test_counter_search_refuses_bad_input_in_chinese(client: TestClient, world: World) -> None:
    _as(client, world, world.a.counter)
    for query in ("", "12345", "12"):
        answer = client.get("/counter/search", params={"q": query})
        assert answer.status_code == 422, query
        assert answer.json()["code"] == "invalid_search" and "后4位" in answer.json()["message"]


def test_counter_search_is_for_counters_only(client: TestClient, world: World) -> None:
    for actor in (world.a.community, world.a.unit, world.a.member):
        _as(client, world, actor)
        assert client.get("/counter/search", params={"q": "党员"}).status_code == 403
