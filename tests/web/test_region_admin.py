"""Issue #12 in a real browser: the region administrator changes the transfer timeout (which had no
way in before) and registers a unit, at desktop width and on a 390 px phone — a refused value is
explained in Chinese beside its field with what was typed kept, the accepted change is shown and is
what the API reports, every control is labelled and nothing is wider than the phone."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import DESKTOP, PHONE, Pages, Server
from tests.web.test_pages import OVERFLOW, UNLABELLED_CONTROLS

CASES = [(DESKTOP, "desktop", 45, "玄武区档案馆机关党委"), (PHONE, "phone", 60, "玄武区少年宫党支部")]


def _change_timeout(page: Any, pages: Pages, server: Server, days: int, width: str) -> None:
    page.goto(server.base + "/region/settings")
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(OVERFLOW) <= 0, width
    page.fill("#timeout-days", "0")
    page.fill("#timeout-reason", "跨省转移回执较慢")
    page.click("#timeout button[type=submit]")
    page.wait_for_selector("#timeout-days-error")
    assert page.inner_text("#timeout-days-error") == "请填写 1 到 365 之间的整数。"
    assert page.input_value("#timeout-days") == "0"
    assert page.input_value("#timeout-reason") == "跨省转移回执较慢"  # what was typed is kept
    assert server.api("GET", "/v1/region")["transfer_timeout_days"] != 0
    page.fill("#timeout-days", str(days))
    page.click("#timeout button[type=submit]")
    page.wait_for_selector(".flash-ok")
    assert "已修改转移回执时限" in page.inner_text(".flash-ok")
    assert page.inner_text("[data-setting=transfer-timeout]") == f"{days} 天"
    assert server.api("GET", "/v1/region")["transfer_timeout_days"] == days
    pages.shot(page, f"region-settings-{width}")


def _register_unit(page: Any, pages: Pages, server: Server, name: str, width: str) -> None:
    page.goto(server.base + "/region/organisations")
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(OVERFLOW) <= 0, width
    page.fill("#unit-name", name)
    page.fill("#unit-declared_members", "2000000")  # more than any unit declares
    page.click("#unit button[type=submit]")
    page.wait_for_selector("#unit-declared_members-error")
    assert page.inner_text("#unit-declared_members-error").startswith("请填写 0 到")
    assert page.input_value("#unit-name") == name
    assert name not in page.inner_text("#units")
    page.select_option("#unit-unit_type", "事业")
    page.fill("#unit-declared_members", "23")
    page.click("#unit button[type=submit]")
    page.wait_for_selector(".flash-ok")
    assert "已登记单位党组织" in page.inner_text(".flash-ok")
    row = page.locator("#units tr", has_text=name)
    assert row.count() == 1 and "23" in row.inner_text() and "事业" in row.inner_text()
    pages.shot(page, f"region-organisations-{width}")


def test_the_region_admin_changes_the_transfer_timeout_and_registers_a_unit(server: Server, pages: Pages) -> None:
    admin = server.login_of("region")
    pages.expected.append("status of 422")  # the refused forms come back as 422 pages, on purpose
    for viewport, width, days, unit_name in CASES:
        page = pages.open(admin, viewport=viewport, start="/region/settings")
        _change_timeout(page, pages, server, days, width)
        _register_unit(page, pages, server, unit_name, width)
