"""签到签退 over HTTP (issue #15): the stable codes of every refusal a scan can meet, and the happy path
from opening an activity to a certified checked-in session. The server clock is pinned (start_clock_at)
to a fixed day, so nothing depends on today's date."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timezone
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from api.web.core import SESSION_COOKIE
from ledger.application import Ledger
from ledger.domain import base
from ledger.domain.values import CHINA_TIME
from tests.api.world import World, build_world

DAY = date(2026, 11, 14)


def at(hour: int, minute: int = 0, second: int = 5) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, tzinfo=CHINA_TIME)


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(base, "_CLOCK_OFFSET", base._CLOCK_OFFSET)  # restored after the test
    base.start_clock_at(at(8, 30))
    yield


@pytest.fixture
def env(pinned: None) -> Iterator[tuple[TestClient, World]]:
    ledger = Ledger("memory:")
    app: FastAPI = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, build_world(app)
    ledger.close()


def _open(client: TestClient, world: World) -> str:
    a = world.a
    response = client.post(f"/v1/communities/{a.community.actor_id}/activities", headers=world.headers(a.community),
                           json={"title": "重阳节敬老活动", "place": "社区活动室", "service_date": DAY.isoformat(),
                                 "start_time": "09:00", "end_time": "11:00", "expected_members": 10,
                                 "post_id": str(a.post_id)})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _code(client: TestClient, world: World, activity_id: str) -> str:
    response = client.get(f"/v1/activities/{activity_id}/checkin-code", headers=world.headers(world.a.community))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["window_seconds"] == 30 and 1 <= body["seconds_left"] <= 30
    return str(body["code"])


def _scan(client: TestClient, world: World, activity_id: str, code: str, action: str = "auto") -> Any:
    return client.post(f"/v1/activities/{activity_id}/scans", headers=world.headers(world.a.member),
                       json={"code": code, "action": action})


def test_scan_in_and_out_drafts_a_checked_in_session_the_office_certifies(env: tuple[TestClient, World]) -> None:
    client, world = env
    activity_id = _open(client, world)
    base.start_clock_at(at(8, 55))
    checked_in = _scan(client, world, activity_id, _code(client, world, activity_id))
    assert checked_in.status_code == 200 and checked_in.json()["action"] == "checked_in"
    base.start_clock_at(at(10, 45))
    out = _scan(client, world, activity_id, _code(client, world, activity_id)).json()
    assert (out["action"], out["outcome"], out["presence_minutes"]) == ("checked_out", "drafted", 105)
    office = world.headers(world.a.community)
    session = client.get(f"/v1/sessions/{out['session_id']}", headers=office).json()
    assert (session["start_time"], session["end_time"], session["minutes"]) == ("09:00", "10:45", 105)
    assert client.post(f"/v1/sessions/{out['session_id']}/rating", headers=office, json={"rating": "优"}).status_code == 200
    certified = client.post(f"/v1/sessions/{out['session_id']}/certification", headers=office)
    assert certified.json()["minutes"] == 105
    activity = client.get(f"/v1/activities/{activity_id}", headers=office).json()
    assert activity["attendance"][0]["outcome"] == "drafted"
    member = world.a.member  # the hours show as checked in: in the session list and on the member's records page
    listed = client.get("/v1/lists/sessions", params={"member_id": str(member.actor_id)},
                        headers=world.headers(member)).json()["items"]
    assert [(row["session_id"], row["assurance"]) for row in listed if row["session_id"] == out["session_id"]] == [
        (out["session_id"], "checked_in")]
    client.cookies.set(SESSION_COOKIE, world.tokens[member.actor_id])
    assert 'data-assurance="checked_in">签到签退<' in client.get("/me/records").text


def test_an_expired_code_is_refused(env: tuple[TestClient, World]) -> None:
    client, world = env
    activity_id = _open(client, world)
    base.start_clock_at(at(9, 0))
    photo = _code(client, world, activity_id)
    base.start_clock_at(at(9, 1))
    refused = _scan(client, world, activity_id, photo)
    assert (refused.status_code, refused.json()["code"]) == (409, "checkin_code_expired")


def test_a_code_of_another_activity_is_refused(env: tuple[TestClient, World]) -> None:
    client, world = env
    first, second = _open(client, world), _open(client, world)
    base.start_clock_at(at(9, 0))
    refused = _scan(client, world, second, _code(client, world, first))
    assert (refused.status_code, refused.json()["code"]) == (422, "checkin_code_wrong_activity")


def test_an_altered_code_is_refused(env: tuple[TestClient, World]) -> None:
    client, world = env
    activity_id = _open(client, world)
    base.start_clock_at(at(9, 0))
    code = _code(client, world, activity_id)
    altered = code[:-3] + ("A" if code[-3] != "A" else "B") + code[-2:]
    refused = _scan(client, world, activity_id, altered)
    assert (refused.status_code, refused.json()["code"]) == (422, "checkin_code_signature_invalid")
    assert _scan(client, world, activity_id, "hello").json()["code"] == "checkin_code_malformed"


def test_a_member_not_registered_here_is_refused(env: tuple[TestClient, World]) -> None:
    client, world = env
    activity_id = _open(client, world)
    base.start_clock_at(at(9, 0))
    refused = client.post(f"/v1/activities/{activity_id}/member-scans", headers=world.headers(world.a.community),
                          json={"member_id": str(world.b.member.actor_id)})
    assert (refused.status_code, refused.json()["code"]) == (403, "member_not_registered_here")


def test_double_check_in_and_check_out_without_check_in_are_refused(env: tuple[TestClient, World]) -> None:
    client, world = env
    activity_id = _open(client, world)
    base.start_clock_at(at(9, 0))
    code = _code(client, world, activity_id)
    refused = _scan(client, world, activity_id, code, "out")
    assert (refused.status_code, refused.json()["code"]) == (409, "not_checked_in")
    assert _scan(client, world, activity_id, code, "in").status_code == 200
    again = _scan(client, world, activity_id, code, "in")
    assert (again.status_code, again.json()["code"]) == (409, "already_checked_in")


def test_group_entry_and_close_flag_the_forgotten_check_out(env: tuple[TestClient, World]) -> None:
    client, world = env
    activity_id = _open(client, world)
    office = world.headers(world.a.community)
    base.start_clock_at(at(9, 0))
    group = client.post(f"/v1/activities/{activity_id}/group-entries", headers=office,
                        json={"member_ids": [str(world.a.member.actor_id)]})
    assert group.status_code == 200 and group.json()["results"][0]["action"] == "checked_in"
    base.start_clock_at(at(12, 0))
    closed = client.post(f"/v1/activities/{activity_id}/closure", headers=office).json()["results"]
    assert [(r["outcome"], r["presence_minutes"]) for r in closed] == [("drafted", 120)]
    activity = client.get(f"/v1/activities/{activity_id}", headers=office).json()
    assert activity["status"] == "closed" and activity["attendance"][0]["check_out_missed"] is True
    late = _scan(client, world, activity_id, "TLC1." + "0" * 10)
    assert late.json()["code"] == "checkin_code_malformed"


def test_the_region_sets_the_presence_share(env: tuple[TestClient, World]) -> None:
    client, world = env
    done = client.put("/v1/region/presence-share", headers=world.headers(world.region),
                      json={"percent": 75, "reason": "区文明办2026年第3号通知"})
    assert done.status_code == 200
    bad = client.put("/v1/region/presence-share", headers=world.headers(world.region), json={"percent": 0, "reason": "x"})
    assert bad.status_code == 422


def test_a_venue_devices_offline_scans_sync_once_with_stable_codes(env: tuple[TestClient, World]) -> None:
    """The community registers its venue device's key; scans signed offline sync later, each once; a
    forged signature, another community's device key and a malformed record have their codes."""
    from ledger.signing import keys as ed25519
    from ledger.signing.offline import offline_scan_bytes

    client, world = env
    activity_id = _open(client, world)
    device = ed25519.generate()
    headers = world.headers(world.a.community)
    registered = client.post("/v1/activities/device-keys", headers=headers, json={
        "public_key": ed25519.b64(ed25519.public_bytes(device.public_key())), "label": "签到平板"})
    assert registered.status_code == 201, registered.text
    key_id = registered.json()["key_id"]
    base.start_clock_at(at(9, 40))

    def scan(action: str, minute: int, **changes: Any) -> dict[str, Any]:
        record = {"scan_id": str(uuid4()), "region": world.ledger.region_code,
                  "community": str(world.a.community.actor_id), "activity": activity_id, "device_key_id": key_id,
                  "member": str(world.a.member.actor_id), "action": action,
                  "scanned_at": at(9, minute, 0).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        record.update(changes)
        return {"record": record, "signature": ed25519.b64(device.sign(offline_scan_bytes(record)))}

    path = f"/v1/activities/{activity_id}/offline-scans"
    checked_in = scan("in", 0)
    first = client.post(path, headers=headers, json=checked_in)
    assert first.status_code == 200 and first.json()["applied"] is True, first.text
    assert first.json()["result"]["action"] == "checked_in"
    again = client.post(path, headers=headers, json=checked_in)
    assert again.status_code == 200 and again.json()["applied"] is False
    forged = dict(scan("out", 30), signature=ed25519.b64(ed25519.generate().sign(b"x")))
    answer = client.post(path, headers=headers, json=forged)
    assert answer.status_code == 422 and answer.json()["code"] == "device_signature_invalid", answer.text
    unknown = scan("out", 30, device_key_id="0" * 32)
    answer = client.post(path, headers=headers, json=unknown)
    assert answer.status_code == 403 and answer.json()["code"] == "device_key_unknown", answer.text
    malformed = scan("out", 30, scanned_at="2026-11-14T01:30:00+00:00")
    answer = client.post(path, headers=headers, json=malformed)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_request", answer.text  # the schema's shape
    out = client.post(path, headers=headers, json=scan("out", 35))
    assert out.status_code == 200 and out.json()["result"]["presence_minutes"] == 35, out.text
