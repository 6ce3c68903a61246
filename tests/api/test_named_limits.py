"""Named limits (issue 13): each text limit is defined once in `ledger/domain/limits.py` and read by
the domain's checks, the API's schemas (OpenAPI `maxLength`) and the web forms (`maxlength`) alike.
The case that drifted: a session's activity allowed 64 characters when recorded and 200 when
corrected; now both are refused past `ACTIVITY_CHARS_MAX`, with the same code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import settings_for_tests
from api.web.core import SESSION_COOKIE
from ledger.application import Ledger
from ledger.domain import limits
from ledger.domain.errors import InvalidInput
from ledger.domain.service_session import ServiceSession
from ledger.domain.values import Role
from tests.api.world import World, build_world, today_iso

# (schema, field, the domain's limit)
SCHEMA_LIMITS = [
    ("SessionIn", "activity", limits.ACTIVITY_CHARS_MAX),
    ("CorrectionIn", "activity", limits.ACTIVITY_CHARS_MAX),
    ("SessionIn", "place", limits.PLACE_CHARS_MAX),
    ("CorrectionIn", "place", limits.PLACE_CHARS_MAX),
    ("SessionIn", "content", limits.TEXT_CHARS_MAX),
    ("CorrectionIn", "content", limits.TEXT_CHARS_MAX),
    ("SessionIn", "organiser", limits.NAME_CHARS_MAX),
    ("CorrectionIn", "reason", limits.REASON_CHARS_MAX),
    ("ReasonIn", "reason", limits.REASON_CHARS_MAX),
    ("ExemptionIn", "reason", limits.REASON_CHARS_MAX),
    ("OrderIn", "note", limits.NOTE_CHARS_MAX),
    ("AdoptIn", "note", limits.NOTE_CHARS_MAX),
    ("ForwardIn", "agency", limits.AGENCY_CHARS_MAX),
    ("SuggestionIn", "content", limits.TEXT_CHARS_MAX),
    ("EnrolIn", "name", limits.NAME_CHARS_MAX),
    ("ProfileIn", "hobbies", limits.PROFILE_FIELD_CHARS_MAX),
    ("PersonalIn", "mobile", limits.PROFILE_FIELD_CHARS_MAX),
    ("ConsentIn", "recipient", limits.CONSENT_RECIPIENT_CHARS_MAX),
    ("PostIn", "name", limits.NAME_CHARS_MAX),
    ("CatalogueItemIn", "name", limits.NAME_CHARS_MAX),
    ("ResidentIn", "label", limits.LABEL_CHARS_MAX),
    ("LabelIn", "label", limits.LABEL_CHARS_MAX),
    ("KeyRevokeIn", "reason", limits.KEY_REASON_CHARS_MAX),
    ("RegionSettingsIn", "display_name", limits.DISPLAY_NAME_CHARS_MAX),
    ("ScoringPolicyIn", "note", limits.NOTE_CHARS_MAX),
    ("CalendarIn", "source", limits.CALENDAR_SOURCE_CHARS_MAX),
    ("VoidIn", "reason", limits.REASON_CHARS_MAX),
]
# (role, page, the input's name, the domain's limit)
FORM_LIMITS = [
    (Role.MEMBER, "/me/records", "activity", limits.ACTIVITY_CHARS_MAX),
    (Role.MEMBER, "/me/records", "place", limits.PLACE_CHARS_MAX),
    (Role.MEMBER, "/me/records", "organiser", limits.NAME_CHARS_MAX),
    (Role.MEMBER, "/me/records", "content", limits.TEXT_CHARS_MAX),
    (Role.COMMUNITY, "/community/posts", "name", limits.NAME_CHARS_MAX),
    (Role.COMMUNITY, "/community/menu", "title", limits.NAME_CHARS_MAX),
    (Role.COMMUNITY, "/community/catalogue", "name", limits.NAME_CHARS_MAX),
    (Role.COMMUNITY, "/community/queue", "reason", limits.REASON_CHARS_MAX),
]
CONTROL = re.compile(r"<(?:input|textarea)\b[^>]*>")


@pytest.fixture(scope="module")
def web_world() -> Iterator[tuple[TestClient, World]]:
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client, build_world(app)
    ledger.close()


def _property(document: dict[str, Any], schema: str, field: str) -> dict[str, Any]:
    spec: dict[str, Any] = document["components"]["schemas"][schema]["properties"][field]
    strings = [s for s in spec.get("anyOf", [spec]) if s.get("type") == "string"]  # `str | None` is an anyOf
    assert len(strings) == 1, (schema, field, spec)
    return strings[0]


@pytest.mark.parametrize(("schema", "field", "limit"), SCHEMA_LIMITS, ids=[f"{s}.{f}" for s, f, _ in SCHEMA_LIMITS])
def test_the_openapi_max_length_is_the_domain_limit(web_world: tuple[TestClient, World], schema: str, field: str,
                                                    limit: int) -> None:
    client, _ = web_world
    document = client.app.openapi()  # type: ignore[attr-defined]  # TestClient.app is the FastAPI app
    assert _property(document, schema, field)["maxLength"] == limit


def test_the_form_maxlength_is_the_domain_limit(web_world: tuple[TestClient, World]) -> None:
    client, world = web_world
    for role, path, name, limit in FORM_LIMITS:
        client.cookies.clear()
        client.cookies.set(SESSION_COOKIE, world.tokens[world.actor(role).actor_id])
        page = client.get(path)
        assert page.status_code == 200, (path, page.status_code)
        controls = [c for c in CONTROL.findall(page.text) if f'name="{name}"' in c]
        assert controls, f"{path}: no input named {name}"
        for control in controls:
            found = re.search(r'maxlength="(\d+)"', control)
            assert found is not None and int(found.group(1)) == limit, (path, control)


def _recorded(activity: str) -> ServiceSession:
    return ServiceSession.record(
        session_id=uuid4(), member_id=uuid4(), community_id=uuid4(), activity=activity, content="为空巢老人打扫卫生",
        place="社区", service_date=date(2026, 11, 30), start_time="09:00", end_time="11:00", minutes=90,
        post_id=None, order_id=None, organiser="", recipient="", recorded_on=date(2026, 12, 1))


def test_an_activity_past_the_limit_is_refused_alike_when_recorded_and_when_corrected() -> None:
    at_limit, past_limit = "敬" * limits.ACTIVITY_CHARS_MAX, "敬" * (limits.ACTIVITY_CHARS_MAX + 1)
    session = _recorded(at_limit)
    session.correct(changes={"activity": at_limit}, reason="活动名称写错")
    with pytest.raises(InvalidInput) as when_recorded:
        _recorded(past_limit)
    with pytest.raises(InvalidInput) as when_corrected:
        session.correct(changes={"activity": past_limit}, reason="活动名称写错")
    assert type(when_corrected.value) is type(when_recorded.value)
    assert when_corrected.value.code == when_recorded.value.code == "invalid_input"
    assert str(limits.ACTIVITY_CHARS_MAX) in when_corrected.value.detail


def test_the_api_refuses_a_long_activity_alike_when_recorded_and_when_corrected(
        web_world: tuple[TestClient, World]) -> None:
    client, world = web_world
    past_limit = "敬" * (limits.ACTIVITY_CHARS_MAX + 1)
    recorded = client.post("/v1/sessions", headers=world.headers(world.a.member), json={
        "member_id": str(world.a.member.actor_id), "activity": past_limit, "content": "夜间巡逻", "place": "小区",
        "service_date": today_iso(world.ledger), "start_time": "19:00", "end_time": "21:00", "minutes": 90})
    corrected = client.post(f"/v1/sessions/{world.a.open_session_id}/corrections",
                            headers=world.headers(world.a.community),
                            json={"reason": "活动名称写错", "activity": past_limit})
    assert recorded.status_code == corrected.status_code == 422
    assert recorded.json()["code"] == corrected.json()["code"] == "invalid_request"
    assert "activity" in corrected.json()["detail"]
