"""The anonymous federation endpoint under attack (issue #10, defects 1 and 3).

A garbage body naming a real transfer gets no signed rejection, so it cannot void the transfer at
the source; the body is bounded before and while it is read; each client address is rate-limited;
and the bundle is verified in the request thread, never in the single group-commit writer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import services_of
from api.provision import provision
from api.ratelimit import TokenBucket
from api.routers import federation
from api.routers.federation import FederationGuard
from api.settings import settings_for_tests
from ledger.application import transfers
from ledger.application import Ledger
from ledger.domain import base
from tests.api.world import World

FEDERATION = transfers.FEDERATION_IMPORT_PATH


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _destination(world: World, **settings: Any) -> Iterator[tuple[FastAPI, TestClient, dict[str, str]]]:
    ledger = Ledger("memory:")
    ledger.init_region(code="320104", name="南京市秦淮区", province_key=world.root_key)
    app = create_app(settings_for_tests(**settings), ledger)
    admin = provision(ledger, services_of(app).auth)[0]
    with TestClient(app, raise_server_exceptions=False) as client:
        token = client.post("/v1/auth/token", data={"username": admin.username, "password": admin.password})
        yield app, client, {"Authorization": f"Bearer {token.json()['access_token']}"}
    ledger.close()


@pytest.fixture
def destination(world: World) -> Iterator[tuple[FastAPI, TestClient, dict[str, str]]]:
    yield from _destination(world)


@pytest.fixture
def addressed_destination(world: World) -> Iterator[tuple[FastAPI, TestClient, dict[str, str]]]:
    yield from _destination(world, public_url="http://qinhuai.invalid")


@pytest.fixture
def small_destination(world: World) -> Iterator[tuple[FastAPI, TestClient, dict[str, str]]]:
    yield from _destination(world, bundle_request_bytes_max=64 * 1024)


def _pending_transfer(client: TestClient, world: World, remote: TestClient, remote_admin: dict[str, str]) -> \
        tuple[str, bytes]:
    region = world.headers(world.region)
    member_id = str(world.a.member.actor_id)
    assert remote.post("/v1/region/peers", headers=remote_admin,
                       json=client.get("/v1/region/card", headers=region).json()).status_code == 200
    assert client.post("/v1/region/peers", headers=region,
                       json=remote.get("/v1/region/card", headers=remote_admin).json()).status_code == 200
    assert client.post(f"/v1/members/{member_id}/consents", headers=world.headers(world.a.member),
                       json={"purpose": "transfer", "recipient": "320104"}).status_code == 201
    started = client.post("/v1/transfers", headers=region, json={"member_id": member_id, "destination": "320104"})
    assert started.status_code == 201, started.text
    transfer_id = started.json()["id"]
    bundle = client.post(f"/v1/transfers/{transfer_id}/export", headers=region)
    assert bundle.status_code == 200
    return transfer_id, bundle.content


def _active_minutes(client: TestClient, headers: dict[str, str], member_id: str) -> int:
    member = client.get(f"/v1/members/{member_id}", headers=headers)
    if member.status_code != 200 or member.json()["status"] != "active":
        return 0
    return int(client.get(f"/v1/members/{member_id}/balance", headers=headers).json()["balance_minutes"])


def test_a_garbage_push_naming_a_real_transfer_gets_no_signed_rejection(client: TestClient, world: World,
                                                                        destination) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, remote, remote_admin = destination
    region = world.headers(world.region)
    member_id = str(world.a.member.actor_id)
    before = client.get(f"/v1/members/{member_id}/balance", headers=region).json()["balance_minutes"]
    transfer_id, bundle = _pending_transfer(client, world, remote, remote_admin)
    for garbage in ({"transfer_id": transfer_id, "source": {"code": "320102"}},
                    {**json.loads(bundle), "events": []},
                    {**json.loads(bundle), "transfer_events": ["AAAA"]}):
        answer = remote.post(FEDERATION, content=json.dumps(garbage).encode())
        assert answer.status_code in (409, 422), answer.text
        assert answer.json()["code"].startswith("bundle_")
        if answer.json()["rejection"] is not None:  # only for a proven transfer; and then it cannot void it
            voided = client.post(f"/v1/transfers/{transfer_id}/voiding", headers=region,
                                 json={"reason": "拒收", "rejection": answer.json()["rejection"]})
            assert voided.status_code == 422 and voided.json()["code"] == "receipt_wrong_bundle"
    for nested in (b"[" * 990, b'{"source":{"code":[1]},"transfer_id":"x"}', b"\xff\xfe", b'"\\ud800"'):
        answer = remote.post(FEDERATION, content=nested)
        assert answer.status_code == 422 and answer.json()["rejection"] is None, answer.text
    imported = remote.post(FEDERATION, content=bundle)  # the source's own push
    if imported.status_code == 201:
        done = client.post(f"/v1/transfers/{transfer_id}/completion", headers=region, json=imported.json())
        assert done.status_code == 200, done.text
    else:  # an identifiable copy was rejected first: the real bundle is rejected too, never imported
        assert imported.json()["code"] == "transfer_already_rejected", imported.text
        voided = client.post(f"/v1/transfers/{transfer_id}/voiding", headers=region,
                             json={"reason": "拒收", "rejection": imported.json()["rejection"]})
        assert voided.status_code == 200, voided.text
    total = (_active_minutes(client, region, member_id) + _active_minutes(remote, remote_admin, member_id))
    assert total == before


def test_a_body_over_the_limit_is_refused_before_it_is_read(client: TestClient, world: World,
                                                           small_destination) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    app, remote, _ = small_destination
    writer = services_of(app).writer
    commands_before = writer.stats.commands
    declared = remote.post(FEDERATION, content=b"x" * (64 * 1024 + 1))
    assert declared.status_code == 413 and declared.json()["code"] == "bundle_too_large"
    assert "字节" in declared.json()["detail"]
    pulled: list[int] = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must stop reading at the limit
        for _ in range(1000):
            pulled.append(1)
            yield b"x" * 4096

    streamed = remote.post(FEDERATION, content=chunks())
    assert streamed.status_code == 413 and streamed.json()["code"] == "bundle_too_large"
    assert writer.stats.commands == commands_before  # nothing reached the writer
    empty = remote.post(FEDERATION, content=b"")
    assert empty.status_code == 422 and empty.json()["code"] == "invalid_input"


def test_anonymous_pushes_are_rate_limited_per_client_address(world: World, destination) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    app, remote, _ = destination
    clock = Clock()
    app.state.federation_guard = FederationGuard(
        buckets=TokenBucket(rate_per_second=1 / 60, burst=3, clock=clock), concurrent_max=2,
        redemption_buckets=TokenBucket(rate_per_second=1 / 60, burst=2, clock=clock))
    # 通存通兑 messages have their own bucket: a counter's pace does not use up the bundles' one
    redemptions = [remote.post("/v1/federation/redemptions", content=b"{}") for _ in range(3)]
    assert [a.status_code for a in redemptions] == [422, 422, 429]
    answers = [remote.post(FEDERATION, content=b"{}") for _ in range(4)]
    assert [a.status_code for a in answers] == [422, 422, 422, 429]
    limited = answers[-1]
    assert limited.json()["code"] == "rate_limited" and "请求过于频繁" in limited.json()["detail"]
    assert limited.headers["Retry-After"] == "60"
    clock.now += 60
    assert remote.post(FEDERATION, content=b"{}").status_code == 422  # one token back after a minute


def test_the_bundle_is_verified_outside_the_writer(client: TestClient, world: World, destination,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    app, remote, remote_admin = destination
    assert services_of(app).writer.running
    transfer_id, bundle = _pending_transfer(client, world, remote, remote_admin)
    threads: list[str] = []
    verify = transfers.verify_bundle

    def spying(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return verify(*args, **kwargs)

    monkeypatch.setattr(transfers, "verify_bundle", spying)
    answer = remote.post(FEDERATION, content=bundle)
    assert answer.status_code == 201, answer.text
    assert threads and "timeledger-writer" not in threads
    threads.clear()
    again = remote.post("/v1/transfer-imports", headers=remote_admin, content=bundle)
    assert again.status_code == 201 and again.json() == answer.json()
    assert threads and "timeledger-writer" not in threads


STATUS = transfers.FEDERATION_STATUS_PATH


def _route_to(remote: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source's outgoing federation calls reach the destination's app (no network in these tests)."""
    def post(url: str, body: bytes) -> tuple[int, bytes]:
        answer = remote.post(url[url.index("/v1/"):], content=body)
        return answer.status_code, answer.content

    monkeypatch.setattr(federation, "_post", post)


def test_the_timeout_race_over_http_completes_with_the_receipt_the_query_brings_back(
        client: TestClient, world: World, addressed_destination,  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, remote, remote_admin = addressed_destination
    region = world.headers(world.region)
    member_id = str(world.a.member.actor_id)
    before = client.get(f"/v1/members/{member_id}/balance", headers=region).json()["balance_minutes"]
    transfer_id, bundle = _pending_transfer(client, world, remote, remote_admin)
    assert remote.post(FEDERATION, content=bundle).status_code == 201  # imported; the receipt is lost
    early = remote.post(STATUS, content=bundle)
    assert early.status_code == 200 and early.json()["receipt"]["kind"] == "accepted"
    monkeypatch.setattr(base, "_CLOCK_OFFSET", timedelta(days=31))  # both services' clocks pass the expiry
    timed_out = client.post(f"/v1/transfers/{transfer_id}/voiding", headers=region, json={"reason": "超时"})
    assert timed_out.status_code == 409 and timed_out.json()["code"] == "transfer_void_needs_answer", timed_out.text
    assert "目的地区" in timed_out.json()["detail"]
    _route_to(remote, monkeypatch)
    settled = client.post(f"/v1/transfers/{transfer_id}/settlement", headers=region)
    assert settled.status_code == 200 and settled.json()["status"] == "completed", settled.text
    total = _active_minutes(client, region, member_id) + _active_minutes(remote, remote_admin, member_id)
    assert total == before


def test_after_the_expiry_the_not_imported_answer_voids_and_bars_the_import(
        client: TestClient, world: World, addressed_destination,  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, remote, remote_admin = addressed_destination
    region = world.headers(world.region)
    member_id = str(world.a.member.actor_id)
    before = client.get(f"/v1/members/{member_id}/balance", headers=region).json()["balance_minutes"]
    transfer_id, bundle = _pending_transfer(client, world, remote, remote_admin)
    early = remote.post(STATUS, content=bundle)  # before the expiry: no answer, nothing recorded
    assert early.status_code == 409 and early.json()["code"] == "transfer_not_expired", early.text
    for garbage in (b'{"transfer_id": "%s", "source": {"code": "320102"}}' % transfer_id.encode(), b"[" * 990):
        refused = remote.post(STATUS, content=garbage)
        assert refused.status_code == 422 and refused.json()["code"].startswith("bundle_"), refused.text
    monkeypatch.setattr(base, "_CLOCK_OFFSET", timedelta(days=31))
    _route_to(remote, monkeypatch)
    settled = client.post(f"/v1/transfers/{transfer_id}/settlement", headers=region)
    assert settled.status_code == 200 and settled.json()["status"] == "voided", settled.text
    assert not settled.json()["void_forced"]
    monkeypatch.setattr(base, "_CLOCK_OFFSET", timedelta(0))  # a destination whose clock runs behind
    late = remote.post(FEDERATION, content=bundle)
    assert late.json()["code"] == "transfer_already_rejected", late.text
    answer = remote.post(STATUS, content=bundle).json()
    assert answer["receipt"]["kind"] == "not_imported"
    total = _active_minutes(client, region, member_id) + _active_minutes(remote, remote_admin, member_id)
    assert total == before


def test_a_forced_void_needs_a_reason_and_the_expiry_and_says_so(client: TestClient, world: World, destination,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]  # pytest fixtures, untyped
    _, remote, remote_admin = destination
    region = world.headers(world.region)
    transfer_id, _ = _pending_transfer(client, world, remote, remote_admin)
    url = f"/v1/transfers/{transfer_id}/voiding"
    early = client.post(url, headers=region, json={"reason": "目的地区无应答", "force": True})
    assert early.status_code == 409 and early.json()["code"] == "wrong_state", early.text
    monkeypatch.setattr(base, "_CLOCK_OFFSET", timedelta(days=31))
    blank = client.post(url, headers=region, json={"reason": "   ", "force": True})
    assert blank.status_code == 422, blank.text
    unit = client.post(url, headers=world.headers(world.a.unit), json={"reason": "目的地区无应答", "force": True})
    assert unit.status_code == 403, unit.text
    forced = client.post(url, headers=region, json={"reason": "目的地区三个月无应答", "force": True})
    assert forced.status_code == 200, forced.text
    assert forced.json()["status"] == "voided" and forced.json()["void_forced"] is True
    assert "目的地区三个月无应答" in forced.json()["void_reason"]
