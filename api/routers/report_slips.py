"""报到单 Report slips (附件1) and their receipts (回执单)."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut, WarningOut
from api.schemas.offices import ReminderIn
from api.schemas.service import ReportSlipOut
from ledger.domain import warnings

router = APIRouter(prefix="/v1/report-slips", tags=["report slips 报到单"])


@router.get("/{slip_id}", response_model=ReportSlipOut, responses=READ_RESPONSES, summary="报到单 A report slip")
def read_slip(slip_id: UUID, actor: ActorDep, ledger: LedgerDep) -> ReportSlipOut:
    authorize(ledger, actor, "slip.read", slip_id)
    slip = ledger.get_report_slip(slip_id)
    return ReportSlipOut(id=slip.id, member_id=slip.member_id, unit_id=slip.unit_id, community_id=slip.community_id,
                         issued_on=slip.issued_on, deadline=slip.deadline, receipt_sent_on=slip.receipt_sent_on,
                         reported_on=slip.reported_on, post_names=list(slip.post_names),
                         warnings=[WarningOut(code=w.code, message=w.message, message_en=w.message_en)
                                   for w in warnings.for_slip(slip)])


@router.post("/{slip_id}/receipt", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="寄回执单 Send the receipt",
             description="为未持报到单登记的党员补寄回执。/ For a member registered without the slip at hand.")
def send_receipt(slip_id: UUID, commands: CommandsDep) -> object:
    return commands.run(action="slip.send_receipt", object_id=slip_id, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.send_receipt(actor=commands.actor, slip_id=slip_id))


@router.post("/{slip_id}/reminders", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="催报 Remind the member to report",
             description="开具报到单的单位提醒尚未报到的党员持单报到；每次催报都记入账本。/ The unit that issued the slip "
                         "reminds a member who has not reported yet; every reminder is a signed event.")
def remind(slip_id: UUID, body: ReminderIn, commands: CommandsDep) -> object:
    return commands.run(action="slip.remind", object_id=slip_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.remind_to_report(
                            actor=commands.actor, slip_id=slip_id, note=body.note))
