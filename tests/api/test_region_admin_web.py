"""Region administration on the web (issue #12): each page and action as the region administrator
meets it. A change is a signed event (by the region's key, with its reason); bad input comes back in
Chinese next to the field with every typed value kept and nothing written; other roles get 403
(tests/api/test_authorisation_matrix.py walks every route × role)."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import services_of
from api.settings import settings_for_tests
from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import Actor, Ledger
from ledger.domain.values import Role
from ledger.signing.statement import parse_signed_bytes, unpack
from ledger.verification.store import verify_store
from tests.api.world import World, build_world

MESSAGE = re.compile(r'class="field-message" id="([a-z]+)-([a-z_0-9]+)-error">([^<]*)<')


@pytest.fixture
def setup() -> Iterator[tuple[FastAPI, TestClient, World]]:
    ledger = Ledger("memory:")
    app = create_app(settings_for_tests(), ledger)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield app, client, build_world(app)
    ledger.close()


def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _post(client: TestClient, world: World, path: str, actor: Actor | None = None, **form: str) -> Any:
    csrf = _as(client, world, actor or world.region)
    return client.post(path, data={CSRF_FIELD: csrf, "nonce": uuid4().hex, **form})


def _events(ledger: Ledger) -> list[Any]:
    return list(ledger.recorder.select_notifications(start=1, limit=100_000))


def _new_statements(ledger: Ledger, before: int) -> list[tuple[str, dict[str, Any], str]]:
    """(event type, signed payload, signing key id) of every event stored after `before`."""
    found = []
    for row in _events(ledger)[before:]:
        signature_and_bytes = unpack(row.state)
        statement = parse_signed_bytes(signature_and_bytes[1])
        found.append((statement.type, statement.payload, statement.key))
    return found


def _region_key(ledger: Ledger) -> str:
    stored = ledger.secrets.active_key(ledger.region_actor().actor_id)
    assert stored is not None
    return stored.key_id


def _messages(page: str) -> dict[tuple[str, str], str]:
    return {(form, name): html.unescape(text) for form, name, text in MESSAGE.findall(page)}


def _verified(ledger: Ledger) -> None:
    report = verify_store(ledger.database, root_public_key=base64.b64decode(ledger.root_public_key()),
                          region_code=ledger.region_code, recorder=ledger.recorder, workers=0)
    assert report.ok, [str(problem) for problem in report.problems]


def _shown(client: TestClient, world: World, setting: str) -> str:
    """What the settings page shows as the setting's current value."""
    _as(client, world, world.region)
    found = re.search(rf'data-setting="{setting}">([^<]*)<', client.get("/region/settings").text)
    assert found is not None, setting
    return found.group(1)


def _flash_ok(response: Any) -> None:
    assert response.status_code == 303, response.text[:500]
    assert '"kind": "ok"' in __import__("urllib.parse").parse.unquote(response.cookies.get("tl_flash", ""))


# -- the transfer timeout (it had no way in at all) ------------------------------------------------------------

def test_the_transfer_timeout_is_set_on_the_settings_page_as_a_signed_event_with_its_reason(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    assert _shown(client, world, "transfer-timeout") == "30 天"
    before = len(_events(ledger))
    response = _post(client, world, "/region/settings/transfer-timeout", days="45", reason="跨省转移回执较慢")
    _flash_ok(response)
    assert response.headers["location"] == "/region/settings"
    assert ledger.get_region().transfer_timeout_days == 45
    [(kind, payload, key)] = _new_statements(ledger, before)
    assert (kind, payload["days"], payload["reason"], key) == ("Region.TransferTimeoutSet", 45, "跨省转移回执较慢",
                                                               _region_key(ledger))
    assert _shown(client, world, "transfer-timeout") == "45 天"
    _verified(ledger)


@pytest.mark.parametrize(("days", "reason", "field", "message"), [
    ("abc", "跨省转移", "days", "请填写 1 到 365 之间的整数。"),
    ("0", "跨省转移", "days", "请填写 1 到 365 之间的整数。"),
    ("366", "跨省转移", "days", "请填写 1 到 365 之间的整数。"),
    ("45", "", "reason", "请说明修改原因（将签入记录）。"),
    ("45", "很" * 201, "reason", "最多 200 个字。"),
])
def test_a_bad_transfer_timeout_is_refused_beside_the_field_with_the_values_kept(
        setup: Any, days: str, reason: str, field: str, message: str) -> None:
    _, client, world = setup
    before = len(_events(world.ledger))
    response = _post(client, world, "/region/settings/transfer-timeout", days=days, reason=reason)
    assert response.status_code == 422
    assert _messages(response.text)[("timeout", field)] == message
    assert f'value="{html.escape(days)}"' in response.text and f'value="{reason}"' in response.text
    assert len(_events(world.ledger)) == before and world.ledger.get_region().transfer_timeout_days == 30
    assert "未保存" in response.text


# -- the other settings --------------------------------------------------------------------------------------

def test_display_name_storage_cap_and_deadline_are_signed_with_their_reasons(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    before = len(_events(ledger))
    _flash_ok(_post(client, world, "/region/settings/name", display_name="玄武爱心时间", reason="统一名称"))
    _flash_ok(_post(client, world, "/region/settings/storage-cap", cap_hours="1500", reason="防止囤积"))
    _flash_ok(_post(client, world, "/region/settings/report-deadline", year="2027", deadline="2027-09-30",
                    reason="推迟一个月"))
    statements = _new_statements(ledger, before)
    assert [(k, p["reason"]) for k, p, _ in statements] == [
        ("Region.SettingsChanged", "统一名称"), ("Region.SettingsChanged", "防止囤积"),
        ("Region.ReportDeadlineSet", "推迟一个月")]
    assert {key for _, _, key in statements} == {_region_key(ledger)}
    region = ledger.get_region()
    assert (region.display_name, region.storage_cap_minutes) == ("玄武爱心时间", 1500 * 60)
    assert region.report_deadline(2027).isoformat() == "2027-09-30"
    _flash_ok(_post(client, world, "/region/settings/storage-cap", no_cap="1", reason="取消上限"))
    assert ledger.get_region().storage_cap_minutes is None
    _verified(ledger)


def test_a_deadline_outside_its_year_is_refused_and_kept(setup: Any) -> None:
    _, client, world = setup
    before = len(_events(world.ledger))
    response = _post(client, world, "/region/settings/report-deadline", year="2027", deadline="2028-01-05",
                     reason="推迟")
    assert response.status_code == 422
    assert _messages(response.text)[("deadline", "deadline")] == "截止日期须在该年度之内。"
    assert 'value="2028-01-05"' in response.text and 'value="推迟"' in response.text
    response = _post(client, world, "/region/settings/report-deadline", year="2027", deadline="9月30日", reason="推迟")
    assert _messages(response.text)[("deadline", "deadline")].startswith("日期格式应为")
    assert len(_events(world.ledger)) == before


def test_the_counter_confirmation_is_set_on_the_settings_page_as_a_signed_event_with_its_reason(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    assert _shown(client, world, "counter-confirmation") == "不须核对"
    before = len(_events(ledger))
    refused = _post(client, world, "/region/settings/counter-confirmation", required="1", reason="")
    assert refused.status_code == 422
    assert _messages(refused.text)[("confirm", "reason")] == "请说明修改原因（将签入记录）。"
    assert '<option value="1" selected>' in refused.text  # the choice is kept
    refused = _post(client, world, "/region/settings/counter-confirmation", required="maybe", reason="防止冒用党员码")
    assert _messages(refused.text)[("confirm", "required")] == "请从列表中选择。"
    assert 'value="防止冒用党员码"' in refused.text
    assert len(_events(ledger)) == before and not ledger.get_region().counter_confirmation
    _flash_ok(_post(client, world, "/region/settings/counter-confirmation", required="1", reason="防止冒用党员码"))
    assert ledger.get_region().counter_confirmation is True
    [(kind, payload, key)] = _new_statements(ledger, before)
    assert (kind, payload["required"], payload["reason"], key) == (
        "Region.CounterConfirmationSet", True, "防止冒用党员码", _region_key(ledger))
    assert _shown(client, world, "counter-confirmation") == "须当面核对"
    assert '<option value="1" selected>' in client.get("/region/settings").text
    _flash_ok(_post(client, world, "/region/settings/counter-confirmation", required="0", reason="试点结束"))
    assert ledger.get_region().counter_confirmation is False
    _verified(ledger)


# -- units, communities, counters, pairings ------------------------------------------------------------------

def test_the_region_registers_a_unit_a_community_a_counter_and_pairs_them(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    before = len(_events(ledger))
    _flash_ok(_post(client, world, "/region/units", name="玄武区税务局机关党委", unit_type="机关",
                    declared_members="42"))
    _flash_ok(_post(client, world, "/region/communities", name="梅园新村社区", county="玄武区", street="梅园新村街道"))
    page = client.get("/region/organisations").text
    assert "玄武区税务局机关党委" in page and "梅园新村社区" in page
    unit_id = re.search(r'<option value="([0-9a-f-]{36})">玄武区税务局机关党委</option>', page).group(1)  # type: ignore[union-attr]  # the page lists it
    community_id = re.search(r'<option value="([0-9a-f-]{36})">梅园新村社区</option>', page).group(1)  # type: ignore[union-attr]  # the page lists it
    _flash_ok(_post(client, world, "/region/counters", community_id=community_id, name="梅园爱心超市"))
    refused = _post(client, world, "/region/pairings", unit_id=unit_id, community_id=community_id, reason="")
    assert refused.status_code == 422 and ("pair", "reason") in _messages(refused.text)
    assert f'<option value="{unit_id}" selected>' in refused.text  # the choice is kept
    _flash_ok(_post(client, world, "/region/pairings", unit_id=unit_id, community_id=community_id,
                    reason="新建单位，就近结对"))
    kinds = [kind for kind, _, _ in _new_statements(ledger, before)]
    for expected in ("Unit.Registered", "Community.Registered", "Counter.Opened", "Unit.Paired"):
        assert expected in kinds
    assert [p["reason"] for k, p, _ in _new_statements(ledger, before) if k == "Unit.Paired"] == ["新建单位，就近结对"]
    assert ledger.get_unit(UUID(unit_id)).community_id == UUID(community_id)
    page = client.get("/region/organisations").text
    assert "梅园爱心超市" in page
    assert re.search(r"玄武区税务局机关党委</td>.*?梅园新村社区</td>", page, re.S)
    _verified(ledger)


def test_a_bad_unit_form_keeps_every_value_and_writes_nothing(setup: Any) -> None:
    _, client, world = setup
    before = len(_events(world.ledger))
    response = _post(client, world, "/region/units", name="玄武区文旅局", unit_type="公司", declared_members="很多")
    assert response.status_code == 422
    messages = _messages(response.text)
    assert messages[("unit", "unit_type")] == "请从列表中选择。"
    assert messages[("unit", "declared_members")].startswith("请填写 0 到")
    assert 'value="玄武区文旅局"' in response.text and 'value="很多"' in response.text
    response = _post(client, world, "/region/counters", community_id=str(uuid4()), name="")
    assert _messages(response.text)[("counter", "community_id")] == "请从列表中选择。"
    assert _messages(response.text)[("counter", "name")] == "请填写此项。"
    assert len(_events(world.ledger)) == before


# -- logins ------------------------------------------------------------------------------------------------

def test_the_region_opens_disables_and_enables_an_office_login(setup: Any) -> None:
    app, client, world = setup
    auth = services_of(app).auth
    counter = world.b.counter.actor_id
    _flash_ok(_post(client, world, "/region/logins", actor_id=str(counter), username="counter-meiyuan-2",
                    password="a long password 9", password_again="a long password 9"))
    assert auth.get_login("counter-meiyuan-2").actor_id == counter
    _flash_ok(_post(client, world, "/region/logins/disable", username="counter-meiyuan-2"))
    assert auth.get_login("counter-meiyuan-2").disabled
    _flash_ok(_post(client, world, "/region/logins/enable", username="counter-meiyuan-2"))
    assert not auth.get_login("counter-meiyuan-2").disabled


def test_a_bad_login_form_never_echoes_the_password_and_creates_nothing(setup: Any) -> None:
    app, client, world = setup
    auth = services_of(app).auth
    count = len(auth.logins())
    response = _post(client, world, "/region/logins", actor_id=str(world.a.counter.actor_id), username="Counter 2",
                     password="a long password 9", password_again="another one 99")
    assert response.status_code == 422
    messages = _messages(response.text)
    assert messages[("login", "username")].startswith("登录名用")
    assert messages[("login", "password_again")] == "两次输入的密码不一致。"
    assert 'value="Counter 2"' in response.text and "a long password 9" not in response.text
    member = _post(client, world, "/region/logins", actor_id=str(world.a.member.actor_id), username="member-x1",
                   password="a long password 9", password_again="a long password 9")
    assert member.status_code == 422 and _messages(member.text)[("login", "actor_id")] == "请从列表中选择。"
    weak = _post(client, world, "/region/logins", actor_id=str(world.a.counter.actor_id), username="counter-weak",
                 password="password", password_again="password")
    assert weak.status_code == 422 and ("login", "password") in _messages(weak.text)
    assert 'value="counter-weak"' in weak.text
    assert len(auth.logins()) == count


def test_a_member_login_is_reset_only_with_a_reason_and_gives_a_code(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    name = ledger.get_member(world.a.member.actor_id).name
    before = len(_events(ledger))
    refused = _post(client, world, "/region/logins/member-reset", member_name=name,
                    member_id=str(world.a.member.actor_id), reason="")
    assert refused.status_code == 422 and _messages(refused.text)[("reset", "reason")] == "请说明修改原因（将签入记录）。"
    assert len(_events(ledger)) == before
    done = _post(client, world, "/region/logins/member-reset", member_name=name,
                 member_id=str(world.a.member.actor_id), reason="本人遗失密码，当面申请")
    assert done.status_code == 200 and 'id="activation-code"' in done.text
    assert done.headers["cache-control"] == "no-store"
    revoked = [(k, p) for k, p, _ in _new_statements(ledger, before) if k == "Key.Revoked"]
    assert revoked and revoked[0][1]["reason"].endswith("本人遗失密码，当面申请")


# -- keys ------------------------------------------------------------------------------------------------------

def test_rotating_a_key_signs_with_the_reason_and_revoking_needs_confirmation(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    counter = world.a.counter.actor_id
    old_key = ledger.secrets.active_key(counter).key_id  # type: ignore[union-attr]  # the counter has a key
    before = len(_events(ledger))
    _flash_ok(_post(client, world, "/region/keys/rotate", actor_id=str(counter), reason="定期轮换"))
    new_key = ledger.secrets.active_key(counter).key_id  # type: ignore[union-attr]  # rotated, still one
    assert new_key != old_key and ledger.get_key(old_key).revoked_at is not None
    kinds = {k: p for k, p, _ in _new_statements(ledger, before)}
    assert kinds["Key.Revoked"]["reason"] == "定期轮换" and "Key.Registered" in kinds
    before = len(_events(ledger))
    unconfirmed = _post(client, world, "/region/keys/revoke", key_id=new_key, reason="收银终端丢失")
    assert unconfirmed.status_code == 422
    assert _messages(unconfirmed.text)[("revoke", "confirm")] == "吊销后该密钥不能再签名，请勾选确认。"
    assert 'value="收银终端丢失"' in unconfirmed.text and len(_events(ledger)) == before
    assert 'data-confirm="吊销后该密钥不能再签名，确定吊销吗？"' in client.get("/region/keys").text
    _flash_ok(_post(client, world, "/region/keys/revoke", key_id=new_key, reason="收银终端丢失", confirm="1"))
    assert ledger.get_key(new_key).revoked_at is not None
    _verified(ledger)


# -- scoring policies -----------------------------------------------------------------------------------------

POLICY_FORM = {"version": "2", "from_year": "2027", "note": "区委组织部2027年积分办法", "points_per_certified_hour": "12",
               "points_per_certified_session": "5", "points_per_distinct_item": "10", "points_per_excellent_order": "5",
               "points_per_adopted_suggestion": "10", "factor_excellent": "1200", "factor_good": "1000",
               "factor_fair": "800", "star_1": "60", "star_2": "120", "star_3": "240", "star_4": "480", "star_5": "900"}


def test_a_policy_is_published_and_a_year_rescored(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    _flash_ok(_post(client, world, "/region/policies", **POLICY_FORM))
    policy = ledger.get_scoring_policy(2)
    assert policy.rules["points_per_certified_hour"] == 12 and policy.rules["star_thresholds"] == [60, 120, 240, 480, 900]
    before = len(_events(ledger))
    _flash_ok(_post(client, world, "/region/rescoring", year="2026", version="2", reason="按新办法复核"))
    [(kind, payload, _)] = _new_statements(ledger, before)
    assert (kind, payload["version"], payload["reason"]) == ("Region.YearRescored", 2, "按新办法复核")
    assert "v2" in client.get("/region/policies").text


def test_a_policy_may_weigh_hours_by_how_they_were_recorded(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    _as(client, world, world.region)
    assert 'value="1000"' in client.get("/region/policies").text  # every class weighs 1000 ‰ until a policy says
    _flash_ok(_post(client, world, "/region/policies", **{**POLICY_FORM, "assurance_imported": "500"}))
    assert ledger.get_scoring_policy(2).rules["assurance_factor_permille"] == {
        "self_reported": 1000, "checked_in": 1000, "imported": 500}  # a blank class keeps 1000 ‰
    assert "纸质记录导入 500" in client.get("/region/policies").text
    _flash_ok(_post(client, world, "/region/policies", **{**POLICY_FORM, "version": "3"}))
    assert "assurance_factor_permille" not in ledger.get_scoring_policy(3).rules  # none typed: not weighed


def test_a_bad_policy_keeps_the_values_and_publishes_nothing(setup: Any) -> None:
    _, client, world = setup
    before = len(_events(world.ledger))
    response = _post(client, world, "/region/policies", **{**POLICY_FORM, "star_3": "100", "points_per_certified_hour": "-3"})
    assert response.status_code == 422
    messages = _messages(response.text)
    assert messages[("publish", "star_1")] == "五个星级门槛须逐级递增。"
    assert messages[("publish", "points_per_certified_hour")].startswith("请填写 0 到")
    assert 'value="-3"' in response.text and 'value="区委组织部2027年积分办法"' in response.text
    twice = _post(client, world, "/region/policies", **{**POLICY_FORM, "version": "1"})
    assert twice.status_code == 422 and ("publish", "version") in _messages(twice.text)
    assert len(_events(world.ledger)) == before


# -- peers and calendars --------------------------------------------------------------------------------------

def test_a_peer_card_that_is_not_one_is_refused_in_chinese(setup: Any) -> None:
    _, client, world = setup
    before = len(_events(world.ledger))
    response = _post(client, world, "/region/peers", card='{"code": "320104"')
    assert response.status_code == 422
    assert _messages(response.text)[("peer", "card")].startswith("这不是地区名片")
    assert "{&#34;code&#34;: &#34;320104&#34;" in response.text or '{&quot;code&quot;' in response.text \
        or "320104" in response.text
    assert len(_events(world.ledger)) == before


def test_a_peer_region_is_registered_from_its_card(setup: Any) -> None:
    import json

    from ledger.application import transfers

    _, client, world = setup
    other = Ledger("memory:")
    other.init_region(code="320104", name="南京市秦淮区", province_key=world.root_key)  # the same province root
    card = json.dumps(transfers.region_card(other, address="https://qinhuai.invalid"), ensure_ascii=False)
    other.close()
    before = len(_events(world.ledger))
    _flash_ok(_post(client, world, "/region/peers", card=card))
    [(kind, payload, key)] = _new_statements(world.ledger, before)
    assert (kind, payload["code"], key) == ("Region.PeerRegistered", "320104", _region_key(world.ledger))
    page = client.get("/region/peers").text
    assert "南京市秦淮区" in page and "https://qinhuai.invalid" in page
    own = client.get("/region/peers/card")
    assert own.status_code == 200 and "attachment" in own.headers["content-disposition"]
    assert own.json()["code"] == world.ledger.region_code
    _verified(world.ledger)


def test_a_holiday_calendar_is_published_and_bad_dates_are_named(setup: Any) -> None:
    _, client, world = setup
    ledger = world.ledger
    bad = _post(client, world, "/region/calendars", year="2031", holidays="2031-10-01 2031-10-32",
                workdays="", source="国务院办公厅关于2031年部分节假日安排的通知")
    assert bad.status_code == 422
    assert "2031-10-32" in _messages(bad.text)[("calendar", "holidays")]
    assert "2031-10-01 2031-10-32" in bad.text
    before = len(_events(ledger))
    _flash_ok(_post(client, world, "/region/calendars", year="2031", holidays="2031-10-01, 2031-10-02",
                    workdays="2031-09-27", source="国务院办公厅关于2031年部分节假日安排的通知",
                    published_on="2030-11-10"))
    [(kind, payload, _)] = _new_statements(ledger, before)
    assert kind == "Region.CalendarPublished" and payload["holidays"] == ["2031-10-01", "2031-10-02"]
    assert "2031-09-27" in client.get("/region/calendars?year=2031").text


# -- other roles --------------------------------------------------------------------------------------------------

def test_other_roles_get_403_and_write_nothing(setup: Any) -> None:
    _, client, world = setup
    before = len(_events(world.ledger))
    for role in (Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.MEMBER, Role.RESIDENT, Role.AUDITOR):
        actor = world.actor(role)
        _as(client, world, actor)
        assert client.get("/region/settings").status_code == 403
        response = _post(client, world, "/region/settings/transfer-timeout", actor, days="90", reason="越权")
        assert response.status_code == 403, role
    assert len(_events(world.ledger)) == before and world.ledger.get_region().transfer_timeout_days == 30


def test_every_text_of_the_region_pages_has_an_english_translation(setup: Any) -> None:
    """Each Chinese literal of the region's templates and page module is in the EN table, and the
    English pages show none of them."""
    from api.web.i18n import EN

    literals = _literals()
    assert len(literals) > 100
    assert sorted(text for text in literals if text not in EN and text not in RATINGS) == []
    _, client, world = setup
    _as(client, world, world.region)
    for path in ("/region/settings", "/region/organisations", "/region/logins", "/region/keys", "/region/policies",
                 "/region/peers", "/region/calendars"):
        main = client.get(path + "?lang=en").text.split('<main id="main"', 1)[1].split("</main>", 1)[0]
        nodes = {html.unescape(node.strip()) for node in re.findall(r">([^<]+)<", main)}  # data (names) may be Chinese
        shown = {text for text in literals if text in nodes and text not in RATINGS}
        assert not shown, (path, shown)


RATINGS = {"优", "良", "一般"}  # the ratings stay as the notice names them, in both languages


def _literals() -> set[str]:
    import pathlib

    root = pathlib.Path(__file__).parents[2] / "api" / "web"
    found: set[str] = set()
    for source in [*sorted((root / "templates" / "region").glob("*.html")), root / "pages" / "region.py"]:
        text = source.read_text(encoding="utf-8")
        for pair in re.findall(r'"([^"\n{}]*[\u4e00-\u9fff][^"\n]*)"|\'([^\'\n{}]*[\u4e00-\u9fff][^\'\n]*)\'', text):
            found.add(pair[0] or pair[1])
    return found
