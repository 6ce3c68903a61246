"""党员入册 from paper: a unit imports its roster (issue #15, part 3), like an office's paper backlog.

A unit party organisation keeps a paper roster of its members in service. It copies it into the
template (`timeledger import template enrolments --out 名册.xlsx`: 名册序号, 姓名, 党员身份, 职务) and
imports the file (`timeledger import enrolments FILE --unit ID`, or the unit's page /unit/import), with
the guarantees of `ledger.commands.paper`: a report by row and column in Chinese, nothing written if a
row is wrong (unless `--partial`), `--dry-run`, one transaction for a good file.

Each row is `Ledger.enrol_member` signed by the unit (党员入册 is the unit's act). The member's id (the
党员编号 the unit's 报到单 carries) comes from the unit and the row's 名册序号 — the number on the
unit's own roster, not a personal datum (never an ID card or phone number) — so importing the same
roster again changes nothing, and a roster number already enrolled under another name is reported as
a conflict, never enrolled a second time. After the import the unit hands each new member's code on
with the 报到单.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ledger.application import Actor, Ledger
from ledger.commands.paper import Kind, Problem, RowProblem, _cell_text, _text
from ledger.commands.paper_forms import readers
from ledger.domain.errors import NotFound
from ledger.domain.limits import NAME_CHARS_MAX
from ledger.domain.values import PartyStatus, Role, stable_id

NUMBER = "名册序号"
NAME = "姓名"
STATUS = "党员身份"
JOB = "职务"
NUMBER_CHARS_MAX = 32

ROSTER_COLUMNS: tuple[tuple[str, str], ...] = (
    (NUMBER, "本单位党员名册上的序号或单位内编号（如 17、办-003）：每人一个、不再改变，决定党员编号；"
             "重复导入不会重复入册。请勿填写身份证号、手机号"),
    (NAME, "姓名，与名册一致"),
    (STATUS, "正式 / 预备"),
    (JOB, "职务，可不填"),
)
_NUMBER = re.compile(r"[\w\-./#]+")
_ID_CARD = re.compile(r"\d{17}[\dX]|\d{15}")
_PHONE = re.compile(r"1[3-9]\d{9}")
_STATUSES = {**{status.value: status for status in PartyStatus},
             **{status.value + "党员": status for status in PartyStatus}}


@dataclass(frozen=True)
class RosterEntry:
    """One line of a unit's paper roster."""

    number: str  # 名册序号, normalised: what the member's id is made from
    name: str
    party_status: PartyStatus
    job_title: str
    row: int


def roster_member_id(unit_id: UUID, number: str) -> UUID:
    """The member code of the unit's roster entry `number` (the same for every import of it)."""
    return stable_id("roster", unit_id, number)


def _number(value: Any) -> str:
    """名册序号: full-width forms folded, and a number's leading zeros dropped ("007", "7" and an Excel
    7.0 are one entry)."""
    text = unicodedata.normalize("NFKC", _cell_text(value)).strip().upper()
    if not text:
        raise ValueError("请填写名册序号（本单位名册上的序号，每人一个）")
    if len(text) > NUMBER_CHARS_MAX:
        raise ValueError(f"名册序号超过 {NUMBER_CHARS_MAX} 个字符")
    if _ID_CARD.fullmatch(text) or _PHONE.fullmatch(text):
        raise ValueError("请勿填写身份证号或手机号：名册序号是本单位名册上的序号")
    if not _NUMBER.fullmatch(text):
        raise ValueError("名册序号只能含文字、数字和 - . / #")
    return str(int(text)) if text.isascii() and text.isdigit() else text


def _status(value: Any) -> PartyStatus:
    text = _cell_text(value).replace(" ", "")
    if text not in _STATUSES:
        raise ValueError("党员身份只能是 正式 或 预备")
    return _STATUSES[text]


def parse_roster(table: Sequence[Sequence[Any]]) -> tuple[list[tuple[RosterEntry, str]], list[Problem]]:
    """The roster lines of a table in the enrolments template; and every problem. (The name goes in the
    entry: there is no member yet to check it against.)"""
    problems: list[Problem] = []
    entries: list[tuple[RosterEntry, str]] = []
    for read in readers(table, ROSTER_COLUMNS, problems):
        roster_number = read(NUMBER, _number)
        name = read(NAME, lambda v: _text(v, NAME_CHARS_MAX, required=True))
        status = read(STATUS, _status)
        job_title = read(JOB, lambda v: _text(v, NAME_CHARS_MAX, required=False))
        if read.problems:
            problems += read.problems
            continue
        entries.append((RosterEntry(number=roster_number, name=name, party_status=status, job_title=job_title,
                                    row=read.row), ""))
    return entries, problems


def _enrol(ledger: Ledger, actor: Actor, entry: RosterEntry, file_sha256: str) -> bool:
    """党员入册 of one roster line by the unit; False when this roster number is enrolled already as the
    same member. What the file says otherwise of an enrolled number is the row's problem: an import does
    not change who a number is."""
    member_id = roster_member_id(actor.actor_id, entry.number)
    try:
        member = ledger.get_member(member_id)
    except NotFound:
        ledger.enrol_member(actor=actor, name=entry.name, party_status=entry.party_status,
                            job_title=entry.job_title, member_id=member_id)
        return True
    if member.name != entry.name:
        raise RowProblem(NAME, "该名册序号已入册为另一姓名：同一序号不能换人，新党员请用新的名册序号")
    if member.unit_id != actor.actor_id:
        raise RowProblem(NUMBER, "该名册序号的党员已不在本单位（已转出）")
    if member.party_status is not entry.party_status:
        raise RowProblem(STATUS, "与已入册的党员身份不同：导入不变更已入册党员的信息")
    if member.job_title != entry.job_title:
        raise RowProblem(JOB, "与已入册的职务不同：导入不变更已入册党员的信息")
    return False


ENROLMENTS = Kind(
    name="enrolments", title="党员入册名册", sheet="党员入册", columns=ROSTER_COLUMNS, widths=(14, 12, 10, 24),
    notes="每行一名本单位在职党员，按单位党员名册填写；名册序号每人一个、不再改变。同一文件重复导入不会重复入册。",
    parse=parse_roster,
    identity=lambda actor, entry: (entry.number, "与第 {row} 行的名册序号相同（每人一个序号）"),
    write=_enrol, fields={"name": NAME, "job_title": JOB, "party_status": STATUS}, role=Role.UNIT)
