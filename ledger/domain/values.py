"""Value types, enumerations and limits of the domain."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain.calendar import working_days_between  # noqa: F401 (moved to calendar.py; re-exported)
from ledger.domain.errors import InvalidInput

# Limits, each with its reason.
MINUTES_PER_SESSION_MAX = 16 * 60  # a session longer than a waking day is a typing error
MINUTES_PER_SESSION_MIN = 1  # a zero-minute session is not service (complaints zero by a new event)
TEXT_CHARS_MAX = 2000  # one form field; the paper forms have a line or two
NAME_CHARS_MAX = 64
PRICE_MINUTES_MAX = 100 * 60  # a catalogue item costing more than 100 hours is a typing error
REDEMPTION_LINES_MAX = 50  # one counter receipt
QUANTITY_MAX = 99
LATE_AFTER_WORKING_DAYS = 10  # 志愿服务记录与证明出具办法: record within 10 working days
STORAGE_CAP_MINUTES_MAX = 100_000 * 60


class Role(str, enum.Enum):
    PROVINCE = "province"  # 省委组织部: trust root
    REGION = "region"  # 县（市、区）ledger operator
    UNIT = "unit"  # 单位党组织
    COMMUNITY = "community"  # 社区党组织
    COUNTER = "counter"  # 爱心超市 counter
    MEMBER = "member"  # 在职党员
    RESIDENT = "resident"  # 居民 / 服务对象
    AUDITOR = "auditor"  # 审计


# Which role's key may certify (register) a key of which role.
CERTIFIERS: dict[Role, frozenset[Role]] = {
    Role.PROVINCE: frozenset({Role.PROVINCE}),  # the root registers itself
    Role.REGION: frozenset({Role.PROVINCE}),
    Role.UNIT: frozenset({Role.REGION}),
    Role.COMMUNITY: frozenset({Role.REGION}),
    Role.AUDITOR: frozenset({Role.REGION}),
    Role.COUNTER: frozenset({Role.COMMUNITY}),
    Role.RESIDENT: frozenset({Role.COMMUNITY}),
    Role.MEMBER: frozenset({Role.UNIT, Role.COMMUNITY, Role.REGION}),
}


class Rating(str, enum.Enum):
    EXCELLENT = "优"
    GOOD = "良"
    FAIR = "一般"


class UnitType(str, enum.Enum):
    ORGAN = "机关"
    INSTITUTION = "事业"
    ENTERPRISE = "企业"
    COLLEGE = "大专院校"


class PartyStatus(str, enum.Enum):
    FULL = "正式"
    PROBATIONARY = "预备"


class TeamKind(str, enum.Enum):
    AREA = "地缘"  # grid team by area
    TRADE = "业缘"  # by trade
    INTEREST = "趣缘"  # by interest


class ConsentPurpose(str, enum.Enum):
    UNIT_FEEDBACK = "unit_feedback"  # the unit may receive the year-end record
    TRANSFER = "transfer"  # a named region may receive the member's history


STANDARD_POSTS: tuple[str, ...] = (
    "政策法规宣传岗",
    "社区工作参议岗",
    "文明创建示范岗",
    "公益事业推动岗",
    "困难群众帮扶岗",
    "社区稳定维护岗",
    "环境保护卫士岗",
    "青少年教育服务岗",
)

# Personal fields of the 登记表: sealed under the member's data key before they are signed.
PERSONAL_FIELDS: tuple[str, ...] = (
    "ethnicity",
    "health",
    "birth_month",
    "home_address",
    "unit_address",
    "unit_phone",
    "mobile",
)

# GB/T 2260 province-level prefixes.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
_REGION_CODE = re.compile(r"^\d{6}$")

NAMESPACE = uuid5(NAMESPACE_URL, "https://timeledger.invalid/ns")


def stable_id(*parts: object) -> UUID:
    """A deterministic id for "exactly one per key" objects."""
    return uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def check_region_code(code: str) -> str:
    if not isinstance(code, str) or not _REGION_CODE.match(code) or code[:2] not in PROVINCE_PREFIXES:
        raise InvalidInput(f"region code must be a 6-digit GB/T 2260 code, got {code!r}")
    if code[2:] == "0000":
        raise InvalidInput(f"{code} is a province, not a county-level region")
    return code


def check_text(value: str, field: str, *, chars_max: int = TEXT_CHARS_MAX, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} is required")
    if len(text) > chars_max:
        raise InvalidInput(f"{field} is longer than {chars_max} characters")
    if any(ord(c) < 32 and c not in "\n\t" for c in text):
        raise InvalidInput(f"{field} contains control characters")
    return text


def check_minutes(minutes: int, field: str = "minutes", *, low: int = MINUTES_PER_SESSION_MIN,
                  high: int = MINUTES_PER_SESSION_MAX) -> int:
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise InvalidInput(f"{field} must be a whole number of minutes")
    if not low <= minutes <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}, got {minutes}")
    return minutes


def hours_text(minutes: int) -> str:
    """Minutes shown as hours with one decimal, rounded half up (90 -> '1.5')."""
    tenths = (minutes * 10 * 2 + 60) // (60 * 2)
    return f"{tenths // 10}.{tenths % 10}"


CHINA_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar date in China of a timezone-aware moment."""
    return moment.astimezone(CHINA_TIME).date()
