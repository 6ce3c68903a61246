"""The counter's region setting (issue #12)."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import StrictIn
from ledger.domain.limits import REASON_CHARS_MAX


class CounterConfirmationIn(StrictIn):
    """柜台兑换前须当面核对本人 / counters confirm the member in person before redeeming."""

    required: bool = Field(description="是否必须核对 / whether the clerk must tick “checked in person”",
                           examples=[True])
    reason: str = Field(min_length=1, max_length=REASON_CHARS_MAX, examples=["防止冒用党员码"])
