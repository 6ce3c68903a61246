"""Every role's pages in a real browser: they load, every form control has a label, nothing is
wider than a phone's screen, the policy table keeps other roles out, and English is one click away.
A screenshot of each page is saved (to docs/screenshots/ with TIMELEDGER_WEB_SCREENSHOTS=docs/screenshots)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import DESKTOP, PHONE, Pages, Server

PAGES: dict[str, list[tuple[str, str]]] = {
    "counter": [("/counter", "counter")],
    "community": [("/community", "community"), ("/community/queue", "community-queue-page"),
                  ("/community/late", "community-late"), ("/community/registrations", "community-registrations"),
                  ("/community/members", "community-members"), ("/community/menu", "community-menu"),
                  ("/community/posts", "community-posts"), ("/community/catalogue", "community-catalogue"),
                  ("/community/year", "community-year"), ("/community/logins", "community-logins")],
    "member": [("/me", "member"), ("/me/records", "member-records"), ("/me/certificate", "member-certificate-page"),
               ("/me/consents", "member-consents")],
    "unit": [("/unit", "unit"), ("/unit/logins", "unit-logins")],
    "auditor": [("/audit", "audit"), ("/region", "region-overview")],
}
PHONE_SHOTS = {"counter", "member", "region-overview", "unit", "community-registrations"}

UNLABELLED_CONTROLS = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""
# WCAG 2.1 AA contrast (1.4.3): 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold), for every
# visible element with text of its own, against the first opaque background among its ancestors.
LOW_CONTRAST = """() => {
  const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const parse = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const luminance = c => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const background = el => { for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor); if (c && c[3] >= 0.99) return c; }
    return [255, 255, 255, 1]; };
  const found = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.closest('[hidden], svg, .sr-only')) continue;
    const style = getComputedStyle(el); const box = el.getBoundingClientRect();
    if (style.visibility === 'hidden' || style.display === 'none' || box.width === 0 || box.height === 0) continue;
    if (el.disabled || el.closest('[disabled]')) continue;  // WCAG exempts inactive controls
    const fg = parse(style.color); if (!fg) continue;
    const bg = background(el);
    const blended = fg.slice(0, 3).map((v, i) => v * fg[3] + bg[i] * (1 - fg[3]));
    const [a, b] = [luminance(blended), luminance(bg)];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize); const bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < needed - 0.005) found.push(`${el.tagName.toLowerCase()}.${el.className} "${el.textContent.trim().slice(0, 20)}" ${ratio.toFixed(2)}`);
  }
  return found.slice(0, 8);
}"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"
WIDEST = """() => Array.from(document.querySelectorAll('main *'))
  .filter(el => el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.table-wrap, .tabs-inner'))
  .slice(0, 3).map(el => el.tagName + '.' + el.className + ' ' + Math.round(el.getBoundingClientRect().right))"""


def _member_with_sessions(server: Server) -> str:
    rows = server.api("GET", "/v1/lists/balances", params={"limit": 200})["items"]
    return str(max(rows, key=lambda row: (row["deposited_minutes"], row["member_id"]))["member_id"])


def _login(server: Server, role: str) -> Any:
    if role == "member":
        return server.login_of("member", _member_with_sessions(server))
    if role == "unit":
        return server.login_of("unit")
    return server.login_of(role)


def _check(page: Any, path: str) -> None:
    assert page.locator("h1").count() >= 1, path
    assert page.evaluate(UNLABELLED_CONTROLS) == [], path
    assert page.evaluate(LOW_CONTRAST) == [], (path, page.evaluate(LOW_CONTRAST))
    assert "未能完成" not in page.inner_text("main"), (path, page.inner_text("main")[:300])


def test_every_page_loads_labelled_and_fits_a_phone(server: Server, pages: Pages) -> None:
    too_wide = []
    for role, paths in PAGES.items():
        login = _login(server, role)
        desktop = pages.open(login, viewport=DESKTOP)
        phone = pages.open(login, viewport=PHONE)
        for path, name in paths:
            answer = desktop.goto(server.base + path)
            assert answer is not None and answer.status == 200, path
            _check(desktop, path)
            pages.shot(desktop, name)
            answer = phone.goto(server.base + path)
            assert answer is not None and answer.status == 200, path
            overflow = phone.evaluate(OVERFLOW)
            if overflow > 1:
                too_wide.append((path, overflow, phone.evaluate(WIDEST)))
            if name in PHONE_SHOTS or overflow > 1:
                pages.shot(phone, f"{name}-phone")
    assert not too_wide, f"wider than a phone: {too_wide}"


def test_front_page_report_and_sign_in(server: Server, pages: Pages) -> None:
    browser_page = pages.browser.new_context(viewport=DESKTOP)
    pages.contexts.append(browser_page)
    guest = browser_page.new_page()
    guest.goto(server.base + "/")
    for label in ("爱心超市收银台", "社区工作台", "我的", "单位", "审计核验", "全区概况"):
        assert guest.get_by_role("link", name=label).count() >= 1, label
    pages.shot(guest, "home")
    for path in ("/", "/login", "/activate"):  # the anonymous pages pass the same label and contrast checks
        guest.goto(server.base + path)
        _check(guest, path)
    guest.goto(server.base + "/me")  # a role page without a session leads to the sign-in form
    assert "/login?next=/me" in guest.url
    guest.fill("#username", "nobody")
    guest.fill("#password", "wrong-password")
    guest.click("main form button[type=submit]")
    assert "用户名或密码错误" in guest.inner_text("main")
    pages.shot(guest, "login")

    community = server.login_of("community")
    office = pages.open(community, start="/community")
    office.goto(server.base + f"/reports/register?community_id={community.actor_id}")
    assert "在职党员社区报到登记表" in office.inner_text("main")
    pages.shot(office, "report-register")
    pages.expected.append("status of 403")
    office.goto(server.base + "/unit")  # another role's page: refused, with a message
    assert "此页面不属于当前登录的角色" in office.inner_text("main")


def test_policy_table_guards_pages_and_english_switch(server: Server, pages: Pages) -> None:
    pages.expected.append("status of 403")
    counter = pages.open(server.login_of("counter"), start="/counter")
    other = next(login for login in server.logins if login.role == "community")
    answer = counter.goto(server.base + f"/reports/register?community_id={other.actor_id}")
    assert answer is not None and answer.status == 403  # report.community: not a counter's
    answer = counter.goto(server.base + "/region")
    assert answer is not None and answer.status == 403  # report.region: region and auditors only

    unit = pages.open(server.login_of("unit"), start="/unit")
    unit.click("a[hreflang=en]")
    unit.wait_for_load_state("domcontentloaded")
    assert "Report status of this unit's members" in unit.inner_text("main")
    assert unit.get_by_role("link", name="中文").count() == 1
    pages.shot(unit, "unit-english")
    unit.click("a[hreflang=zh-CN]")
    unit.wait_for_load_state("domcontentloaded")
    assert "本单位党员报到情况" in unit.inner_text("main")

    # a POST without the session's CSRF token is refused
    answer = unit.request.post(server.base + "/unit/exemptions", form={"member_id": other.actor_id,
                                                                     "year": "2026", "reason": "x"})
    assert answer.status == 403
