"""建议 Suggestions: read, adopt, forward (交转有关机构办理). Members submit under /v1/members/{id}/suggestions."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut
from api.schemas.service import AdoptIn, ForwardIn, SuggestionOut

router = APIRouter(prefix="/v1/suggestions", tags=["suggestions 建议"])


@router.get("/{suggestion_id}", response_model=SuggestionOut, responses=READ_RESPONSES, summary="建议 A suggestion")
def read_suggestion(suggestion_id: UUID, actor: ActorDep, ledger: LedgerDep) -> SuggestionOut:
    authorize(ledger, actor, "suggestion.read", suggestion_id)
    s = ledger.get_suggestion(suggestion_id)
    return SuggestionOut(id=s.id, member_id=s.member_id, community_id=s.community_id, content=s.content,
                         submitted_on=s.submitted_on, status=s.status,
                         outcome_note=s.outcome_note, outcome_reference=s.outcome_reference)


@router.post("/{suggestion_id}/adoption", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="采纳 Adopt a suggestion")
def adopt(suggestion_id: UUID, body: AdoptIn, commands: CommandsDep) -> object:
    return commands.run(action="suggestion.adopt", object_id=suggestion_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.adopt_suggestion(
                            actor=commands.actor, suggestion_id=suggestion_id, note=body.note))


@router.post("/{suggestion_id}/forwarding", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="交转有关机构 Forward a suggestion")
def forward(suggestion_id: UUID, body: ForwardIn, commands: CommandsDep) -> object:
    return commands.run(action="suggestion.forward", object_id=suggestion_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.forward_suggestion(
                            actor=commands.actor, suggestion_id=suggestion_id, agency=body.agency,
                            reference=body.reference))
