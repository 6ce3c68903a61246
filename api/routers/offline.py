"""离线兑换 (issue #15): a counter device's own key, offline redemptions synced later, the region's bound.

A counter device (the counter page as an installable web app, or `timeledger client`) signs each
redemption it takes while offline with its own key over the record's canonical bytes
(ledger/signing/offline.py) and syncs it here when the connection returns, in order, once per
redemption id. The ledger re-checks every rule (`Ledger.sync_offline_redemption`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep, ServicesDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import allowed, authorize
from api.schemas.offline import (
    DeviceKeyIn,
    DeviceKeyOut,
    OfflineBoundIn,
    OfflineBoundOut,
    OfflineExposureOut,
    OfflineSyncIn,
    OfflineSyncOut,
)
from ledger.application.accounts import OfflineSyncResult
from ledger.domain.display import duration_text
from ledger.domain.keys import Key
from ledger.signing import keys as ed25519

router = APIRouter(tags=["offline 离线兑换"])


def device_key_out(key: Key) -> DeviceKeyOut:
    return DeviceKeyOut(key_id=key.key_id, label=key.label, registered_at=key.created_on.isoformat(),
                        revoked=key.revoked_at is not None,
                        revoked_at=key.revoked_at.isoformat() if key.revoked_at is not None else None)


def sync_out(result: OfflineSyncResult) -> OfflineSyncOut:
    return OfflineSyncOut(redemption_id=str(result.redemption_id), member_id=str(result.member_id),
                          minutes=result.minutes, owed_added_minutes=result.owed_added_minutes,
                          owed_added_hours=duration_text(result.owed_added_minutes),
                          balance_minutes=result.balance_minutes, balance_hours=duration_text(result.balance_minutes),
                          applied=result.applied)


@router.post("/v1/counter/device-keys", status_code=201, response_model=DeviceKeyOut, responses=COMMAND_RESPONSES,
             summary="登记柜台设备密钥 Register this counter device's key",
             description="柜台设备在浏览器中生成 Ed25519 密钥对（私钥不可导出），联网时由柜台登录提交公钥，由柜台所属社区认证登记；"
                         "同一公钥再次提交返回原登记。/ The device makes its key pair in the browser (the private key "
                         "cannot be exported); the counter's login submits the public key once, online, and the "
                         "counter's community certifies it. The same key again returns its registration.")
def register_device_key(body: DeviceKeyIn, commands: CommandsDep) -> object:
    return register_device(body, commands, "counter.register_device")


def register_device(body: DeviceKeyIn, commands: Any, action: str) -> object:
    """A device's own public key registered for the signed-in actor (a counter's, a community's venue
    device, a member's phone), certified as `Ledger.register_device` says; the same key again: its
    registration."""
    ledger, actor = commands.services.ledger, commands.actor

    def call() -> Key:
        key_id = ledger.register_device(actor=actor, public_key=ed25519.unb64(body.public_key), label=body.label)
        return ledger.device_key(actor=actor, key_id=key_id)

    return commands.run(action=action, body=body, status_code=201, alone=True, present=device_key_out, call=call)


@router.post("/v1/redemptions/offline", status_code=201, response_model=OfflineSyncOut, responses=COMMAND_RESPONSES,
             summary="同步离线兑换 Sync a redemption captured offline",
             description="设备离线时签署的兑换，联网后按序逐笔同步。服务端核对设备密钥（本柜台登记且未吊销）与签名、商品、"
                         "地区离线上限；余额已不足时照常记录（商品已交付），不足部分记为欠扣并提示社区，余额不为负；"
                         "同一 redemption_id 重复同步返回原结果（applied=false）。/ Re-checks the device key "
                         "(this counter's, unrevoked) and its signature, the items and the region's offline bound; a "
                         "balance that no longer covers it leaves the rest owed (flagged to the community), never "
                         "below zero; the same redemption id again is answered with the original result.")
def sync_offline(body: OfflineSyncIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor
    record: dict[str, Any] = body.record.model_dump()
    return commands.run(action="redemption.sync_offline", object_id=body.record.member, body=body,
                        status_code=201, present=sync_out,
                        call=lambda: ledger.sync_offline_redemption(
                            actor=actor, record=record, signature=ed25519.unb64(body.signature),
                            request_id=commands.request_id))


def bound_out(ledger: Any, actor: Any, services: Any) -> OfflineBoundOut:
    region = ledger.get_region()
    exposure = None
    if allowed(ledger, actor, "report.region"):
        from projections import queries as q

        with services.read_models.current() as views:
            found = q.offline_exposure(views)
        exposure = OfflineExposureOut(redemptions=found.redemptions, minutes=found.minutes, short=found.short,
                                      owed_minutes=found.owed_minutes, owed_hours=duration_text(found.owed_minutes))
    return OfflineBoundOut(minutes_per_member_day=region.offline_minutes_per_member_day,
                           minutes_per_device_day=region.offline_minutes_per_device_day,
                           version=region.offline_bound_version, reason=region.offline_bound_reason,
                           exposure=exposure)


@router.get("/v1/region/offline-bound", response_model=OfflineBoundOut, responses=READ_RESPONSES,
            summary="柜台离线兑换上限 The counters' offline bound",
            description="每名党员每日在一个柜台可离线兑换的分钟数（0 为不允许离线兑换）、每台设备每日总量上限及其版本；地区和审计另见离线兑换欠扣"
                        "敞口。/ Minutes per member per day a counter may accept offline (0: none) and the setting's "
                        "version; the region and auditors also see the exposure (what offline syncs left owed).")
def read_offline_bound(actor: ActorDep, ledger: LedgerDep, services: ServicesDep) -> OfflineBoundOut:
    authorize(ledger, actor, "region.read")
    return bound_out(ledger, actor, services)


@router.put("/v1/region/offline-bound", response_model=OfflineBoundOut, responses=COMMAND_RESPONSES,
            summary="设置柜台离线兑换上限 Set the counters' offline bound",
            description="以签名、带版本的地区设置记录，须说明原因；设备联网时获取。/ A signed, versioned region setting "
                        "with its reason; devices receive it while online.")
def set_offline_bound(body: OfflineBoundIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor
    return commands.run(action="region.set_offline_bound", body=body,
                        present=lambda _: bound_out(ledger, actor, commands.services),
                        call=lambda: ledger.set_offline_bound(
                            actor=actor, minutes_per_member_day=body.minutes_per_member_day, reason=body.reason,
                            minutes_per_device_day=body.minutes_per_device_day))
