"""Malformed and out-of-range input (issue #10, defect 4 and the small ones of defect 11): every
payload the attacker tried gets a 4xx with our error body and a Chinese message, never a 5xx, and a
refused request writes nothing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from ledger.application import Ledger
from ledger.domain.values import Role
from tests.api.world import World, build_world

DEEP = b"[" * 990
DEEP_OBJECT = b'{"a":' * 990 + b"1" + b"}" * 990
BIG = 2**63  # one past SQL's BIGINT
HUGE = 10**20
_SOME_ID = UUID("0c0ffee0-0000-4000-8000-000000000001")  # fixed: xdist workers must collect the same ids
CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def fixture() -> Iterator[tuple[Ledger, TestClient, World]]:
    ledger = Ledger("memory:")
    app: FastAPI = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield ledger, client, build_world(app)
    ledger.close()


def _send(fixture: tuple[Ledger, TestClient, World], method: str, path: str, *, role: Role | None,
          content: bytes | None = None, json_body: Any = None) -> dict[str, Any]:
    """Send one request; assert a 4xx in our error shape that wrote nothing; return the body."""
    ledger, client, world = fixture
    headers = world.headers(world.actor(role)) if role is not None else {}
    if content is not None:
        headers["Content-Type"] = "application/json"
    before = ledger.recorder.max_notification_id()
    response = client.request(method, path, content=content, json=json_body, headers=headers)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    body = response.json()
    assert body["code"] and isinstance(body["detail"], str), body
    assert ledger.recorder.max_notification_id() == before, "a refused request wrote events"
    return dict(body)


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT], ids=["array", "object"])
@pytest.mark.parametrize(("path", "role"), [("/v1/transfer-imports", Role.REGION),
                                            ("/v1/transfer-imports/rejection", Role.REGION),
                                            ("/v1/federation/transfer-imports", None)])
def test_deeply_nested_bundle_is_refused_not_500(fixture: Any, path: str, role: Role | None, payload: bytes) -> None:
    body = _send(fixture, "POST", path, role=role, content=payload)  # a rejection route signs nothing for it
    assert body.get("rejection") is None, body
    assert body["code"] == "bundle_unreadable", body
    assert CHINESE.search(body["detail"]), body


@pytest.mark.parametrize("code", [[1], {}, {"a": 1}, 320102, None, "32０１０２"])
def test_bundle_source_of_wrong_type_is_a_named_refusal(fixture: Any, code: Any) -> None:
    bundle = json.dumps({"source": {"code": code}, "transfer_id": str(uuid4())}).encode()
    body = _send(fixture, "POST", "/v1/transfer-imports", role=Role.REGION, content=bundle)
    assert body["code"] in {"bundle_unreadable", "source_not_registered"}, body


@pytest.mark.parametrize("transfer_id", [[], {}, 5, None, "not-a-uuid"])
@pytest.mark.parametrize("path", ["/v1/transfer-imports", "/v1/transfer-imports/rejection"])
def test_bundle_transfer_id_of_wrong_type_is_a_named_refusal(fixture: Any, path: str, transfer_id: Any) -> None:
    bundle = json.dumps({"format": "x", "source": {"code": "320104"}, "transfer_id": transfer_id}).encode()
    body = _send(fixture, "POST", path, role=Role.REGION, content=bundle)
    assert body["code"] in {"bundle_unreadable", "invalid_input"}, body


@pytest.mark.parametrize("receipt", [{"receipt": {}, "key_id": [], "signature": 5}, [], "x"])
def test_a_receipt_of_wrong_types_is_refused(fixture: Any, receipt: Any) -> None:
    body = _send(fixture, "POST", f"/v1/transfers/{uuid4()}/completion", role=Role.REGION, json_body=receipt)
    assert body["code"] in {"invalid_request", "receipt_unreadable", "not_found"}, body


def test_bundle_source_without_transfer_id_is_a_named_refusal(fixture: Any) -> None:
    body = _send(fixture, "POST", "/v1/transfer-imports", role=Role.REGION, content=b'{"source":{"code":[1]}}')
    assert body["code"] == "bundle_unreadable", body


@pytest.mark.parametrize("payload", [DEEP, DEEP_OBJECT, b'{"name": "x"' + b" " * 10 + b"[[["],
                         ids=["array", "object", "broken"])
@pytest.mark.parametrize(("path", "role"), [("/v1/units", Role.REGION), ("/v1/orders", Role.RESIDENT),
                                            ("/v1/region/peers", Role.REGION)])
def test_nested_or_broken_json_body_is_a_4xx_in_chinese(fixture: Any, path: str, role: Role, payload: bytes) -> None:
    body = _send(fixture, "POST", path, role=role, content=payload)
    assert body["code"] in {"invalid_json", "invalid_request"}, body
    assert CHINESE.search(body["detail"]), body


def test_nested_receipt_in_a_voiding_is_refused(fixture: Any) -> None:
    nested: Any = 1
    for _ in range(200):
        nested = {"a": nested}
    rejection = {"receipt": {"kind": "rejected", "deep": nested}, "key_id": "k", "signature": "s"}
    body = _send(fixture, "POST", f"/v1/transfers/{uuid4()}/voiding", role=Role.REGION,
                 json_body={"reason": "目的地区拒收", "rejection": rejection})
    assert body["code"] == "invalid_request", body


@pytest.mark.parametrize("query", [f"position={BIG}", f"position={HUGE}", f"version={HUGE}&aggregate_id={_SOME_ID}",
                                   f"version={BIG}&aggregate_id={_SOME_ID}", "position=-1", "position=0"])
def test_inclusion_proof_query_out_of_range_is_422(fixture: Any, query: str) -> None:
    body = _send(fixture, "GET", f"/v1/log/proofs/inclusion?{query}", role=Role.AUDITOR)
    assert body["code"] == "invalid_request", body


@pytest.mark.parametrize("query", [f"from=1&to={BIG}", f"from={HUGE}&to={HUGE}"])
def test_consistency_proof_query_out_of_range_is_422(fixture: Any, query: str) -> None:
    body = _send(fixture, "GET", f"/v1/log/proofs/consistency?{query}", role=Role.AUDITOR)
    assert body["code"] == "invalid_request", body


@pytest.mark.parametrize("destination", ["32０１０２", "３２０１０２", "٣٢٠١٠٢", "320102\n1"])
def test_full_width_region_code_is_refused_as_a_transfer_destination(fixture: Any, destination: str) -> None:
    _, _, world = fixture
    body = _send(fixture, "POST", "/v1/transfers", role=Role.REGION,
                 json_body={"member_id": str(world.a.member.actor_id), "destination": destination})
    assert body["code"] == "invalid_request", body


@pytest.mark.parametrize("recipient", ["32０１０２", "３２０１０２"])
def test_full_width_region_code_is_refused_as_a_consent_recipient(fixture: Any, recipient: str) -> None:
    _, _, world = fixture
    body = _send(fixture, "POST", f"/v1/members/{world.a.member.actor_id}/consents", role=Role.MEMBER,
                 json_body={"purpose": "transfer", "recipient": recipient})
    assert body["code"] in {"invalid_input", "invalid_request"}, body


@pytest.mark.parametrize("text", ["加装\u0085电梯", "加装\u009b电梯", "加装\u202e电梯", "加装\u2066电梯", "\u0000建议"])
def test_dangerous_code_points_in_text_are_refused(fixture: Any, text: str) -> None:
    _, _, world = fixture
    body = _send(fixture, "POST", f"/v1/members/{world.a.member.actor_id}/suggestions", role=Role.MEMBER,
                 json_body={"content": text})
    assert body["code"] in {"invalid_input", "invalid_request"}, body
    assert CHINESE.search(body["detail"]), body


def test_lone_surrogate_in_text_is_refused(fixture: Any) -> None:
    raw = b'{"content": "\\ud800\xe5\xbb\xba\xe8\xae\xae"}'
    _, _, world = fixture
    body = _send(fixture, "POST", f"/v1/members/{world.a.member.actor_id}/suggestions", role=Role.MEMBER,
                 content=raw)
    assert body["code"] in {"invalid_json", "invalid_input", "invalid_request"}, body


@pytest.mark.parametrize("service_date", ["0001-01-01", "2013-12-31", "9999-12-31"])
def test_session_dated_outside_the_scheme_is_refused(fixture: Any, service_date: str) -> None:
    _, _, world = fixture
    body = _send(fixture, "POST", "/v1/sessions", role=Role.MEMBER,
                 json_body={"member_id": str(world.a.member.actor_id), "activity": "敬老", "content": "打扫",
                            "place": "社区", "service_date": service_date, "start_time": "09:00",
                            "end_time": "10:00", "minutes": 60})
    assert body["code"] in {"invalid_input", "invalid_request"}, body


def test_another_community_registering_a_member_sent_elsewhere_is_403(fixture: Any) -> None:
    ledger, client, world = fixture
    unit, community_a = world.a.unit, world.a.community
    member_id = ledger.enrol_member(actor=unit, name="赵磊", party_status="正式")
    slip_id = ledger.issue_report_slip(actor=unit, member_id=member_id, community_id=community_a.actor_id)
    before = ledger.recorder.max_notification_id()
    response = client.post(f"/v1/members/{member_id}/registration", json={"post_ids": [str(world.b.post_id)]},
                           headers=world.headers(world.b.community))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "report_slip_names_another_community"
    assert "社区" in response.json()["detail"]
    assert ledger.recorder.max_notification_id() == before
    response = client.post(f"/v1/members/{member_id}/registration",
                           json={"post_ids": [str(world.a.post_id)], "slip_id": str(slip_id)},
                           headers=world.headers(community_a))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
@pytest.mark.parametrize("query", [f"position={BIG - 1}", f"version={BIG - 1}&aggregate_id={_SOME_ID}",
                                   f"version={2**31 - 1}&aggregate_id={_SOME_ID}",
                                   f"version={2**31}&aggregate_id={_SOME_ID}",
                                   f"from=1&to={BIG - 1}",
                                   f"version={BIG}&aggregate_id={_SOME_ID}", f"position={HUGE}"])
def test_proof_queries_at_the_bounds_are_4xx_on_every_database(database_url: str, query: str) -> None:
    ledger = Ledger(database_url)
    try:
        app = create_app(settings_for_tests(), ledger)
        with TestClient(app, raise_server_exceptions=False) as client:
            world = build_world(app)
            kind = "consistency" if query.startswith("from") else "inclusion"
            before = ledger.recorder.max_notification_id()
            response = client.get(f"/v1/log/proofs/{kind}?{query}", headers=world.headers(world.auditor))
            assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
            assert response.json()["code"] in {"invalid_request", "invalid_input", "not_found"}
            assert ledger.recorder.max_notification_id() == before
    finally:
        ledger.close()
