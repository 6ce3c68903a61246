"""离线兑换 in a real browser (issue #15): the counter page registers its device key, the connection
is cut (Playwright's offline mode), a redemption is signed on the device and shown as 待同步, the page
even reopens from its service worker while offline, and when the connection returns the record syncs
once and shows 已同步 — the member's balance goes down by exactly its minutes."""

from __future__ import annotations

from typing import Any

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


def test_counter_redeems_offline_and_syncs_when_the_connection_returns(server: Server, pages: Pages) -> None:
    server.api("PUT", "/v1/region/offline-bound", json={"minutes_per_member_day": 600, "reason": "网络不稳定，保障兑换"})
    counter = server.login_of("counter")
    towels = _price(server, counter.actor_id, TOWELS)
    member = _member_with(server, towels)
    member_id = member["member_id"]
    before = server.balance_minutes(member_id)

    page = pages.open(counter, start="/counter")
    page.wait_for_selector("#device-status.is-ok")  # the device's key made here and registered, once
    key_id = page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open("timeledger-counter-" + document.getElementById("counter").dataset.counter);
        open.onsuccess = () => { const get = open.result.transaction("device").objectStore("device").get("device");
                                 get.onsuccess = () => resolve(get.result.key_id); };
    })""")
    key = server.api("GET", f"/v1/keys/{key_id}")
    assert (key["owner_id"], key["role"], key["revoked_at"]) == (counter.actor_id, "counter", None)
    assert "10:00" in page.inner_text("#offline-bound")  # the region's bound, received while online
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")  # the app's files are kept for offline

    page.context.set_offline(True)
    page.wait_for_selector("#net-status.is-offline")
    page.fill("#member-code", member_id)
    page.press("#member-code", "Enter")
    page.wait_for_selector("#member-offline:not([hidden])")
    page.click(f"button.item[data-name='{TOWELS}']")
    page.click("#confirm")
    pending = page.wait_for_selector("#offline-queue tr.offline-pending")
    assert "待同步" in pending.inner_text()
    assert "已离线记录" in page.inner_text("#message")
    assert server.balance_minutes(member_id) == before  # nothing reached the ledger yet
    pages.shot(page, "counter-offline-pending")

    page.reload()  # offline, the page opens from the service worker, the queue from IndexedDB
    page.wait_for_selector("#offline-queue tr.offline-pending")

    page.context.set_offline(False)
    synced = page.wait_for_selector("#offline-queue tr.offline-synced")
    assert "已同步" in synced.inner_text() and "欠扣" not in synced.inner_text()
    assert page.inner_text("#offline-count") == "0"
    assert server.balance_minutes(member_id) == before - towels
    balance = server.api("GET", f"/v1/members/{member_id}/balance")
    assert balance["redeemed_minutes_total"] - member["redeemed_minutes"] == towels  # once
