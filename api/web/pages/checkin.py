"""签到签退 at the venue (issue #15): the community's activity pages — run by its office, or (the same
pages under /me/activities) by a member it named organiser (活动组织者) — open an activity, show its rotating
check-in QR (server-rendered SVG, refreshed every 30 s by /static/checkin.js), check members in by their
own code or as a group (团体录入), close it — and the member's phone page to scan the code (camera where
the browser can, or paste the code) and check in and out.

Every change goes through the API's router functions (`api/routers/activities.py`) with the page's
principal, so the authorisation table, the idempotency store and the group-commit writer apply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from api.errors import REFUSALS, http_status_of
from api.policy import authorize
from api.routers import activities as api_activities
from api.routers import communities as api_communities
from api.routers import reports as api_reports
from api.schemas.activities import (
    ActivityIn,
    GroupEntryIn,
    MemberScanIn,
    OfflineScanIn,
    OrganiserIn,
    OrganiserWithdrawalIn,
    ScanIn,
)
from api.web import core, i18n
from api.web.pages.community import TABS
from api.web.pages.counter import register_device_page
from api.web.pages.member import TABS as MEMBER_TABS
from api.web.pages.member import member_id_text
from api.web.present import qr_svg
from ledger.domain.activities import BELOW_MINIMUM_SHARE, GROUP_ENTRY_MEMBERS_MAX, Activity
from ledger.domain.base import utc_now
from ledger.domain.display import duration_text
from ledger.application import Actor
from ledger.domain.errors import InvalidInput, LedgerError, NotAnOrganiser, OfflineRecordInvalid
from ledger.domain.limits import ACTIVITY_CHARS_MAX, PLACE_CHARS_MAX, SETTING_REASON_CHARS_MAX
from ledger.domain.values import CHINA_TIME, Role, local_date
from ledger.verification import checkin_code

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
METHOD_LABELS = {"code": "扫码", "member_code": "扫党员码", "group": "团体录入", "closed_at_end": "活动结束时补签退",
                 "member_code_offline": "离线扫党员码"}
VENUE_DEVICE_LABEL = "活动签到设备"
MEMBER_CODE_CHARS_MAX = 300  # the member's QR text (region, id, the name percent-encoded) or the bare id
SCAN_BYTES_MAX = 8 * 1024


OFFICE, ORGANISER = "/community/activities", "/me/activities"


@dataclass(frozen=True)
class Runner:
    """Who runs activities on this page: the community office (under /community/activities), or a member
    it named organiser (活动组织者, under /me/activities: the same pages, the member's own key signs)."""

    principal: Any
    community_id: UUID
    base: str
    tabs: list[tuple[str, str]]
    home: tuple[str, str]


def _runner(request: Request) -> Runner:
    if request.url.path.startswith(ORGANISER):
        principal = core.require_principal(request, Role.MEMBER)
        community_id = core.ledger_of(request).get_member(principal.actor.actor_id).community_id
        if community_id is None:
            raise NotAnOrganiser("the member is registered with no community")
        return Runner(principal, community_id, ORGANISER, MEMBER_TABS, ("/me", "我的概览"))
    principal = core.require_principal(request, Role.COMMUNITY)
    return Runner(principal, principal.actor.actor_id, OFFICE, TABS, ("/community", "社区工作台"))


def _context(runner: Runner, **values: Any) -> dict[str, Any]:
    return {"base": runner.base, "tabs": runner.tabs, "home": runner.home, **values}


def _time(value: str | None) -> str:
    return datetime.fromisoformat(value).astimezone(CHINA_TIME).strftime("%H:%M:%S") if value else ""


def _rows(request: Request, activity: Activity) -> list[dict[str, Any]]:
    ledger = core.ledger_of(request)
    rows = []
    for member_id, entry in activity.attendance.items():
        try:
            name = ledger.get_member(member_id).name
        except LedgerError:
            name = ""
        rows.append({"member_id": member_id, "name": name, "in": _time(entry["checked_in_at"]),
                     "in_by": METHOD_LABELS.get(entry["in_by"], ""), "out": _time(entry["checked_out_at"]),
                     "out_by": METHOD_LABELS.get(entry["out_by"] or "", ""), "missed": entry["missed"],
                     "outcome": entry["outcome"], "presence": duration_text(entry["presence_minutes"]),
                     "session_id": entry["session_id"]})
    return rows


# -- the community: its activities ---------------------------------------------------------------------------

@router.get(OFFICE)
@router.get(ORGANISER)
def activities(request: Request) -> Response:
    runner = _runner(request)
    ledger = core.ledger_of(request)
    authorize(ledger, runner.principal.actor, "activity.open", runner.community_id)
    community = api_communities.read_community(runner.community_id, runner.principal.actor, ledger)
    office = runner.base == OFFICE
    organisers = ledger.organisers_of(runner.community_id) if office else []
    named = {member_id for member_id, _ in organisers}
    candidates = [m for m in _registered(request, runner.community_id) if m.member_id not in named] if office else []
    return core.page(request, "checkin/activities.html", _context(
        runner, activities=ledger.activities_of(runner.community_id), community=community.name, office=office,
        organisers=organisers, candidates=candidates, reason_max=SETTING_REASON_CHARS_MAX,
        posts=[p for p in community.posts if not p.retired], menu=[m for m in community.menu if not m.withdrawn],
        today=local_date(utc_now()).isoformat(), title_max=ACTIVITY_CHARS_MAX, place_max=PLACE_CHARS_MAX),
        principal=runner.principal, title="活动签到")


@router.post(OFFICE)
@router.post(ORGANISER)
async def open_activity(request: Request) -> Response:
    runner = _runner(request)
    form = await core.read_form(request)

    def run() -> str:
        serves = core.field(form, "serves", chars_max=80)
        kind, _, target = serves.partition(":")
        if kind not in ("post", "menu"):
            raise InvalidInput("serves: a post or a menu item")
        body = ActivityIn(
            title=core.field(form, "title", chars_max=ACTIVITY_CHARS_MAX),
            place=core.field(form, "place", chars_max=PLACE_CHARS_MAX),
            service_date=core.date_field(form, "service_date"), start_time=core.field(form, "start_time", chars_max=5),
            end_time=core.field(form, "end_time", chars_max=5),
            expected_members=_int(core.field(form, "expected_members", chars_max=4)),
            post_id=core.parse_uuid(target, "post") if kind == "post" else None,
            menu_item_id=core.parse_uuid(target, "menu item") if kind == "menu" else None)
        commands = core.commands_for(request, runner.principal,
                                     path=f"/v1/communities/{runner.community_id}/activities",
                                     idempotency_key=core.form_key(form))
        response = api_activities.open_activity(runner.community_id, body, commands)
        return str(json.loads(response.body)["id"])  # type: ignore[attr-defined]  # the API's JSONResponse

    lang = core.lang_of(request)
    try:
        activity_id = await core.in_thread(run)
    except (*REFUSALS, ValidationError) as error:
        core.keep_form(request, form, error)  # the form is shown again with what was typed
        return await core.in_thread(lambda: activities(request))
    return core.redirect(f"{runner.base}/{activity_id}", kind="ok", text=core.translator(lang)("活动已开放签到"))


def _registered(request: Request, community_id: UUID) -> list[Any]:
    """The community's registered members (names, for 团体录入 and naming organisers). Called only after the
    page's principal was authorised to run the community's activities: an organiser reads them as the
    community's runner, through the community's own list."""
    return api_reports.list_members(actor=Actor(community_id, Role.COMMUNITY), ledger=core.ledger_of(request),
                                    services=core.services(request), year=None, unit_id=None,
                                    community_id=community_id, offset=0, limit=GROUP_ENTRY_MEMBERS_MAX).items


# -- 活动组织者: the office names and withdraws organisers (on its activities page) -------------------------

@router.post("/community/organisers")
async def name_organiser(request: Request) -> Response:
    runner = _runner(request)
    form = await core.read_form(request)

    def run() -> str:
        body = OrganiserIn(member_id=core.parse_uuid(core.field(form, "member_id", chars_max=40), "member"))
        commands = core.commands_for(request, runner.principal,
                                     path=f"/v1/communities/{runner.community_id}/organisers",
                                     idempotency_key=core.form_key(form))
        api_activities.name_organiser(runner.community_id, body, commands)
        return ""

    return await core.perform(request, run, back=OFFICE, ok="已指定活动组织者", form=form,
                              again=lambda: activities(request))


@router.post("/community/organisers/{member_id}/withdraw")
async def withdraw_organiser(request: Request, member_id: UUID) -> Response:
    runner = _runner(request)
    form = await core.read_form(request)

    def run() -> str:
        body = OrganiserWithdrawalIn(reason=core.field(form, "reason", required=False,
                                                       chars_max=SETTING_REASON_CHARS_MAX))
        commands = core.commands_for(request, runner.principal,
                                     path=f"/v1/communities/{runner.community_id}/organisers/{member_id}/withdrawal",
                                     idempotency_key=core.form_key(form))
        api_activities.withdraw_organiser(runner.community_id, member_id, body, commands)
        return ""

    return await core.perform(request, run, back=OFFICE, ok="已撤销活动组织者", form=form,
                              again=lambda: activities(request))


def _int(text: str) -> int:
    if not text.isascii() or not text.isdigit():
        raise InvalidInput("expected_members: a whole number")
    return int(text)


def _own_activity(request: Request, principal: Any, activity_id: UUID, action: str = "activity.read") -> Activity:
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, action, activity_id)
    return ledger.get_activity(activity_id)


@router.get(OFFICE + "/{activity_id}")
@router.get(ORGANISER + "/{activity_id}")
def activity_page(request: Request, activity_id: UUID) -> Response:
    runner = _runner(request)
    # the organiser sees the page only while named (activity.show_code), the office always (its own)
    activity = _own_activity(request, runner.principal, activity_id, "activity.show_code"
                             if runner.base == ORGANISER else "activity.read")
    # the community's registered members, for 团体录入: an organiser reads them as its community's runner
    members = _registered(request, activity.community_id)
    present = set(activity.attendance)
    now = utc_now()
    return core.page(request, "checkin/activity.html", _context(
        runner, activity=activity, rows=_rows(request, activity), open=activity.status == Activity.OPEN,
        members=[m for m in members if m.member_id not in present],
        checked_in=[r for r in _rows(request, activity) if not r["out"]],
        seconds_left=checkin_code.seconds_left(now), window=checkin_code.window_of(now),
        share=core.ledger_of(request).get_region().presence_share_min_percent, below=BELOW_MINIMUM_SHARE,
        # the venue device offline (the office's own device; an organiser's phone runs online)
        offline_device=runner.base == OFFICE, device_label=VENUE_DEVICE_LABEL,
        region_code=core.ledger_of(request).region_code, member_code_max=MEMBER_CODE_CHARS_MAX,
        server_now=now.isoformat()),
        principal=runner.principal, title="活动签到")


@router.get(OFFICE + "/{activity_id}/qr.svg")
@router.get(ORGANISER + "/{activity_id}/qr.svg")
def activity_qr(request: Request, activity_id: UUID) -> Response:
    """The current check-in code as an SVG QR (signed by the community's key; replaced every 30 s)."""
    runner = _runner(request)
    answer = api_activities.checkin_code(activity_id, runner.principal.actor, core.ledger_of(request))
    svg = str(qr_svg(answer.code, scale=6, label=core.translator(core.lang_of(request))("签到二维码"), standalone=True))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.get(OFFICE + "/{activity_id}/code")
@router.get(ORGANISER + "/{activity_id}/code")
def activity_code(request: Request, activity_id: UUID) -> Response:
    """The current code and the seconds until it rotates, for the page's script."""
    runner = _runner(request)
    answer = api_activities.checkin_code(activity_id, runner.principal.actor, core.ledger_of(request))
    return JSONResponse({"code": answer.code, "seconds_left": answer.seconds_left,
                         "window": checkin_code.window_of(utc_now())}, headers={"Cache-Control": "no-store"})


@router.post(OFFICE + "/{activity_id}/member-scan")
@router.post(ORGANISER + "/{activity_id}/member-scan")
async def member_scan(request: Request, activity_id: UUID) -> Response:
    """The organiser scans (or types) the member's own code: the member id, as at the counter."""
    runner = _runner(request)
    form = await core.read_form(request)

    def run() -> str:
        action = "out" if form.get("action") == "out" else "in"
        code = member_id_text(core.field(form, "member", chars_max=MEMBER_CODE_CHARS_MAX))
        body = MemberScanIn(member_id=core.parse_uuid(code, "member"), action=action)
        commands = core.commands_for(request, runner.principal, path=f"/v1/activities/{activity_id}/member-scans",
                                     idempotency_key=core.form_key(form))
        api_activities.scan_member(activity_id, body, commands)
        return ""

    return await core.perform(request, run, back=f"{runner.base}/{activity_id}", ok="已办理", form=form,
                              again=lambda: activity_page(request, activity_id))


@router.post(OFFICE + "/{activity_id}/group")
@router.post(ORGANISER + "/{activity_id}/group")
async def group_entry(request: Request, activity_id: UUID) -> Response:
    """团体录入: the ticked members, in or out, one event each."""
    runner = _runner(request)
    form = await core.read_form(request)

    def run() -> str | tuple[str, str]:
        chosen = [core.parse_uuid(str(v), "member") for v in form.getlist("member")][:GROUP_ENTRY_MEMBERS_MAX]
        if not chosen:
            return "error", core.translator(core.lang_of(request))("请先勾选党员")
        body = GroupEntryIn(member_ids=chosen, action="out" if form.get("action") == "out" else "in")
        commands = core.commands_for(request, runner.principal, path=f"/v1/activities/{activity_id}/group-entries",
                                     idempotency_key=core.form_key(form))
        api_activities.group_entry(activity_id, body, commands)
        return core.translator(core.lang_of(request))("已录入 {n} 人").format(n=len(chosen))

    return await core.perform(request, run, back=f"{runner.base}/{activity_id}", ok="已办理")


@router.post(OFFICE + "/{activity_id}/close")
@router.post(ORGANISER + "/{activity_id}/close")
async def close(request: Request, activity_id: UUID) -> Response:
    runner = _runner(request)
    form = await core.read_form(request)

    def run() -> None:
        commands = core.commands_for(request, runner.principal, path=f"/v1/activities/{activity_id}/closure",
                                     idempotency_key=core.form_key(form))
        api_activities.close(activity_id, commands)

    return await core.perform(request, run, back=f"{runner.base}/{activity_id}",
                              ok="活动已结束：未签退的已按结束时间签退并标记")


# -- the member's phone page ---------------------------------------------------------------------------------

@router.get("/me/checkin")
def member_checkin(request: Request) -> Response:
    principal = core.require_principal(request, Role.MEMBER)
    return core.page(request, "checkin/member.html", {"code": "", "error": None}, principal=principal,
                     title="扫码签到签退")


@router.post("/me/checkin")
async def member_checkin_scan(request: Request) -> Response:
    """A member's scan: the code names the activity; the member's own key signs the check-in or out. A
    refused code is shown next to the field with the text kept."""
    principal = core.require_principal(request, Role.MEMBER)
    form = await core.read_form(request)
    lang = core.lang_of(request)
    gettext = core.translator(lang)
    code = str(form.get("code") or "").strip()[:checkin_code.CODE_CHARS_MAX + 50]
    action = str(form.get("action") or "auto")
    if action not in ("auto", "in", "out"):
        action = "auto"

    def run() -> Any:
        activity_id = checkin_code.parse(code).activity_id  # malformed: refused before anything else
        commands = core.commands_for(request, principal, path=f"/v1/activities/{activity_id}/scans",
                                     idempotency_key=core.form_key(form))
        return api_activities.scan(activity_id, ScanIn(code=code, action=action), commands)

    try:
        response = await core.in_thread(run)
    except (*REFUSALS, ValidationError) as error:
        return core.page(request, "checkin/member.html", {"code": code, "error": i18n.error_text(error, lang)},
                         principal=principal, title="扫码签到签退",
                         status_code=http_status_of(error) if not isinstance(error, ValidationError) else 422)
    result = json.loads(response.body)
    if result["action"] == "checked_in":
        text = gettext("已签到。活动结束离开时请再次扫码签退。")
    elif result["outcome"] == BELOW_MINIMUM_SHARE:
        text = gettext("已签退。在场 {t}，不足计划时长的 {p}%，未生成服务记录。").format(
            t=duration_text(result["presence_minutes"]), p=result["share_min_percent"])
    else:
        text = gettext("已签退。在场 {t}，已生成服务记录（签到签退），待社区评价认证。").format(
            t=duration_text(result["presence_minutes"]))
    return core.redirect("/me/checkin", kind="ok", text=text)


# -- the venue device offline (issue #15 part 2): static/checkin-offline.js keeps the device's key and the
# scans it signed while the connection was down (IndexedDB), and syncs them here in order, each once.
@router.post("/community/device")
async def venue_register_device(request: Request) -> Response:
    """The API's `POST /v1/activities/device-keys` for this device's public key (once, while online)."""
    return await register_device_page(request, Role.COMMUNITY, "/v1/activities/device-keys",
                                      "activity.register_device")


@router.post("/community/activities/{activity_id}/offline-scan")
async def venue_offline_scan(request: Request, activity_id: UUID) -> Response:
    """The API's `POST /v1/activities/{id}/offline-scans` for one queued scan, its scan id as the key."""
    def run(principal: Any, body: OfflineScanIn, lang: str) -> Response:
        commands = core.commands_for(request, principal, path=f"/v1/activities/{activity_id}/offline-scans",
                                     idempotency_key=body.record.scan_id)
        return api_activities.sync_offline_scan(activity_id, body, commands)  # type: ignore[return-value]  # the API's answer

    return await core.json_command(request, Role.COMMUNITY, OfflineScanIn, bytes_max=SCAN_BYTES_MAX, run=run,
                                   too_large=InvalidInput("the offline scan is too large"),
                                   invalid=OfflineRecordInvalid("not an offline scan"))
