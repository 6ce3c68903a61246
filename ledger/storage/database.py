"""The database: its URL, the engine (SQLite pragmas, PostgreSQL schema) and the one-writer lock."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import make_url



DEFAULT_DATABASE_URL = "sqlite:///timeledger.db"

PRIVATE_FILE_MODE = 0o600  # database, WAL and key files: the owner only
SQLITE_SIDE_FILES = ("", "-wal", "-shm", "-journal")


class ConfigurationError(ValueError):
    pass


# -------------------------------------------------------------------------------------------
# Database URLs


@dataclass(frozen=True)
class Database:
    """A parsed TIMELEDGER_DATABASE_URL."""

    url: str
    kind: str  # "memory" | "sqlite" | "postgresql"
    sqlite_path: str | None = None

    @property
    def sqlalchemy_url(self) -> str:
        if self.kind == "postgresql":
            u = make_url(self.url)
            return (u.set(drivername="postgresql+psycopg").difference_update_query(["schema"])
                    .render_as_string(hide_password=False))
        if self.kind == "sqlite" and not (self.sqlite_path or "").startswith("file:"):
            return f"sqlite:///{self.sqlite_path}"
        return "sqlite://"  # in-memory stores keep their secrets in memory too

    def eventsourcing_env(self) -> dict[str, str]:
        if self.kind == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if self.kind == "sqlite":
            assert self.sqlite_path is not None
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": self.sqlite_path,
                    "SQLITE_LOCK_TIMEOUT": "30"}
        u = make_url(self.url)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": u.database or "postgres",
            "POSTGRES_HOST": u.host or "127.0.0.1",
            "POSTGRES_PORT": str(u.port or 5432),
            "POSTGRES_USER": u.username or "postgres",
            "POSTGRES_PASSWORD": u.password or "",
            "POSTGRES_POOL_SIZE": "8",
            "POSTGRES_MAX_OVERFLOW": "8",
            "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
        }
        schema = u.query.get("schema")
        if schema:
            env["POSTGRES_SCHEMA"] = str(schema)
        return env

    @property
    def libpq_url(self) -> str:
        """The PostgreSQL URL without our own `schema` parameter (for psycopg)."""
        return make_url(self.url).difference_update_query(["schema"]).render_as_string(hide_password=False)

    def ensure_schema(self) -> None:
        """Create the PostgreSQL schema named in the URL, if any; make a SQLite database file (and
        its WAL, shared-memory and journal files, which SQLite creates with the database's mode)
        readable by its owner only."""
        if self.kind == "sqlite":
            self.ensure_private_files()
        if self.schema is None:
            return
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.libpq_url, autocommit=True) as connection:
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))

    def ensure_private_files(self) -> None:
        path = self.sqlite_path or ""
        if self.kind != "sqlite" or path.startswith("file:"):
            return
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
        for suffix in SQLITE_SIDE_FILES:
            try:
                if os.stat(path + suffix).st_mode & 0o077:
                    os.chmod(path + suffix, PRIVATE_FILE_MODE)
            except FileNotFoundError:
                pass

    @property
    def schema(self) -> str | None:
        if self.kind != "postgresql":
            return None
        value = make_url(self.url).query.get("schema")
        return str(value) if value else None


def parse_database_url(url: str | None) -> Database:
    url = url or os.environ.get("TIMELEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL
    if url in ("memory:", "memory://"):
        return Database(url=url, kind="memory")
    if url.startswith("sqlite:"):
        u = make_url(url)
        path = u.database or ":memory:"
        if path == ":memory:":
            path = f"file:timeledger-{uuid.uuid4().hex}?mode=memory&cache=shared"
        return Database(url=url, kind="sqlite", sqlite_path=path)
    if url.startswith(("postgresql:", "postgres:", "postgresql+psycopg:")):
        u = make_url(url.replace("postgres://", "postgresql://", 1))
        return Database(url=u.set(drivername="postgresql").render_as_string(hide_password=False), kind="postgresql")
    raise ConfigurationError(f"unsupported database URL {url!r}: use sqlite:///path.db or postgresql://…")

SQLITE_BUSY_TIMEOUT_S = 30  # a reader or a second writer waits this long for SQLite's lock


def create_engine(database: Database, *, sqlite_pragmas: Sequence[str] = ()) -> sa.Engine:
    """A SQLAlchemy engine on the ledger's own database, for the tables beside the events (read
    models, the Merkle log): a private in-memory SQLite database for `memory:`, the PostgreSQL
    schema named in the URL, and `sqlite_pragmas` run on every new SQLite connection."""
    if database.kind == "postgresql":
        engine = sa.create_engine(database.sqlalchemy_url, pool_size=4, max_overflow=4, pool_pre_ping=True)
        if database.schema:
            engine = engine.execution_options(schema_translate_map={None: database.schema})
        return engine
    if database.kind == "memory":
        engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool,
                                  connect_args={"check_same_thread": False})
    elif (database.sqlite_path or "").startswith("file:"):  # `sqlite:///:memory:`: a shared-cache URI
        import sqlite3

        path = database.sqlite_path or ""
        engine = sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool, creator=lambda: sqlite3.connect(
            path, uri=True, check_same_thread=False, timeout=SQLITE_BUSY_TIMEOUT_S))
    else:
        engine = sa.create_engine(database.sqlalchemy_url,
                                  connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S})
    if sqlite_pragmas:
        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in sqlite_pragmas:
                cursor.execute(pragma)
            cursor.close()

    return engine

# -------------------------------------------------------------------------------------------
# One writer process per database: `timeledger serve` (and `restore`) hold the writer lock for
# their lifetime. SQLite: an exclusive flock on `<db>.writer.lock` (the kernel drops it when the
# process dies, kill -9 included). PostgreSQL: a session advisory lock keyed by database and
# schema, held on one connection (dropped when the connection closes or the process dies).


class WriterLockHeld(ConfigurationError):
    code = "writer_lock_held"


def _writer_lock_message(where: str) -> str:
    return (f"writer_lock_held: 另一个 timeledger 写入进程（serve 或 restore）正在使用此数据库（{where}）；"
            "同一数据库只允许一个写入进程 / another timeledger writer process (serve or restore) holds this "
            f"database ({where}): one writer process per database")


class WriterLock:
    """The exclusive writer lock of a database; `release()` (or process exit) frees it."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._file: Any = None
        self._connection: Any = None

    @property
    def where(self) -> str:
        if self.database.kind == "sqlite":
            return f"{self.database.sqlite_path}.writer.lock"
        return f"PostgreSQL advisory lock {self.advisory_key()} on schema {self.database.schema or 'public'}"

    def advisory_key(self) -> int:
        """A signed 64-bit key naming database and schema (pg_try_advisory_lock takes a bigint)."""
        import hashlib

        u = make_url(self.database.url)
        name = f"timeledger-writer/{u.host}/{u.port}/{u.database}/{self.database.schema or 'public'}"
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)

    def acquire(self) -> WriterLock:
        """Take the lock or raise `WriterLockHeld` at once (never waits)."""
        if self.database.kind == "sqlite" and not (self.database.sqlite_path or "").startswith("file:"):
            import fcntl

            handle = open(os.open(self.where, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE), "r+")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                raise WriterLockHeld(_writer_lock_message(self.where)) from None
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            self._file = handle
        elif self.database.kind == "postgresql":
            import psycopg

            connection = psycopg.connect(self.database.libpq_url, autocommit=True)
            got = connection.execute("SELECT pg_try_advisory_lock(%s)", (self.advisory_key(),)).fetchone()
            if not (got and got[0]):
                connection.close()
                raise WriterLockHeld(_writer_lock_message(self.where))
            self._connection = connection
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None
        if self._connection is not None:
            self._connection.close()  # closing the session drops the advisory lock
            self._connection = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()
