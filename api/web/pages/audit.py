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

from api import catalogue
from api.catalogue import code_message
from api.policy import authorize
from api.web import core
from api.web.present import evidence_view, settlement_view
from ledger.application import settlement
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
    "bundle_signature_invalid": 0,  # checked last, but it is the file itself that is not the signed copy
}


# The finding for each certificate step that fails (api/catalogue.py has the words, Chinese and English).
CERTIFICATE_CODE_OF_STEP = ["certificate_format_invalid", "certificate_event_invalid", "certificate_checkpoint_invalid",
                            "certificate_inclusion_invalid", "certificate_content_invalid", "certificate_seal_invalid"]
# What a file that is no certificate at all looks like: its first bytes (magic numbers) -> the finding.
FILE_KINDS: list[tuple[bytes, str]] = [
    (b"%PDF-", "file_is_pdf"),
    (b"\x89PNG\r\n\x1a\n", "file_is_image"), (b"\xff\xd8\xff", "file_is_image"), (b"GIF8", "file_is_image"),
    (b"RIFF", "file_is_image"),
    (b"PK\x03\x04", "file_is_archive"), (b"\x1f\x8b", "file_is_archive"), (b"Rar!", "file_is_archive"),
    (b"7z\xbc\xaf", "file_is_archive"), (b"\xd0\xcf\x11\xe0", "file_is_archive"),
]
SNIFF_BYTES = 4096  # control characters in the first KiB or so tell a binary file from text


def sniff(data: bytes) -> str | None:
    """The finding for a file that is plainly not a JSON certificate or bundle, or None. Judged by its
    first bytes, so a PDF of a certificate is named as such instead of failing as broken JSON."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:SNIFF_BYTES]
    for magic, code in FILE_KINDS:
        if head.startswith(magic):
            return code
    if b"\x00" in head or sum(1 for byte in head if byte < 9 or 13 < byte < 32) > len(head) // 20:
        return "file_is_binary"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # a character cut at the window's end is fine
            return "file_is_binary"
    if head[:1] not in (b"{", b"["):
        return "file_not_json"
    return None


def finding(code: str) -> dict[str, str]:
    """A failed verification's reason in both languages, from the catalogue."""
    zh, en = code_message(code)
    return {"reason": zh, "reason_en": en, "code": code}


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


def _steps(names: list[str], failed_at: int | None, found: dict[str, str] | None = None) -> list[dict[str, str]]:
    steps = []
    for index, name in enumerate(names):
        if failed_at is None or index < failed_at:
            state = "ok"
        elif index == failed_at:
            state = "failed"
        else:
            state = "skipped"
        failed = index == failed_at and found is not None
        steps.append({"name": name, "state": state, "reason": found["reason"] if failed and found else "",
                      "reason_en": found["reason_en"] if failed and found else ""})
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
    return core.page(request, "audit.html", {"checkpoint": _checkpoint(request, principal), "result": None,
                                             "peers": _peers(core.ledger_of(request), principal)},
                     principal=principal, title="审计核验")


@router.post("/audit")
async def verify_upload(request: Request) -> Response:
    principal = core.require_principal(request)
    form = await core.read_upload_form(request, UPLOAD_BYTES_MAX,
                                       f"the file is larger than {UPLOAD_BYTES_MAX // (1024 * 1024)} MB")
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise InvalidInput("choose a certificate or bundle file")
    data = await upload.read(UPLOAD_BYTES_MAX + 1)
    if not data or len(data) > UPLOAD_BYTES_MAX:
        raise InvalidInput("the file is empty or too large")
    reference = core.field(form, "reference", required=False, chars_max=300)
    ledger = core.ledger_of(request)
    checkpoint = await core.in_thread(_checkpoint, request, principal)
    if _is_settlement(data):  # 通存通兑: a peer's statement, checked against this region's own log
        authorize(ledger, principal.actor, "settlement.read")
        try:
            verdict = await core.in_thread(settlement.verify_statement, ledger, data)
        except settlement.SettlementRefused as refused:
            return core.page(request, "audit.html", {"checkpoint": checkpoint, "result": None,
                                                     "settlement_error": catalogue.message(refused, core.lang_of(request))},
                             principal=principal, title="审计核验", status_code=422)
        return core.page(request, "audit.html", {"checkpoint": checkpoint, "result": None,
                                                 "verdict": settlement_view(ledger.get_region().peers, verdict)},
                         principal=principal, title="审计核验")
    root = base64.b64decode(ledger.root_public_key())
    result = await core.in_thread(verify_file, data, root, reference, getattr(upload, "filename", "") or "")
    return core.page(request, "audit.html", {"checkpoint": checkpoint, "result": result},
                     principal=principal, title="审计核验")


# -- 通存通兑 settlement evidence: this region's, to take away; and two regions' checked offline ---------


@router.post("/audit/settlement/{code}/evidence")
async def settlement_evidence(request: Request, code: str) -> Response:
    """This region's settlement evidence with a peer (a download; a checkpoint is signed for it)."""
    principal = core.require_principal(request)
    await core.read_form(request)
    ledger = core.ledger_of(request)
    authorize(ledger, principal.actor, "settlement.read_evidence")
    evidence = await core.in_thread(core.services(request).writer.submit,
                                    lambda: settlement.make_evidence(ledger, code))
    return core.download(evidence, f"settlement-evidence-{ledger.region_code}-{code}.json")


EVIDENCE_BYTES_MAX = UPLOAD_BYTES_MAX // 2  # two files in one upload


@router.post("/audit/settlement")
async def settlement_audit(request: Request) -> Response:
    """Two regions' settlement evidence, checked offline with the root keys alone (this region's root,
    and another the auditor pastes when the other region has its own)."""
    from ledger.verification.settlement import audit_evidence

    principal = core.require_principal(request)
    form = await core.read_upload_form(request, UPLOAD_BYTES_MAX,
                                       f"the files are larger than {UPLOAD_BYTES_MAX // (1024 * 1024)} MB together")
    ledger = core.ledger_of(request)
    other_root = core.field(form, "other_root", required=False, chars_max=100)
    files = []
    for name in ("first", "second"):
        upload = form.get(name)
        files.append(b"" if upload is None or isinstance(upload, str) else await upload.read(EVIDENCE_BYTES_MAX + 1))
    roots = [base64.b64decode(ledger.root_public_key())]
    error = None
    if not all(files):
        error = "请选择两个地区的证据包文件。"
    elif any(len(data) > EVIDENCE_BYTES_MAX for data in files):
        error = "证据包文件过大。"
    elif other_root:
        try:
            raw = base64.b64decode(other_root.split()[-1], validate=True)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            error = "另一方的省级根公钥格式不对（应为 32 字节公钥的 base64）。"
        roots.append(raw)
    context = {"result": None, "peers": _peers(ledger, principal), "other_root": other_root}
    if error is not None:  # what was typed stays; nothing was checked
        return core.page(request, "audit.html", {**context, "checkpoint": await core.in_thread(_checkpoint, request, principal),
                                                 "evidence_error": error},
                         principal=principal, title="审计核验", status_code=422)
    audit = await core.in_thread(audit_evidence, files[0], files[1], roots)
    checkpoint = await core.in_thread(_checkpoint, request, principal)
    return core.page(request, "audit.html", {**context, "checkpoint": checkpoint,
                                             "evidence": evidence_view(audit, core.lang_of(request), _names(ledger))},
                     principal=principal, title="审计核验")


def _peers(ledger: Any, principal: Any) -> list[dict[str, str]]:
    """The peers whose settlement evidence this signed-in role may take away (none for others)."""
    from api.policy import allowed

    if not allowed(ledger, principal.actor, "settlement.read_evidence"):
        return []
    return [{"code": code, "name": peer.get("name", code)} for code, peer in sorted(ledger.get_region().peers.items())]


def _names(ledger: Any) -> dict[str, str]:
    region = ledger.get_region()
    return {**{code: peer.get("name", code) for code, peer in region.peers.items()}, ledger.region_code: region.name}


def _is_settlement(data: bytes) -> bool:
    """A settlement statement (its body names the format); anything else is a certificate or bundle."""
    try:
        document = loads_bounded(data)
    except JsonInputError:
        return False
    body = document.get("body") if isinstance(document, dict) else None
    return isinstance(body, dict) and body.get("format") == settlement.FORMAT


def verify_file(data: bytes, root: bytes, reference: str, filename: str) -> dict[str, Any]:
    """Verify an uploaded certificate or transfer bundle; the steps, and what it proves."""
    from ledger.application import transfers

    def refused(code: str) -> dict[str, Any]:
        found = finding(code)
        return {"kind": "certificate", "filename": filename, "size": len(data), "ok": False, **found,
                "steps": _steps(CERTIFICATE_STEPS, 0, found)}

    sniffed = sniff(data)
    if sniffed is not None:
        return refused(sniffed)
    try:
        document = loads_bounded(data)
    except JsonInputError as error:  # nested too deep, not UTF-8, a lone surrogate …: neither kind of file
        return refused("json_too_deep" if "deep" in str(error) else "file_not_json")
    kind = document.get("format") if isinstance(document, dict) else None
    if kind == transfers.BUNDLE_FORMAT:
        return _verify_bundle(data, root, document, filename)
    if not isinstance(document, dict) or not isinstance(kind, str):
        return refused("file_not_certificate")
    return _verify_certificate(data, root, reference, filename)


def _verify_certificate(data: bytes, root: bytes, reference: str, filename: str) -> dict[str, Any]:
    from ledger.signing.note import NoteError, parse_note
    from ledger.verification.certificates import CertificateError, parse_reference, verify_certificate

    result: dict[str, Any] = {"kind": "certificate", "filename": filename, "size": len(data)}
    try:
        verified = verify_certificate(data, root)
    except CertificateError as error:
        step = certificate_step_of(str(error))
        found = finding(CERTIFICATE_CODE_OF_STEP[step])
        result.update(ok=False, steps=_steps(CERTIFICATE_STEPS, step, found), detail=str(error)[:500], **found)
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
        result.update(finding("certificate_reference_mismatch"))
    return result


def _verify_bundle(data: bytes, root: bytes, document: dict[str, Any], filename: str) -> dict[str, Any]:
    from ledger.application import transfers

    result: dict[str, Any] = {"kind": "bundle", "filename": filename, "size": len(data)}
    destination = str(document.get("destination") or "")
    try:
        verified = transfers.verify_bundle(data, root_public_key=root, destination=destination, source_key_id=None)
    except transfers.TransferRefused as error:
        step = BUNDLE_STEP_OF_CODE.get(error.code, 0)
        found = finding(error.code)
        result.update(ok=False, steps=_steps(BUNDLE_STEPS, step, found), detail=error.detail[:500], **found)
        return result
    except LedgerError as error:
        found = finding(error.code)
        result.update(ok=False, steps=_steps(BUNDLE_STEPS, 0, found), detail=error.detail[:500], **found)
        return result
    summary = [(origin, year, values.get("sessions", 0), values.get("certified_minutes", 0))
               for origin, years in sorted(verified.summary.items()) for year, values in sorted(years.items())]
    result.update(ok=True, steps=_steps(BUNDLE_STEPS, None), bundle=verified, destination=destination,
                  summary=summary)
    return result
