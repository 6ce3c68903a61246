"""审计核验 The auditor: upload an hour certificate or a transfer bundle and see it verified step by
step, offline, with the province root key alone (`verify_certificate` / `verify_bundle`, the same
functions as `timeledger certificate verify`); the latest signed checkpoint and its witnesses.

Verification reads nothing from the ledger but its trust root, so any signed-in role may use it (a
unit checking a certificate a member handed in); the checkpoint panel needs `log.read`.
"""

from __future__ import annotations

import base64
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.policy import authorize
from api.web import core
from ledger.domain.errors import InvalidInput, LedgerError
from ledger.signing.canonical import JsonInputError, loads_bounded

router = APIRouter(route_class=core.WebRoute, include_in_schema=False)
UPLOAD_BYTES_MAX = 64 * 1024 * 1024  # the HTTP bound the API uses for bundles

CERTIFICATE_STEPS = [
    "文件格式：规范 JSON、字段齐全、证书编号与地区一致",
    "每条事件：签名、签名密钥经省级根公钥认证且未吊销、哈希链、按领域规则重放",
    "区级检查点：由本地区密钥签名（附带的见证签名另列）",
    "包含证明：每条事件都收录在检查点的默克尔树中",
    "内容：党员、每条服务均为本人且经所在社区认证、在统计期间内，重新累计时长与证书所载一致",
    "区级印章：覆盖证书表头和全部事件，出具后未被改动",
]
BUNDLE_STEPS = [
    "文件可读、格式正确",
    "来源地区密钥经省级根公钥认证",
    "全部事件：签名、密钥链、哈希链",
    "转出记录：党员与账户已冻结，余额与重放结果一致",
    "收录于来源地区签名的检查点（包含证明）",
    "以往地区的转移包（多次转移时）",
]
BUNDLE_STEP_OF_CODE = {
    "bundle_unreadable": 0, "bundle_too_large": 0, "bundle_wrong_destination": 0,
    "peer_certificate_invalid": 1, "peer_not_certified_by_root": 1, "source_key_mismatch": 1,
    "bundle_event_invalid": 2,
    "bundle_transfer_invalid": 3, "bundle_history_invalid": 3, "bundle_balance_mismatch": 3,
    "bundle_merkle_invalid": 4, "bundle_prior_invalid": 5,
}


def certificate_step_of(message: str) -> int:
    """Which of CERTIFICATE_STEPS a `CertificateError` message belongs to (they are checked in order)."""
    if "seal" in message:
        return 5
    if "not proven to be in the region's log" in message:
        return 3
    if message.startswith(("session ", "the certificate claims", "the certificate lacks", "the certificate names",
                           "member id")) or "has no place in an hour certificate" in message:
        return 4
    if "checkpoint" in message and not message.startswith("events["):
        return 2
    if message.startswith(("event ", "the events could not be checked")):
        return 1
    return 0


def _steps(names: list[str], failed_at: int | None, reason: str = "") -> list[dict[str, str]]:
    steps = []
    for index, name in enumerate(names):
        if failed_at is None or index < failed_at:
            state = "ok"
        elif index == failed_at:
            state = "failed"
        else:
            state = "skipped"
        steps.append({"name": name, "state": state, "reason": reason if index == failed_at else ""})
    return steps


def _checkpoint(request: Request, principal: Any) -> dict[str, Any] | None:
    from ledger.storage.checkpoints import CheckpointStore
    from ledger.verification.checkpoints import check_consistency
    from ledger.storage.merkle_log import MerkleLog

    ledger = core.ledger_of(request)
    if not core.may(request, principal, "log.read"):
        return None
    authorize(ledger, principal.actor, "log.read")  # the row GET /v1/log/checkpoint uses
    log = MerkleLog.for_ledger(ledger)
    store = CheckpointStore.for_log(log)
    latest = store.latest()
    if latest is None:
        return {"none": True}
    previous = store.before(latest)
    consistent: bool | None = None
    if previous is not None:
        try:
            check_consistency(log, previous, latest)
            consistent = True
        except Exception:  # noqa: BLE001 - any failure is shown as "not consistent"
            consistent = False
    return {"none": False, "id": latest.checkpoint_id, "size": latest.size, "root": latest.root.hex(),
            "time": latest.time, "key_id": latest.key_id, "note": latest.note, "origin": latest.origin,
            "witnesses": [(name, key.hex()) for name, key in latest.witnesses()],
            "previous": previous.size if previous is not None else None, "consistent": consistent,
            "log_size": log.size}


@router.get("/audit")
def audit_page(request: Request) -> Response:
    principal = core.require_principal(request)
    return core.page(request, "audit.html", {"checkpoint": _checkpoint(request, principal), "result": None},
                     principal=principal, title="审计核验")


@router.post("/audit")
async def verify_upload(request: Request) -> Response:
    principal = core.require_principal(request)
    if int(request.headers.get("content-length") or 0) > UPLOAD_BYTES_MAX:
        raise InvalidInput(f"the file is larger than {UPLOAD_BYTES_MAX // (1024 * 1024)} MB")
    form = await request.form(max_part_size=64 * 1024)
    sent = form.get(core.CSRF_FIELD)
    core.check_csrf(request, sent if isinstance(sent, str) else None)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("choose a certificate or bundle file")
    data = await upload.read(UPLOAD_BYTES_MAX + 1)
    if not data or len(data) > UPLOAD_BYTES_MAX:
        raise InvalidInput("the file is empty or too large")
    reference = core.field(form, "reference", required=False, chars_max=300)
    root = base64.b64decode(core.ledger_of(request).root_public_key())
    result = await core.in_thread(verify_file, data, root, reference, getattr(upload, "filename", "") or "")
    checkpoint = await core.in_thread(_checkpoint, request, principal)
    return core.page(request, "audit.html", {"checkpoint": checkpoint, "result": result},
                     principal=principal, title="审计核验")


def verify_file(data: bytes, root: bytes, reference: str, filename: str) -> dict[str, Any]:
    """Verify an uploaded certificate or transfer bundle; the steps, and what it proves."""
    try:
        document = loads_bounded(data)
    except JsonInputError as error:  # nested too deep, not UTF-8, a lone surrogate …: neither kind of file
        reason = f"文件不是可核验的证明或转移包 / not a certificate or bundle: {error}"
        return {"kind": "certificate", "filename": filename, "size": len(data), "ok": False, "reason": reason,
                "steps": _steps(CERTIFICATE_STEPS, 0, reason)}
    kind = document.get("format") if isinstance(document, dict) else None
    from ledger.application import transfers

    if kind == transfers.BUNDLE_FORMAT:
        return _verify_bundle(data, root, document, filename)
    return _verify_certificate(data, root, reference, filename)


def _verify_certificate(data: bytes, root: bytes, reference: str, filename: str) -> dict[str, Any]:
    from ledger.signing.note import NoteError, parse_note
    from ledger.verification.certificates import CertificateError, parse_reference, verify_certificate

    result: dict[str, Any] = {"kind": "certificate", "filename": filename, "size": len(data)}
    try:
        verified = verify_certificate(data, root)
    except CertificateError as error:
        message = str(error)
        result.update(ok=False, reason=message, steps=_steps(CERTIFICATE_STEPS, certificate_step_of(message), message))
        return result
    reference_ok: bool | None = None
    if reference:
        try:
            reference_ok = parse_reference(reference) == (verified.number, verified.bundle_sha256,
                                                          verified.total_minutes)
        except CertificateError:
            reference_ok = False
    try:
        cosigners = sorted({s.name for s in parse_note(loads_bounded(data)["checkpoint"]).signatures
                            if s.name != verified.checkpoint.origin})
    except (NoteError, ValueError, KeyError, TypeError):
        cosigners = []
    result.update(
        ok=reference_ok is not False, steps=_steps(CERTIFICATE_STEPS, None), verified=verified,
        reference_ok=reference_ok, cosigners=cosigners, sessions=verified.sessions,
        root_hash=verified.checkpoint.root_hash.hex())
    if reference_ok is False:
        result["reason"] = "二维码内容与此文件不符（编号、SHA-256 或时长不同）"
    return result


def _verify_bundle(data: bytes, root: bytes, document: dict[str, Any], filename: str) -> dict[str, Any]:
    from ledger.application import transfers

    result: dict[str, Any] = {"kind": "bundle", "filename": filename, "size": len(data)}
    destination = str(document.get("destination") or "")
    try:
        verified = transfers.verify_bundle(data, root_public_key=root, destination=destination, source_key_id=None)
    except transfers.TransferRefused as error:
        step = BUNDLE_STEP_OF_CODE.get(error.code, 0)
        result.update(ok=False, reason=f"{error.code}: {error.detail}",
                      steps=_steps(BUNDLE_STEPS, step, f"{error.code}: {error.detail}"))
        return result
    except LedgerError as error:
        result.update(ok=False, reason=error.detail, steps=_steps(BUNDLE_STEPS, 0, error.detail))
        return result
    summary = [(origin, year, values.get("sessions", 0), values.get("certified_minutes", 0))
               for origin, years in sorted(verified.summary.items()) for year, values in sorted(years.items())]
    result.update(ok=True, steps=_steps(BUNDLE_STEPS, None), bundle=verified, destination=destination,
                  summary=summary)
    return result
