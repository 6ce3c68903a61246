"""The domain's limits, each named once with its reason.

The domain's validation (`check_text(..., chars_max=...)`), the API's schemas (`maxLength` in the
OpenAPI document) and the web forms (`maxlength` on the inputs, via the `limits` template global)
all read these names, so a limit changes in one place. This module imports nothing: any layer may
read it. A limit is checked by the command that takes the input (never inside an `@event` body), so
raising or lowering one never makes stored history fail to load.
"""

from __future__ import annotations

from datetime import date

# -- text, in characters (after stripping surrounding white space) ------------------------------------
NAME_CHARS_MAX = 64  # a name on one line of a paper form: a person, an organisation, a post, an item
ACTIVITY_CHARS_MAX = 64  # a session's activity (活动名称), as recorded and as corrected
LABEL_CHARS_MAX = 64  # a signing key's label (an auditor's, a resident's, a terminal's)
DISPLAY_NAME_CHARS_MAX = 32  # the scheme's name in page headers (default 爱心时间银行)
CONSENT_RECIPIENT_CHARS_MAX = 64  # whom a consent names: a unit id or a region code
REJECTION_CODE_CHARS_MAX = 64  # the check code a destination region gives when it refuses a transfer
PLACE_CHARS_MAX = 200  # where a session took place
PROFILE_FIELD_CHARS_MAX = 200  # one field of a member's profile or personal data (登记表)
ADDRESS_CHARS_MAX = 200  # a peer region's service address
AGENCY_CHARS_MAX = 200  # the agency a suggestion is forwarded to
CASE_REFERENCE_CHARS_MAX = 64  # the agency's case number for a forwarded suggestion (受理编号)
CALENDAR_SOURCE_CHARS_MAX = 200  # the notice a work calendar comes from
KEY_REASON_CHARS_MAX = 200  # why a key is revoked, rotated or certified for a member
SETTING_REASON_CHARS_MAX = 200  # why the region changed a setting (signed into the event: a line, not a memo)
REASON_CHARS_MAX = 500  # why a session is rejected or corrected, an order cancelled, a transfer refused …
NOTE_CHARS_MAX = 500  # a note on an order, an adopted suggestion or a scoring policy
TEXT_CHARS_MAX = 2000  # one free-text field (a session's content, a suggestion); the paper forms have a line or two

# -- numbers ---------------------------------------------------------------------------------------
MINUTES_PER_SESSION_MAX = 16 * 60  # a session longer than a waking day is a typing error
MINUTES_PER_SESSION_MIN = 1  # a zero-minute session is not service (complaints zero by a new event)
PRICE_MINUTES_MAX = 100 * 60  # a catalogue item costing more than 100 hours is a typing error
REDEMPTION_LINES_MAX = 50  # one counter receipt
QUANTITY_MAX = 99
STORAGE_CAP_MINUTES_MAX = 100_000 * 60
OFFLINE_BOUND_MINUTES_MAX = 24 * 60  # what a counter may accept offline per member per day (a region setting)
OFFLINE_DEVICE_BOUND_MINUTES_MAX = 100 * 60  # what one counter device may accept offline per day, in all

# -- dates -----------------------------------------------------------------------------------------
LATE_AFTER_WORKING_DAYS = 10  # 志愿服务记录与证明出具办法: record within 10 working days
SERVICE_DATE_MIN = date(2014, 1, 1)  # the provincial notice that starts the scheme is of 2014
SERVICE_DATE_AHEAD_DAYS_MAX = 1  # "today" differs by a day across time zones; later dates are typing errors
