"""The region's Merkle log over HTTP: signed checkpoints (periodic and on demand), inclusion and
consistency proofs as the same files the CLI writes, and hour certificates (志愿服务证明)."""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES, json_errors
from api.policy import authorize
from ledger.domain.errors import InvalidInput, NotFound
from ledger.verification import proofs
from ledger.application.certificates import issue_certificate
from ledger.verification.certificates import CertificateError
from projections.render.certificate import render_certificate_pdf
from ledger.application.checkpoints import sign_checkpoint
from ledger.storage.checkpoints import CheckpointStore, StoredCheckpoint
from ledger.storage.merkle_log import MerkleLog

router = APIRouter(tags=["log 签名日志"])
log = logging.getLogger(__name__)


class CheckpointOut(BaseModel):
    id: int
    size: int = Field(description="树中事件数 / leaves in the tree")
    root: str = Field(description="根哈希（hex）/ root hash, hex")
    time: str
    key_id: str
    note: str = Field(description="C2SP 签名检查点全文 / the signed C2SP checkpoint note")
    witnesses: list[str] = Field(description="见证地区 / names of the witnesses that cosigned")


def _out(checkpoint: StoredCheckpoint) -> CheckpointOut:
    return CheckpointOut(id=checkpoint.checkpoint_id, size=checkpoint.size, root=checkpoint.root.hex(), time=checkpoint.time,
                         key_id=checkpoint.key_id, note=checkpoint.note,
                         witnesses=[name for name, _ in checkpoint.witnesses()])


@router.get("/v1/log/checkpoint", response_model=CheckpointOut, responses=READ_RESPONSES,
            summary="最新签名检查点 The latest signed checkpoint")
def latest_checkpoint(actor: ActorDep, ledger: LedgerDep) -> CheckpointOut:
    authorize(ledger, actor, "log.read")
    checkpoint = CheckpointStore.for_log(MerkleLog.for_ledger(ledger)).latest()
    if checkpoint is None:
        raise NotFound("no checkpoint has been signed yet")
    return _out(checkpoint)


@router.post("/v1/log/checkpoints", response_model=CheckpointOut, responses=COMMAND_RESPONSES,
             summary="签发检查点 Sign a checkpoint now",
             description="追上日志并由本区密钥签名；日志未变时返回最新检查点。/ Catch the log up and sign; returns the "
                         "latest checkpoint when the log has not grown.")
def new_checkpoint(actor: ActorDep, ledger: LedgerDep, commands: CommandsDep) -> CheckpointOut:
    authorize(ledger, actor, "log.checkpoint")
    checkpoint = commands.services.writer.submit(lambda: sign_checkpoint(ledger, reuse_latest=True), alone=True)
    return _out(checkpoint)


@router.get("/v1/log/proofs/inclusion", response_class=PlainTextResponse, responses=json_errors(READ_RESPONSES),
            summary="包含证明 Inclusion proof (tlog-proof file)",
            description="按位置或按 记录+版本 指定事件。/ Name the event by its position, or by aggregate and version.")
def inclusion(actor: ActorDep, ledger: LedgerDep,
              position: Annotated[int | None, Query(ge=1, le=proofs.LOG_POSITION_MAX)] = None,
              aggregate_id: UUID | None = None,
              version: Annotated[int | None, Query(ge=1, le=proofs.EVENT_VERSION_MAX)] = None) -> Response:
    authorize(ledger, actor, "log.read")
    if (position is None) == (aggregate_id is None or version is None):
        raise InvalidInput("give either position, or aggregate_id and version")
    merkle_log = MerkleLog.for_ledger(ledger)
    event = (str(aggregate_id), version) if aggregate_id is not None and version is not None else None
    leaf = _leaf(merkle_log, position, event)
    checkpoint = CheckpointStore.for_log(merkle_log).latest()
    if checkpoint is None or leaf.index >= checkpoint.size:
        raise NotFound("the event is not covered by a signed checkpoint yet: sign one first")
    return PlainTextResponse(proofs.inclusion_file(merkle_log, checkpoint, leaf))


def _leaf(merkle_log: MerkleLog, position: int | None, event: tuple[str, int] | None) -> Any:
    try:
        return proofs.leaf_for(merkle_log, position=position, event=event)
    except (LookupError, ValueError) as error:
        raise NotFound(f"no such event in the log: {error}") from None


@router.get("/v1/log/proofs/consistency", response_class=PlainTextResponse,
            responses=json_errors(READ_RESPONSES),
            summary="一致性证明 Consistency proof between two tree sizes")
def consistency(actor: ActorDep, ledger: LedgerDep,
                size_from: Annotated[int, Query(alias="from", ge=1, le=proofs.LOG_POSITION_MAX)],
                size_to: Annotated[int, Query(alias="to", ge=1, le=proofs.LOG_POSITION_MAX)]) -> Response:
    authorize(ledger, actor, "log.read")
    try:
        return PlainTextResponse(proofs.consistency_file(MerkleLog.for_ledger(ledger), size_from, size_to))
    except proofs.ProofFileError as error:
        raise InvalidInput(str(error)) from None


@router.post("/v1/members/{member_id}/certificates", responses={
    **COMMAND_RESPONSES, 201: {"description": "证明包（JSON）或 PDF / the certificate bundle (JSON) or its PDF"}},
             status_code=201, summary="开具服务时长证明 Issue an hour certificate",
             description="可离线核验的证明包：签名事件、密钥链、包含证明、签名检查点。format=pdf 返回带二维码的 PDF。/ "
                         "A self-contained bundle verifiable offline with the root key; format=pdf for the PDF.")
def certificate(member_id: UUID, actor: ActorDep, ledger: LedgerDep, commands: CommandsDep,
                year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
                fmt: Annotated[str, Query(alias="format", pattern="^(json|pdf)$", max_length=4)] = "json") -> Response:
    authorize(ledger, actor, "certificate.issue", member_id)
    if year is not None and date(year, 1, 1) > ledger.today():
        raise InvalidInput(f"{year} has not begun")
    try:
        issued = commands.services.writer.submit(lambda: issue_certificate(ledger, member_id, year=year), alone=True)
    except CertificateError as error:
        raise InvalidInput(f"no certificate can be issued: {error}") from None
    if fmt == "pdf":
        return Response(render_certificate_pdf(issued.verified), status_code=201, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{issued.number}.pdf"'})
    return Response(issued.bundle, status_code=201, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{issued.number}.json"',
                             "Certificate-Number": issued.number, "Certificate-SHA256": issued.sha256})


class Checkpointer:
    """Signs a checkpoint every `interval` seconds when the log has grown (in the writer, so it
    never races a write); stops with the service."""

    def __init__(self, services: Any, interval_seconds: float) -> None:
        self._services = services
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._interval <= 0 or self._services.ledger.region_code is None:
            return
        self._thread = threading.Thread(target=self._run, name="timeledger-checkpointer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        ledger = self._services.ledger
        while not self._stop.wait(self._interval):
            try:
                self._services.writer.submit(lambda: sign_checkpoint(ledger, reuse_latest=True), alone=True)
            except Exception:
                log.exception("periodic checkpoint failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
