"""三单制 in a real browser (issue #12): a resident orders from the menu with a note → the community
office dispatches it → the member accepts and records the session against the order → the resident
rates it. The resident and the member use the width given (desktop, then a 390 px phone); every step
asserts what a person sees: Chinese text, no English fragments, no raw ids, nothing wider than the
screen."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledger.domain.display import duration_text
from tests.web.conftest import DESKTOP, PHONE, Pages, Server

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
FILE_FORMATS = {"PDF"}  # a download's format is named as such on Chinese pages too


def _reads_as_chinese(page: Any, where: str) -> str:
    text = page.inner_text("main")
    for code in page.locator("main .code-groups").all_inner_texts():  # the member's own code, shown to tell a clerk
        text = text.replace(code, "")
    assert not UUID_TEXT.search(text), (where, UUID_TEXT.search(text))
    english = [word for word in ENGLISH_WORD.findall(text) if word not in FILE_FORMATS]
    assert not english, (where, english[:5])
    assert page.evaluate(OVERFLOW) <= 1, (where, "wider than the screen")
    return text


def _resident_and_community(server: Server, pages: Pages, viewport: dict[str, int], index: int) -> tuple[Any, str]:
    residents = sorted((login for login in server.logins if login.role == "resident"), key=lambda login: login.actor_id)
    resident = pages.open(residents[index % len(residents)], viewport=viewport)
    assert resident.url.endswith("/resident"), resident.url  # a resident's home after sign-in
    return resident, resident.inner_text("h1 small").strip()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_whole_chain_from_a_residents_order_to_the_counter_and_the_members_account(
        server: Server, pages: Pages, viewport: dict[str, int]) -> None:
    phone = viewport is PHONE
    note = f"{'手机' if phone else '电脑'}点单：周三上午九点，老人腿脚不便，请带轮椅"
    content = f"陪同老人到社区医院复查（{'手机' if phone else '电脑'}）"
    resident, community_name = _resident_and_community(server, pages, viewport, 1 if phone else 0)
    _reads_as_chinese(resident, "resident home")

    # 1. 居民点单: the first menu item, with a note
    choice = resident.locator("#order-form label.choice").first
    title = choice.locator("span").first.inner_text().split("\n")[0].strip()
    choice.locator("input").check()
    resident.fill("#note", note)
    resident.click("#order-form button[type=submit]")
    resident.wait_for_selector(".flash-ok")
    card = resident.locator(".order-card", has_text=note)
    assert card.count() == 1 and "待派单" in card.inner_text()
    _reads_as_chinese(resident, "resident ordered")
    pages.shot(resident, f"resident-ordered-{'phone' if phone else 'desktop'}")

    # 2. 支部下单: the office sees the note and dispatches to a member of the community
    office_login = next(login for login in server.logins if login.role == "community" and login.label == community_name)
    rows = server.api("GET", "/v1/lists/members", params={"community_id": office_login.actor_id, "limit": 200})["items"]
    with_login = {login.actor_id for login in server.logins if login.role == "member"}
    member = sorted((r for r in rows if r["reported_on"] and r["member_id"] in with_login),
                    key=lambda r: r["member_id"])[0]
    office = pages.open(office_login, viewport=DESKTOP, start="/community/menu")
    row = office.locator("tbody tr", has_text=note)
    assert row.count() == 1
    row.locator("select[name=member_id]").select_option(label=member["name"])
    row.locator("form[action$='/dispatch'] button[type=submit]").click()
    office.wait_for_selector(".flash-ok")
    assert member["name"] in office.locator("tbody tr", has_text=note).inner_text()

    # 3. 党员接单 and the session recorded against the order (the form comes pre-filled)
    me = pages.open(server.login_of("member", member["member_id"]), viewport=viewport, start="/me/orders")
    mine = me.locator(".order-card", has_text=note)
    assert "待您接单" in mine.inner_text()
    _reads_as_chinese(me, "member orders")
    pages.shot(me, f"member-orders-{'phone' if phone else 'desktop'}")
    mine.locator("form[action$='/accept'] button").click()
    me.wait_for_selector(".flash-ok")
    me.locator(".order-card", has_text=note).locator("a", has_text="记录本次服务").click()
    me.wait_for_selector("#record")
    assert me.input_value("#activity") == title
    assert me.locator("#order_id option:checked").inner_text().startswith(title)
    me.fill("#place", "紫金小区3栋")
    me.fill("#start_time", "09:00")
    me.fill("#end_time", "10:30")
    me.fill("#minutes", "80")
    me.fill("#content", content)
    me.click("form[action='/me/records'] button[type=submit]")
    me.wait_for_selector(".flash-ok")
    _reads_as_chinese(me, "member recorded")

    # 4. the resident rates the session that served the order
    resident.reload()
    card = resident.locator(".order-card", has_text=note)
    assert member["name"] in card.inner_text() and "已服务，待社区认证" in card.inner_text()
    card.locator("input[value='优']").check()
    card.locator("form.rate-form button").click()
    resident.wait_for_selector(".flash-ok")
    assert "感谢评价" in resident.inner_text(".flash-ok")
    rated = resident.locator(".order-card", has_text=note).inner_text()
    assert "优" in rated and "请评价这次服务" not in rated
    _reads_as_chinese(resident, "resident rated")
    pages.shot(resident, f"resident-rated-{'phone' if phone else 'desktop'}")

    # 5. 社区认证: the office sees what was done and the resident's rating, and certifies
    before = server.balance_minutes(member["member_id"])
    queue = pages.open(office_login, viewport=DESKTOP, start="/community/queue")
    row = queue.locator("#sessions tbody tr", has_text=content)
    assert row.count() == 1 and "优" in row.inner_text() and "紫金小区3栋" in row.inner_text()
    row.locator("input[name=session]").check()
    queue.click("button[value=certify]")
    queue.wait_for_selector(".flash-ok")
    assert "已认证 1 条" in queue.inner_text(".flash-ok")
    assert server.balance_minutes(member["member_id"]) == before + 80

    # 6. 爱心超市: the community's counter finds the member by name and redeems the cheapest item once
    counter_login = next(login for login in server.logins if login.role == "counter"
                         and server.api("GET", f"/v1/counters/{login.actor_id}")["community_id"] == office_login.actor_id)
    counter = pages.open(counter_login, viewport=viewport, start="/counter")
    counter.fill("#member-search", member["name"])
    counter.press("#member-search", "Enter")
    counter.locator("#search-results button", has_text=member["name"]).first.click()
    counter.wait_for_selector("#member-info:not([hidden])")
    assert counter.inner_text("#member-name") == member["name"]
    items = counter.locator("button.item")
    prices = [int(items.nth(i).get_attribute("data-price") or 0) for i in range(items.count())]
    cheapest = min(range(len(prices)), key=prices.__getitem__)
    assert prices[cheapest] <= before + 80
    item_name = items.nth(cheapest).get_attribute("data-name") or ""
    items.nth(cheapest).click()
    counter.click("#confirm")
    counter.wait_for_selector("#receipt:not([hidden])")
    assert member["name"] in counter.inner_text("#receipt") and item_name in counter.inner_text("#receipt")
    pages.shot(counter, f"counter-receipt-{'phone' if phone else 'desktop'}")
    after = before + 80 - prices[cheapest]
    assert server.balance_minutes(member["member_id"]) == after

    # 7. the member sees it all: the certified session, the redemption and the balance they leave
    me.goto(server.base + "/me")
    assert me.inner_text("#balance") == duration_text(after)
    lines = me.locator("#passbook tbody tr")  # a table on a desktop, a card a line on a phone
    count = lines.count()
    credited, redeemed = lines.nth(count - 2).inner_text(), lines.nth(count - 1).inner_text()
    assert "认证存入" in credited and f"{title}（" in credited, credited  # what the deposit was for
    assert f"{item_name}×1" in redeemed and duration_text(after) in redeemed, redeemed  # the goods, the balance
    balances = me.locator("#passbook td.balance").all_inner_texts()
    assert balances and not any(text.startswith("−") for text in balances), balances
    _reads_as_chinese(me, "member account")
    pages.shot(me, f"member-after-redemption-{'phone' if phone else 'desktop'}")
