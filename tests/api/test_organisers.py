"""活动组织者 over HTTP (issue #15 part 1): the community names, lists and withdraws organisers; a named
organiser runs the community's activity through the same routes as the office; the refusals carry their
stable codes (`not_an_organiser`, `organiser_withdrawn`, `member_not_registered_here`; a member of
another community gets the plain `not_permitted`). The world's member A is named for community A
(tests/api/world.py); the server clock is pinned."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import services_of
from api.settings import settings_for_tests
from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import Actor, Ledger, setup
from ledger.domain import base
from ledger.domain.values import CHINA_TIME
from ledger.signing import keys as ed25519
from ledger.verification.store import verify_store
from tests.api.world import PASSWORD, World, build_world

DAY = date(2026, 11, 14)


def at(hour: int, minute: int = 0, second: int = 5) -> datetime:
    return datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, tzinfo=CHINA_TIME)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, World, FastAPI]]:
    monkeypatch.setattr(base, "_CLOCK_OFFSET", base._CLOCK_OFFSET)  # restored after the test
    base.start_clock_at(at(8, 30))
    ledger = Ledger("memory:")
    app: FastAPI = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, build_world(app), app
    ledger.close()


def _signed_in_member(app: FastAPI, world: World, name: str) -> tuple[Actor, dict[str, str]]:
    """Another member of community A, signed in with their own login (not named organiser)."""
    services = services_of(app)
    a = world.a
    member = setup.add_member(world.ledger, unit=a.unit, community=a.community, name=name, post_ids=[a.post_id],
                              job_title="科员", profile={"sex": "女"}, personal={})
    username = f"member-{member.actor_id.hex[:12]}"
    services.member_access.provision(member_id=member.actor_id, username=username, password=PASSWORD,
                                     reason="test")
    token, _, _ = services.auth.login(username, PASSWORD)
    return member, {"Authorization": f"Bearer {token}"}


def _open(client: TestClient, world: World, headers: dict[str, str]) -> Any:
    return client.post(f"/v1/communities/{world.a.community.actor_id}/activities", headers=headers,
                       json={"title": "重阳节敬老活动", "place": "社区活动室", "service_date": DAY.isoformat(),
                             "start_time": "09:00", "end_time": "11:00", "expected_members": 10,
                             "post_id": str(world.a.post_id)})


def test_a_named_organiser_runs_the_activity_over_the_api(env: tuple[TestClient, World, FastAPI]) -> None:
    client, world, app = env
    a, organiser = world.a, world.headers(world.a.member)
    listed = client.get(f"/v1/communities/{a.community.actor_id}/organisers", headers=world.headers(a.community))
    assert listed.json()["organisers"] == [{"member_id": str(a.member.actor_id), "name": "党员甲"}]
    other, other_headers = _signed_in_member(app, world, "党员丙")
    opened = _open(client, world, organiser)
    assert opened.status_code == 201, opened.text
    activity_id = opened.json()["id"]
    base.start_clock_at(at(9))
    code = client.get(f"/v1/activities/{activity_id}/checkin-code", headers=organiser)
    assert code.status_code == 200, code.text
    scanned = client.post(f"/v1/activities/{activity_id}/member-scans", headers=organiser,
                          json={"member_id": str(other.actor_id)})
    assert scanned.json()["action"] == "checked_in", scanned.text
    group = client.post(f"/v1/activities/{activity_id}/group-entries", headers=organiser,
                        json={"member_ids": [str(a.member.actor_id)]})
    assert group.status_code == 200, group.text
    base.start_clock_at(at(11, 1))
    closed = client.post(f"/v1/activities/{activity_id}/closure", headers=organiser)
    assert closed.status_code == 200 and len(closed.json()["results"]) == 2, closed.text
    # the organiser certifies nothing: the office does
    session_id = closed.json()["results"][0]["session_id"]
    refused = client.post(f"/v1/sessions/{session_id}/certification", headers=organiser)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted")
    assert client.get(f"/v1/activities/{activity_id}/checkin-code", headers=other_headers).json()["code"] \
        == "not_an_organiser"
    ledger = world.ledger
    report = verify_store(ledger.database, root_public_key=ed25519.unb64(ledger.root_public_key()), region_code=ledger.region_code,
                          recorder=ledger.recorder, workers=0)
    assert report.ok, report.problems


def test_the_refusals_carry_their_codes(env: tuple[TestClient, World, FastAPI]) -> None:
    client, world, app = env
    a, b = world.a, world.b
    _, not_named = _signed_in_member(app, world, "党员丁")
    refused = _open(client, world, not_named)
    assert (refused.status_code, refused.json()["code"]) == (403, "not_an_organiser")
    # an organiser of community B is not one of A's
    refused = _open(client, world, world.headers(b.member))
    assert (refused.status_code, refused.json()["code"]) == (403, "not_permitted")
    # a community names only its own members
    refused = client.post(f"/v1/communities/{a.community.actor_id}/organisers", headers=world.headers(a.community),
                          json={"member_id": str(b.member.actor_id)})
    assert (refused.status_code, refused.json()["code"]) == (403, "member_not_registered_here")
    withdrawn = client.post(f"/v1/communities/{a.community.actor_id}/organisers/{a.member.actor_id}/withdrawal",
                            headers=world.headers(a.community), json={"reason": "工作调动"})
    assert withdrawn.status_code == 200, withdrawn.text
    refused = client.get(f"/v1/activities/{a.activity_id}/checkin-code", headers=world.headers(a.member))
    assert (refused.status_code, refused.json()["code"]) == (403, "organiser_withdrawn")
    assert "撤销" in refused.json()["message"]["zh"]
    again = client.post(f"/v1/communities/{a.community.actor_id}/organisers/{a.member.actor_id}/withdrawal",
                        headers=world.headers(a.community), json={})
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    renamed = client.post(f"/v1/communities/{a.community.actor_id}/organisers", headers=world.headers(a.community),
                          json={"member_id": str(a.member.actor_id)})
    assert renamed.status_code == 200, renamed.text
    assert client.get(f"/v1/activities/{a.activity_id}/checkin-code", headers=world.headers(a.member)).status_code \
        == 200


# -- the pages: the office's 活动组织者 panel, the organiser's link and the shared activity pages ----------

def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def test_the_office_names_and_withdraws_on_its_page_and_the_organiser_runs_the_same_pages(
        env: tuple[TestClient, World, FastAPI]) -> None:
    client, world, app = env
    a = world.a
    other, _ = _signed_in_member(app, world, "党员丙")
    csrf = _as(client, world, a.community)
    page = client.get("/community/activities").text
    assert "活动组织者" in page and 'id="organisers"' in page and "党员甲" in page
    assert f'<option value="{other.actor_id}">党员丙</option>' in page  # a registered member to name
    named = client.post("/community/organisers", data={CSRF_FIELD: csrf, "nonce": "n1",
                                                       "member_id": str(other.actor_id)}, follow_redirects=False)
    assert named.status_code == 303, named.text[:300]
    assert [n for _, n in world.ledger.organisers_of(a.community.actor_id)] == ["党员甲", "党员丙"]
    english = client.get("/community/activities?lang=en").text
    assert "Activity organisers" in english and "Reason for withdrawing (optional)" in english
    # the organiser's own page links to the community's activities; the pages are the office's, under /me
    _as(client, world, a.member)
    assert 'href="/me/activities"' in client.get("/me").text
    listing = client.get("/me/activities")
    assert listing.status_code == 200 and 'action="/me/activities"' in listing.text
    assert 'id="organisers"' not in listing.text  # naming organisers stays with the office
    shown = client.get(f"/me/activities/{a.activity_id}")
    assert shown.status_code == 200 and f'data-code-url="/me/activities/{a.activity_id}/code"' in shown.text
    assert "/static/checkin.js" in shown.text
    assert client.get(f"/me/activities/{a.activity_id}/qr.svg").headers["content-type"].startswith("image/svg")
    # withdrawn on the office's page: the member's link is gone and the pages refuse
    csrf = _as(client, world, a.community)
    withdrawn = client.post(f"/community/organisers/{a.member.actor_id}/withdraw",
                            data={CSRF_FIELD: csrf, "nonce": "n2", "reason": "工作调动"}, follow_redirects=False)
    assert withdrawn.status_code == 303
    _as(client, world, a.member)
    assert 'href="/me/activities"' not in client.get("/me").text
    assert client.get(f"/me/activities/{a.activity_id}").status_code == 403


def test_a_refused_form_keeps_what_was_typed(env: tuple[TestClient, World, FastAPI]) -> None:
    client, world, _ = env
    csrf = _as(client, world, world.a.member)
    before = world.ledger.recorder.max_notification_id()
    refused = client.post("/me/activities", data={CSRF_FIELD: csrf, "nonce": "n3", "title": "重阳节敬老活动",
                                                  "serves": f"post:{world.a.post_id}", "place": "活动室",
                                                  "service_date": DAY.isoformat(), "start_time": "11:00",
                                                  "end_time": "09:00", "expected_members": "10"},
                          follow_redirects=False)
    assert refused.status_code == 422, refused.text[:300]
    assert 'value="重阳节敬老活动"' in refused.text and 'value="活动室"' in refused.text
    assert 'value="11:00"' in refused.text
    assert world.ledger.recorder.max_notification_id() == before
