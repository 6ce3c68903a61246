"""地区管理 Region administration on the web (issue #12): everything the region administrator did
through the API or the CLI — the transfer timeout, the display name and storage cap, report deadlines;
units, communities, counters and pairings; logins; keys; scoring policies; federation peers; holiday
calendars.

Every page is the region's alone (`require_principal(…, Role.REGION)`), and every write runs the
API's own router function through the API's `Commands` runner (`core.commands_for`), so the policy
table authorises it and the region's key signs it. A setting change carries its reason, signed into
the event. A form that is refused comes back with every typed value kept (never a password) and the
message beside the field; nothing is written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.auth import Principal
from api.commands import Commands
from api.errors import REFUSALS, http_status_of
from api.member_access import REASON_CHARS_MIN
from api.routers import communities as api_communities
from api.routers import logins as api_logins
from api.routers import region as api_region
from api.routers import keys as api_keys
from api.routers import transfers as api_transfers
from api.routers import units as api_units
from api.routers.reports import this_year
from api.schemas.auth import ActivationIn, LoginIn
from api.schemas.offices import CounterConfirmationIn
from api.schemas.organisations import CommunityIn, CounterIn, PairingIn, UnitIn
from api.schemas.region import (
    POINTS_MAX,
    CalendarIn,
    KeyRevokeIn,
    KeyRotateIn,
    RegionSettingsIn,
    ReportDeadlineIn,
    RescoreIn,
    ScoringPolicyIn,
    ScoringRulesIn,
    TransferTimeoutIn,
)
from api.schemas.transfers import RegionCardIn
from api import catalogue, peer_http
from api.policy import authorize
from api.web import core
from api.web.present import settlement_view
from ledger.domain.calendar import HOLIDAYS_PER_YEAR_MAX, WORKDAYS_PER_YEAR_MAX
from ledger.domain.display import ASSURANCE_TEXT
from ledger.application import settlement
from ledger.domain.errors import NotFound, NotPermitted
from ledger.domain.limits import (
    CALENDAR_SOURCE_CHARS_MAX,
    DISPLAY_NAME_CHARS_MAX,
    KEY_REASON_CHARS_MAX,
    NAME_CHARS_MAX,
    NOTE_CHARS_MAX,
    SETTING_REASON_CHARS_MAX,
    STORAGE_CAP_MINUTES_MAX,
)
from ledger.domain.organisations import DECLARED_MEMBERS_MAX
from ledger.domain.region import TRANSFER_TIMEOUT_DAYS_MAX
from ledger.domain.scoring import ASSURANCE_FACTORS, EQUAL_ASSURANCE_FACTORS
from ledger.domain.values import Role, UnitType

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)

TABS = [("/region", "全区概况"), ("/region/settings", "地区设置"), ("/region/organisations", "单位、社区与柜台"),
        ("/region/logins", "登录账号"), ("/region/keys", "密钥"), ("/region/policies", "积分办法"),
        ("/region/peers", "联盟地区"), ("/region/calendars", "节假日安排")]
YEAR_MIN, YEAR_MAX = 2000, 2100
POLICY_VERSIONS_MAX = 200  # versions listed on the policy page (a region publishes one a year at most)
MEMBER_MATCHES_MAX = 20  # members found by name on the logins page
CARD_BYTES_MAX = 64 * 1024  # a region card is ~2 KB
PASSWORD_FIELDS = ("password", "password_again")
AUTH_CODES = ("not_authenticated", "token_expired", "token_revoked")
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
ROLE_NAMES = {Role.REGION: "地区", Role.UNIT: "单位党组织", Role.COMMUNITY: "社区党组织", Role.COUNTER: "爱心超市柜台",
              Role.AUDITOR: "审计", Role.RESIDENT: "居民", Role.MEMBER: "党员"}
LOGIN_ROLES = (Role.UNIT, Role.COMMUNITY, Role.COUNTER, Role.AUDITOR)  # the offices the region opens logins for


class Invalid(Exception):
    """Bad input, found before anything runs: field name → message (already in the page's language)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class Submitted:
    """A refused form, to render again: which form, what was typed, what is wrong with it."""

    form: str
    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def _admin(request: Request) -> Principal:
    return core.require_principal(request, Role.REGION)


def _render(request: Request, principal: Principal, template: str, title: str, context: dict[str, Any],
            submitted: Submitted | None, status_code: int = 200) -> Response:
    kept = {submitted.form: submitted.values} if submitted else {}
    errors = {submitted.form: submitted.errors} if submitted else {}
    return core.page(request, template, {"tabs": TABS, "kept": kept, "errors": errors, "role_names": ROLE_NAMES,
                                         **context}, status_code=status_code, principal=principal, title=title)


# -- reading a form (messages in the page's language, next to the field) ------------------------------------

class Reader:
    """Reads one posted form, collecting every problem at once (so the person fixes them together)."""

    def __init__(self, form: FormData, lang: str) -> None:
        self.form = form
        self.t = core.translator(lang)
        self.errors: dict[str, str] = {}

    def text(self, name: str, chars_max: int, *, required: bool = True) -> str:
        value = self.form.get(name)
        text = value.strip() if isinstance(value, str) else ""
        if required and not text:
            self.errors[name] = self.t("请填写此项。")
        elif len(text) > chars_max:
            self.errors[name] = self.t("最多 {n} 个字。").format(n=chars_max)
        return text

    def reason(self, name: str = "reason", chars_max: int = SETTING_REASON_CHARS_MAX) -> str:
        text = self.text(name, chars_max, required=False)
        if not text and name not in self.errors:
            self.errors[name] = self.t("请说明修改原因（将签入记录）。")
        return text

    def whole(self, name: str, low: int, high: int, *, required: bool = True) -> int | None:
        text = self.text(name, 12, required=required)
        if not text or name in self.errors:
            return None
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            self.errors[name] = self.t("请填写 {low} 到 {high} 之间的整数。").format(low=low, high=high)
            return None
        return int(text)

    def day(self, name: str, *, required: bool = True) -> date | None:
        text = self.text(name, 10, required=required)
        if not text or name in self.errors:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.errors[name] = self.t("日期格式应为 年-月-日，如 2027-08-31。")
            return None

    def choice(self, name: str, options: dict[str, Any]) -> Any:
        value = self.form.get(name)
        if not isinstance(value, str) or value not in options:
            self.errors[name] = self.t("请从列表中选择。")
            return None
        return options[value]

    def done(self) -> None:
        if self.errors:
            raise Invalid(self.errors)


def _values(form: FormData) -> dict[str, str]:
    """What was typed, to put back into the form (never a password, never the CSRF token)."""
    return {key: value[:4000] for key, value in form.items()
            if isinstance(value, str) and key not in (core.CSRF_FIELD, "nonce", *PASSWORD_FIELDS)}


def _refusal_text(error: Exception, lang: str) -> str:
    """A refusal for a person: the catalogue's message; the ledger's detail only when it speaks the
    page's language (an English detail on a Chinese page is left out)."""
    return catalogue.message(error, lang)


Render = Callable[[Request, Principal, Submitted | None, int], Response]


async def _submit(request: Request, *, form_name: str, render: Render,
                  handle: Callable[[Reader, Principal], Callable[[], Any]], ok: str, back: str,
                  refused_field: str = "_form") -> Response:
    """Read the form, check it, run the command, and come back: a redirect with the success message,
    or the page again with the typed values and the message beside the field."""
    principal = _admin(request)
    form = await core.read_form(request)
    lang = core.lang_of(request)
    reader = Reader(form, lang)
    try:
        run = handle(reader, principal)
        reader.done()
        result = await core.in_thread(run)
    except Invalid as invalid:
        return await core.in_thread(render, request, principal, Submitted(form_name, _values(form), invalid.errors),
                                    422)
    except (*REFUSALS, ValidationError) as error:
        if isinstance(error, NotPermitted) or getattr(error, "code", "") in AUTH_CODES:
            raise
        status = 422 if isinstance(error, ValidationError) else http_status_of(error)
        field_name = _field_of(error, refused_field)
        submitted = Submitted(form_name, _values(form), {field_name: _refusal_text(error, lang)})
        return await core.in_thread(render, request, principal, submitted, status)
    text = result if isinstance(result, str) and result else core.translator(lang)(ok)
    return core.redirect(back, kind="ok", text=text)


REFUSAL_FIELDS = {"weak_password": "password", "already_exists": None}  # refusals that belong to one field


def _field_of(error: Exception, default: str) -> str:
    named = REFUSAL_FIELDS.get(getattr(error, "code", ""))
    if named is not None:
        return named
    if isinstance(error, ValidationError):
        locations = [item.get("loc", ()) for item in error.errors()]
        if locations and locations[0]:
            return str(locations[0][0])
    return default


def _key(form: FormData) -> str | None:
    return core.form_key(form)


def _command(request: Request, principal: Principal, read: Reader, path: str, method: str = "POST") -> Commands:
    """The API's command runner for the router function at `path`, as the region (the form's nonce is the
    idempotency key)."""
    return core.commands_for(request, principal, path=path, method=method, idempotency_key=_key(read.form))


# -- 地区设置: display name, storage cap, transfer timeout, report deadlines --------------------------------

def _settings_page(request: Request, principal: Principal, submitted: Submitted | None = None,
                   status_code: int = 200) -> Response:
    region = core.ledger_of(request).get_region()
    deadlines = sorted(region.report_deadlines.items(), reverse=True)
    return _render(request, principal, "region/settings.html", "地区设置", {
        "region": region, "deadlines": deadlines, "year": this_year(), "timeout_max": TRANSFER_TIMEOUT_DAYS_MAX,
        "cap_hours_max": STORAGE_CAP_MINUTES_MAX // 60,
        "cap_hours": region.storage_cap_minutes // 60 if region.storage_cap_minutes else None}, submitted, status_code)


@router.get("/region/settings")
def settings_page(request: Request) -> Response:
    return _settings_page(request, _admin(request))


async def _setting(request: Request, *, form_name: str, ok: str, fields: Callable[[Reader], dict[str, Any]],
                   schema: Callable[..., Any], call: Callable[[Any, Any], Any], path: str,
                   method: str = "POST") -> Response:
    """One 地区设置 form: its own fields, then the reason (required, signed into the event), then the API's
    router function at `path`; refused, the settings page again with what was typed."""
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        values = fields(read)
        reason = read.reason()
        read.done()
        body = schema(**values, reason=reason)
        return lambda: call(body, _command(request, principal, read, path, method))

    return await _submit(request, form_name=form_name, render=_settings_page, handle=handle, ok=ok,
                         back="/region/settings")


@router.post("/region/settings/transfer-timeout")
async def set_transfer_timeout(request: Request) -> Response:
    return await _setting(request, form_name="timeout", ok="已修改转移回执时限", schema=TransferTimeoutIn,
                          fields=lambda read: {"days": read.whole("days", 1, TRANSFER_TIMEOUT_DAYS_MAX)},
                          call=api_region.set_transfer_timeout, path="/v1/region/transfer-timeout", method="PUT")


@router.post("/region/settings/name")
async def set_display_name(request: Request) -> Response:
    return await _setting(request, form_name="name", ok="已修改对外名称", schema=RegionSettingsIn,
                          fields=lambda read: {"display_name": read.text("display_name", DISPLAY_NAME_CHARS_MAX)},
                          call=api_region.change_settings, path="/v1/region/settings")


def _storage_cap(read: Reader) -> dict[str, Any]:
    clear = read.form.get("no_cap") == "1"
    hours = None if clear else read.whole("cap_hours", 1, STORAGE_CAP_MINUTES_MAX // 60)
    return {"storage_cap_minutes": hours * 60 if hours else None, "clear_storage_cap": clear}


@router.post("/region/settings/storage-cap")
async def set_storage_cap(request: Request) -> Response:
    return await _setting(request, form_name="cap", ok="已修改时间账户存储上限", schema=RegionSettingsIn,
                          fields=_storage_cap, call=api_region.change_settings, path="/v1/region/settings")


@router.post("/region/settings/counter-confirmation")
async def set_counter_confirmation(request: Request) -> Response:
    def required(read: Reader) -> dict[str, Any]:
        return {"required": read.choice("required", {"1": True, "0": False})}

    return await _setting(request, form_name="confirm", ok="已修改柜台核对本人设置", schema=CounterConfirmationIn,
                          fields=required, call=api_region.set_counter_confirmation,
                          path="/v1/region/counter-confirmation", method="PUT")


@router.post("/region/settings/report-deadline")
async def set_report_deadline(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        year = read.whole("year", YEAR_MIN, YEAR_MAX)
        deadline = read.day("deadline")
        reason = read.reason()
        if year is not None and deadline is not None and deadline.year != year:
            read.errors["deadline"] = read.t("截止日期须在该年度之内。")
        read.done()
        assert year is not None and deadline is not None
        body = ReportDeadlineIn(deadline=deadline, reason=reason)
        return lambda: api_region.set_deadline(
            year, body, _command(request, principal, read, f"/v1/region/report-deadlines/{year}", method="PUT"))

    return await _submit(request, form_name="deadline", render=_settings_page, handle=handle,
                         ok="已设置报到截止日期", back="/region/settings")


# -- 单位、社区与柜台: register, pair, open counters ---------------------------------------------------------

def _organisations(request: Request) -> dict[str, Any]:
    from projections import queries as q

    with core.services(request).read_models.current() as views:
        units, communities, counters = q.units(views), q.communities(views), q.counters(views)
    community_names = {c.community_id: c.name for c in communities}
    return {"units": units, "communities": communities, "counters": counters, "community_names": community_names,
            "unit_types": [t.value for t in UnitType]}


def _organisations_page(request: Request, principal: Principal, submitted: Submitted | None = None,
                        status_code: int = 200) -> Response:
    return _render(request, principal, "region/organisations.html", "单位、社区与柜台", {
        **_organisations(request), "declared_max": DECLARED_MEMBERS_MAX}, submitted, status_code)


@router.get("/region/organisations")
def organisations_page(request: Request) -> Response:
    return _organisations_page(request, _admin(request))


@router.post("/region/units")
async def register_unit(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        name = read.text("name", NAME_CHARS_MAX)
        unit_type = read.choice("unit_type", {t.value: t for t in UnitType})
        declared = read.whole("declared_members", 0, DECLARED_MEMBERS_MAX)
        read.done()
        body = UnitIn(name=name, unit_type=unit_type, declared_members=declared or 0)
        return lambda: api_region.register_unit(body, _command(request, principal, read, "/v1/units"))

    return await _submit(request, form_name="unit", render=_organisations_page, handle=handle,
                         ok="已登记单位党组织", back="/region/organisations", refused_field="name")


@router.post("/region/communities")
async def register_community(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        name = read.text("name", NAME_CHARS_MAX)
        county = read.text("county", NAME_CHARS_MAX)
        street = read.text("street", NAME_CHARS_MAX)
        read.done()
        body = CommunityIn(name=name, county=county, street=street)
        return lambda: api_region.register_community(body, _command(request, principal, read, "/v1/communities"))

    return await _submit(request, form_name="community", render=_organisations_page, handle=handle,
                         ok="已登记社区党组织", back="/region/organisations", refused_field="name")


def _community_options(request: Request) -> dict[str, UUID]:
    from projections import queries as q

    with core.services(request).read_models.current() as views:
        return {c.community_id: UUID(c.community_id) for c in q.communities(views)}


def _unit_options(request: Request) -> dict[str, UUID]:
    from projections import queries as q

    with core.services(request).read_models.current() as views:
        return {u.unit_id: UUID(u.unit_id) for u in q.units(views)}


@router.post("/region/counters")
async def open_counter(request: Request) -> Response:
    _admin(request)  # before any read: another role learns nothing
    communities = await core.in_thread(_community_options, request)

    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        community_id = read.choice("community_id", communities)
        name = read.text("name", NAME_CHARS_MAX)
        read.done()
        body = CounterIn(name=name)
        return lambda: api_communities.open_counter(
            community_id, body, _command(request, principal, read, f"/v1/communities/{community_id}/counters"))

    return await _submit(request, form_name="counter", render=_organisations_page, handle=handle,
                         ok="已开设爱心超市柜台", back="/region/organisations", refused_field="name")


@router.post("/region/pairings")
async def pair_unit(request: Request) -> Response:
    _admin(request)  # before any read: another role learns nothing
    units = await core.in_thread(_unit_options, request)
    communities = await core.in_thread(_community_options, request)

    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        unit_id = read.choice("unit_id", units)
        community_id = read.choice("community_id", communities)
        reason = read.reason()
        read.done()
        body = PairingIn(community_id=community_id, reason=reason)
        return lambda: api_units.pair(unit_id, body, _command(request, principal, read, f"/v1/units/{unit_id}/pairing"))

    return await _submit(request, form_name="pair", render=_organisations_page, handle=handle,
                         ok="已结对共建", back="/region/organisations", refused_field="community_id")


# -- 登录账号: offices' logins (create, disable, enable); a member's login is reset, never set ----------------

def _actors(request: Request) -> list[dict[str, Any]]:
    """The offices with a signing key (units, communities, counters, auditors), named."""
    from projections import queries as q

    ledger = core.ledger_of(request)
    with core.services(request).read_models.current() as views:
        names = {u.unit_id: u.name for u in q.units(views)}
        names.update({c.community_id: c.name for c in q.communities(views)})
        community_names = {c.community_id: c.name for c in q.communities(views)}
        names.update({k.counter_id: f"{community_names.get(k.community_id, '')} {k.name}".strip()
                      for k in q.counters(views)})
    rows = []
    for actor_id, role_name, key_id in ledger.secrets.actors():
        role = Role(role_name)
        if role not in (*LOGIN_ROLES, Role.REGION):
            continue
        name = names.get(str(actor_id)) or (ledger.get_region().name if role is Role.REGION
                                            else ledger.get_key(key_id).label)
        rows.append({"actor_id": str(actor_id), "role": role, "name": name, "key_id": key_id})
    order = {Role.REGION: 0, Role.UNIT: 1, Role.COMMUNITY: 2, Role.COUNTER: 3, Role.AUDITOR: 4}
    return sorted(rows, key=lambda r: (order[r["role"]], r["name"]))


def _logins_page(request: Request, principal: Principal, submitted: Submitted | None = None,
                 status_code: int = 200) -> Response:
    auth = core.services(request).auth
    actors = _actors(request)
    names = {a["actor_id"]: a["name"] for a in actors}
    logins = [{"username": login.username, "role": login.role, "name": names.get(str(login.actor_id), ""),
               "disabled": login.disabled, "own": login.actor_id == principal.actor.actor_id}
              for login in auth.logins(limit=1000) if login.role is not Role.MEMBER]
    query = request.query_params.get("member", "").strip()[:NAME_CHARS_MAX]
    if submitted is not None and submitted.form == "reset":
        query = submitted.values.get("member_name", query)
    return _render(request, principal, "region/logins.html", "登录账号", {
        "actors": [a for a in actors if a["role"] in LOGIN_ROLES], "logins": logins, "member_query": query,
        "members": _members_named(request, principal, query) if query else [],
        "reason_min": REASON_CHARS_MIN}, submitted, status_code)


def _members_named(request: Request, principal: Principal, query: str) -> list[dict[str, Any]]:
    from api.routers import reports as api_reports

    rows = api_reports.list_members(actor=principal.actor, ledger=core.ledger_of(request),
                                    services=core.services(request), year=None, offset=0, limit=1000,
                                    unit_id=None, community_id=None)
    with_login = core.services(request).auth.actors_with_login()
    found = [r for r in rows.items if query in r.name][:MEMBER_MATCHES_MAX]
    return [{"member_id": r.member_id, "name": r.name, "unit_name": r.unit_name, "community_name": r.community_name,
             "has_login": r.member_id in with_login} for r in found]


@router.get("/region/logins")
def logins_page(request: Request) -> Response:
    return _logins_page(request, _admin(request))


@router.post("/region/logins")
async def create_login(request: Request) -> Response:
    _admin(request)  # before any read: another role learns nothing
    actors = {a["actor_id"]: UUID(a["actor_id"]) for a in await core.in_thread(_actors, request)
              if a["role"] in LOGIN_ROLES}
    settings = core.services(request).settings

    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        actor_id = read.choice("actor_id", actors)
        username = read.text("username", 64)
        if username and "username" not in read.errors and not USERNAME.match(username):
            read.errors["username"] = read.t("登录名用 3–64 个小写字母、数字、点、横线或下划线，以字母或数字开头。")
        password = str(read.form.get("password") or "")
        if len(password) < max(8, settings.password_chars_min) or len(password) > 256:
            read.errors["password"] = read.t("密码至少 {n} 个字符。").format(n=max(8, settings.password_chars_min))
        elif password != str(read.form.get("password_again") or ""):
            read.errors["password_again"] = read.t("两次输入的密码不一致。")
        read.done()
        body = LoginIn(username=username, password=password, actor_id=actor_id)
        services = core.services(request)
        return lambda: api_logins.create_login(body, principal.actor, services.ledger, services.auth)

    return await _submit(request, form_name="login", render=_logins_page, handle=handle, ok="已开设登录账号",
                         back="/region/logins", refused_field="username")


async def _set_disabled(request: Request, disabled: bool) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        username = read.text("username", 64)
        read.done()
        services = core.services(request)
        if username == principal.username and disabled:
            raise Invalid({"_form": read.t("不能停用当前正在使用的登录账号。")})
        call = api_logins.disable_login if disabled else api_logins.enable_login
        return lambda: call(username, principal.actor, services.ledger, services.auth)

    return await _submit(request, form_name="logins", render=_logins_page, handle=handle,
                         ok="已停用登录账号" if disabled else "已启用登录账号", back="/region/logins")


@router.post("/region/logins/disable")
async def disable_login(request: Request) -> Response:
    return await _set_disabled(request, True)


@router.post("/region/logins/enable")
async def enable_login(request: Request) -> Response:
    return await _set_disabled(request, False)


@router.post("/region/logins/member-reset")
async def reset_member_login(request: Request) -> Response:
    """A member's lost password: the region resets (with a reason) and hands over a one-time code;
    the member sets their own login with it (api/member_access.py). Nobody else sets it."""
    principal = _admin(request)
    form = await core.read_form(request)
    lang = core.lang_of(request)
    read = Reader(form, lang)
    member_id = read.choice("member_id", {str(m["member_id"]): UUID(str(m["member_id"])) for m in
                                          await core.in_thread(_members_named, request, principal,
                                                               str(form.get("member_name") or "").strip()[:64])}
                            if form.get("member_name") else {})
    reason = read.reason(chars_max=200)
    if reason and len(reason) < REASON_CHARS_MIN and "reason" not in read.errors:
        read.errors["reason"] = read.t("请写明理由（至少 {n} 个字）。").format(n=REASON_CHARS_MIN)
    if read.errors:
        return await core.in_thread(_logins_page, request, principal, Submitted("reset", _values(form), read.errors),
                                    422)
    services, ledger = core.services(request), core.ledger_of(request)
    try:
        out = await core.in_thread(api_logins.issue_activation_code, member_id, ActivationIn(reason=reason),
                                   principal.actor, ledger, services)
    except REFUSALS as error:
        if isinstance(error, NotPermitted) or error.code in AUTH_CODES:
            raise
        submitted = Submitted("reset", _values(form), {"_form": _refusal_text(error, lang)})
        return await core.in_thread(_logins_page, request, principal, submitted, http_status_of(error))
    from api.web.pages.logins import expires_text

    response = core.page(request, "activation_code.html", {
        "name": ledger.get_member(member_id).name, "code": out.code, "expires_at": expires_text(out.expires_at),
        "back": "/region/logins"}, principal=principal, title="激活码")
    response.headers["Cache-Control"] = "no-store"
    return response


# -- 密钥: rotate (server-held keys), revoke (with confirmation) ------------------------------------------------

def _keys_page(request: Request, principal: Principal, submitted: Submitted | None = None,
               status_code: int = 200) -> Response:
    ledger = core.ledger_of(request)
    rows = []
    for actor in _actors(request):
        key = ledger.get_key(actor["key_id"])
        rows.append({**actor, "label": key.label, "certified_by": key.certified_by})
    return _render(request, principal, "region/keys.html", "密钥", {"rows": rows}, submitted, status_code)


@router.get("/region/keys")
def keys_page(request: Request) -> Response:
    return _keys_page(request, _admin(request))


@router.post("/region/keys/rotate")
async def rotate_key(request: Request) -> Response:
    _admin(request)  # before any read: another role learns nothing
    actors = {a["actor_id"]: UUID(a["actor_id"]) for a in await core.in_thread(_actors, request)
              if a["role"] is not Role.REGION}  # the region's own key is the province root's to rotate

    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        actor_id = read.choice("actor_id", actors)
        reason = read.reason(chars_max=KEY_REASON_CHARS_MAX)
        read.done()
        body = KeyRotateIn(reason=reason)
        return lambda: api_keys.rotate_key(
            actor_id, body, _command(request, principal, read, f"/v1/actors/{actor_id}/key-rotation"))

    return await _submit(request, form_name="rotate", render=_keys_page, handle=handle,
                         ok="已轮换密钥：新密钥自现在起签名，旧密钥已吊销", back="/region/keys")


@router.post("/region/keys/revoke")
async def revoke_key(request: Request) -> Response:
    _admin(request)  # before any read: another role learns nothing
    keys = {a["key_id"]: a["key_id"] for a in await core.in_thread(_actors, request) if a["role"] is not Role.REGION}

    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        key_id = read.choice("key_id", keys)
        reason = read.reason(chars_max=KEY_REASON_CHARS_MAX)
        if read.form.get("confirm") != "1":
            read.errors["confirm"] = read.t("吊销后该密钥不能再签名，请勾选确认。")
        read.done()
        body = KeyRevokeIn(reason=reason)
        return lambda: api_keys.revoke_key(
            key_id, body, _command(request, principal, read, f"/v1/keys/{key_id}/revocation"))

    return await _submit(request, form_name="revoke", render=_keys_page, handle=handle,
                         ok="已吊销密钥", back="/region/keys")


# -- 积分办法: publish a version, re-score a year -----------------------------------------------------------

RULE_FIELDS = [("points_per_certified_hour", "每认证小时积分"), ("points_per_certified_session", "每次认证服务积分"),
               ("points_per_distinct_item", "每个不同岗位或菜单项积分"), ("points_per_excellent_order", "每个评为优的居民订单积分"),
               ("points_per_adopted_suggestion", "每条被采纳建议积分")]
FACTOR_FIELDS = [("优", "factor_excellent", "“优”的系数（千分比）"), ("良", "factor_good", "“良”的系数（千分比）"),
                 ("一般", "factor_fair", "“一般”的系数（千分比）")]
STAR_FIELDS = [f"star_{n}" for n in range(1, 6)]
# an hour's weight by how it was recorded (issue #15); left blank, 1000 ‰ (as policy v1 weighs every class)
ASSURANCE_FIELDS = [(a, f"assurance_{a}", f"“{text}”的系数（千分比）") for a, text in ASSURANCE_TEXT.items()]


def _policies(request: Request) -> list[Any]:
    ledger = core.ledger_of(request)
    found = []
    for version in range(1, POLICY_VERSIONS_MAX + 1):
        try:
            found.append(ledger.get_scoring_policy(version))
        except NotFound:
            break
    return found


def _policies_page(request: Request, principal: Principal, submitted: Submitted | None = None,
                   status_code: int = 200) -> Response:
    policies = _policies(request)
    region = core.ledger_of(request).get_region()
    latest = policies[-1].rules if policies else {}
    defaults = {name: latest.get(name, "") for name, _ in RULE_FIELDS}
    defaults.update({form_name: latest.get("rating_factor_permille", {}).get(grade, "")
                     for grade, form_name, _ in FACTOR_FIELDS})
    defaults.update({name: (latest.get("star_thresholds") or [""] * 5)[i] for i, name in enumerate(STAR_FIELDS)})
    defaults.update({form_name: latest.get(ASSURANCE_FACTORS, EQUAL_ASSURANCE_FACTORS)[assurance]
                     for assurance, form_name, _ in ASSURANCE_FIELDS})
    return _render(request, principal, "region/policies.html", "积分办法", {
        "policies": policies, "from_year": sorted(region.policy_from_year.items()),
        "by_year": sorted(region.policy_by_year.items()), "next_version": len(policies) + 1,
        "defaults": defaults, "rule_fields": RULE_FIELDS, "factor_fields": FACTOR_FIELDS, "star_fields": STAR_FIELDS,
        "assurance_fields": ASSURANCE_FIELDS, "assurance_text": ASSURANCE_TEXT,
        "year": this_year(), "points_max": POINTS_MAX}, submitted, status_code)


@router.get("/region/policies")
def policies_page(request: Request) -> Response:
    return _policies_page(request, _admin(request))


@router.post("/region/policies")
async def publish_policy(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        version = read.whole("version", 2, 10_000)
        from_year = read.whole("from_year", YEAR_MIN, YEAR_MAX)
        note = read.reason("note", NOTE_CHARS_MAX)
        rules = {name: read.whole(name, 0, POINTS_MAX) for name, _ in RULE_FIELDS}
        factors = {grade: read.whole(form_name, 0, POINTS_MAX) for grade, form_name, _ in FACTOR_FIELDS}
        stars = [read.whole(name, 0, POINTS_MAX) for name in STAR_FIELDS]
        weights = {assurance: read.whole(form_name, 0, POINTS_MAX, required=False)
                   for assurance, form_name, _ in ASSURANCE_FIELDS}
        weighed = {ASSURANCE_FACTORS: {a: 1000 if w is None else w for a, w in weights.items()}} \
            if any(w is not None for w in weights.values()) else {}
        if all(s is not None for s in stars) and any(a >= b for a, b in zip(stars, stars[1:])):  # type: ignore[operator]  # all ints here
            read.errors["star_1"] = read.t("五个星级门槛须逐级递增。")
        read.done()
        body = ScoringPolicyIn(version=version or 2, from_year=from_year or YEAR_MIN, note=note,
                               rules=ScoringRulesIn.model_validate({**rules, "rating_factor_permille": factors,
                                                                    "star_thresholds": stars, **weighed}))
        return lambda: api_region.publish_policy(
            body, _command(request, principal, read, "/v1/region/scoring-policies"))

    return await _submit(request, form_name="publish", render=_policies_page, handle=handle,
                         ok="已发布新版积分办法", back="/region/policies", refused_field="version")


@router.post("/region/rescoring")
async def rescore(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        year = read.whole("year", YEAR_MIN, YEAR_MAX)
        version = read.whole("version", 1, 10_000)
        reason = read.reason()
        read.done()
        body = RescoreIn(year=year or YEAR_MIN, version=version or 1, reason=reason)
        return lambda: api_region.rescore(body, _command(request, principal, read, "/v1/region/rescoring"))

    return await _submit(request, form_name="rescore", render=_policies_page, handle=handle,
                         ok="已按所选版本重新评定该年度", back="/region/policies", refused_field="version")


def _china_time(iso: str) -> str:
    from datetime import datetime

    from ledger.domain.values import CHINA_TIME

    return datetime.fromisoformat(iso).astimezone(CHINA_TIME).strftime("%Y-%m-%d %H:%M")


# -- 联盟地区: the federation registry ------------------------------------------------------------------------

def _peers_page(request: Request, principal: Principal, submitted: Submitted | None = None,
                status_code: int = 200, verdict: dict[str, Any] | None = None) -> Response:
    ledger = core.ledger_of(request)
    region = ledger.get_region()
    captured = settlement.captures_by_peer(ledger)  # 通存通兑 both ways, by this region's own log
    verdicts = settlement.last_verdicts(ledger, region.peers)
    peers = []
    for code, peer in sorted(region.peers.items()):
        both = captured.get(code, settlement.Captures())
        last = verdicts.get(code)
        peers.append({"code": code, **peer, "ours_there": len(both.as_home), "ours_there_minutes": both.we_owe_minutes,
                      "last_settlement": last and {**last, "at": _china_time(last["checked_at"])},
                      "theirs_here": len(both.as_counter), "theirs_here_minutes": both.they_owe_minutes,
                      "net_minutes": both.they_owe_minutes - both.we_owe_minutes,
                      "offline_pending": len(both.offline_pending),
                      "offline_pending_minutes": sum(entry.minutes for entry in both.offline_pending)})
    return _render(request, principal, "region/peers.html", "联盟地区",
                   {"peers": peers, "region": region, "verdict": verdict}, submitted, status_code)


@router.get("/region/peers")
def peers_page(request: Request) -> Response:
    return _peers_page(request, _admin(request))


@router.get("/region/peers/card")
def own_card(request: Request) -> Response:
    """This region's card (JSON), downloaded to hand to another region's administrator."""
    from ledger.application import transfers

    principal = _admin(request)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "region.card")
    card = transfers.region_card(ledger, address=core.services(request).settings.public_url)
    body = json.dumps(card, ensure_ascii=False, indent=2) + "\n"
    return core.download(body.encode("utf-8"), f"region-card-{card['code']}.json")


@router.post("/region/peers")
async def add_peer(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        text = read.text("card", CARD_BYTES_MAX)
        read.done()
        try:
            body = RegionCardIn.model_validate(json.loads(text))
        except (ValueError, ValidationError):
            raise Invalid({"card": read.t("这不是地区名片：请粘贴对方地区导出的名片（JSON）全文。")}) from None
        return lambda: api_transfers.add_peer(body, _command(request, principal, read, "/v1/region/peers"))

    return await _submit(request, form_name="peer", render=_peers_page, handle=handle, ok="已登记联盟地区",
                         back="/region/peers", refused_field="card")


# -- 通存通兑 settlement with a peer: this region's signed statement, and checking the peer's ---------------

STATEMENT_BYTES_MAX = settlement.STATEMENT_BYTES_MAX


@router.post("/region/peers/{code}/settlement")
async def settlement_statement(request: Request, code: str) -> Response:
    """This region's signed settlement statement with a peer (a download; a checkpoint is signed for it)."""
    principal = _admin(request)
    await core.read_form(request)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "settlement.make")
    statement = await core.in_thread(core.services(request).writer.submit,
                                     lambda: settlement.make_statement(ledger, code))
    return core.download(statement, f"settlement-{ledger.region_code}-{code}.json")


@router.post("/region/peers/settlement")
async def settlement_verify(request: Request) -> Response:
    """Check a peer's statement against this region's log: what agrees, and each redemption in dispute."""
    principal = _admin(request)
    form = await core.read_upload_form(request, STATEMENT_BYTES_MAX, "the statement file is too large")
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "settlement.read")
    upload = form.get("file")
    lang = core.lang_of(request)
    data = await upload.read(STATEMENT_BYTES_MAX + 1) if upload is not None and not isinstance(upload, str) else b""
    if not data:
        return _peers_page(request, principal, Submitted("settlement", {}, {
            "file": core.translator(lang)("请选择对方地区出具的结算单文件。")}), status_code=422)
    try:
        verdict = await core.in_thread(settlement.verify_statement, ledger, data)
    except settlement.SettlementRefused as refused:
        return _peers_page(request, principal, Submitted("settlement", {}, {"file": catalogue.message(refused, lang)}),
                           status_code=422)
    return _peers_page(request, principal, verdict=settlement_view(ledger.get_region().peers, verdict))


@router.post("/region/peers/{code}/exchange")
async def settlement_exchange(request: Request, code: str) -> Response:
    """对账 with a peer over HTTP: send this region's statement, check the one it answers with; the page
    shows this region's verdict (and the last 对账 in the table)."""
    principal = _admin(request)
    await core.read_form(request)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "settlement.make")
    authorize(ledger, principal.actor, "settlement.read")
    try:
        done = await core.in_thread(settlement.exchange, ledger, code, peer_http.post_settlement,
                                    core.services(request).writer.submit)
    except (settlement.SettlementRefused, settlement.PeerUnreachable) as refused:
        return _peers_page(request, principal, Submitted("settlement", {}, {
            "_form": catalogue.message(refused, core.lang_of(request))}), status_code=422)
    return _peers_page(request, principal, verdict=settlement_view(ledger.get_region().peers, done.ours))


# -- 节假日安排: the State Council calendar of a year -------------------------------------------------------------

DATE_LIST = re.compile(r"[\s,，、;；]+")


def _calendars_page(request: Request, principal: Principal, submitted: Submitted | None = None,
                    status_code: int = 200) -> Response:
    year_text = request.query_params.get("year", "")
    year = int(year_text) if year_text.isdigit() and YEAR_MIN <= int(year_text) <= YEAR_MAX else this_year() + 1
    calendar = api_region.read_calendar(year, principal.actor, core.ledger_of(request))
    return _render(request, principal, "region/calendars.html", "节假日安排", {"calendar": calendar, "year": year},
                   submitted, status_code)


@router.get("/region/calendars")
def calendars_page(request: Request) -> Response:
    return _calendars_page(request, _admin(request))


def _dates(read: Reader, name: str, count_max: int) -> list[date]:
    text = read.text(name, count_max * 11 + 100, required=False)
    days = []
    for part in (p for p in DATE_LIST.split(text) if p):
        try:
            days.append(date.fromisoformat(part))
        except ValueError:
            read.errors[name] = read.t("“{part}”不是日期：每个日期写成 年-月-日，用空格或逗号分开。").format(part=part[:20])
            return []
    if len(days) > count_max:
        read.errors[name] = read.t("最多 {n} 个日期。").format(n=count_max)
    return days


@router.post("/region/calendars")
async def publish_calendar(request: Request) -> Response:
    def handle(read: Reader, principal: Principal) -> Callable[[], Any]:
        year = read.whole("year", YEAR_MIN, YEAR_MAX)
        holidays = _dates(read, "holidays", HOLIDAYS_PER_YEAR_MAX)
        workdays = _dates(read, "workdays", WORKDAYS_PER_YEAR_MAX)
        source = read.text("source", CALENDAR_SOURCE_CHARS_MAX)
        published_on = read.day("published_on", required=False)
        for name, days in (("holidays", holidays), ("workdays", workdays)):
            if year is not None and any(d.year != year for d in days) and name not in read.errors:
                read.errors[name] = read.t("日期须在 {year} 年之内。").format(year=year)
        read.done()
        assert year is not None
        body = CalendarIn(holidays=holidays, workdays=workdays, source=source, published_on=published_on)
        return lambda: api_region.publish_calendar(
            year, body, _command(request, principal, read, f"/v1/region/calendars/{year}", method="PUT"))

    year = request.query_params.get("year", "")
    return await _submit(request, form_name="calendar", render=_calendars_page, handle=handle,
                         ok="已发布节假日安排", back="/region/calendars" + (f"?year={year}" if year.isdigit() else ""),
                         refused_field="holidays")


__all__ = ["TABS", "router"]
