"""三单制 on the web pages (issue #12): a resident orders from the menu with a note, the community
dispatches, the member declines (with a reason) or accepts and records the session against the
order, the resident rates it; a rejection's reason reaches the member and the resident who rated.
Every step is a page (TestClient) running the API's own command; the facts are checked in the ledger."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from api.web.core import CSRF_FIELD, SESSION_COOKIE, csrf_token
from ledger.application import Actor
from tests.api.world import World

NOTE = "周三上午九点，老人腿脚不便，请带轮椅"
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _as(client: TestClient, world: World, actor: Actor) -> str:
    token = world.tokens[actor.actor_id]
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, token)
    return csrf_token(token)


def _post(client: TestClient, world: World, actor: Actor, path: str, **form: str) -> Any:
    csrf = _as(client, world, actor)
    return client.post(path, data={CSRF_FIELD: csrf, **form}, follow_redirects=False)


def _get(client: TestClient, world: World, actor: Actor, path: str) -> Any:
    _as(client, world, actor)
    return client.get(path, follow_redirects=False)


def _main(html: str) -> str:
    """The visible text of <main> (tags dropped): what a person reads."""
    body = html.split("<main", 1)[1].split("</main>", 1)[0]
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", "", body, flags=re.S)
    body = re.sub(r'<input type="hidden"[^>]*>', "", body)
    return re.sub(r"<[^>]+>", " ", body)


def _flash(response: Any) -> str:
    import urllib.parse

    raw = response.cookies.get("tl_flash") or ""
    return urllib.parse.unquote(raw.strip('"'))


def _new_order(client: TestClient, world: World, note: str = NOTE) -> UUID:
    before = set(world.ledger.recorder.max_notification_id() for _ in (0,))
    answer = _post(client, world, world.a.resident, "/resident/orders", menu_item_id=str(world.a.menu_item_id),
                   note=note)
    assert answer.status_code == 303, answer.text
    assert world.ledger.recorder.max_notification_id() not in before
    page = _get(client, world, world.a.resident, "/resident").text
    found = re.findall(r'action="/resident/orders/([0-9a-f-]{36})/cancel"', page)
    assert found, "a new order can be cancelled"
    return UUID(found[0])  # newest first


def test_resident_orders_member_declines_then_accepts_records_and_the_resident_rates(
        client: TestClient, world: World) -> None:
    ledger, a = world.ledger, world.a
    home = _get(client, world, a.resident, "/resident")
    assert home.status_code == 200
    menu_title = ledger.get_community(a.community.actor_id).menu[a.menu_item_id][0]
    assert menu_title in home.text and ledger.get_community(a.community.actor_id).name in home.text

    order_id = _new_order(client, world)
    order = ledger.get_order(order_id)
    assert (order.resident_id, order.note, order.status) == (a.resident.actor_id, NOTE, "placed")
    assert NOTE in _get(client, world, a.community, "/community/menu").text  # the office sees the note

    assert _post(client, world, a.community, f"/community/orders/{order_id}/dispatch",
                 member_id=str(a.member.actor_id)).status_code == 303
    mine = _get(client, world, a.member, "/me/orders")
    assert mine.status_code == 200 and NOTE in mine.text and "待您接单" in mine.text

    # declining needs a reason; with one the order goes back to the office, which sees why
    before = ledger.recorder.max_notification_id()
    refused = _post(client, world, a.member, f"/me/orders/{order_id}/decline", reason=" ")
    assert refused.status_code == 303 and "请填写婉拒原因" in _flash(refused)
    assert ledger.recorder.max_notification_id() == before
    assert _post(client, world, a.member, f"/me/orders/{order_id}/decline", reason="当天在外地出差").status_code == 303
    assert ledger.get_order(order_id).status == "placed"
    assert "当天在外地出差" in _get(client, world, a.community, "/community/menu").text

    _post(client, world, a.community, f"/community/orders/{order_id}/dispatch", member_id=str(a.member.actor_id))
    assert _post(client, world, a.member, f"/me/orders/{order_id}/accept").status_code == 303
    assert ledger.get_order(order_id).status == "accepted"
    assert f'href="/me/records?order={order_id}#record"' in _get(client, world, a.member, "/me/orders").text

    # the record form comes pre-filled from the order
    form = _get(client, world, a.member, f"/me/records?order={order_id}").text
    assert f'<option value="{order_id}" selected>' in form
    assert f'value="{menu_title}"' in form

    # a bad duration: the form comes back with every typed value and the reason at the minutes field
    typed = {"order_id": str(order_id), "activity": menu_title, "service_date": ledger.today().isoformat(),
             "start_time": "09:00", "end_time": "10:00", "minutes": "150", "place": "紫金小区3栋",
             "organiser": "社区党委", "recipient": "王奶奶", "content": "陪同王奶奶去社区医院复查", "post_id": ""}
    before = ledger.recorder.max_notification_id()
    bad = _post(client, world, a.member, "/me/records", **typed)
    assert bad.status_code == 422
    assert ledger.recorder.max_notification_id() == before
    for value in ("紫金小区3栋", "社区党委", "王奶奶", "陪同王奶奶去社区医院复查", 'value="150"', 'value="10:00"'):
        assert value in bad.text, value
    assert f'<option value="{order_id}" selected>' in bad.text
    assert 'id="minutes-error"' in bad.text or 'id="end_time-error"' in bad.text or 'id="record-error"' in bad.text

    typed["minutes"] = "55"
    assert _post(client, world, a.member, "/me/records", **typed).status_code == 303
    rows = _get(client, world, a.resident, "/resident").text
    session_id = re.findall(r'action="/resident/sessions/([0-9a-f-]{36})/rating"', rows)
    assert len(session_id) == 1
    assert ledger.get_session(UUID(session_id[0])).order_id == order_id

    assert _post(client, world, a.resident, f"/resident/sessions/{session_id[0]}/rating", rating="优").status_code == 303
    assert ledger.get_session(UUID(session_id[0])).rating is not None
    ledger.certify_session(actor=a.community, session_id=UUID(session_id[0]))
    done = _get(client, world, a.resident, "/resident").text
    assert "已完成" in done and "/rating" not in done.split(NOTE)[0]
    assert not UUID_TEXT.search(_main(done)), "no raw ids on the resident's page"


def test_a_rejected_session_tells_the_member_and_the_resident_who_rated_it_why(client: TestClient,
                                                                             world: World) -> None:
    ledger, a = world.ledger, world.a
    order_id = _new_order(client, world, note="")
    ledger.dispatch_order(actor=a.community, order_id=order_id, member_id=a.member.actor_id)
    assert _post(client, world, a.member, f"/me/orders/{order_id}/accept").status_code == 303  # the member's key
    assert _post(client, world, a.member, "/me/records", order_id=str(order_id), activity="上门理发", content="理发",
                 place="小区", service_date=ledger.today().isoformat(), start_time="09:00", end_time="10:00",
                 minutes="60").status_code == 303
    session_id = UUID(re.findall(r'action="/resident/sessions/([0-9a-f-]{36})/rating"',
                                 _get(client, world, a.resident, "/resident").text)[0])
    ledger.rate_session(actor=a.resident, session_id=session_id, rating="一般")
    ledger.reject_session(actor=a.community, session_id=session_id, reason="服务时间与居民反映不符")
    for actor, path in ((a.member, "/me/records"), (a.member, "/me/orders"), (a.resident, "/resident")):
        page = _get(client, world, actor, path)
        assert page.status_code == 200 and "服务时间与居民反映不符" in page.text, path
    # after a rejection the member may record the order again
    assert f'href="/me/records?order={order_id}#record"' in _get(client, world, a.member, "/me/orders").text


def test_an_order_without_a_menu_item_comes_back_with_the_note_kept(client: TestClient, world: World) -> None:
    before = world.ledger.recorder.max_notification_id()
    answer = _post(client, world, world.a.resident, "/resident/orders", note="请下午来")
    assert answer.status_code == 422
    assert "请选择服务项目" in answer.text and "请下午来" in answer.text
    assert world.ledger.recorder.max_notification_id() == before
    other = _post(client, world, world.a.resident, "/resident/orders", menu_item_id=str(world.b.menu_item_id),
                  note="别的社区的菜单")
    assert other.status_code == 422 and "别的社区的菜单" in other.text
    assert world.ledger.recorder.max_notification_id() == before


def test_english_resident_and_member_order_pages_have_no_chinese_left(client: TestClient, world: World) -> None:
    order_id = _new_order(client, world, note="")
    world.ledger.dispatch_order(actor=world.a.community, order_id=order_id, member_id=world.a.member.actor_id)
    for actor, path in ((world.a.resident, "/resident?lang=en"), (world.a.member, "/me/orders?lang=en")):
        text = _main(_get(client, world, actor, path).text)
        names = {world.ledger.get_community(world.a.community.actor_id).name,
                 *(t for t, _ in world.ledger.get_community(world.a.community.actor_id).menu.values()),
                 world.ledger.get_member(world.a.member.actor_id).name, "敬老助残"}  # data, not page text
        for name in names:
            text = text.replace(name, "")
        leftover = [c for c in text if "\u4e00" <= c <= "\u9fff"]
        assert not leftover, (path, "".join(leftover)[:80])


def test_a_member_with_points_but_no_star_is_told_which_requirement_is_missing(client: TestClient,
                                                                               world: World) -> None:
    """Member A has one certified session (rated 优, from a resident's order): points above ★ but
    fewer than the two sessions the notice requires, so no star — and the page says so."""
    page = _get(client, world, world.a.member, "/me")
    assert page.status_code == 200
    reason = re.search(r'id="no-star-reason">(.*?)</p>', page.text, flags=re.S)
    assert reason is not None, "points but no star: the reason is shown"
    assert "服务活动少于2次" in reason.group(1) and "基本要求" in reason.group(1)


def test_the_transfer_consent_offers_the_federations_regions_and_refuses_this_one(client: TestClient,
                                                                                 world: World) -> None:
    from ledger.application import Ledger, transfers

    ledger, member = world.ledger, world.a.member
    assert _get(client, world, member, "/me/consents").text.count('id="no-peers"') == 1  # no peer yet: no form
    peer = Ledger("memory:")
    try:
        peer.init_region(code="320104", name="南京市秦淮区", province_key=world.root_key)
        transfers.register_peer(ledger, transfers.region_card(peer))
    finally:
        peer.close()
    page = _get(client, world, member, "/me/consents").text
    assert '<option value="320104">南京市秦淮区（320104）</option>' in page
    assert f'<option value="{ledger.region_code}"' not in page and 'name="recipient" required inputmode' not in page

    before = ledger.recorder.max_notification_id()
    own = _post(client, world, member, "/me/consents", purpose="transfer", recipient=str(ledger.region_code))
    assert own.status_code == 303 and "不能是本地区" in _flash(own)
    unknown = _post(client, world, member, "/me/consents", purpose="transfer", recipient="999999")
    assert "请从列表中选择转入地区" in _flash(unknown)
    assert ledger.recorder.max_notification_id() == before

    chosen = _post(client, world, member, "/me/consents", purpose="transfer", recipient="320104")
    assert chosen.status_code == 303 and '"ok"' in _flash(chosen)
    assert "南京市秦淮区（320104）" in _get(client, world, member, "/me/consents").text


def test_the_office_orders_for_a_resident_who_telephones_and_the_resident_sees_it(client: TestClient,
                                                                                 world: World) -> None:
    ledger, a = world.ledger, world.a
    form = _get(client, world, a.community, "/community/orders/new")
    assert form.status_code == 200 and "居民甲" in form.text
    assert str(world.b.resident.actor_id) not in form.text  # only the community's own residents

    before = ledger.recorder.max_notification_id()
    missing = _post(client, world, a.community, "/community/orders/new", menu_item_id=str(a.menu_item_id),
                    note="电话点单：明早八点")
    assert missing.status_code == 422 and "请选择居民" in missing.text and "电话点单：明早八点" in missing.text
    assert ledger.recorder.max_notification_id() == before

    done = _post(client, world, a.community, "/community/orders/new", resident_id=str(a.resident.actor_id),
                 menu_item_id=str(a.menu_item_id), note="电话点单：明早八点")
    assert done.status_code == 303 and done.headers["location"] == "/community/menu"
    assert "电话点单：明早八点" in _get(client, world, a.community, "/community/menu").text
    assert "电话点单：明早八点" in _get(client, world, a.resident, "/resident").text
