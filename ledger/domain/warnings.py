"""Warnings: facts that contradict each other but do not block (issue #11 item 4).

A warning never refuses anything: the figure is recorded as entered, and the contradiction is shown
where it is entered (the API answer's `warnings`, the web page) and printed on the form that carries
it. Each has a stable `code` and a Chinese message (English for English pages and API clients).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any


@dataclass(frozen=True)
class DataWarning:
    """A contradiction to show, never raised."""

    code: str
    message: str  # Chinese, as the forms print it
    message_en: str


def slip_after_deadline(*, issued_on: date, deadline: date) -> DataWarning | None:
    """A 报到单 issued after the year's reporting deadline: the member can still report (late)."""
    if issued_on <= deadline:
        return None
    return DataWarning(
        code="slip_issued_after_deadline",
        message=(f"报到单开具日期 {issued_on.isoformat()} 晚于本年度报到截止日期 {deadline.isoformat()}，"
                 "党员报到将计为逾期报到。"),
        message_en=(f"The report slip was issued on {issued_on.isoformat()}, after this year's reporting deadline "
                    f"{deadline.isoformat()}: the member's report will count as late."))


def reported_exceeds_declared(*, reported: int, declared: int, unit_name: str = "") -> DataWarning | None:
    """附件3: more members reported (报到党员总数) than the unit declared in service (在职党员总数)."""
    if reported <= declared:
        return None
    who = f"{unit_name}：" if unit_name else ""
    return DataWarning(
        code="reported_exceeds_declared",
        message=(f"{who}报到党员 {reported} 人，多于申报的在职党员总数 {declared} 人，"
                 "请核实在职党员总数。"),
        message_en=(f"{unit_name + ': ' if unit_name else ''}{reported} members reported, more than the "
                    f"{declared} members in service the unit declared; please check the declared number."))


def for_slip(slip: Any) -> list[DataWarning]:
    """What a 报到单 warns of: on the unit's answer and page when it is issued, and on the printed form."""
    late = slip_after_deadline(issued_on=slip.issued_on, deadline=slip.deadline)
    return [late] if late is not None else []
