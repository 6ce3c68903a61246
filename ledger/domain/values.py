"""Value types and enumerations of the domain, and the checks of values (the limits are in limits.py)."""

from __future__ import annotations

import enum
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid5

from ledger.domain.calendar import working_days_between  # noqa: F401 (moved to calendar.py; re-exported)
from ledger.domain.errors import InvalidInput
from ledger.domain.limits import (
    MINUTES_PER_SESSION_MAX,
    MINUTES_PER_SESSION_MIN,
    SERVICE_DATE_AHEAD_DAYS_MAX,
    SERVICE_DATE_MIN,
    TEXT_CHARS_MAX,
)


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
    Role.COUNTER: frozenset({Role.COMMUNITY, Role.REGION}),  # DOMAIN.md: the region certifies its counters too
    Role.RESIDENT: frozenset({Role.COMMUNITY}),
    Role.MEMBER: frozenset({Role.UNIT, Role.COMMUNITY, Role.REGION}),
}


class Rating(str, enum.Enum):
    EXCELLENT = "优"
    GOOD = "良"
    FAIR = "一般"


class Assurance(str, enum.Enum):
    """How a session's hours came to be recorded (DOMAIN.md, assurance of a record): typed by the
    member or the office afterwards, recorded by check-in and check-out at the venue (信用时长), or
    entered by an office from the paper backlog (补录). Every session carries one; reports show it."""

    SELF_REPORTED = "self_reported"
    CHECKED_IN = "checked_in"
    IMPORTED = "imported"


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
# ASCII digits only: `\d` and `str.isdigit` also accept full-width ("３２０１０２") and other scripts' digits,
# and `$` matches before a trailing newline, so the pattern is used with fullmatch.
_REGION_CODE = re.compile(r"[0-9]{6}")
ASCII_DIGITS = frozenset("0123456789")

# Code points refused in text fields besides C0/C1 controls (category Cc) and lone surrogates (Cs):
# bidi embeddings, overrides and isolates reorder what a reader sees (Trojan Source), and the line and
# paragraph separators break lines in logs, CSV and PDF rows.
_DANGEROUS_CODE_POINTS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                                   "\u2066\u2067\u2068\u2069\u2028\u2029\ufeff\ufffe\uffff")
_TEXT_CONTROLS_ALLOWED = frozenset("\n\t")

NAMESPACE = uuid5(NAMESPACE_URL, "https://timeledger.invalid/ns")


def stable_id(*parts: object) -> UUID:
    """A deterministic id for "exactly one per key" objects."""
    return uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def is_ascii_digits(text: object) -> bool:
    """True for a non-empty string of the ASCII digits 0-9 only (unlike `str.isdigit`)."""
    return isinstance(text, str) and bool(text) and all(c in ASCII_DIGITS for c in text)


def check_region_code(code: str) -> str:
    if not isinstance(code, str) or not _REGION_CODE.fullmatch(code) or code[:2] not in PROVINCE_PREFIXES:
        shown = repr(code)[:20]
        raise InvalidInput(f"地区代码须为 6 位 GB/T 2260 行政区划代码（半角数字）/ "
                           f"region code must be a 6-digit GB/T 2260 code in ASCII digits, got {shown}")
    if code[2:] == "0000":
        raise InvalidInput(f"{code} 是省级代码，不是县级地区 / {code} is a province, not a county-level region")
    return code


def dangerous_code_point(text: str) -> str | None:
    """The first code point a text field may not hold, or None: C0 and C1 controls other than newline
    and tab, lone surrogates, bidi controls and line/paragraph separators."""
    for char in text:
        if char in _TEXT_CONTROLS_ALLOWED:
            continue
        if char in _DANGEROUS_CODE_POINTS or unicodedata.category(char) in ("Cc", "Cs"):
            return char
    return None


def check_text(value: str, field: str, *, chars_max: int = TEXT_CHARS_MAX, required: bool = True) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} 须为文本 / {field} must be text", field=field, reason="invalid")
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} 不能为空 / {field} is required", field=field, reason="required")
    if len(text) > chars_max:
        raise InvalidInput(f"{field} 超过 {chars_max} 个字符 / {field} is longer than {chars_max} characters",
                           field=field, reason="too_long", params={"chars_max": chars_max})
    bad = dangerous_code_point(text)
    if bad is not None:
        raise InvalidInput(f"{field} 含有不允许的控制字符 U+{ord(bad):04X} / "
                           f"{field} contains a control, bidi or separator character U+{ord(bad):04X}",
                           field=field, reason="control_character")
    return text


def check_service_date(service_date: date, today: date, field: str = "service_date") -> date:
    """A session's date lies between the scheme's start and tomorrow (the server's today, China time)."""
    if not isinstance(service_date, date) or isinstance(service_date, datetime):
        raise InvalidInput(f"{field} 须为日期 / {field} must be a date", field=field, reason="not_a_date")
    latest = today + timedelta(days=SERVICE_DATE_AHEAD_DAYS_MAX)
    if not SERVICE_DATE_MIN <= service_date <= latest:
        raise InvalidInput(f"{field} 须在 {SERVICE_DATE_MIN.isoformat()} 至 {latest.isoformat()} 之间 / "
                           f"{field} must be between {SERVICE_DATE_MIN.isoformat()} and {latest.isoformat()}",
                           field=field, reason="date_out_of_range",
                           params={"earliest": SERVICE_DATE_MIN.isoformat(), "latest": latest.isoformat()})
    return service_date


def check_minutes(minutes: int, field: str = "minutes", *, low: int = MINUTES_PER_SESSION_MIN,
                  high: int = MINUTES_PER_SESSION_MAX) -> int:
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise InvalidInput(f"{field} must be a whole number of minutes", field=field, reason="whole_minutes")
    if not low <= minutes <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}, got {minutes}", field=field,
                           reason="minutes_out_of_range", params={"low": low, "high": high})
    return minutes


CHINA_TIME = timezone(timedelta(hours=8), "Asia/Shanghai")


def local_date(moment: datetime) -> date:
    """The calendar date in China of a timezone-aware moment."""
    return moment.astimezone(CHINA_TIME).date()
