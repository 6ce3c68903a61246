"""The service's own tables, beside the ledger's in the same database: logins, bearer tokens and
idempotency records. They are not events: a login is not part of the signed record.

`memory:` ledgers keep these tables in an in-memory SQLite database that lives with the process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ledger.storage.database import Database

metadata = sa.MetaData()

accounts = sa.Table(
    "api_accounts", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("actor_id", sa.String(36), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=False),
)

tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),  # the token itself is never stored
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
)

idempotency = sa.Table(
    "api_idempotency", metadata,
    sa.Column("actor_id", sa.String(36), primary_key=True),
    sa.Column("idempotency_key", sa.String(128), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),  # SHA-256 of method, path and canonical body
    sa.Column("status_code", sa.Integer, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# A member's signing key is held here, never in the ledger's key store (issue #10): wrapped under a key
# derived (argon2id) from the member's password, one row per login of the member …
member_keys = sa.Table(
    "api_member_keys", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("actor_id", sa.String(36), nullable=False, index=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("salt", sa.LargeBinary, nullable=False),
    sa.Column("wrapped_private_key", sa.LargeBinary, nullable=False),
)
# … and, while a member is signed in, wrapped under a key derived from the bearer token (which only the
# member's client holds; the table has its SHA-256): deleted with the token.
token_keys = sa.Table(
    "api_token_keys", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("wrapped_private_key", sa.LargeBinary, nullable=False),
)
# One-time activation codes: a member sets their own login with one. Only the SHA-256 is stored.
activation_codes = sa.Table(
    "api_activation_codes", metadata,
    sa.Column("code_sha256", sa.String(64), primary_key=True),
    sa.Column("member_id", sa.String(36), nullable=False, index=True),
    sa.Column("issued_by", sa.String(36), nullable=False),
    sa.Column("issued_by_role", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
)


class ApiStore:
    """An engine for the service's tables. SQLite gets WAL and a busy timeout; an in-memory store
    shares one connection, serialised by a lock."""

    def __init__(self, database: Database) -> None:
        kwargs: dict[str, Any] = {}
        self._lock: threading.Lock | None = None
        if database.kind == "memory" or (database.kind == "sqlite" and (database.sqlite_path or "").startswith("file:")):
            url = "sqlite://"
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
            self._lock = threading.Lock()
        else:
            url = database.sqlalchemy_url
            if database.kind == "sqlite":
                kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            else:
                kwargs["pool_size"] = 8
                kwargs["max_overflow"] = 24
        engine: Engine = sa.create_engine(url, **kwargs)
        if database.kind == "sqlite" and self._lock is None:
            @sa.event.listens_for(engine, "connect")
            def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                cursor.execute("PRAGMA busy_timeout=30000")
                cursor.close()
        if database.schema:
            engine = engine.execution_options(schema_translate_map={None: database.schema})
        self.engine = engine
        metadata.create_all(self.engine)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A transaction (committed on exit)."""
        if self._lock is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._lock, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A read-only use of a connection."""
        if self._lock is None:
            with self.engine.connect() as connection:
                yield connection
            return
        with self._lock, self.engine.connect() as connection:
            yield connection

    def close(self) -> None:
        """Release the connections. An in-memory store keeps its one connection (disposing it would
        drop every login and token while the app may still be started again)."""
        if self._lock is None:
            self.engine.dispose()
