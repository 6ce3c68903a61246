"""我的 The member: hours and balance, the year's points, stars and missing requirements, the record
card (附件5), recording a session and a suggestion, my QR code, hour certificates, consents."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api import reads
from api.auth import AuthenticationFailed
from api.errors import REFUSALS
from api.policy import authorize
from api.routers import members as api_members
from api.routers import orders as api_orders
from api.routers import reports as api_reports
from api.routers import sessions as api_sessions
from api.schemas.common import PAGE_SIZE_MAX
from api.schemas.members import ConsentIn
from api.schemas.service import OfflineSessionIn, ReasonIn, SessionIn, SuggestionIn
from api.web import core, i18n
from api.web.pages.counter import register_device_page
from api.web.pages.home import report_query
from api.web.pages.resident import FieldProblem
from api.web.present import qr_svg
from ledger.domain.base import utc_now
from ledger.domain.errors import InvalidInput, LedgerError, NotFound, OfflineRecordInvalid
from ledger.domain.limits import (ACTIVITY_CHARS_MAX, NAME_CHARS_MAX, PLACE_CHARS_MAX, REASON_CHARS_MAX,
                                  TEXT_CHARS_MAX)
from ledger.domain.display import points_text
from ledger.domain.scoring import SESSIONS_PER_YEAR_MIN, SUGGESTIONS_PER_YEAR_MIN, why_no_star
from ledger.domain.time_account import AccountSummary, summarise
from ledger.domain.values import CHINA_TIME, ConsentPurpose, Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
TABS = [("/me", "概览"), ("/me/orders", "居民订单"), ("/me/account", "时间账户"), ("/me/records", "服务记录"),
        ("/me/certificate", "服务证明"), ("/me/consents", "同意与转移")]
ORDER_STATES = {"placed": "待派单", "dispatched": "待您接单", "accepted": "已接单，待记录服务", "fulfilled": "已完成",
                "cancelled": "已取消"}
SESSION_STATES = {"recorded": "待评价和认证", "certified": "已认证", "rejected": "不予认证"}
RECORD_FIELDS = ("activity", "service_date", "start_time", "end_time", "minutes", "place", "post_id", "order_id",
                 "organiser", "recipient", "content")
# the record form's fields, by what the API's schema or the ledger names them in a refusal
FIELD_OF_PROBLEM = {"minutes": "minutes", "start_time": "start_time", "end_time": "end_time",
                    "service_date": "service_date", "activity": "activity", "place": "place", "content": "content",
                    "organiser": "organiser", "recipient": "recipient", "post": "post_id", "post_id": "post_id",
                    "order": "order_id", "order_id": "order_id"}
ENTRY_TYPES = {"Opened": "开户", "Credited": "认证存入", "ClawedBack": "更正/投诉扣回", "Redeemed": "爱心超市兑换",
               "RedeemedOffline": "爱心超市离线兑换（事后同步）",
               "Frozen": "转移冻结", "Unfrozen": "解冻", "TransferredOut": "转出", "TransferredIn": "转入",
               "Held": "跨区兑换（冻结）", "HoldCaptured": "跨区兑换完成", "HoldReleased": "跨区兑换撤销，退回",
               "CapturedOffline": "跨区离线兑换（事后同步）"}
CERTIFICATES_KEPT = 64  # issued bundles kept in memory for download (each is also registered by number)
CERTIFICATE_SECONDS = 3600


def member_payload(region_code: str, member_id: UUID, name: str) -> str:
    """What the member's QR code says: the member code (id), and the name for the clerk to compare.
    ASCII only, so a keyboard-emulating scanner types it faithfully."""
    return (f"timeledger:member?region={region_code}&id={member_id}"
            f"&name={urllib.parse.quote(name, safe='')}")


def member_id_text(code: str) -> str:
    """The member id a scanned member code holds: the QR's `id=` (member_payload), or the bare id typed."""
    text = code.replace(" ", "")
    if text.startswith("timeledger:member?"):
        found = urllib.parse.parse_qs(text.split("?", 1)[1]).get("id", [""])
        return found[0]
    return text


def _me(request: Request) -> tuple[Any, UUID]:
    principal = core.require_principal(request, Role.MEMBER)
    return principal, principal.actor.actor_id


def _page(request: Request, principal: Any, template: str, title: str, context: dict[str, Any]) -> Response:
    return core.page(request, template, {"tabs": TABS, **context}, principal=principal, title=title)


@router.get("/me")
def overview(request: Request) -> Response:
    from projections import queries as q

    principal, me = _me(request)
    ledger = core.ledger_of(request)
    member = api_members.read_member(me, principal.actor, ledger)
    year = api_reports.this_year()
    try:
        balance = api_members.read_balance(me, principal.actor, ledger)
    except NotFound:  # not registered yet: no time account
        balance = None
    authorize(ledger, principal.actor, "report.member", me)
    with core.services(request).read_models.current() as views:
        found = q.member_years(views, year=year, member_id=str(me))
    my_year = found[0] if found else None
    thresholds: list[int] = []
    if my_year is not None and my_year.policy_version is not None:
        try:
            thresholds = list(ledger.get_scoring_policy(my_year.policy_version).rules["star_thresholds"])
        except (LedgerError, KeyError):
            thresholds = []
    points = (my_year.points or Fraction(0)) if my_year is not None else Fraction(0)
    next_star = next((t for t in thresholds if points < t), None)
    to_next_star = points_text(next_star - points) if next_star is not None else None
    entries, summary = passbook(request, principal, me) if balance is not None else ([], None)
    region = ledger.get_region()
    payload = member_payload(region.code, me, member.identity.name)
    checks = requirement_checks(my_year, member, core.translator(core.lang_of(request)))
    # points but no star: say why, from the star rule itself (scoring.why_no_star)
    no_star = why_no_star(points, thresholds, my_year.missing) if my_year is not None and points > 0 \
        and thresholds else None
    return _page(request, principal, "member/overview.html", "我的", {
        "member": member, "balance": balance, "year": year, "my_year": my_year, "thresholds": thresholds,
        "points": points_text(points), "next_star": next_star, "to_next_star": to_next_star,
        "entries": entries[-RECENT_ENTRIES:], "entries_more": len(entries) > RECENT_ENTRIES, "summary": summary,
        "payload": payload, "checks": checks, "no_star": no_star,
        "points_short": points_text(no_star.points_short) if no_star and no_star.points_short is not None else "",
        "qr": qr_svg(payload, scale=5, label="我的党员码"),
        "organiser": ledger.organised_by(me) is not None})  # 活动组织者: runs the community's activities


RECENT_ENTRIES = 10  # lines of the passbook on the overview; /me/account shows them all


def passbook(request: Request, principal: Any, member_id: UUID) -> tuple[list[dict[str, Any]], AccountSummary]:
    """The member's time account as a passbook: oldest first, China time, each line's change and the
    balance after it, and what it was for (the session served, the goods taken, the kind of clawback);
    the summary's figures are sums of those changes, so they add up as shown."""
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "account.read", member_id)
    lines = reads.account_history(ledger, member_id)
    served = _sessions_served(request, principal, member_id) if any(
        line.source_kind == "session" for line in lines) else {}
    peers = ledger.get_region().peers if any(line.counter_region for line in lines) else {}
    entries = [{"type": ENTRY_TYPES.get(line.kind, line.kind), "raw": line.kind,
                "time": line.time.astimezone(CHINA_TIME), "change": line.change_minutes,
                "balance": line.balance_minutes, "repaid": line.repaid_minutes, "over_cap": line.over_cap_minutes,
                "owed_added": line.owed_added_minutes, "what": _what(line, served, peers)} for line in lines]
    return entries, summarise(lines)


SOURCE_KINDS = {"correction": "更正", "complaint": "投诉属实"}  # why minutes were added or taken back


def _what(line: Any, served: dict[UUID, str], peers: dict[str, dict[str, str]]) -> str:
    if line.counter_region:  # 通存通兑: the goods, and the region of the counter that gave them
        where = peers.get(line.counter_region, {}).get("name", line.counter_region)
        goods = "、".join(f"{name}×{quantity}" for name, quantity in line.items)
        return f"{where}爱心超市" + (f"：{goods}" if goods else "")
    if line.items:
        return "、".join(f"{name}×{quantity}" for name, quantity in line.items)
    if line.source_kind == "session":
        return served.get(line.source_id, "")
    return SOURCE_KINDS.get(line.source_kind, "")


def _sessions_served(request: Request, principal: Any, member_id: UUID) -> dict[UUID, str]:
    """The member's certified sessions by id: what each credit was for (activity and service date)."""
    page = api_reports.list_sessions(actor=principal.actor, ledger=core.ledger_of(request),
                                     services=core.services(request), year=None, community_id=None,
                                     member_id=member_id, status="certified", late=None, offset=0,
                                     limit=PAGE_SIZE_MAX)  # an older credit beyond it shows without its title
    return {row.session_id: f"{row.activity}（{row.service_date}）" for row in page.items}


@router.get("/me/account")
def account(request: Request) -> Response:
    principal, me = _me(request)
    ledger = core.ledger_of(request)
    member = api_members.read_member(me, principal.actor, ledger)
    entries, summary = passbook(request, principal, me)
    return _page(request, principal, "member/account.html", "时间账户", {
        "member": member, "entries": entries, "summary": summary})


def requirement_checks(my_year: Any, member: Any, gettext: Any) -> list[tuple[str, bool, str]]:
    """The notice's four basic requirements, each met unless the projection lists it as missing
    (the domain's `missing_requirements` decides; this only labels its verdict)."""
    if my_year is None:
        return []
    missing = set(my_year.missing)
    posts = "、".join(p.name for p in member.posts) or gettext("未认领")
    return [
        (gettext("到社区报到"), "未到社区报到" not in missing,
         f"{gettext('有故')}：{my_year.exemption}" if my_year.exemption else ""),
        (gettext("认领至少一个岗位"), "未认领岗位" not in missing, posts),
        (gettext("全年至少{n}次经认证的服务").format(n=SESSIONS_PER_YEAR_MIN),
         f"服务活动少于{SESSIONS_PER_YEAR_MIN}次" not in missing, gettext("已 {n} 次").format(n=my_year.sessions)),
        (gettext("至少提出{n}条建议").format(n=SUGGESTIONS_PER_YEAR_MIN), "未提出建议" not in missing,
         gettext("已 {n} 条").format(n=my_year.suggestions)),
    ]


def _my_orders(request: Request, me: UUID) -> list[dict[str, Any]]:
    from projections import queries as q

    with core.services(request).read_models.current() as views:
        rows = q.member_orders(views, member_id=str(me))
    for row in rows:
        row["state"] = ORDER_STATES.get(row["status"], row["status"])
        session = row["session"]
        if session is not None:
            session["state"] = SESSION_STATES.get(session["status"], session["status"])
        # an accepted order is recorded once; after a rejection the member may record it again
        row["to_record"] = row["status"] == "accepted" and (session is None or session["status"] == "rejected")
    return rows


def _records_page(request: Request, principal: Any, me: UUID, *, values: dict[str, str] | None = None,
                  errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    ledger = core.ledger_of(request)
    member = api_members.read_member(me, principal.actor, ledger)
    year = api_reports.this_year()
    sessions = api_reports.list_sessions(actor=principal.actor, ledger=ledger, services=core.services(request),
                                         year=None, community_id=None, member_id=me, status=None, late=None,
                                         offset=0, limit=200)
    orders = [o for o in _my_orders(request, me) if o["to_record"]]
    today = ledger.today().isoformat()
    kept = {"service_date": today, "start_time": "09:00", "end_time": "11:00", "minutes": "120"}
    chosen = request.query_params.get("order", "") if values is None else ""
    order = next((o for o in orders if o["order_id"] == chosen), None)
    if order is not None:  # coming from an order: it is chosen and the activity is its menu item
        kept.update({"order_id": order["order_id"], "activity": order["menu_title"]})
    kept.update(values or {})
    return core.page(request, "member/records.html", {
        "tabs": TABS, "member": member, "year": year,
        "sessions": sorted(sessions.items, key=lambda s: (s.service_date, s.recorded_on), reverse=True),
        "today": today, "card_query": report_query(year, None, None, me), "posts": member.posts,
        "orders": orders, "values": kept, "errors": errors or {}, "region_code": ledger.region_code,
        "server_now": utc_now().isoformat(), "me": me}, principal=principal, title="服务记录",
        status_code=status_code)


@router.get("/me/records")
def records(request: Request) -> Response:
    principal, me = _me(request)
    return _records_page(request, principal, me)


def _problem_field(error: Exception) -> str:
    """Which field of the record form a refusal is about (the API schema's `loc`, or the ledger's
    "field: …" detail); "" when it is about the form as a whole."""
    if isinstance(error, ValidationError):
        for item in error.errors():
            for part in item.get("loc", ()):
                if str(part) in FIELD_OF_PROBLEM:
                    return FIELD_OF_PROBLEM[str(part)]
        return ""
    detail = str(getattr(error, "detail", "") or error)
    head = detail.split(":", 1)[0].split(" ", 1)[0].strip()
    if head in FIELD_OF_PROBLEM:
        return FIELD_OF_PROBLEM[head]
    if "order" in detail:
        return "order_id"
    return ""


@router.post("/me/records")
async def record_session(request: Request) -> Response:
    """服务记录, optionally against an accepted order. A refused record comes back with every typed
    value kept and the reason next to its field; nothing is written."""
    principal, me = _me(request)
    form = await core.read_form(request)
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    values = {name: (value if isinstance(value := form.get(name), str) else "") for name in RECORD_FIELDS}

    def run() -> None:
        start, end = core.field(form, "start_time", chars_max=5), core.field(form, "end_time", chars_max=5)
        minutes_text = core.field(form, "minutes", chars_max=4)
        if not minutes_text.isdigit():
            raise FieldProblem("minutes", "请填写整数分钟")
        post_text = core.field(form, "post_id", required=False)
        order_text = core.field(form, "order_id", required=False)
        body = SessionIn(member_id=me, activity=core.field(form, "activity", chars_max=ACTIVITY_CHARS_MAX),
                         content=core.field(form, "content", chars_max=TEXT_CHARS_MAX),
                         place=core.field(form, "place", chars_max=PLACE_CHARS_MAX),
                         service_date=core.date_field(form, "service_date"),
                         start_time=start, end_time=end, minutes=int(minutes_text),
                         post_id=core.parse_uuid(post_text, "post") if post_text else None,
                         order_id=core.parse_uuid(order_text, "order") if order_text else None,
                         organiser=core.field(form, "organiser", required=False, chars_max=NAME_CHARS_MAX),
                         recipient=core.field(form, "recipient", required=False, chars_max=NAME_CHARS_MAX))
        api_sessions.record(body, core.commands_for(request, principal, path="/v1/sessions",
                                                    idempotency_key=core.form_key(form)))

    try:
        await core.in_thread(run)
    except FieldProblem as problem:
        return _records_page(request, principal, me, values=values,
                             errors={problem.field: gettext(problem.message)}, status_code=422)
    except (*REFUSALS, ValidationError) as error:
        if isinstance(error, AuthenticationFailed) and error.code in ("not_authenticated", "token_expired",
                                                                      "token_revoked"):
            raise
        field = _problem_field(error)
        return _records_page(request, principal, me, values=values, errors={field or "form": i18n.error_text(
            error, lang)}, status_code=422)
    return core.redirect("/me/records", kind="ok", text=gettext("已记录，等待社区评价和认证"))


# -- 服务记录 offline (issue #15): static/records-offline.js keeps the phone's key and the records typed while
# the connection was down (IndexedDB), and syncs them here in order, each once.
PHONE_LABEL = "党员手机"
OFFLINE_RECORD_BYTES_MAX = 32 * 1024


@router.post("/me/device")
async def member_register_phone(request: Request) -> Response:
    """The API's `POST /v1/sessions/offline/device-keys` for this phone's public key (once, while online)."""
    return await register_device_page(request, Role.MEMBER, "/v1/sessions/offline/device-keys",
                                      "session.register_device")


@router.post("/me/records/offline-sync")
async def member_offline_record(request: Request) -> Response:
    """The API's `POST /v1/sessions/offline` for one queued record, its session id as the key."""
    def run(principal: Any, body: OfflineSessionIn, lang: str) -> Response:
        commands = core.commands_for(request, principal, path="/v1/sessions/offline",
                                     idempotency_key=body.record.session_id)
        return api_sessions.sync_offline(body, commands)  # type: ignore[return-value]  # the API's answer

    return await core.json_command(request, Role.MEMBER, OfflineSessionIn, bytes_max=OFFLINE_RECORD_BYTES_MAX,
                                   run=run, too_large=InvalidInput("the offline record is too large"),
                                   invalid=OfflineRecordInvalid("not an offline record"))


# -- 三单制: orders dispatched to the member ----------------------------------------------------------------

@router.get("/me/orders")
def orders(request: Request) -> Response:
    principal, me = _me(request)
    ledger = core.ledger_of(request)
    member = api_members.read_member(me, principal.actor, ledger)
    return _page(request, principal, "member/orders.html", "居民订单", {
        "member": member, "orders": _my_orders(request, me)})


@router.post("/me/orders/{order_id}/accept")
async def accept_order(request: Request, order_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_orders.accept(order_id, core.commands_for(request, principal, path=f"/v1/orders/{order_id}/acceptance",
                                                      idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/me/orders", ok="已接单，服务后请记录服务")


@router.post("/me/orders/{order_id}/decline")
async def decline_order(request: Request, order_id: UUID) -> Response:
    principal, _ = _me(request)
    form = await core.read_form(request)
    gettext = core.translator(core.lang_of(request))
    reason_text = form.get("reason")
    if not isinstance(reason_text, str) or not reason_text.strip():
        return core.redirect("/me/orders", kind="error", text=gettext("请填写婉拒原因"))

    def run() -> None:
        reason = ReasonIn(reason=core.field(form, "reason", chars_max=REASON_CHARS_MAX))
        api_orders.decline(order_id, reason, core.commands_for(
            request, principal, path=f"/v1/orders/{order_id}/declination", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/me/orders", ok="已婉拒，订单退回社区重新派单")


@router.post("/me/suggestions")
async def suggest(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        body = SuggestionIn(content=core.field(form, "content", chars_max=TEXT_CHARS_MAX))
        api_members.submit_suggestion(me, body, core.commands_for(
            request, principal, path=f"/v1/members/{me}/suggestions", idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/me/records", ok="建议已提交", form=form,
                              again=lambda: records(request))


# -- consents -----------------------------------------------------------------------------------------------

@router.get("/me/consents")
def consents(request: Request) -> Response:
    principal, me = _me(request)
    ledger = core.ledger_of(request)
    member = api_members.read_member(me, principal.actor, ledger)
    authorize(ledger, principal.actor, "report.member", me)  # the record card names the unit too
    with core.services(request).read_models.current() as views:
        from projections import queries as q

        found = q.members(views, member_id=str(me))
    unit_name = found[0].unit_name if found else ""
    region = ledger.get_region()
    return _page(request, principal, "member/consents.html", "同意与转移", {
        "member": member, "unit_name": unit_name, "region_code": region.code, "region_name": region.name,
        "peers": peer_regions(region), "peer_names": {code: peer["name"] for code, peer in region.peers.items()},
        "has_unit_consent": any(c.purpose == ConsentPurpose.UNIT_FEEDBACK and c.recipient == str(member.unit_id)
                                for c in member.consents)})


def peer_regions(region: Any) -> list[tuple[str, str]]:
    """Where a member may move: the federation's registered peer regions (code, name), never this one."""
    return sorted((code, peer["name"]) for code, peer in region.peers.items() if code != region.code)


@router.post("/me/consents")
async def give_consent(request: Request) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)
    gettext = core.translator(core.lang_of(request))

    def run() -> tuple[str, str] | None:
        purpose = core.field(form, "purpose", chars_max=32)
        if purpose == ConsentPurpose.UNIT_FEEDBACK.value:
            recipient = str(api_members.read_member(me, principal.actor, core.ledger_of(request)).unit_id)
        else:
            recipient = core.field(form, "recipient", required=False, chars_max=6)
            region = core.ledger_of(request).get_region()
            if recipient == region.code:
                return ("error", gettext("转入地区不能是本地区（{name}），请选择要转入的其他地区。").format(name=region.name))
            if recipient not in dict(peer_regions(region)):
                return ("error", gettext("请从列表中选择转入地区。"))
        body = ConsentIn.model_validate({"purpose": purpose, "recipient": recipient})
        api_members.give_consent(me, body, core.commands_for(
            request, principal, path=f"/v1/members/{me}/consents", idempotency_key=core.form_key(form)))
        return None

    return await core.perform(request, run, back="/me/consents", ok="已记录您的同意（可随时撤回）", form=form,
                              again=lambda: consents(request))


@router.post("/me/consents/{consent_id}/withdraw")
async def withdraw_consent(request: Request, consent_id: UUID) -> Response:
    principal, me = _me(request)
    form = await core.read_form(request)

    def run() -> None:
        api_members.withdraw_consent(me, consent_id, core.commands_for(
            request, principal, path=f"/v1/members/{me}/consents/{consent_id}", method="DELETE",
            idempotency_key=core.form_key(form)))

    return await core.perform(request, run, back="/me/consents", ok="已撤回同意")


# -- hour certificates -------------------------------------------------------------------------------------------

@dataclass
class Issued:
    member_id: UUID
    number: str
    bundle: bytes
    verified: Any
    made: float


class CertificateShelf:
    """Issued certificates kept briefly in memory so that the JSON and the PDF of ONE issue can both
    be downloaded (the register in the log keeps number and SHA-256; the bundle is the member's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[str, Issued] = OrderedDict()

    def put(self, issued: Issued) -> str:
        token = uuid4().hex
        with self._lock:
            self._items[token] = issued
            while len(self._items) > CERTIFICATES_KEPT:
                self._items.popitem(last=False)
        return token

    def get(self, token: str, member_id: UUID) -> Issued:
        with self._lock:
            issued = self._items.get(token)
        if issued is None or issued.member_id != member_id or time.monotonic() - issued.made > CERTIFICATE_SECONDS:
            raise NotFound("this certificate download has expired: issue the certificate again")
        return issued


def _shelf(request: Request) -> CertificateShelf:
    state = request.app.state
    shelf = getattr(state, "web_certificates", None)
    if shelf is None:
        shelf = state.web_certificates = CertificateShelf()
    return shelf


@router.get("/me/certificate")
def certificate_page(request: Request, issued: str | None = None) -> Response:
    from ledger.application.certificates import issued_certificates
    from ledger.storage.merkle_log import MerkleLog

    principal, me = _me(request)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "report.member", me)
    current = _shelf(request).get(issued, me) if issued else None
    register = issued_certificates(MerkleLog.for_ledger(ledger), str(me))[:20]
    year = api_reports.this_year()
    return _page(request, principal, "member/certificate.html", "服务证明", {
        "issued": current, "token": issued, "register": register, "years": [year, year - 1, year - 2],
        "year": year})


@router.post("/me/certificate")
async def issue_certificate(request: Request) -> Response:
    """Issue an hour certificate (志愿服务证明) of the member's own certified sessions: the same
    `issue_certificate` as `timeledger certificate issue`, serialised with the ledger's writes."""
    from ledger.verification.certificates import CertificateError
    from ledger.application.certificates import issue_certificate as issue

    principal, me = _me(request)
    form = await core.read_form(request)
    year_text = core.field(form, "year", chars_max=4)
    if not year_text.isdigit() or not 2000 <= int(year_text) <= 2100:
        raise InvalidInput("year: 2000 to 2100")
    ledger = core.ledger_of(request)

    def run() -> str:
        authorize(ledger, principal.actor, "certificate.issue", me)  # the row POST /v1/members/{id}/certificates uses
        try:
            made = core.services(request).writer.submit(lambda: issue(ledger, me, year=int(year_text)), alone=True)
        except CertificateError as error:
            raise InvalidInput(str(error)) from None
        return _shelf(request).put(Issued(me, made.number, made.bundle, made.verified, time.monotonic()))

    try:
        token = await core.in_thread(run)
    except REFUSALS as error:
        from api.web.i18n import error_text

        return core.redirect("/me/certificate", kind="error", text=error_text(error, core.lang_of(request)))
    return core.redirect(f"/me/certificate?issued={token}")


@router.get("/me/certificate/{token}/{name}")
def certificate_file(request: Request, token: str, name: str) -> Response:
    from projections.render.certificate import render_certificate_pdf

    _principal, me = _me(request)
    issued = _shelf(request).get(token, me)
    if name == f"{issued.number}.json":
        return core.download(issued.bundle, f"{issued.number}.json")
    if name == f"{issued.number}.pdf":
        display = core.ledger_of(request).get_region().display_name
        data = render_certificate_pdf(issued.verified, display_name=display)
        return core.download(data, f"{issued.number}.pdf", "application/pdf")
    raise NotFound("no such file")
