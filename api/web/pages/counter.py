"""爱心超市收银台 The counter: look up a member's balance, redeem catalogue items, print a receipt.

Exactly one charge per basket: the page's script makes a redemption id once per basket (before the
first attempt) and sends it both as the redemption's `redemption_id` and as the `Idempotency-Key`.
A double click, a retry after a lost answer or a reload re-sends the same id, and the API's own
`redeem` route (run here through the same `Commands` runner) applies it once: the idempotency store
replays the stored answer, and the time account itself refuses to apply a redemption id twice.

A member of another region (通存通兑, issue #14): the QR's `region=` names the member's home region.
When it is a registered peer of this region the page takes the member by the QR alone (no balance can
be looked up here: the home region answers for it) and posts the basket to `/counter/redeem-anywhere`,
the API's `POST /v1/redemptions/anywhere`; its redemption id makes it once-only the same way (the
counter's record and the home region's hold are both keyed by it, a retry sends the same signed
request and gets the same signed answer). Offline, such a member is refused: only home can say yes.

Without a connection (issue #15) the page keeps working as an installable web app: static/counter-sw.js
keeps the page and its files, static/counter-offline.js signs each redemption with the device's own
key (made in the browser, registered once online and certified by the counter's community), queues it
as 待同步 and syncs it here (`/counter/offline/sync`, the API's `POST /v1/redemptions/offline`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api.errors import REFUSALS, http_status_of
from api.policy import allowed, authorize
from api.routers import anywhere as api_anywhere
from api.routers import communities as api_communities
from api.routers import members as api_members
from api.routers import offline as api_offline
from api.routers import redemptions as api_redemptions
from api.schemas.anywhere import RemoteRedemptionIn
from api.schemas.offline import DeviceKeyIn, OfflineSyncIn
from api.schemas.service import RedemptionIn
from api.web import core, i18n
from ledger.domain.base import utc_now
from ledger.domain.errors import InvalidInput, LedgerError, OfflineRecordInvalid
from ledger.domain.values import Role

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
# the installable web app's two files: no data in them, fetched by the browser without the sign-in
# (a manifest is fetched without credentials), so plain routes outside the pages' sign-in
app_files = APIRouter(include_in_schema=False)
REDEEM_BYTES_MAX = 16 * 1024
M = TypeVar("M", bound=BaseModel)
SEARCH_RESULTS_MAX = 10  # a clerk picks from a short list; more means: type more of the name
SEARCH_SCAN_MAX = 2000  # members of one community whose phone is compared (a bound on decryption work)
SEARCH_CHARS_MAX = 20  # a name fragment or four digits
PHONE_TAIL_DIGITS = 4


@router.get("/counter")
def counter_page(request: Request) -> Response:
    principal = core.require_principal(request, Role.COUNTER)
    ledger = core.ledger_of(request)
    counter = api_communities.read_counter(principal.actor.actor_id, principal.actor, ledger)  # counter.read
    community = api_communities.read_community(counter.community_id, principal.actor, ledger)  # community.read
    items = [item for item in community.catalogue if not item.delisted]
    region = ledger.get_region()
    peers = {code: str(peer.get("name", code)) for code, peer in sorted(region.peers.items())}  # 通存通兑
    return core.page(request, "counter.html", {
        "counter": counter, "community": community, "items": items, "region_code": region.code, "peers": peers,
        "confirm_identity": bool(getattr(region, "counter_confirmation", False)),
        "offline_bound": region.offline_minutes_per_member_day, "offline_version": region.offline_bound_version,
        "offline_device_bound": region.offline_minutes_per_device_day},
        principal=principal, title="爱心超市收银台")


@router.get("/counter/balance")
def counter_balance(request: Request, member: str) -> Response:
    """The member's available minutes (policy `balance.read`), as JSON for the page's script."""
    principal = core.require_principal(request, Role.COUNTER)
    lang = core.lang_of(request)
    try:
        member_id = UUID(member.strip())
    except ValueError:
        return JSONResponse({"code": "invalid_member_code",
                             "message": i18n.text("党员编号格式不对，请重新扫码或输入。", lang)}, status_code=422)
    try:  # the API's GET /v1/members/{id}/balance (policy balance.read)
        balance = api_members.read_balance(member_id, principal.actor, core.ledger_of(request))
    except REFUSALS as error:
        return JSONResponse({"code": error.code, "message": i18n.error_text(error, lang)},
                            status_code=http_status_of(error))
    identity = _identity(request, principal, member_id)
    return JSONResponse({"member_id": str(member_id), "balance_minutes": balance.balance_minutes,
                         "balance_hours": balance.balance_hours, "status": balance.status, **identity},
                        headers={"Cache-Control": "no-store"})


def mask_phone(phone: str) -> str:
    """138****1234: enough for the clerk to ask "the number ending 1234?", not enough to call it."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) < PHONE_TAIL_DIGITS + 3:
        return "*" * len(digits)
    if len(digits) == 11:
        return f"{digits[:3]}****{digits[-PHONE_TAIL_DIGITS:]}"
    return "*" * (len(digits) - PHONE_TAIL_DIGITS) + digits[-PHONE_TAIL_DIGITS:]


def _counter_community(request: Request, principal: Any) -> UUID:
    counter = api_communities.read_counter(principal.actor.actor_id, principal.actor, core.ledger_of(request))
    return counter.community_id


def _phone_of(ledger: Any, member_id: UUID) -> str:
    """The member's own phone, read through the sealed-field access (never logged); "" when none or erased."""
    try:
        return str(ledger.member_personal_data(member_id).get("mobile", ""))
    except LedgerError:  # erased (crypto-shredded): nothing to show
        return ""


def _identity(request: Request, principal: Any, member_id: UUID) -> dict[str, Any]:
    """Name and masked phone for a member of the counter's own community (policy `member.identify`);
    for a member of another community (通存通兑) only that fact: the clerk checks the member's card."""
    ledger = core.ledger_of(request)
    member = ledger.get_member(member_id)
    community_id = _counter_community(request, principal)
    if member.community_id != community_id or not allowed(ledger, principal.actor, "member.identify", community_id):
        return {"identified": False}
    return {"identified": True, "name": member.name, "phone_masked": mask_phone(_phone_of(ledger, member_id))}


@router.get("/counter/search")
def counter_search(request: Request, q: str = "") -> Response:
    """Members of the counter's community by name, or by the last four digits of their phone
    (policy `member.identify`): at most SEARCH_RESULTS_MAX, each with the masked phone."""
    from projections import queries as queries

    principal = core.require_principal(request, Role.COUNTER)
    lang = core.lang_of(request)
    text = q.strip()
    if not text or len(text) > SEARCH_CHARS_MAX:
        return JSONResponse({"code": "invalid_search", "message": i18n.text(
            "请输入姓名，或手机号后4位数字。", lang), "query": text[:SEARCH_CHARS_MAX]}, status_code=422)
    by_phone = text.isascii() and text.isdigit()
    if by_phone and len(text) != PHONE_TAIL_DIGITS:
        return JSONResponse({"code": "invalid_search", "message": i18n.text(
            "按手机号查找请输入后4位数字。", lang), "query": text}, status_code=422)
    ledger = core.ledger_of(request)
    community_id = _counter_community(request, principal)
    authorize(ledger, principal.actor, "member.identify", community_id)
    with core.services(request).read_models.current() as views:
        rows = queries.members(views, community_id=str(community_id))
    rows = [r for r in rows if r.closed_on is None][:SEARCH_SCAN_MAX]
    found: list[dict[str, str]] = []
    for row in rows:
        if len(found) >= SEARCH_RESULTS_MAX:
            break
        if not by_phone and text not in row.name:
            continue
        phone = _phone_of(ledger, UUID(row.member_id)) if row.has_personal and not row.personal_erased else ""
        if by_phone and not phone.endswith(text):
            continue
        found.append({"member_id": row.member_id, "name": row.name, "phone_masked": mask_phone(phone)})
    message = "" if found else i18n.text("本社区没有找到符合的党员。", lang)
    return JSONResponse({"items": found, "message": message}, headers={"Cache-Control": "no-store"})


async def _page_command(request: Request, model: type[M], *, bytes_max: int, too_large: LedgerError,
                        invalid: LedgerError, run: Callable[[Any, M, str], Response]) -> Response:
    """The counter page's JSON commands (`core.json_command` for the counter's session)."""
    return await core.json_command(request, Role.COUNTER, model, bytes_max=bytes_max, too_large=too_large,
                                   invalid=invalid, run=run)


@router.post("/counter/redeem")
async def counter_redeem(request: Request) -> Response:
    """The API's `POST /v1/redemptions`, with the session's actor and the redemption id as the key."""
    def run(principal: Any, body: RedemptionIn, lang: str) -> Response:
        commands = core.commands_for(request, principal, path="/v1/redemptions",
                                     idempotency_key=str(body.redemption_id))
        try:
            return api_redemptions.redeem(body, commands)  # type: ignore[return-value]  # the API's answer, returned as the page's
        except REFUSALS as error:
            extra: dict[str, Any] = {}
            if error.code == "balance_would_go_negative":
                try:  # what the clerk needs to tell the member: the balance now (balance.read)
                    balance = api_members.read_balance(body.member_id, principal.actor, core.ledger_of(request))
                    extra = {"balance_minutes": balance.balance_minutes, "balance_hours": balance.balance_hours}
                except LedgerError:
                    pass
            return core.json_refusal(error, lang, extra)

    return await _page_command(request, RedemptionIn, bytes_max=REDEEM_BYTES_MAX, run=run,
                               too_large=InvalidInput("the basket is too large"),
                               invalid=InvalidInput("the basket is not a valid redemption"))


@router.post("/counter/redeem-anywhere")
async def counter_redeem_anywhere(request: Request) -> Response:
    """通存通兑: the API's `POST /v1/redemptions/anywhere` with the session's actor. Once per redemption id
    (the page's Idempotency-Key is that id): a second attempt finds the counter's record, or sends home
    the same signed request and gets the same answer. 201 once home holds the minutes (the capture
    follows in the background, as in the API); a refusal says why in the page's language."""
    services = core.services(request)

    def run(principal: Any, body: RemoteRedemptionIn, lang: str) -> Response:
        background = BackgroundTasks()
        answer = api_anywhere.redeem_anywhere(body, principal.actor, services, background)
        return JSONResponse(answer.model_dump(mode="json"), status_code=201, background=background)

    return await _page_command(request, RemoteRedemptionIn, bytes_max=REDEEM_BYTES_MAX, run=run,
                               too_large=InvalidInput("the basket is too large"),
                               invalid=InvalidInput("the basket is not a valid cross-region redemption"))




# -- offline capture (离线兑换, issue #15): the device's key, the region's bound, the sync -----------------
# The page is an installable web app: /counter/sw.js caches the page and its files so it opens without a
# connection; static/counter-offline.js keeps the device's key (Ed25519, made in the browser, private half
# not extractable) and the queue of records signed offline in IndexedDB, and syncs them in order here.
SYNC_BYTES_MAX = 32 * 1024
DEVICE_LABEL = "爱心超市收银台设备"
SERVICE_WORKER = core.HERE / "static" / "counter-sw.js"
MANIFEST = {
    "name": "爱心超市收银台", "short_name": "收银台", "lang": "zh-CN", "start_url": "/counter", "scope": "/counter",
    "display": "standalone", "background_color": "#ffffff", "theme_color": "#b71c1c",
    "icons": [{"src": "/static/favicon.svg", "sizes": "any", "type": "image/svg+xml"}],
}


@app_files.get("/counter/sw.js")
def counter_service_worker() -> Response:
    """The counter's service worker, allowed to control /counter (the page itself) from /counter/."""
    return Response(SERVICE_WORKER.read_bytes(), media_type="text/javascript", headers={
        "Service-Worker-Allowed": "/counter", "Cache-Control": "no-cache"})


@app_files.get("/counter/manifest.webmanifest")
def counter_manifest() -> Response:
    return JSONResponse(MANIFEST, media_type="application/manifest+json")


@router.get("/counter/offline/config")
def counter_offline_config(request: Request, key: str = "") -> Response:
    """What the device needs while online: the region's offline bound and its version, the ledger's
    clock (the device signs its records in the ledger's time), and the state of the device's key."""
    principal = core.require_principal(request, Role.COUNTER)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "region.read")
    region = ledger.get_region()
    device: dict[str, Any] | None = None
    if key:
        try:
            found = api_offline.device_key_out(ledger.device_key(actor=principal.actor, key_id=key[:64]))
            device = {"registered": True, "revoked": found.revoked, "key_id": found.key_id}
        except LedgerError:
            device = {"registered": False, "revoked": False, "key_id": key[:64]}
    return JSONResponse({"region": region.code, "counter": str(principal.actor.actor_id),
                         "bound_minutes": region.offline_minutes_per_member_day,
                         "device_bound_minutes": region.offline_minutes_per_device_day,
                         "bound_version": region.offline_bound_version,
                         "server_now": utc_now().isoformat(timespec="milliseconds"), "device": device},
                        headers={"Cache-Control": "no-store"})


async def register_device_page(request: Request, role: Role, api_path: str, action: str) -> Response:
    """A page's script registering its device's public key (once, while online): the API's own route at
    `api_path` (`api/routers/offline.register_device`) with the session's actor of `role`."""
    def run(principal: Any, body: DeviceKeyIn, lang: str) -> Response:
        commands = core.commands_for(request, principal, path=api_path)
        return api_offline.register_device(body, commands, action)  # type: ignore[return-value]  # the API's answer

    return await core.json_command(request, role, DeviceKeyIn, bytes_max=REDEEM_BYTES_MAX, run=run,
                                   too_large=InvalidInput("the key is too large"),
                                   invalid=InvalidInput("not an Ed25519 public key"))


@router.post("/counter/device")
async def counter_register_device(request: Request) -> Response:
    """The API's `POST /v1/counter/device-keys` for this device's public key (once, while online)."""
    return await register_device_page(request, Role.COUNTER, "/v1/counter/device-keys", "counter.register_device")


@router.post("/counter/offline/sync")
async def counter_offline_sync(request: Request) -> Response:
    """The API's `POST /v1/redemptions/offline` for one queued record, its redemption id as the key."""
    def run(principal: Any, body: OfflineSyncIn, lang: str) -> Response:
        commands = core.commands_for(request, principal, path="/v1/redemptions/offline",
                                     idempotency_key=body.record.redemption_id)
        return api_offline.sync_offline(body, commands)  # type: ignore[return-value]  # the API's answer

    return await _page_command(request, OfflineSyncIn, bytes_max=SYNC_BYTES_MAX, run=run,
                               too_large=InvalidInput("the offline record is too large"),
                               invalid=OfflineRecordInvalid("not an offline record"))
