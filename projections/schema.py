"""The read-model tables (SQLAlchemy 2.0 Core), in the same database as the events.

Every table is derived from the event log and can be dropped and rebuilt from position 0. Ids are
UUID strings, dates are ISO `YYYY-MM-DD` strings (portable, sortable, and cheap to write in bulk),
durations are whole minutes. The tracking row (`tlv_tracking`) holds the notification id of the
last event applied; it commits in the same transaction as the view rows it accounts for.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.domain.scoring import ASSURED_CLASSES
from ledger.domain.values import Rating
from ledger.storage import database as db
from ledger.storage.database import Database

# Bump when a table or a projection rule changes: stored views of another version are rebuilt.
VIEWS_VERSION = 12  # 8: sessions' assurance; 9: orders carry resident, note and decline reason, sessions their
# rejection reason; 10: member-years keep minutes by assurance and rating, points at 1/60,000,000; 11: offline
# redemptions; 12: 通存通兑 holds, captures and releases in the balances
TRACKING_NAME = "timeledger-views"

metadata = sa.MetaData()


def _id(name: str, **kwargs: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(36), **kwargs)


def _day(name: str, **kwargs: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(10), **kwargs)


def _text(name: str, length: int = 200, **kwargs: Any) -> sa.Column[Any]:
    return sa.Column(name, sa.String(length), **kwargs)


def _minutes(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger, nullable=False, default=0)


RATING_COLUMNS = {Rating.EXCELLENT.value: "excellent", Rating.GOOD.value: "good", Rating.FAIR.value: "fair"}
# member_years' minutes of each (assurance, rating) class other than self_reported (scoring.ASSURED_CLASSES)
ASSURED_MINUTES = {(assurance, rating): f"minutes_{RATING_COLUMNS[rating]}_{assurance}"
                   for assurance, rating in ASSURED_CLASSES}


def assured_minutes(row: Any) -> tuple[tuple[str, str, int], ...]:
    """A member_years row's minutes by (assurance, rating), as scoring.YearTotals keeps them."""
    return tuple((assurance, rating, int(getattr(row, column))) for (assurance, rating), column
                 in ASSURED_MINUTES.items() if getattr(row, column))


tracking = sa.Table(
    "tlv_tracking", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("views_version", sa.Integer, nullable=False),
)

# -- registers -------------------------------------------------------------------------------
region = sa.Table(
    "tlv_region", metadata,
    _id("region_id", primary_key=True),
    sa.Column("code", sa.String(6), nullable=False),
    _text("name", 64),
    _text("display_name", 32),
    sa.Column("storage_cap_minutes", sa.BigInteger),
)
report_deadlines = sa.Table(
    "tlv_report_deadlines", metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    _day("deadline", nullable=False),
)
calendars = sa.Table(  # Region.CalendarPublished: the latest version per year (over the shipped data)
    "tlv_calendars", metadata,
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("holidays_json", sa.Text, nullable=False),
    sa.Column("workdays_json", sa.Text, nullable=False),
    _text("source", 200),
    _day("published_on"),
)
policies = sa.Table(
    "tlv_policies", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("rules_json", sa.Text, nullable=False),
    _text("note", 500),
    _day("published_on"),
)
policy_adoptions = sa.Table(
    "tlv_policy_adoptions", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True),  # notification id: the order of adoptions
    sa.Column("from_year", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    _day("adopted_on", nullable=False),
)
rescorings = sa.Table(
    "tlv_rescorings", metadata,
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    _day("rescored_on", nullable=False),
)
units = sa.Table(
    "tlv_units", metadata,
    _id("unit_id", primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # registration order
    _text("name", 64),
    _text("unit_type", 8),
    sa.Column("declared_members", sa.Integer, nullable=False),
    _id("community_id"),  # 结对共建: the paired community
    _day("registered_on"),
)
communities = sa.Table(
    "tlv_communities", metadata,
    _id("community_id", primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # registration order
    _text("name", 64),
    _text("county", 64),
    _text("street", 64),
    _day("registered_on"),
)
posts = sa.Table(
    "tlv_posts", metadata,
    _id("post_id", primary_key=True),
    _id("community_id", nullable=False, index=True),
    _text("name", 64),
    sa.Column("standard", sa.Boolean, nullable=False),
    sa.Column("retired", sa.Boolean, nullable=False),
)
teams = sa.Table(
    "tlv_teams", metadata,
    _id("team_id", primary_key=True),
    _id("community_id", nullable=False, index=True),
    _text("name", 64),
    _text("kind", 8),
)
menu_items = sa.Table(
    "tlv_menu_items", metadata,
    _id("item_id", primary_key=True),
    _id("community_id", nullable=False, index=True),
    _text("title", 64),
    _id("post_id"),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
)
counters = sa.Table(
    "tlv_counters", metadata,
    _id("counter_id", primary_key=True),
    _id("community_id", nullable=False),
    _text("name", 64),
)

# -- members and compliance --------------------------------------------------------------------
members = sa.Table(
    "tlv_members", metadata,
    _id("member_id", primary_key=True),
    _text("name", 64),
    _id("unit_id", index=True),  # NULL for a member who arrived by transfer and has not joined a unit
    _text("party_status", 4),
    _text("job_title", 64),
    _day("enrolled_on", nullable=False),
    _id("community_id", index=True),  # NULL until 报到登记
    _day("reported_on"),
    sa.Column("report_late", sa.Boolean, nullable=False),
    _id("slip_id"),
    # 登记表 fields kept in clear by the ledger (personal fields stay sealed in the events)
    _text("sex", 8),
    _text("education", 32),
    _text("party_joined", 32),
    _text("specialities"),
    _text("hobbies"),
    _text("available_time"),
    sa.Column("willing_other_service", sa.Boolean, nullable=False),
    sa.Column("has_personal", sa.Boolean, nullable=False),
    sa.Column("personal_erased", sa.Boolean, nullable=False),
    sa.Column("frozen", sa.Boolean, nullable=False),
    _day("closed_on"),  # moved to another region (转移接续)
    _text("destination", 16),
)
member_posts = sa.Table(
    "tlv_member_posts", metadata,
    _id("member_id", primary_key=True),
    _id("post_id", primary_key=True),
    _text("post_name", 64),
    _day("claimed_on", nullable=False),
)
member_teams = sa.Table(
    "tlv_member_teams", metadata,
    _id("member_id", primary_key=True),
    _id("team_id", primary_key=True),
)
exemptions = sa.Table(
    "tlv_exemptions", metadata,
    _id("member_id", primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    _text("reason", 500),
    _day("granted_on", nullable=False),
)
consents = sa.Table(
    "tlv_consents", metadata,
    _id("member_id", primary_key=True),
    _id("consent_id", primary_key=True),
    _text("purpose", 32),
    _text("recipient", 64),
)
imported_histories = sa.Table(
    "tlv_imported_histories", metadata,  # 转移接续: records brought from other regions
    _id("member_id", primary_key=True),
    _id("transfer_id", primary_key=True),
    _text("source", 16),
    sa.Column("summary_json", sa.Text, nullable=False),
    _day("imported_on", nullable=False),
)
slips = sa.Table(
    "tlv_report_slips", metadata,
    _id("slip_id", primary_key=True),
    _id("member_id", nullable=False),
    _id("unit_id", nullable=False),
    _id("community_id", nullable=False),
    _day("issued_on", nullable=False),
    _day("deadline", nullable=False),
    _day("receipt_sent_on"),
)

# -- service -------------------------------------------------------------------------------------
sessions = sa.Table(
    "tlv_sessions", metadata,
    _id("session_id", primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),  # of the Recorded event: a stable order
    _id("member_id", nullable=False),
    _id("community_id", nullable=False),
    sa.Column("year", sa.Integer, nullable=False),  # of the (corrected) service date
    _day("service_date", nullable=False),
    sa.Column("start_time", sa.String(5), nullable=False),
    sa.Column("end_time", sa.String(5), nullable=False),
    _text("activity", 64),
    _text("content", 2000),
    _text("place"),
    sa.Column("minutes", sa.Integer, nullable=False),
    _id("post_id"),
    _id("order_id"),
    _text("item_key", 80),  # the post or menu item served (scoring: distinct items)
    _text("organiser", 64),
    _text("recipient", 64),
    _day("recorded_on", nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("assurance", sa.String(13), nullable=False),  # self_reported | checked_in | imported (Assurance)
    sa.Column("status", sa.String(9), nullable=False),  # recorded | certified | rejected
    sa.Column("rating", sa.String(2)),
    sa.Column("certified_minutes", sa.Integer, nullable=False),
    _id("certified_by"),
    _day("certified_on"),
    sa.Column("complaint_upheld", sa.Boolean, nullable=False),
    sa.Column("corrections", sa.Integer, nullable=False),
    sa.Column("order_fulfilled", sa.Boolean, nullable=False),
    _text("rejection_reason", 500),  # REASON_CHARS_MAX: told to the member (and the resident who rated it)
    sa.Index("tlv_sessions_member_year", "member_id", "year"),
    sa.Index("tlv_sessions_order", "order_id"),
)
orders = sa.Table(
    "tlv_orders", metadata,
    _id("order_id", primary_key=True),
    _id("community_id", nullable=False),
    _id("menu_item_id", nullable=False),
    _text("menu_title", 64),
    _day("placed_on", nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    _id("member_id"),
    _id("session_id"),
    _id("resident_id"),
    _text("note", 500),  # NOTE_CHARS_MAX: the resident's note, for the office and the member
    _text("declined_reason", 500),  # the latest 婉拒 reason, for the office dispatching again
    sa.Index("tlv_orders_resident", "resident_id"),
    sa.Index("tlv_orders_member", "member_id"),
)
suggestions = sa.Table(
    "tlv_suggestions", metadata,
    _id("suggestion_id", primary_key=True),
    _id("member_id", nullable=False),
    _id("community_id", nullable=False),
    _day("submitted_on", nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("status", sa.String(9), nullable=False),  # submitted | adopted | forwarded
)

# -- balances ------------------------------------------------------------------------------------
accounts = sa.Table(
    "tlv_accounts", metadata,
    _id("account_id", primary_key=True),
    _id("member_id", nullable=False, unique=True),
    _minutes("deposited_minutes"),  # credited to the account (repaid debt + added to the balance)
    _minutes("over_cap_minutes"),  # certified but above the storage cap: not credited
    _minutes("clawed_back_minutes"),
    _minutes("redeemed_minutes"),
    _minutes("transferred_in_minutes"),
    _minutes("transferred_out_minutes"),
    _minutes("available_minutes"),  # the balance
    _minutes("owed_minutes"),
    sa.Column("redemptions", sa.Integer, nullable=False),
    sa.Column("frozen", sa.Boolean, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False),
)

# redemptions a counter device captured offline and synced later (issue #15): the community's list of
# what its counters' devices redeemed offline, and what the balance no longer covered (owed)
offline_redemptions = sa.Table(
    "tlv_offline_redemptions", metadata,
    _id("redemption_id", primary_key=True),
    _id("account_id", nullable=False, index=True),
    _id("counter_id", nullable=False, index=True),
    _text("device_key_id", 32),
    _text("captured_at", 32),  # as the device signed it (UTC)
    _day("captured_on", nullable=False),  # China day of capture
    _day("synced_on", nullable=False),  # China day the ledger recorded it
    _minutes("minutes"),
    _minutes("owed_added_minutes"),
)

# -- points and stars ----------------------------------------------------------------------------
member_years = sa.Table(
    "tlv_member_years", metadata,
    _id("member_id", primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True),
    sa.Column("sessions", sa.Integer, nullable=False),  # certified, not zeroed by a complaint
    _minutes("certified_minutes"),
    _minutes("minutes_excellent"),  # 优
    _minutes("minutes_good"),  # 良
    _minutes("minutes_fair"),  # 一般
    *(_minutes(column) for column in ASSURED_MINUTES.values()),  # of those, checked in or imported
    sa.Column("sessions_excellent", sa.Integer, nullable=False),
    sa.Column("sessions_good", sa.Integer, nullable=False),
    sa.Column("sessions_fair", sa.Integer, nullable=False),
    sa.Column("excellent_orders", sa.Integer, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),  # distinct posts / menu items served (scoring)
    sa.Column("items_json", sa.Text, nullable=False),  # {item key: sessions}, canonical JSON
    sa.Column("suggestions", sa.Integer, nullable=False),
    sa.Column("adopted_suggestions", sa.Integer, nullable=False),
    sa.Column("forwarded_suggestions", sa.Integer, nullable=False),
    # derived from the counts above and the policy in force; `stale` rows are re-scored at the end
    # of each catch-up (and scored on the fly by the queries until then)
    sa.Column("stale", sa.Boolean, nullable=False),
    sa.Column("policy_version", sa.Integer),
    sa.Column("points_scaled", sa.BigInteger),  # exact points × scoring.POINTS_SCALE (1/60,000,000 points)
    sa.Column("stars", sa.Integer, nullable=False),
    sa.Column("requirements_met", sa.Boolean, nullable=False),
    _text("missing", 200),
)
VIEW_TABLES: tuple[sa.Table, ...] = tuple(t for t in metadata.sorted_tables if t is not tracking)

# Counter columns of member_years that events increment (the rest are derived).
MEMBER_YEAR_COUNTS: tuple[str, ...] = (
    "sessions", "certified_minutes", "minutes_excellent", "minutes_good", "minutes_fair", "sessions_excellent",
    "sessions_good", "sessions_fair", "excellent_orders", "suggestions", "adopted_suggestions",
    "forwarded_suggestions", *ASSURED_MINUTES.values(),
)
ACCOUNT_COUNTS: tuple[str, ...] = (
    "deposited_minutes", "over_cap_minutes", "clawed_back_minutes", "redeemed_minutes", "transferred_in_minutes",
    "transferred_out_minutes", "available_minutes", "owed_minutes", "redemptions",
)


# -------------------------------------------------------------------------------------------------
# Engines

SQLITE_WAL_AUTOCHECKPOINT_PAGES = 10_000


def create_view_engine(database: Database) -> sa.Engine:
    """An engine on the ledger's own database for the views. The events are already durable in the
    same file; a view page lost to power failure is replayed from its tracking position (views and
    tracking commit together), so SQLite may skip the fsync per commit. A page rewrites ~1,000
    scattered B-tree pages; checkpointing the WAL after every page (the default: 1,000 pages)
    halved the projection rate, hence a larger auto-checkpoint (10,000 pages ≈ 40 MB of WAL)."""
    return db.create_engine(database, sqlite_pragmas=(
        "PRAGMA synchronous=NORMAL", f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES}"))
