"""How numbers are shown, on every page and paper: one rule for durations, one for points.

**Durations** are whole minutes everywhere in the ledger, and they are shown *exactly*, as hours and
minutes: ``h:mm`` in tables and figures (75 → ``1:15``, 1505 → ``25:05``), ``1小时15分`` in sentences.
Nothing is rounded, so a displayed total is always the sum of the displayed rows (a counter basket,
a member's 存入 − 扣回 − 已兑换 = 可用, a certificate's sessions and its total, 附件5's card), on web
pages, PDF, XLSX (a number of days with the format ``[h]:mm``, which Excel sums) and CSV alike. A
community office can defend it line by line: it is the minutes the community certified.

**Points** are exact fractions (`scoring`), shown with one decimal, rounded half up (`points_text`).

Every surface formats through this module; the counter page's script (`api/web/static/counter.js`)
repeats `duration_text` in JavaScript, and a browser test holds the two to the same output.
"""

from __future__ import annotations

from fractions import Fraction

MINUTES_PER_HOUR = 60
MINUTES_PER_DAY = 24 * MINUTES_PER_HOUR
XLSX_DURATION_FORMAT = "[h]:mm"  # Excel/WPS: hours beyond 24 keep counting, minutes two digits
DURATION_UNIT = "时:分"  # for column headers: 时长（时:分）
MINUS = "−"  # U+2212, as the pages print a taken-back amount


def duration_text(minutes: int) -> str:
    """Exact hours and minutes: 0 → '0:00', 5 → '0:05', 75 → '1:15', 1505 → '25:05', −20 → '−0:20'."""
    _check(minutes)
    sign = MINUS if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), MINUTES_PER_HOUR)
    return f"{sign}{hours}:{rest:02d}"


def duration_words(minutes: int) -> str:
    """The same exact value for a sentence: 75 → '1小时15分', 120 → '2小时', 20 → '20分钟', 0 → '0小时'."""
    _check(minutes)
    sign = MINUS if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), MINUTES_PER_HOUR)
    if hours and rest:
        return f"{sign}{hours}小时{rest}分"
    if rest:
        return f"{sign}{rest}分钟"
    return f"{sign}{hours}小时"


def duration_xlsx_value(minutes: int) -> float:
    """A spreadsheet duration: a number of days, shown with `XLSX_DURATION_FORMAT` (90 → 0.0625 → 1:30)."""
    _check(minutes)
    return minutes / MINUTES_PER_DAY


def minutes_from_text(text: str) -> int:
    """The minutes a `duration_text` shows (for tests and for reading back a CSV): '1:15' → 75."""
    negative = text.startswith(MINUS)
    hours, _, rest = text.removeprefix(MINUS).partition(":")
    if not (hours.isascii() and hours.isdigit() and rest.isascii() and rest.isdigit() and len(rest) == 2):
        raise ValueError(f"not a duration h:mm: {text!r}")
    minutes = int(hours) * MINUTES_PER_HOUR + int(rest)
    return -minutes if negative else minutes


def hours_value(minutes: float) -> float:
    """Exact hours as a number, for a chart's scale only (never printed as a figure)."""
    return minutes / MINUTES_PER_HOUR


def points_text(points: Fraction | None) -> str:
    """The one display rule for points: one decimal, rounded half up from the exact value
    (Fraction(1, 6) -> '0.2', 130 -> '130.0'); '—' when no policy scores the year."""
    if points is None:
        return "—"
    assert points >= 0, points
    tenths = int((points * 10 + Fraction(1, 2)) // 1)
    return f"{tenths // 10}.{tenths % 10}"


def _check(minutes: int) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int):
        raise TypeError(f"durations are whole minutes, got {minutes!r}")


# How a session's hours were recorded (values.Assurance), as reports and pages name it.
ASSURANCE_TEXT = {"self_reported": "事后填报", "checked_in": "签到签退", "imported": "纸质记录导入"}
