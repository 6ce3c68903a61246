"""The offices' new commands (issue #12): the counter's region setting, the unit's 催报."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import StrictIn
from ledger.domain.limits import NOTE_CHARS_MAX, REASON_CHARS_MAX


class CounterConfirmationIn(StrictIn):
    """柜台兑换前须当面核对本人 / counters confirm the member in person before redeeming."""

    required: bool = Field(description="是否必须核对 / whether the clerk must tick “checked in person”",
                           examples=[True])
    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX, examples=["防止冒用党员码"])


class ReminderIn(StrictIn):
    """催报 / a reminder to report (the note is optional: how the member was reached)."""

    note: str = Field("", max_length=NOTE_CHARS_MAX, examples=["电话提醒，本人答应本周内报到"])
