"""The transparency tables (SQLAlchemy 2.0 Core), in the ledger's own database.

* `tlt_leaves`: one row per Merkle leaf, contiguous 0-based `leaf_index` → the event's notification
  `position` (which may have gaps), its aggregate id, version and type, and the RFC 9162 leaf hash
  of the stored envelope bytes. `member_id` is filled for `ServiceSession.Recorded` leaves only, so
  a member's sessions are found without scanning the log.
* `tlt_nodes`: every complete interior node (level ≥ 1); level 0 (the leaf hashes) is `tlt_leaves`.
  Rows are only ever inserted.
* `tlt_state`: the tree size, its compact range and root, and the tracking position (the last
  notification id appended). It is updated by compare-and-set in the same transaction as the
  page's leaves and nodes, so a crash neither loses nor duplicates leaves.
* `tlt_checkpoints`: every signed checkpoint (C2SP note text, witness cosignatures appended).
* `tlt_certificates`: the register of issued hour certificates (number → member, period, total,
  SHA-256 of the bundle).
"""

from __future__ import annotations


import sqlalchemy as sa

from ledger.storage import database as db
from ledger.storage.database import Database

metadata = sa.MetaData()
STATE_NAME = "merkle"

leaves = sa.Table(
    "tlt_leaves", metadata,
    sa.Column("leaf_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("position", sa.BigInteger, nullable=False, unique=True),
    sa.Column("aggregate_id", sa.String(36), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("member_id", sa.String(36)),
    sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
    sa.Index("tlt_leaves_event", "aggregate_id", "version"),
    sa.Index("tlt_leaves_member", "member_id"),
)
nodes = sa.Table(
    "tlt_nodes", metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", sa.LargeBinary(32), nullable=False),
)
state = sa.Table(
    "tlt_state", metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("compact_range", sa.LargeBinary, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
)
checkpoints = sa.Table(
    "tlt_checkpoints", metadata,
    sa.Column("checkpoint_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("origin", sa.String(64), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("root", sa.LargeBinary(32), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Index("tlt_checkpoints_size", "size"),
)
certificates = sa.Table(
    "tlt_certificates", metadata,
    sa.Column("number", sa.String(40), primary_key=True),
    sa.Column("member_id", sa.String(36), nullable=False, index=True),
    sa.Column("period_from", sa.String(10)),
    sa.Column("period_to", sa.String(10)),
    sa.Column("sessions", sa.Integer, nullable=False),
    sa.Column("minutes", sa.BigInteger, nullable=False),
    sa.Column("checkpoint_id", sa.Integer, nullable=False),
    sa.Column("bundle_sha256", sa.String(64), nullable=False),
    sa.Column("issued_at", sa.String(40), nullable=False),
)


def create_engine(database: Database) -> sa.Engine:
    """An engine on the ledger's own database for the log's tables. The events are durable
    already; a log page lost to power failure is redone from its tracking position (leaves, nodes
    and state commit together; WAL keeps that atomic), so SQLite may skip the fsync per commit."""
    return db.create_engine(database, sqlite_pragmas=("PRAGMA synchronous=NORMAL",))


def create_tables(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        metadata.create_all(connection, checkfirst=True)
