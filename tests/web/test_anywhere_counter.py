"""通存通兑 at the counter in a real browser (issue #14): a second `timeledger serve` (秦淮区, 320104, under
the demo's own province root) and the demo region (320102) register each other as peers over the API;
at 秦淮区's counter page the clerk scans a 320102 member's QR. The page takes the member by the QR
(name, "跨区兑换：…党员，余额由其所属地区确认"), the basket goes to the member's home region, and the
receipt names it with the balance there. A double click charges once; the home region down gives its
Chinese message and a retry with the same redemption id, charged once when home answers; an overdraft
is refused with 余额不足, a member home does not know with its reason; a QR of a region that is not a
peer is refused, and so is a member of another region while the device is offline (its queue takes this
region's members only)."""

from __future__ import annotations

import base64
import csv
import os
import signal
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.loadgen import serve_on_any_port
from ledger.application import Ledger
from ledger.demo import simulated
from ledger.domain.display import duration_text
from ledger.signing import keys as ed25519
from tests.scenario import organise_region
from tests.web.conftest import CLOCK_START, PHONE, Login, Pages, Server

QINHUAI = "320104"
TOWEL = "毛巾"  # organise_region's item: 30 minutes
TOWEL_MINUTES = 30
RICE_COOKER = "电饭煲"
RICE_COOKER_MINUTES = 100 * 60  # the dearest price a catalogue takes


@dataclass
class Region:
    base: str
    logins: list[Login]

    def login_of(self, role: str) -> Login:
        return next(login for login in self.logins if login.role == role)

    def token(self, role: str) -> dict[str, str]:
        login = self.login_of(role)
        answer = httpx.post(self.base + "/v1/auth/token", data={"username": login.username,
                                                                "password": login.password}, timeout=30)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def qinhuai(server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Region]:
    """秦淮区 beside the demo's 玄武区: built here under the demo's province key (on the demo's clock),
    then served like a demo region (`--demo` on a loaded region only provisions its logins)."""
    monkeypatch.delenv("TIMELEDGER_MASTER_KEY_FILE", raising=False)  # the key file beside the database
    province = ed25519.load_private(base64.b64decode((server.home / "root.key").read_text().strip()))
    url = f"sqlite:///{tmp_path / 'qinhuai.db'}"
    ledger = Ledger(url)
    try:
        with simulated(datetime.fromisoformat(CLOCK_START) - timedelta(minutes=5)):
            ledger.init_region(code=QINHUAI, name="南京市秦淮区", province_key=province)
            built = organise_region(ledger)
            ledger.list_catalogue_item(actor=built.community, name=RICE_COOKER, price_minutes=RICE_COOKER_MINUTES)
        ledger.secrets.set_setting("demo_loaded", "1")
    finally:
        ledger.close()
    env = {key: value for key, value in os.environ.items() if key != "TIMELEDGER_DATABASE_URL"}
    env.update({"TIMELEDGER_CLOCK_START": CLOCK_START, "TIMELEDGER_ARGON2_TIME_COST": "1",
                "TIMELEDGER_ARGON2_MEMORY_KIB": "64"})
    logins_file = tmp_path / "qinhuai-logins.csv"
    process, port = serve_on_any_port(["serve", "--demo", "--db", url, "--logins-out", str(logins_file),
                                       "--no-access-log", "--log-level", "warning"], env, timeout=60)
    try:
        with logins_file.open(encoding="utf-8") as handle:
            region = Region(f"http://127.0.0.1:{port}", [Login(**row) for row in csv.DictReader(handle)])
        yield region
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _register(region_base: str, admin: dict[str, str], card: dict[str, Any], address: str) -> None:
    added = httpx.post(region_base + "/v1/region/peers", headers=admin, json={**card, "address": address},
                       timeout=30)
    assert added.status_code == 200, added.text


def _member(server: Server) -> dict[str, Any]:
    """A member of the demo with some hours (the middle one: not the one another test spends)."""
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    able = sorted((row for row in rows if row["available_minutes"] >= 2 * TOWEL_MINUTES
                   and not row["frozen"] and not row["closed"]), key=lambda row: (row["available_minutes"],
                                                                                 row["member_id"]))
    return able[len(able) // 2]


def _scan(page: Any, text: str) -> None:
    page.fill("#member-code", text)
    page.press("#member-code", "Enter")


def test_a_counter_redeems_for_a_member_of_another_region(server: Server, qinhuai: Region, pages: Pages) -> None:
    xuanwu_card = server.api("GET", "/v1/region/card")
    qinhuai_admin = qinhuai.token("region")
    qinhuai_card = httpx.get(qinhuai.base + "/v1/region/card", headers=qinhuai_admin, timeout=30).json()
    server.api("POST", "/v1/region/peers", json={**qinhuai_card, "address": qinhuai.base})
    _register(qinhuai.base, qinhuai_admin, xuanwu_card, server.base)
    home_name = xuanwu_card["name"]

    member = _member(server)
    member_id, name = member["member_id"], member["name"]
    before = server.balance_minutes(member_id)
    redeemed_before = server.api("GET", f"/v1/members/{member_id}/balance")["redeemed_minutes_total"]
    assert TOWEL_MINUTES * 2 <= before < RICE_COOKER_MINUTES
    qr = f"timeledger:member?region=320102&id={member_id}&name={urllib.parse.quote(name)}"

    pages.expected.append("status of 503")  # home unreachable, said in the page
    page = pages.open(qinhuai.login_of("counter"), start="/counter", base=qinhuai.base)
    assert page.url.endswith("/counter")
    # a region that is not a peer of 秦淮区: refused in Chinese, nothing to redeem
    _scan(page, qr.replace("region=320102", "region=320105"))
    page.wait_for_selector("#member-error:not([hidden])")
    assert "320105" in page.inner_text("#member-error") and "未与本地区开通通存通兑" in page.inner_text("#member-error")
    assert page.is_hidden("#member-info")

    # the demo's member: taken by the QR, the balance is the home region's to confirm
    _scan(page, qr)
    page.wait_for_selector("#member-info:not([hidden])")
    assert page.inner_text("#member-name") == name
    assert page.inner_text("#member-remote") == f"跨区兑换：{home_name}党员，余额由其所属地区确认"
    assert page.inner_text("#member-balance") == "—"

    # home down (its address at 秦淮区 points nowhere): its Chinese message, a retry with the same id
    _register(qinhuai.base, qinhuai_admin, xuanwu_card, "http://127.0.0.1:9")
    sent: list[str] = []
    page.on("request", lambda request: sent.append(request.post_data_json["redemption_id"])
            if request.url.endswith("/counter/redeem-anywhere") else None)
    page.click(f"button.item[data-name='{TOWEL}']")
    page.click("#confirm")
    page.wait_for_selector("#retry:not([hidden])")
    assert "无法连接党员所属地区" in page.inner_text("#message") and "未扣减" in page.inner_text("#message")
    assert server.balance_minutes(member_id) == before
    page.reload()  # a reload keeps the basket and its id
    page.wait_for_selector("#retry:not([hidden])")
    assert page.inner_text("#member-remote").startswith(f"跨区兑换：{home_name}党员")
    _register(qinhuai.base, qinhuai_admin, xuanwu_card, server.base)
    page.click("#retry")
    page.wait_for_selector("#receipt:not([hidden])")
    assert sent == [sent[0], sent[0]] and page.inner_text("#r-id") == sent[0]
    assert server.balance_minutes(member_id) == before - TOWEL_MINUTES
    page.click("#next-customer")

    # a double click on "confirm": one redemption; the receipt names the home region and its balance
    _scan(page, qr)
    page.wait_for_selector("#member-info:not([hidden])")
    page.click(f"button.item[data-name='{TOWEL}']")
    page.dblclick("#confirm")
    page.wait_for_selector("#receipt:not([hidden])")
    left = before - 2 * TOWEL_MINUTES
    assert server.balance_minutes(member_id) == left
    assert len(sent) == 3
    assert page.inner_text("#r-home") == home_name
    assert page.inner_text("#r-balance-label") == f"兑换后余额（{home_name}）"
    assert page.inner_text("#r-balance") == f"{duration_text(left)} 时:分"
    assert page.inner_text("#r-total") == f"{duration_text(TOWEL_MINUTES)} 时:分"
    assert page.is_hidden("#r-replayed")
    pages.shot(page, "counter-anywhere-receipt")
    page.click("#next-customer")

    # more than the member has at home: refused there, in Chinese, nothing charged
    _scan(page, qr)
    page.wait_for_selector("#member-info:not([hidden])")
    page.click(f"button.item[data-name='{RICE_COOKER}']")
    page.click("#confirm")
    page.wait_for_selector("#message.flash-error")
    assert "余额不足" in page.inner_text("#message") and "未扣减" in page.inner_text("#message")
    assert page.is_hidden("#retry")

    # a code the home region does not know: its refusal, in Chinese
    _scan(page, f"timeledger:member?region=320102&id={uuid.UUID(int=1)}&name=x")
    page.wait_for_selector("#member-info:not([hidden])")
    page.click(f"button.item[data-name='{TOWEL}']")
    page.click("#confirm")
    page.wait_for_selector("#message.flash-error")
    assert "党员所属地区没有这个党员编号" in page.inner_text("#message")

    # the auditor: each region's evidence taken from its own pages, both checked offline on the demo's
    _until_captured(qinhuai, [sent[0], sent[2]])
    _audit_both_regions(server, qinhuai, pages, agreed=2)

    # offline, the device's queue takes this region's members only
    page.context.set_offline(True)
    _scan(page, qr)
    page.wait_for_selector("#member-error:not([hidden])")
    assert "离线时不能跨区兑换" in page.inner_text("#member-error")
    page.context.set_offline(False)

    # home unreachable again, and 秦淮区 lets its counters go on within 1:00 a member a day: the clerk
    # takes it offline on the counter's signature; home's balance waits until it is presented
    bound = httpx.put(qinhuai.base + "/v1/region/offline-bound", headers=qinhuai_admin, timeout=30,
                      json={"minutes_per_member_day": 60, "reason": "断网时保障跨区兑换"})
    assert bound.status_code == 200, bound.text
    _register(qinhuai.base, qinhuai_admin, xuanwu_card, "http://127.0.0.1:9")
    page.reload()
    _scan(page, qr)
    page.wait_for_selector("#member-info:not([hidden])")
    page.click(f"button.item[data-name='{TOWEL}']")
    page.click("#confirm")
    page.wait_for_selector("#offline-anyway:not([hidden])")
    assert "离线先行" in page.inner_text("#message") and "1:00" in page.inner_text("#message")
    page.click("#offline-anyway")
    page.wait_for_selector("#receipt:not([hidden])")
    assert page.inner_text("#r-balance") == "待所属地区确认" and "离线先行" in page.inner_text("#r-foot")
    taken = page.inner_text("#r-id")
    assert sent[-1] == sent[-2] == taken  # the same id, now taken offline
    record = httpx.get(f"{qinhuai.base}/v1/redemptions/anywhere/{taken}", timeout=30,
                       headers=qinhuai.token("counter")).json()
    assert record["status"] == "offline"
    pages.shot(page, "counter-anywhere-offline")
    _register(qinhuai.base, qinhuai_admin, xuanwu_card, server.base)
    page.click("#next-customer")

    # the captures (in the background) went through once: the home region redeemed exactly two towels
    deadline = time.monotonic() + 10
    while (server.api("GET", f"/v1/members/{member_id}/balance")["redeemed_minutes_total"] - redeemed_before
           < 2 * TOWEL_MINUTES) and time.monotonic() < deadline:
        time.sleep(0.1)
    account = server.api("GET", f"/v1/members/{member_id}/balance")
    assert account["redeemed_minutes_total"] - redeemed_before == 2 * TOWEL_MINUTES
    assert account["balance_minutes"] == left


def _until_captured(qinhuai: Region, redemption_ids: list[str]) -> None:
    """The counter's captures run in the background: wait until both sides recorded each one."""
    counter = qinhuai.token("counter")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        statuses = [httpx.get(f"{qinhuai.base}/v1/redemptions/anywhere/{rid}", headers=counter, timeout=30)
                    .json()["status"] for rid in redemption_ids]
        if all(status == "captured" for status in statuses):
            return
        time.sleep(0.1)
    raise AssertionError(f"not captured in time: {statuses}")


def _audit_both_regions(server: Server, qinhuai: Region, pages: Pages, *, agreed: int) -> None:
    """秦淮区's administrator downloads its evidence from the 联盟地区 page, the demo's auditor downloads
    the demo's from the audit page; both go into the auditor's offline check, at desktop and phone width."""
    downloads = []
    admin = pages.open(qinhuai.login_of("region"), start="/region/peers", base=qinhuai.base)
    with admin.expect_download() as theirs:
        admin.click("form[action='/audit/settlement/320102/evidence'] button")
    downloads.append(theirs.value.path())
    auditor = pages.open(server.login_of("auditor"), start="/audit")
    with auditor.expect_download() as ours:
        auditor.click(f"form[action='/audit/settlement/{QINHUAI}/evidence'] button")
    downloads.append(ours.value.path())
    auditor.set_input_files("#evidence-first", str(downloads[0]))
    auditor.set_input_files("#evidence-second", str(downloads[1]))
    auditor.click("#settlement-evidence form[action='/audit/settlement'] button[type=submit]")
    auditor.wait_for_selector("#evidence-result")
    result = auditor.inner_text("#evidence-result")
    assert "两地证据均已核验，逐笔一致。" in result and f"{agreed} 笔一致" in result, result
    assert auditor.is_hidden("#evidence-findings") or not auditor.query_selector("#evidence-findings")
    auditor.locator("#settlement-evidence").scroll_into_view_if_needed()
    pages.shot(auditor, "audit-settlement-evidence")
    auditor.set_viewport_size(PHONE)
    pages.shot(auditor, "audit-settlement-evidence-phone")
