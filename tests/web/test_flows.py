"""The stories of issue #7 in a real browser against `timeledger serve`:

1. a counter redemption from sign-in to receipt, a double click and a lost answer that charge once,
   and an overdraft refused with a clear message;
2. a member records a session, the community rates and certifies it from its queue, and the
   member's balance goes up by exactly those minutes;
3. a member downloads an hour certificate that verifies offline with the root key alone (and the
   auditor's page says the same, step by step; a tampered copy fails at the step that catches it);
and around them: registration with a report slip and its receipt, the unit feedback that follows
the member's consent, the catalogue reaching the counter, a unit excusing a member.
"""

from __future__ import annotations

import base64
import re
import urllib.parse
from typing import Any

from ledger.domain.display import ASSURANCE_TEXT, duration_text, minutes_from_text
from ledger.verification.certificates import verify_certificate
from tests.web.conftest import DESKTOP, PHONE, Pages, Server

TOWELS = "毛巾两条"
RICE = "大米 5kg"


def _richest_member(server: Server) -> dict[str, Any]:
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    return max(rows, key=lambda row: (row["available_minutes"], row["member_id"]))


def _price(server: Server, counter_id: str, name: str) -> int:
    community_id = server.api("GET", f"/v1/counters/{counter_id}")["community_id"]
    catalogue = server.api("GET", f"/v1/communities/{community_id}")["catalogue"]
    return next(int(item["price_minutes"]) for item in catalogue if item["name"] == name)


def _hours(minutes: int) -> str:
    return duration_text(minutes)  # the one display rule (exact h:mm)


def test_counter_redemption_charges_once_and_refuses_an_overdraft(server: Server, pages: Pages) -> None:
    member = _richest_member(server)
    member_id, name = member["member_id"], member["name"]
    counter = server.login_of("counter")
    towels = _price(server, counter.actor_id, TOWELS)
    before = server.balance_minutes(member_id)
    assert before >= 3 * towels

    page = pages.open(counter, start="/counter")
    assert page.url.endswith("/counter")
    # a keyboard-emulating scanner types the member's QR text and Enter
    page.fill("#member-code", f"timeledger:member?region=320102&id={member_id}&name={urllib.parse.quote(name)}")
    page.press("#member-code", "Enter")
    page.wait_for_selector("#member-info:not([hidden])")
    assert page.inner_text("#member-name") == name
    assert page.inner_text("#member-balance") == _hours(before)
    # the counter's script shows minutes by the same rule as the server (display.duration_text)
    samples = [0, 5, 20, 40, 59, 60, 61, 75, 1505, 6000]
    assert page.evaluate(f"{samples}.map(window.TimeledgerCounter.duration)") == [_hours(m) for m in samples]

    # a double click on "confirm": one redemption
    page.click(f"button.item[data-name='{TOWELS}']")
    pages.shot(page, "counter-basket")
    page.dblclick("#confirm")
    page.wait_for_selector("#receipt:not([hidden])")
    assert server.balance_minutes(member_id) == before - towels
    assert page.inner_text("#r-balance") == f"{_hours(before - towels)} 时:分"
    assert page.is_hidden("#r-replayed")
    pages.shot(page, "counter-receipt")
    page.click("#next-customer")

    # the answer is lost on the way back (the server did charge): the page offers only a retry,
    # which re-sends the same redemption id and is applied once
    page.fill("#member-code", member_id.replace("-", ""))
    page.press("#member-code", "Enter")
    page.wait_for_selector("#member-info:not([hidden])")
    page.focus(f"button.item[data-name='{TOWELS}']")  # the keyboard alone does the job too
    page.keyboard.press("Enter")
    assert page.inner_text("#total") == _hours(towels)
    sent: list[str] = []

    def lose_answer(route: Any) -> None:
        sent.append(route.request.headers.get("idempotency-key", ""))
        route.fetch()  # the request reaches the server and is applied ...
        route.abort("connectionreset")  # ... but the browser never sees the answer

    page.route("**/counter/redeem", lose_answer)
    page.focus("#confirm")
    page.keyboard.press("Enter")
    page.wait_for_selector("#retry:not([hidden])")
    assert "未能确认" in page.inner_text("#message")
    assert page.is_disabled(f"button.item[data-name='{TOWELS}']")  # the basket is locked
    assert server.balance_minutes(member_id) == before - 2 * towels
    page.unroute("**/counter/redeem")
    page.reload()  # even a reload keeps the basket's id
    page.wait_for_selector("#retry:not([hidden])")
    page.click("#retry")
    page.wait_for_selector("#receipt:not([hidden])")
    assert page.is_visible("#r-replayed")
    assert page.inner_text("#r-id") == sent[0]  # the retry carried the lost attempt's id
    assert server.balance_minutes(member_id) == before - 2 * towels
    account = server.api("GET", f"/v1/members/{member_id}/balance")
    assert account["redeemed_minutes_total"] - member["redeemed_minutes"] == 2 * towels
    page.click("#next-customer")

    # an overdraft: refused, nothing charged, and the clerk reads why
    page.fill("#member-code", member_id)
    page.press("#member-code", "Enter")
    page.wait_for_selector("#member-info:not([hidden])")
    rice = _price(server, counter.actor_id, RICE)
    for _ in range((before - 2 * towels) // rice + 1):
        page.click(f"button.item[data-name='{RICE}']")
    page.click("#confirm")
    page.wait_for_selector("#message.flash-error")
    text = page.inner_text("#message")
    assert "余额不足" in text and "未扣减" in text and _hours(before - 2 * towels) in text
    assert server.balance_minutes(member_id) == before - 2 * towels
    pages.shot(page, "counter-overdraft")


def test_community_certifies_a_session_and_the_member_balance_goes_up(server: Server, pages: Pages) -> None:
    rows = server.api("GET", "/v1/lists/members", params={"limit": 200})["items"]
    registered = sorted((r for r in rows if r["community_id"] and r["reported_on"]), key=lambda r: r["member_id"])
    middle = registered[len(registered) // 2:] + registered[:len(registered) // 2]
    # one who owes nothing (another test may leave an offline redemption owed): the credit all shows
    member = next(r for r in middle if server.api("GET", f"/v1/members/{r['member_id']}/balance")["owed_minutes"] == 0)
    member_id = member["member_id"]
    before = server.balance_minutes(member_id)
    activity = "网页测试：陪伴空巢老人"

    me = pages.open(server.login_of("member", member_id), start="/me")
    assert me.inner_text("#balance") == _hours(before)
    me.goto(server.base + "/me/records")
    me.fill("#activity", activity)
    me.fill("#place", "社区活动室")
    me.fill("#start_time", "09:00")
    me.fill("#end_time", "10:45")
    me.fill("#minutes", "90")
    me.fill("#content", "陪老人聊天、打扫卫生")
    me.click("form[action='/me/records'] button[type=submit]")
    me.wait_for_selector(".flash-ok")
    assert activity in me.inner_text("main")

    office = pages.open(server.login_of("community", member["community_id"]), start="/community/queue")
    row = office.locator("tbody tr", has_text=activity)
    assert row.count() == 1
    row.locator("input[type=checkbox]").check()
    row.locator("select").select_option("优")
    pages.shot(office, "community-queue")
    office.set_viewport_size(PHONE)
    pages.shot(office, "community-queue-phone")
    office.set_viewport_size(DESKTOP)
    office.click("button[value=certify]")
    office.wait_for_selector(".flash-ok")
    assert "已认证 1 条" in office.inner_text(".flash-ok")
    assert office.locator("tbody tr", has_text=activity).count() == 0

    assert server.balance_minutes(member_id) == before + 90
    me.goto(server.base + "/me")
    assert me.inner_text("#balance") == _hours(before + 90)
    pages.shot(me, "member-overview")


def test_member_certificate_downloads_and_verifies_offline(server: Server, pages: Pages) -> None:
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    member = max(rows, key=lambda row: (row["deposited_minutes"], row["member_id"]))
    me = pages.open(server.login_of("member", member["member_id"]), start="/me/certificate")
    me.click("form[action='/me/certificate'] button[type=submit]")
    me.wait_for_selector("#download-json")
    with me.expect_download() as download_info:
        me.click("#download-json")
    data = download_info.value.path().read_bytes()
    with me.expect_download() as pdf_info:
        me.click("#download-pdf")
    assert pdf_info.value.path().read_bytes().startswith(b"%PDF")
    pages.shot(me, "member-certificate")

    root = base64.b64decode(server.root_public_key)
    verified = verify_certificate(data, root)  # offline: the file and the root key, nothing else
    assert verified.member_id == member["member_id"] and verified.member_name == member["name"]
    assert verified.total_minutes > 0
    assert verified.number in me.inner_text("main")

    auditor = pages.open(server.login_of("auditor"), start="/audit")
    auditor.set_input_files("#file", files=[{"name": f"{verified.number}.json", "mimeType": "application/json",
                                              "buffer": data}])
    auditor.fill("#reference", verified.reference)
    auditor.click("form[action='/audit'] button[type=submit]")
    auditor.wait_for_selector("#result")
    assert "全部检查通过" in auditor.inner_text("#result")
    assert auditor.locator(".steps li.ok").count() == 6
    shown = auditor.locator("#result td[data-assurance]").all_inner_texts()  # how each session was recorded
    assert shown and sorted(shown) == sorted(ASSURANCE_TEXT[line.assurance] for line in verified.sessions)
    pages.shot(auditor, "audit-verified")

    tampered = re.sub(rb'"minutes":(\d+)', lambda m: b'"minutes":' + str(int(m.group(1)) + 60).encode(), data,
                      count=1)
    auditor.set_input_files("#file", files=[{"name": "tampered.json", "mimeType": "application/json",
                                              "buffer": tampered}])
    auditor.click("form[action='/audit'] button[type=submit]")
    auditor.wait_for_selector("#result")
    assert "未通过" in auditor.inner_text("#result .verdict")
    assert auditor.locator(".steps li.failed").count() == 1


def test_community_registers_a_member_with_a_slip_and_sends_the_receipt(server: Server, pages: Pages) -> None:
    office, slip_id = None, None
    for community in (login for login in server.logins if login.role == "community"):
        page = pages.open(community, start="/community/registrations")
        link = page.locator("a[href^='/community/registrations/new?slip=']")
        if link.count():
            office, slip_id = page, link.first.get_attribute("href").split("slip=")[1]
            break
    assert office is not None and slip_id, "the demo region has members with a slip who have not reported"
    member_id = server.api("GET", f"/v1/report-slips/{slip_id}")["member_id"]
    office.click(f"a[href='/community/registrations/new?slip={slip_id}']")
    office.locator("input[name=post_id]").first.check()
    office.fill("#f-sex", "女")
    office.fill("#f-specialities", "法律咨询")
    office.fill("#p-mobile", "13800000000")
    pages.shot(office, "community-register-form")
    office.click("main form button[type=submit].primary")
    office.wait_for_selector(".flash-ok")
    member = server.api("GET", f"/v1/members/{member_id}")
    slip = server.api("GET", f"/v1/report-slips/{slip_id}")
    assert member["reported_on"] and member["community_id"] and len(member["posts"]) == 1
    assert slip["receipt_sent_on"] == member["reported_on"]
    assert member["identity"]["name"] in office.inner_text("main")  # the name shows once registered


def test_member_consent_decides_whether_the_unit_feedback_shows_the_record(server: Server, pages: Pages) -> None:
    rows = server.api("GET", "/v1/lists/members", params={"limit": 200})["items"]
    candidates = []
    for row in sorted((r for r in rows if r["reported_on"] and r["unit_id"]), key=lambda r: r["member_id"]):
        member = server.api("GET", f"/v1/members/{row['member_id']}")
        if not any(c["purpose"] == "unit_feedback" for c in member["consents"]):
            candidates.append(row)
    member = candidates[0]
    name = member["name"]
    unit = pages.open(server.login_of("unit", member["unit_id"]), start="/unit")
    feedback = server.base + f"/reports/feedback?unit_id={member['unit_id']}"

    def unit_sees_the_record() -> bool:
        unit.goto(feedback)
        row = unit.locator("main table tbody tr", has_text=name)
        assert row.count() == 1
        return "本人未同意" not in row.inner_text()

    assert not unit_sees_the_record()
    me = pages.open(server.login_of("member", member["member_id"]), start="/me/consents")
    me.click("form:has(input[value=unit_feedback]) button[type=submit]")
    me.wait_for_selector(".flash-ok")
    assert me.locator("tbody tr", has_text="向单位反馈服务纪实").count() == 1
    pages.shot(me, "member-consents-given")
    assert unit_sees_the_record()

    me.on("dialog", lambda dialog: dialog.accept())  # "确定撤回该同意？"
    me.click("tbody tr:has-text('向单位反馈服务纪实') button[type=submit]")
    me.wait_for_selector(".flash-ok")
    assert not unit_sees_the_record()


def test_community_catalogue_reaches_the_counter_and_a_unit_excuses_a_member(server: Server, pages: Pages) -> None:
    counter_login = server.login_of("counter")
    community_id = server.api("GET", f"/v1/counters/{counter_login.actor_id}")["community_id"]
    office = pages.open(server.login_of("community", community_id), start="/community/catalogue")
    office.fill("#item-name", "环保购物袋")
    office.fill("#item-price", "15")
    office.click("form[action='/community/catalogue/new'] button[type=submit]")
    office.wait_for_selector(".flash-ok")
    row = office.locator("tbody tr", has_text="环保购物袋")
    row.locator("input[name=price_minutes]").fill("24")
    row.locator("form[action$='/price'] button[type=submit]").click()
    office.wait_for_selector(".flash-ok")
    counter = pages.open(counter_login, start="/counter")
    assert "0:24 时:分" in counter.locator("button.item", has_text="环保购物袋").inner_text()
    office.on("dialog", lambda dialog: dialog.accept())  # "确定下架？"
    office.locator("tbody tr", has_text="环保购物袋").locator("form[action$='/delist'] button").click()
    office.wait_for_selector(".flash-ok")
    counter.reload()
    assert counter.locator("button.item", has_text="环保购物袋").count() == 0

    office.goto(server.base + "/community/posts")
    office.fill("#post-name", "楼道文明劝导岗")
    office.click("form[action='/community/posts/new'] button[type=submit]")
    office.wait_for_selector(".flash-ok")
    assert office.locator("tbody tr", has_text="楼道文明劝导岗").count() == 1

    rows = server.api("GET", "/v1/lists/members", params={"limit": 200})["items"]
    absent = next(r for r in sorted(rows, key=lambda r: r["member_id"]) if not r["reported_on"] and r["unit_id"]
                  and not server.api("GET", f"/v1/members/{r['member_id']}")["exempt_years"])
    unit = pages.open(server.login_of("unit", absent["unit_id"]), start="/unit")
    row = unit.locator("#unit-members tbody tr", has_text=absent["name"])
    row.locator("input[name=reason]").fill("援藏挂职")
    row.locator("button[type=submit]").click()
    unit.wait_for_selector(".flash-ok")
    assert "援藏挂职" in unit.locator("#unit-members tbody tr", has_text=absent["name"]).inner_text()
    assert server.api("GET", f"/v1/members/{absent['member_id']}")["exempt_years"]


def test_member_passbook_runs_in_time_order_with_a_running_balance_and_its_figures_add_up(
        server: Server, pages: Pages) -> None:
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    member = max(rows, key=lambda row: (row["redeemed_minutes"], row["member_id"]))
    assert member["redeemed_minutes"] > 0  # the demo's counters redeem
    me = pages.open(server.login_of("member", member["member_id"]), start="/me/account")
    lines = me.locator("#passbook tbody tr")
    times = [lines.nth(i).locator("time").get_attribute("datetime") or "" for i in range(lines.count())]
    changes = [lines.nth(i).locator("td.change").inner_text() for i in range(lines.count())]
    balances = [minutes_from_text(lines.nth(i).locator("td.balance").inner_text()) for i in range(lines.count())]
    kinds = [lines.nth(i).locator("td").nth(1).inner_text().split("\n")[0] for i in range(lines.count())]
    assert times and all(t.endswith("+08:00") for t in times)  # China time
    assert times == sorted(times)
    assert kinds.index("爱心超市兑换") > kinds.index("认证存入")  # no redemption before the first deposit
    whats = [lines.nth(i).locator("small.what").all_inner_texts() for i in range(lines.count())]
    assert all(what and "×" in what[0] for what, kind in zip(whats, kinds) if kind == "爱心超市兑换")  # the goods
    running = 0
    for change, balance in zip(changes, balances):
        running += 0 if change == "—" else minutes_from_text(change.removeprefix("+"))
        assert balance == running >= 0  # every line's balance is one the account really had
    available = minutes_from_text(me.inner_text("#balance"))
    assert available == balances[-1] == server.balance_minutes(member["member_id"])
    figures = {name: minutes_from_text(me.inner_text(f"#{name}")) if me.locator(f"#{name}").count() else 0
               for name in ("deposited", "redeemed", "clawed-back", "moved-out")}
    assert figures["deposited"] - figures["redeemed"] - figures["clawed-back"] - figures["moved-out"] == available
