"""离线兑换 in a real browser (issue #15): the counter page registers its device key, the connection
is cut (Playwright's offline mode), a redemption is signed on the device and shown as 待同步, the page
even reopens from its service worker while offline, and when the connection returns the record syncs
once and shows 已同步 — the member's balance goes down by exactly its minutes. A second basket the
member's balance no longer covers is recorded all the same (the goods left the shop): the device
shows what is owed, and the counter's community sees it on its page."""

from __future__ import annotations

from typing import Any

from ledger.domain.display import duration_text
from tests.web.conftest import Pages, Server

TOWELS = "毛巾两条"


def _price(server: Server, counter_id: str, name: str) -> int:
    community_id = server.api("GET", f"/v1/counters/{counter_id}")["community_id"]
    catalogue = server.api("GET", f"/v1/communities/{community_id}")["catalogue"]
    return next(int(item["price_minutes"]) for item in catalogue if item["name"] == name)


def _member_with(server: Server, minutes: int) -> dict[str, Any]:
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    return min((row for row in rows if row["available_minutes"] >= minutes),
               key=lambda row: (row["available_minutes"], row["member_id"]))


def _poorest(server: Server) -> dict[str, Any]:
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    return min(rows, key=lambda row: (row["available_minutes"], row["member_id"]))


def _basket(page: Any, member_id: str, quantity: int) -> None:
    page.fill("#member-code", member_id)
    page.press("#member-code", "Enter")
    page.wait_for_selector("#member-offline:not([hidden])")
    for _ in range(quantity):
        page.click(f"button.item[data-name='{TOWELS}']")
    page.click("#confirm")


def test_counter_redeems_offline_and_syncs_when_the_connection_returns(server: Server, pages: Pages) -> None:
    bound = 24 * 60
    server.api("PUT", "/v1/region/offline-bound", json={"minutes_per_member_day": bound, "reason": "网络不稳定，保障兑换"})
    counter = server.login_of("counter")
    towels = _price(server, counter.actor_id, TOWELS)
    member = _member_with(server, towels)
    member_id = member["member_id"]
    before = server.balance_minutes(member_id)
    poor = _poorest(server)  # a second basket more than this member has: owed when it syncs
    poor_before = server.balance_minutes(poor["member_id"])
    poor_left = poor_before - (towels if poor["member_id"] == member_id else 0)
    quantity = poor_left // towels + 1
    owed = quantity * towels - poor_left
    assert quantity * towels <= bound

    page = pages.open(counter, start="/counter")
    page.wait_for_selector("#device-status.is-ok")  # the device's key made here and registered, once
    key_id = page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open("timeledger-counter-" + document.getElementById("counter").dataset.counter);
        open.onsuccess = () => { const get = open.result.transaction("device").objectStore("device").get("device");
                                 get.onsuccess = () => resolve(get.result.key_id); };
    })""")
    key = server.api("GET", f"/v1/keys/{key_id}")
    assert (key["owner_id"], key["role"], key["revoked_at"]) == (counter.actor_id, "counter", None)
    assert duration_text(bound) in page.inner_text("#offline-bound")  # the region's bound, received while online
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the app's files are kept for offline

    page.context.set_offline(True)
    page.wait_for_selector("#net-status.is-offline")
    _basket(page, member_id, 1)
    pending = page.wait_for_selector("#offline-queue tr.offline-pending")
    assert "待同步" in pending.inner_text()
    assert "已离线记录" in page.inner_text("#message")
    page.wait_for_selector("#basket .empty-row")
    _basket(page, poor["member_id"], quantity)
    page.wait_for_selector("#offline-queue tr.offline-pending >> nth=1")
    assert page.inner_text("#offline-count") == "2"
    assert server.balance_minutes(member_id) == before  # nothing reached the ledger yet
    pages.shot(page, "counter-offline-pending")

    page.reload()  # offline, the page opens from the service worker, the queue from IndexedDB
    page.wait_for_selector("#offline-queue tr.offline-pending")

    page.context.set_offline(False)  # the queue syncs in order, each record once
    page.wait_for_selector("#offline-queue tr.offline-synced >> nth=1")
    first, second = (page.inner_text(f"#offline-queue tr[data-redemption] >> nth={n}") for n in (1, 0))
    assert "已同步" in first and "欠扣" not in first
    assert f"欠扣 {duration_text(owed)}" in second
    assert page.inner_text("#offline-count") == "0"
    pages.shot(page, "counter-offline-synced")
    if poor["member_id"] != member_id:
        assert server.balance_minutes(member_id) == before - towels
        balance = server.api("GET", f"/v1/members/{member_id}/balance")
        assert balance["redeemed_minutes_total"] - member["redeemed_minutes"] == towels  # once
    assert server.balance_minutes(poor["member_id"]) == 0  # never below zero: the rest is owed

    # the network is up but the ledger does not answer: a failed look-up offers to go on offline
    for path in ("**/counter/balance**", "**/counter/offline/**"):
        page.route(path, lambda route: route.abort())
    page.fill("#member-code", member_id)
    page.press("#member-code", "Enter")
    page.click("#member-offline-go")
    page.wait_for_selector("#member-offline:not([hidden])")
    page.click(f"button.item[data-name='{TOWELS}']")
    page.click("#confirm")
    page.wait_for_selector("#offline-queue tr.offline-pending")
    page.unroute("**/counter/balance**")
    page.unroute("**/counter/offline/**")
    page.click("#sync-now")
    page.wait_for_selector("#offline-queue tr.offline-synced >> nth=2")

    # the community revokes the device's key (a lost tablet): the device says so and offers a new key
    server.api("POST", f"/v1/keys/{key_id}/revocation", json={"reason": "平板遗失"})
    page.reload()
    page.wait_for_selector("#device-status.is-error")
    assert "已被社区吊销" in page.inner_text("#device-status")
    page.click("#device-renew")
    page.wait_for_selector("#device-status.is-ok")

    community_id = server.api("GET", f"/v1/counters/{counter.actor_id}")["community_id"]
    office = pages.open(server.login_of("community", community_id), start="/community")
    listed = office.inner_text("#offline-shortfalls")
    pages.shot(office, "community-offline-shortfalls")
    assert poor["name"] in listed and duration_text(owed) in listed
