"""离线兑换 over HTTP (issue #15): the region's offline bound as a signed, versioned setting; a counter
device's key registered by the counter's login and certified by its community; the sync endpoint's
answers — synced, the same answer for a retry, owed when the balance no longer covers it, and each
refusal by its stable code with its Chinese message (forged signature, another counter's key, a
revoked key, over the bound); and the counter page's own routes (the web app's files, the device's
configuration, the sync with the page's CSRF token)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli
from api.main import create_app
from api.settings import settings_for_tests
from api.web.core import CSRF_HEADER, SESSION_COOKIE, csrf_token
from ledger.application import Ledger
from ledger.signing import keys as ed25519
from ledger.signing.offline import offline_redemption_bytes
from tests.api.world import Side, World, build_world

PRICE = 30  # the world's 大米


@pytest.fixture
def env() -> Iterator[tuple[TestClient, World]]:
    ledger = Ledger("memory:")
    app: FastAPI = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, build_world(app)
    ledger.close()


def _bound(client: TestClient, world: World, minutes: int) -> Any:
    response = client.put("/v1/region/offline-bound", headers=world.headers(world.region),
                          json={"minutes_per_member_day": minutes, "reason": "网络不稳定的社区保障老人兑换"})
    assert response.status_code == 200, response.text
    return response.json()


class Device:
    def __init__(self, client: TestClient, world: World, side: Side) -> None:
        self.client, self.world, self.side = client, world, side
        self.private = Ed25519PrivateKey.generate()
        response = client.post("/v1/counter/device-keys", headers=world.headers(side.counter), json={
            "public_key": ed25519.b64(ed25519.public_bytes(self.private.public_key())), "label": "收银台平板"})
        assert response.status_code == 201, response.text
        self.key_id = str(response.json()["key_id"])

    def record(self, member: Side, quantity: int = 1) -> dict[str, Any]:
        created = self.world.ledger.get_key(self.key_id).created_on
        return {"redemption_id": str(uuid4()), "region": self.world.ledger.region_code,
                "counter": str(self.side.counter.actor_id), "device_key_id": self.key_id,
                "member": str(member.member.actor_id),
                "items": [{"item_id": str(self.side.item_id), "quantity": quantity, "price_minutes": PRICE}],
                "minutes": quantity * PRICE, "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}

    def signed(self, record: dict[str, Any], private: Ed25519PrivateKey | None = None) -> dict[str, Any]:
        signature = (private or self.private).sign(offline_redemption_bytes(record))
        return {"record": record, "signature": ed25519.b64(signature)}

    def sync(self, record: dict[str, Any], private: Ed25519PrivateKey | None = None) -> Any:
        return self.client.post("/v1/redemptions/offline", headers=self.world.headers(self.side.counter),
                                json=self.signed(record, private))


def _balance(client: TestClient, world: World) -> int:
    response = client.get(f"/v1/members/{world.a.member.actor_id}/balance", headers=world.headers(world.region))
    return int(response.json()["balance_minutes"])


def test_the_offline_bound_is_a_signed_versioned_region_setting(env: tuple[TestClient, World]) -> None:
    client, world = env
    counter = client.get("/v1/region/offline-bound", headers=world.headers(world.a.counter)).json()
    assert (counter["minutes_per_member_day"], counter["version"], counter["exposure"]) == (0, 0, None)
    assert _bound(client, world, 60)["version"] == 1
    assert _bound(client, world, 60)["version"] == 1  # the same setting again changes nothing
    region = client.get("/v1/region/offline-bound", headers=world.headers(world.region)).json()
    assert region["minutes_per_member_day"] == 60 and region["reason"] == "网络不稳定的社区保障老人兑换"
    assert region["exposure"] == {"redemptions": 0, "minutes": 0, "short": 0, "owed_minutes": 0, "owed_hours": "0:00"}
    refused = client.put("/v1/region/offline-bound", headers=world.headers(world.a.community),
                         json={"minutes_per_member_day": 60, "reason": "社区自定"})
    assert refused.status_code == 403
    too_much = client.put("/v1/region/offline-bound", headers=world.headers(world.region),
                          json={"minutes_per_member_day": 24 * 60 + 1, "reason": "全天"})
    assert too_much.status_code == 422 and "离线兑换上限" in too_much.json()["message"]["zh"]


def test_a_device_key_is_certified_by_the_counters_community(env: tuple[TestClient, World]) -> None:
    client, world = env
    device = Device(client, world, world.a)
    key = client.get(f"/v1/keys/{device.key_id}", headers=world.headers(world.a.counter)).json()
    assert (key["owner_id"], key["role"]) == (str(world.a.counter.actor_id), "counter")
    assert key["certified_by"] == world.ledger.key_id_of(world.a.community)
    again = client.post("/v1/counter/device-keys", headers=world.headers(world.a.counter), json={
        "public_key": ed25519.b64(ed25519.public_bytes(device.private.public_key())), "label": "收银台平板"})
    assert again.status_code == 201 and again.json()["key_id"] == device.key_id  # registered once


def test_sync_applies_once_leaves_the_shortfall_owed_and_refuses_by_code(env: tuple[TestClient, World]) -> None:
    client, world = env
    off = Device(client, world, world.a)
    refused = off.sync(off.record(world.a))
    assert (refused.status_code, refused.json()["code"]) == (409, "offline_redemptions_off")  # the default: none
    assert "未开放离线兑换" in refused.json()["message"]["zh"]
    _bound(client, world, 240)
    first, second = Device(client, world, world.a), Device(client, world, world.a)
    assert _balance(client, world) == 180
    one = first.record(world.a, 4)  # 120 of 180
    answer = first.sync(one)
    assert answer.status_code == 201, answer.text
    assert {k: answer.json()[k] for k in ("minutes", "owed_added_minutes", "balance_minutes", "applied")} == {
        "minutes": 120, "owed_added_minutes": 0, "balance_minutes": 60, "applied": True}
    two = second.sync(second.record(world.a, 4))  # the other device spent the same balance: 60 owed
    assert two.status_code == 201 and two.json()["owed_added_minutes"] == 60 and two.json()["balance_minutes"] == 0
    assert two.json()["owed_added_hours"] == "1:00"
    retry = first.sync(one)  # a lost answer: the retry is answered with the original result
    assert retry.status_code == 201 and retry.json()["applied"] is False and retry.json()["owed_added_minutes"] == 0
    assert _balance(client, world) == 0  # never below zero
    over = first.sync(first.record(world.a, 1))  # 240 already redeemed offline here today
    assert (over.status_code, over.json()["code"]) == (409, "offline_bound_exceeded")
    assert "每人每日上限 4小时" in over.json()["message"]["zh"]
    exposure = client.get("/v1/region/offline-bound", headers=world.headers(world.auditor)).json()["exposure"]
    assert (exposure["redemptions"], exposure["short"], exposure["owed_minutes"]) == (2, 1, 60)


def test_forged_borrowed_and_revoked_device_records_are_refused(env: tuple[TestClient, World]) -> None:
    client, world = env
    _bound(client, world, 240)
    device = Device(client, world, world.a)
    record = device.record(world.a)
    forged = device.sync(record, Ed25519PrivateKey.generate())
    assert (forged.status_code, forged.json()["code"]) == (422, "device_signature_invalid")
    assert "签名与内容不符" in forged.json()["message"]["zh"]
    altered = device.signed(record)
    altered["record"]["minutes"], altered["record"]["items"][0]["price_minutes"] = 1, 1
    answer = client.post("/v1/redemptions/offline", headers=world.headers(world.a.counter), json=altered)
    assert answer.json()["code"] == "device_signature_invalid"
    other = Device(client, world, world.b)  # counter B's device, its record synced by counter A
    borrowed = other.record(world.a)
    answer = client.post("/v1/redemptions/offline", headers=world.headers(world.a.counter), json=other.signed(borrowed))
    assert (answer.status_code, answer.json()["code"]) == (422, "offline_record_invalid")
    borrowed["counter"] = str(world.a.counter.actor_id)  # claiming to be counter A's: the key is not A's
    answer = client.post("/v1/redemptions/offline", headers=world.headers(world.a.counter), json=other.signed(borrowed))
    assert (answer.status_code, answer.json()["code"]) == (403, "device_key_unknown")
    loose = dict(record, minutes="30")  # not the signed bytes: refused before anything reads it
    answer = client.post("/v1/redemptions/offline", headers=world.headers(world.a.counter), json=device.signed(loose))
    assert answer.status_code == 422
    revoked = client.post(f"/v1/keys/{device.key_id}/revocation", headers=world.headers(world.a.community),
                          json={"reason": "平板遗失"})
    assert revoked.status_code == 200, revoked.text
    answer = device.sync(record)
    assert (answer.status_code, answer.json()["code"]) == (403, "device_key_revoked")
    assert "已被社区吊销" in answer.json()["message"]["zh"]
    assert _balance(client, world) == 180


def test_the_counter_page_syncs_with_its_own_token_and_serves_the_web_app(env: tuple[TestClient, World]) -> None:
    client, world = env
    worker = client.get("/counter/sw.js")  # no sign-in: the files hold no data
    assert worker.status_code == 200 and worker.headers["service-worker-allowed"] == "/counter"
    manifest = client.get("/counter/manifest.webmanifest").json()
    assert (manifest["start_url"], manifest["scope"]) == ("/counter", "/counter")
    token = world.tokens[world.a.counter.actor_id]
    client.cookies.set(SESSION_COOKIE, token)
    device_key = Ed25519PrivateKey.generate()
    public = ed25519.b64(ed25519.public_bytes(device_key.public_key()))
    refused = client.post("/counter/device", json={"public_key": public, "label": "收银台平板"})
    assert refused.status_code == 403  # no CSRF token
    registered = client.post("/counter/device", headers={CSRF_HEADER: csrf_token(token)},
                             json={"public_key": public, "label": "收银台平板"})
    assert registered.status_code == 201, registered.text
    key_id = registered.json()["key_id"]
    config = client.get(f"/counter/offline/config?key={key_id}").json()
    assert config["device"] == {"registered": True, "revoked": False, "key_id": key_id}
    assert (config["bound_minutes"], config["bound_version"], config["region"]) == (0, 0, world.ledger.region_code)
    device = Device.__new__(Device)
    device.client, device.world, device.side, device.private, device.key_id = client, world, world.a, device_key, key_id
    answer = client.post("/counter/offline/sync", headers={CSRF_HEADER: csrf_token(token)},
                         json=device.signed(device.record(world.a)))
    assert (answer.status_code, answer.json()["code"]) == (409, "offline_redemptions_off")
    assert answer.json()["message"].startswith("本地区未开放离线兑换")  # the page's language: shown on the device
    _bound(client, world, 60)
    client.cookies.set(SESSION_COOKIE, token)
    answer = client.post("/counter/offline/sync", headers={CSRF_HEADER: csrf_token(token)},
                         json=device.signed(device.record(world.a)))
    assert answer.status_code == 201 and answer.json()["balance_minutes"] == 150


def test_the_cli_sets_the_offline_bound(tmp_path: Any) -> None:
    runner, db = CliRunner(), f"sqlite:///{tmp_path / 'ledger.db'}"
    assert runner.invoke(cli, ["init", "--region", "320102", "--name", "南京市玄武区", "--db", db]).exit_code == 0
    done = runner.invoke(cli, ["region", "set-offline-bound", "--minutes", "60", "--reason", "保障老人兑换", "--db", db])
    assert done.exit_code == 0 and "version 1" in done.output, done.output
    assert runner.invoke(cli, ["region", "set-offline-bound", "--minutes", "-5", "--reason", "x",
                               "--db", db]).exit_code != 0
    assert runner.invoke(cli, ["region", "set-offline-bound", "--minutes", "30", "--reason", " ",
                               "--db", db]).exit_code != 0
    ledger = Ledger(db)
    assert (ledger.get_region().offline_minutes_per_member_day, ledger.get_region().offline_bound_version) == (60, 1)
    ledger.close()


def test_a_record_dated_on_an_impossible_day_is_refused_not_a_server_error(env: tuple[TestClient, World]) -> None:
    client, world = env
    _bound(client, world, 60)
    device = Device(client, world, world.a)
    for created_at in ("2026-13-45T25:61:61Z", "2026-02-30T02:00:00.000Z"):
        response = device.sync(dict(device.record(world.a), created_at=created_at))
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "offline_record_invalid"
