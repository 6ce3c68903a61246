"""单位 Units: pairing (结对共建), declared members, enrolling members."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut, DoneWarningsOut, IdOut, with_warnings
from api.schemas.members import EnrolIn
from api.schemas.organisations import DeclaredMembersIn, PairingIn, UnitOut

router = APIRouter(prefix="/v1/units", tags=["units 单位党组织"])


@router.get("/{unit_id}", response_model=UnitOut, responses=READ_RESPONSES, summary="单位 A unit")
def read_unit(unit_id: UUID, actor: ActorDep, ledger: LedgerDep) -> UnitOut:
    authorize(ledger, actor, "unit.read", unit_id)
    unit = ledger.get_unit(unit_id)
    return UnitOut(id=unit.id, name=unit.name, unit_type=unit.unit_type, declared_members=unit.declared_members,
                   community_id=unit.community_id, region_code=unit.region_code)


@router.post("/{unit_id}/pairing", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="结对共建 Pair with a community",
             description="一个单位对应一个社区；再次结对替换原结对。/ A unit pairs with exactly one community; "
                         "pairing again replaces the pair.")
def pair(unit_id: UUID, body: PairingIn, commands: CommandsDep) -> object:
    return commands.run(action="unit.pair", object_id=unit_id, body=body, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.pair_unit(
                            actor=commands.actor, unit_id=unit_id, community_id=body.community_id,
                            reason=body.reason))


@router.put("/{unit_id}/declared-members", response_model=DoneWarningsOut, responses=COMMAND_RESPONSES,
            summary="申报在职党员数 Declare members in service",
            description="附件3 的“在职党员总数”。本年度报到党员多于申报数的，照常记录并在 warnings 中提示 "
                        "reported_exceeds_declared。/ 附件3's members in service. When more members reported this year, "
                        "the number is recorded, with the warning reported_exceeds_declared.")
def declare_members(unit_id: UUID, body: DeclaredMembersIn, commands: CommandsDep) -> object:
    response = commands.run(action="unit.declare_members", object_id=unit_id, body=body,
                            present=lambda _: DoneWarningsOut(),
                            call=lambda: commands.services.ledger.declare_unit_members(
                                actor=commands.actor, unit_id=unit_id, count=body.count))
    return with_warnings(response, declared_warnings(commands.services, unit_id))


def declared_warnings(services: Any, unit_id: UUID) -> list[Any]:
    """附件3's warnings for the unit this year, from the read models caught up with the command."""
    from api.routers.reports import this_year
    from projections import queries as q

    with services.read_models.current() as views:
        stats = q.unit_stats(views, year=this_year(), unit_id=str(unit_id))
    return [warning for s in stats for warning in s.warnings]


enrol_router = APIRouter(prefix="/v1/members", tags=["members 党员"])


@enrol_router.post("", status_code=201, response_model=IdOut, responses=COMMAND_RESPONSES,
                   summary="党员入册 Enrol a member",
                   description="单位将在职党员登记入册，并为其生成、认证签名密钥。/ The signed-in unit enrols a member "
                               "and certifies the member's signing key.")
def enrol(body: EnrolIn, commands: CommandsDep) -> object:
    return commands.run(action="member.enrol", body=body, status_code=201, present=lambda i: IdOut(id=i), alone=True,
                        call=lambda: commands.services.ledger.enrol_member(
                            actor=commands.actor, name=body.name, party_status=body.party_status,
                            job_title=body.job_title, member_id=body.member_id, request_id=commands.request_id))
