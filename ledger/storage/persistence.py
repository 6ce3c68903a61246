"""Wiring the ledger to storage: database URLs, the signing mapper, and the secret store.

Events live in eventsourcing's own recorders (native `eventsourcing.sqlite` and
`eventsourcing.postgres`, chosen by measurement: see README). Secrets that must never be events —
wrapped private keys and members' data keys — live in two small tables beside them.
"""

from __future__ import annotations

import base64
import os
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent
from eventsourcing.utils import get_topic, resolve_topic
from sqlalchemy.engine import make_url

from ledger.domain.base import CHAIN_ATTRIBUTE
from ledger.signing import sealed
from ledger.signing.canonical import field_converters, to_json_value
from ledger.signing.statement import MAGIC, parse_signed_bytes, statement_hash, unpack

DEFAULT_DATABASE_URL = "sqlite:///timeledger.db"
ENVELOPE_ATTRIBUTE = "_envelope"
HEADER_FIELDS = frozenset({"originator_id", "originator_version", "timestamp"})
CLASS_VERSION = "class_version"  # the payload key, named as eventsourcing's Mapper names it


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


# -------------------------------------------------------------------------------------------
# The signing mapper: the stored state of an event is its signed statement envelope.


def event_type_name(cls: type) -> str:
    """`Member.Registered`: the event type named inside signed statements."""
    return cls.__qualname__


def event_payload(domain_event: Any) -> dict[str, Any]:
    """The payload signed into the event's statement. An event class at `class_version` 2 or later
    says so in its payload (as eventsourcing's own Mapper does in the state it stores), so the
    decoder knows which upcasters an old statement needs; version 1 payloads carry no marker."""
    payload = {k: to_json_value(v) for k, v in vars(domain_event).items()
               if k not in HEADER_FIELDS and not k.startswith("_")}
    class_version = getattr(type(domain_event), "class_version", 1)
    if class_version > 1:
        payload[CLASS_VERSION] = class_version
    return payload


def upcast_payload(cls: type, payload: dict[str, Any]) -> dict[str, Any]:
    """A stored payload in the shape of today's `cls`. Statements are signed and never rewritten, so
    an event's schema evolves on decode: the class declares `class_version = N` and static methods
    `upcast_v1_v2(state)` … `upcast_v{N-1}_vN(state)` that bring an older payload (JSON values, as
    signed) up to date in place. See docs/schema-evolution.md."""
    class_version = getattr(cls, "class_version", 1)
    stored_version = payload.get(CLASS_VERSION, 1)
    if stored_version == class_version == 1:
        return payload
    if type(stored_version) is not int or not 1 <= stored_version <= class_version:
        raise ValueError(f"{cls.__qualname__}: a payload of class version {stored_version!r}; this code reads "
                         f"versions 1 to {class_version}")
    state = {k: v for k, v in payload.items() if k != CLASS_VERSION}
    for version in range(stored_version, class_version):
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
    return state


def decode_event(cls: type, originator_id: UUID, version: int, time: str, payload: dict[str, Any],
                 chain: str) -> Any:
    payload = upcast_payload(cls, payload)
    converters = field_converters(cls)
    state: dict[str, Any] = {}
    for name, value in payload.items():
        convert = converters.get(name)
        state[name] = convert(value) if convert is not None else value
    state["originator_id"] = originator_id
    state["originator_version"] = version
    state["timestamp"] = datetime.fromisoformat(time)
    state[CHAIN_ATTRIBUTE] = chain
    domain_event: Any = object.__new__(cls)
    object.__setattr__(domain_event, "__dict__", state)
    return domain_event


class SigningMapper(Mapper[UUID]):
    """Stores an event as the envelope its signer produced; decodes events from the signed bytes.

    Snapshots (never signed: a cache, not a record) use the ordinary transcoder path.
    """

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        envelope = domain_event.__dict__.get(ENVELOPE_ATTRIBUTE)
        if envelope is None:
            return super().to_stored_event(domain_event)
        return StoredEvent(originator_id=domain_event.originator_id,
                           originator_version=domain_event.originator_version,
                           topic=get_topic(type(domain_event)), state=envelope)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        state = stored_event.state
        if not state.startswith(MAGIC):
            return super().to_domain_event(stored_event)
        _, signed_bytes = unpack(state)
        statement = parse_signed_bytes(signed_bytes, strict=False)
        originator_id = stored_event.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(str(originator_id))
        return decode_event(resolve_topic(stored_event.topic), originator_id, stored_event.originator_version,
                            statement.time, statement.payload, statement_hash(signed_bytes))


def make_transcoder() -> JSONTranscoder:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, UUIDAsHex

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


# -------------------------------------------------------------------------------------------
# Secrets: wrapped private keys and members' data keys, encrypted under the master key.

MASTER_KEY_BYTES = 32


MASTER_KEY_ID_CONTEXT = b"timeledger/master-key-id/v1"  # HMAC message: the id reveals nothing of the key


class MasterKeyError(ConfigurationError):
    """The master key given is not the one this store was sealed under, or none is given for a
    store that already holds sealed data. Raised before anything is written."""

    code = "master_key_error"


class MasterKeyMismatch(MasterKeyError):
    code = "master_key_mismatch"


class MasterKeyMissing(MasterKeyError):
    code = "master_key_missing"


def master_key_id(master_key: bytes) -> str:
    """A public fingerprint of the master key (HMAC-SHA-256 keyed by it): stored beside the sealed
    data so a process started with another key is refused, never told the key."""
    import hashlib
    import hmac

    return hmac.new(master_key, MASTER_KEY_ID_CONTEXT, hashlib.sha256).hexdigest()[:32]


def master_key_path(database: Database) -> Path:
    """Where the master key file is looked for: TIMELEDGER_MASTER_KEY_FILE, else beside the SQLite
    database, else `timeledger.masterkey` in the working directory (PostgreSQL)."""
    return Path(os.environ.get("TIMELEDGER_MASTER_KEY_FILE") or (
        f"{database.sqlite_path}.masterkey" if database.kind == "sqlite" else "timeledger.masterkey"))


def _sealed_under(database: Database) -> str | None:
    """The master key id recorded by a store that already holds sealed data ("unknown" for an
    older store that holds wrapped keys but no id); None for a store with nothing sealed yet."""
    if database.kind == "sqlite" and not Path(database.sqlite_path or "").exists():
        return None
    engine = sa.create_engine(database.sqlalchemy_url)
    if database.schema:
        engine = engine.execution_options(schema_translate_map={None: database.schema})
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            if not inspector.has_table(settings_table.name, schema=database.schema):
                return None
            recorded = connection.execute(sa.select(settings_table.c.value)
                                          .where(settings_table.c.name == "master_key_id")).scalar()
            if recorded is not None:
                return str(recorded)
            for table in (actor_keys, data_keys):
                if inspector.has_table(table.name, schema=database.schema) and connection.execute(
                        sa.select(sa.func.count()).select_from(table)).scalar_one():
                    return "unknown"
            sealing = connection.execute(sa.select(settings_table.c.value)
                                         .where(settings_table.c.name == "sealing_key")).scalar()
            return "unknown" if sealing is not None else None
    finally:
        engine.dispose()


def mismatch_message(*, stored: str, given: str) -> str:
    return (f"master_key_mismatch: 此数据库中的密钥是用主密钥 {stored} 加密的，当前主密钥为 {given}；"
            "请设置正确的 TIMELEDGER_MASTER_KEY 或 TIMELEDGER_MASTER_KEY_FILE，未做任何更改 / this store is sealed "
            f"under master key {stored}, not the key given ({given}): set the right TIMELEDGER_MASTER_KEY or "
            "TIMELEDGER_MASTER_KEY_FILE; nothing was changed")


def load_master_key(database: Database) -> bytes:
    """TIMELEDGER_MASTER_KEY (base64), else the key file (`master_key_path`). A new key file
    (0600) is created only for a store that holds no sealed data yet: a command run from another
    directory, or with the file missing, is refused rather than handed a new key."""
    value = os.environ.get("TIMELEDGER_MASTER_KEY")
    if value:
        try:
            key = base64.b64decode(value, validate=True)
        except ValueError:
            key = b""
        if len(key) != MASTER_KEY_BYTES:
            raise ConfigurationError("TIMELEDGER_MASTER_KEY must be base64 of 32 bytes")
        return key
    if database.kind == "memory" or (database.sqlite_path or "").startswith("file:timeledger-"):
        return os.urandom(MASTER_KEY_BYTES)  # an in-memory store lives and dies with this process
    path = master_key_path(database)
    if path.exists():
        try:
            key = base64.b64decode(path.read_text().strip(), validate=True)
        except ValueError:
            key = b""
        if len(key) != MASTER_KEY_BYTES:
            raise ConfigurationError(f"master key file {path} is damaged")
        return key
    sealed_under = _sealed_under(database)
    if sealed_under is not None:
        raise MasterKeyMissing(
            f"master_key_missing: 此数据库已有用主密钥 {sealed_under} 加密的数据，但找不到主密钥（{path} 不存在，"
            "也未设置 TIMELEDGER_MASTER_KEY）；不会新建主密钥 / this store holds data sealed under master key "
            f"{sealed_under}, and no master key was found ({path} does not exist, TIMELEDGER_MASTER_KEY is unset): "
            "set TIMELEDGER_MASTER_KEY or TIMELEDGER_MASTER_KEY_FILE; no new key is created for a sealed store")
    key = os.urandom(MASTER_KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(key).decode() + "\n")
    return key


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


metadata = sa.MetaData()
actor_keys = sa.Table(
    "timeledger_actor_keys", metadata,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("actor_id", sa.String(36), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("wrapped_private_key", sa.LargeBinary, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
)
data_keys = sa.Table(
    "timeledger_data_keys", metadata,
    sa.Column("member_id", sa.String(36), primary_key=True),
    sa.Column("wrapped_data_key", sa.LargeBinary, nullable=True),  # NULL once erased
)
transfer_bundles = sa.Table(
    "timeledger_transfer_bundles", metadata,
    sa.Column("bundle_sha256", sa.String(64), primary_key=True),
    sa.Column("direction", sa.String(8), nullable=False),  # "in" (imported) or "out" (exported)
    sa.Column("transfer_id", sa.String(36), nullable=False, index=True),
    sa.Column("member_id", sa.String(36), nullable=False, index=True),
    sa.Column("bundle", sa.LargeBinary, nullable=False),
)
settings_table = sa.Table(
    "timeledger_settings", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    actor_id: UUID
    role: str
    private_key: bytes
    active: bool


class SecretStore:
    """Private keys and data keys, wrapped under the master key, in the ledger's database."""

    def __init__(self, database: Database, master_key: bytes) -> None:
        self._master_key = master_key
        kwargs: dict[str, Any] = {}
        if database.kind != "postgresql":
            kwargs["poolclass"] = sa.pool.StaticPool
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        self.engine = sa.create_engine(database.sqlalchemy_url, **kwargs)
        if database.schema:
            self.engine = self.engine.execution_options(schema_translate_map={None: database.schema})
        self._lock = threading.Lock()
        metadata.create_all(self.engine)
        self.master_key_id = master_key_id(master_key)
        self._check_master_key()

    def _check_master_key(self) -> None:
        """Refuse another master key than the one the store was sealed under; record the key id on
        a store that has none yet (a new store, or one sealed before ids were recorded, after a
        wrapped secret was opened with this key)."""
        stored = self.get_setting("master_key_id")
        if stored is not None:
            if stored != self.master_key_id:
                self.engine.dispose()
                raise MasterKeyMismatch(mismatch_message(stored=stored, given=self.master_key_id))
            return
        if not self._opens_a_sealed_secret():
            self.engine.dispose()
            raise MasterKeyMismatch(mismatch_message(stored="unknown", given=self.master_key_id))
        try:
            with self._lock, self.engine.begin() as connection:
                connection.execute(settings_table.insert().values(name="master_key_id", value=self.master_key_id))
        except sa.exc.IntegrityError:  # another process recorded it first: it must be ours
            self._check_master_key()

    def _opens_a_sealed_secret(self) -> bool:
        """Whether the master key opens one wrapped secret of the store (True if it holds none)."""
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(actor_keys.c.key_id, actor_keys.c.wrapped_private_key)
                                     .order_by(actor_keys.c.sequence).limit(1)).first()
            if row is not None:
                purpose, wrapped = f"private-key/{row.key_id}", bytes(row.wrapped_private_key)
            else:
                data = connection.execute(sa.select(data_keys.c.member_id, data_keys.c.wrapped_data_key)
                                          .where(data_keys.c.wrapped_data_key.is_not(None)).limit(1)).first()
                if data is None:
                    return True
                purpose, wrapped = f"data-key/{data.member_id}", bytes(data.wrapped_data_key)
        try:
            sealed.unwrap(self._master_key, purpose=purpose, wrapped=wrapped)
        except sealed.SealError:
            return False
        return True

    def close(self) -> None:
        self.engine.dispose()

    # -- private keys ---------------------------------------------------------------------------
    def put_key(self, *, key_id: str, actor_id: UUID, role: str, private_key: bytes) -> None:
        wrapped = sealed.wrap(self._master_key, purpose=f"private-key/{key_id}", secret=private_key)
        with self._lock, self.engine.begin() as connection:
            sequence = connection.execute(sa.select(sa.func.count()).select_from(actor_keys)).scalar_one()
            connection.execute(actor_keys.insert().values(
                key_id=key_id, actor_id=str(actor_id), role=role, wrapped_private_key=wrapped, active=False,
                sequence=sequence))

    def put_held_key(self, *, key_id: str, actor_id: UUID, role: str) -> None:
        """Record a key whose private half this store does NOT hold (a member's key, wrapped under the
        member's own password by the API): the row gives the actor its role, `active_key` returns an
        empty private key and the ledger refuses to sign with it unless the member unlocked it."""
        with self._lock, self.engine.begin() as connection:
            sequence = connection.execute(sa.select(sa.func.count()).select_from(actor_keys)).scalar_one()
            connection.execute(actor_keys.insert().values(
                key_id=key_id, actor_id=str(actor_id), role=role, wrapped_private_key=b"", active=False,
                sequence=sequence))

    def activate_key(self, key_id: str) -> None:
        self._set_active(key_id, True)

    def deactivate_key(self, key_id: str) -> None:
        self._set_active(key_id, False)

    def _set_active(self, key_id: str, active: bool) -> None:
        with self._lock, self.engine.begin() as connection:
            connection.execute(actor_keys.update().where(actor_keys.c.key_id == key_id).values(active=active))

    def active_key(self, actor_id: UUID) -> StoredKey | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(actor_keys).where(actor_keys.c.actor_id == str(actor_id), actor_keys.c.active.is_(True))
                .order_by(actor_keys.c.sequence.desc()).limit(1)).first()
        if row is None:
            return None
        if not row.wrapped_private_key:  # held by the member (put_held_key): nothing to unwrap here
            return StoredKey(row.key_id, UUID(row.actor_id), row.role, b"", row.active)
        private = sealed.unwrap(self._master_key, purpose=f"private-key/{row.key_id}", wrapped=row.wrapped_private_key)
        return StoredKey(row.key_id, UUID(row.actor_id), row.role, private, row.active)

    def active_role(self, actor_id: UUID) -> str | None:
        """The role of the actor's active key, without unwrapping the private key."""
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(actor_keys.c.role).where(actor_keys.c.actor_id == str(actor_id),
                                                   actor_keys.c.active.is_(True))
                .order_by(actor_keys.c.sequence.desc()).limit(1)).scalar()

    def actors(self) -> Iterator[tuple[UUID, str, str]]:
        """(actor id, role, key id) of every active key."""
        with self.engine.connect() as connection:
            for row in connection.execute(sa.select(actor_keys.c.actor_id, actor_keys.c.role, actor_keys.c.key_id)
                                          .where(actor_keys.c.active.is_(True)).order_by(actor_keys.c.sequence)):
                yield UUID(row.actor_id), row.role, row.key_id

    # -- data keys (crypto-shredding) -----------------------------------------------------------
    def data_key(self, member_id: UUID, *, create: bool) -> bytes | None:
        """The member's data key; None once erased (or absent and not created)."""
        with self._lock, self.engine.begin() as connection:
            row = connection.execute(sa.select(data_keys.c.wrapped_data_key)
                                     .where(data_keys.c.member_id == str(member_id))).first()
            if row is None:
                if not create:
                    return None
                key = sealed.new_key()
                wrapped = sealed.wrap(self._master_key, purpose=f"data-key/{member_id}", secret=key)
                connection.execute(data_keys.insert().values(member_id=str(member_id), wrapped_data_key=wrapped))
                return key
        if row.wrapped_data_key is None:
            return None
        return sealed.unwrap(self._master_key, purpose=f"data-key/{member_id}", wrapped=row.wrapped_data_key)

    def destroy_data_key(self, member_id: UUID) -> None:
        with self._lock, self.engine.begin() as connection:
            updated = connection.execute(data_keys.update().where(data_keys.c.member_id == str(member_id))
                                         .values(wrapped_data_key=None)).rowcount
            if not updated:
                connection.execute(data_keys.insert().values(member_id=str(member_id), wrapped_data_key=None))

    def data_key_erased(self, member_id: UUID) -> bool:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(data_keys.c.wrapped_data_key)
                                     .where(data_keys.c.member_id == str(member_id))).first()
        return row is not None and row.wrapped_data_key is None

    # -- transfer bundles (kept verbatim: a later transfer carries them along) ------------------
    def put_bundle(self, *, bundle_sha256: str, direction: str, transfer_id: UUID, member_id: UUID,
                   bundle: bytes) -> None:
        with self._lock, self.engine.begin() as connection:
            exists = connection.execute(sa.select(transfer_bundles.c.bundle_sha256)
                                        .where(transfer_bundles.c.bundle_sha256 == bundle_sha256)).first()
            if exists is None:
                connection.execute(transfer_bundles.insert().values(
                    bundle_sha256=bundle_sha256, direction=direction, transfer_id=str(transfer_id),
                    member_id=str(member_id), bundle=bundle))

    def bundles(self, *, member_id: UUID, direction: str) -> list[bytes]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(transfer_bundles.c.bundle).where(
                transfer_bundles.c.member_id == str(member_id), transfer_bundles.c.direction == direction))
            return [bytes(row.bundle) for row in rows]

    def bundle(self, bundle_sha256: str) -> bytes | None:
        with self.engine.connect() as connection:
            value = connection.execute(sa.select(transfer_bundles.c.bundle)
                                       .where(transfer_bundles.c.bundle_sha256 == bundle_sha256)).scalar()
        return bytes(value) if value is not None else None

    # -- the region's X25519 key: bundles for this region are sealed to it -----------------------
    def sealing_key(self) -> bytes:
        """The raw X25519 private key, made on first use."""
        value = self.get_setting("sealing_key")
        if value is None:
            from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

            raw = sealed.x25519_private_bytes(X25519PrivateKey.generate())
            self.set_setting("sealing_key", base64.b64encode(
                sealed.wrap(self._master_key, purpose="sealing-key", secret=raw)).decode())
            value = self.get_setting("sealing_key")
            assert value is not None
        return sealed.unwrap(self._master_key, purpose="sealing-key", wrapped=base64.b64decode(value))

    # -- settings ------------------------------------------------------------------------------
    def get_setting(self, name: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(sa.select(settings_table.c.value).where(settings_table.c.name == name)).scalar()

    def set_setting(self, name: str, value: str) -> None:
        with self._lock, self.engine.begin() as connection:
            connection.execute(settings_table.delete().where(settings_table.c.name == name))
            connection.execute(settings_table.insert().values(name=name, value=value))


# -------------------------------------------------------------------------------------------
# Raw reads for verifiers: stored rows as they are, streamed in bounded memory.

STREAM_PAGE_ROWS = 2000  # rows per fetch when streaming a whole store


@dataclass(frozen=True, slots=True)
class RawEvent:
    position: int  # notification id (may have gaps)
    originator_id: str
    originator_version: int
    topic: str
    state: bytes


def _pg_table(database: Database, suffix: str = "events") -> str:
    schema = database.schema or "public"
    return f'"{schema}"."ledger_{suffix}"'


def iter_raw_events(database: Database, *, recorder: Any = None, order: str = "aggregate") -> Iterator[RawEvent]:
    """Every stored event, ordered by aggregate then version (`order="aggregate"`) or by
    position (`order="position"`). In-memory stores need their recorder."""
    if database.kind == "memory":
        assert recorder is not None, "an in-memory store is read through its recorder"
        rows = [RawEvent(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
                for n in recorder.select_notifications(start=None, limit=10**9)]
        if order == "aggregate":
            rows.sort(key=lambda r: (UUID(r.originator_id).hex, r.originator_version))
        yield from rows
        return
    order_by = "originator_id, originator_version" if order == "aggregate" else "{pos}"
    if database.kind == "sqlite":
        import sqlite3

        path = database.sqlite_path
        assert path is not None
        connection = sqlite3.connect(path if path.startswith("file:") else f"file:{path}?mode=ro", uri=True)
        # a tampered text column may hold bytes that are not UTF-8: read them, the verifier names them
        connection.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
        try:
            cursor = connection.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events ORDER BY "  # noqa: S608 - the order is one of two fixed clauses
                + order_by.format(pos="rowid"))
            while page := cursor.fetchmany(STREAM_PAGE_ROWS):
                for record in page:
                    # a tampered row may hold any type in any column: passed on as read, for the verifier to name
                    state = bytes(record[4]) if isinstance(record[4], (bytes, bytearray, memoryview)) else record[4]
                    yield RawEvent(record[0], record[1], record[2], record[3], state)
        finally:
            connection.close()
        return
    import psycopg

    with psycopg.connect(database.libpq_url) as pg, pg.transaction():
        with pg.cursor(name="timeledger_verify") as named:
            named.itersize = STREAM_PAGE_ROWS
            named.execute(
                "SELECT notification_id, originator_id, originator_version, topic, state FROM "  # noqa: S608 - a quoted identifier and a fixed order
                + _pg_table(database) + " ORDER BY " + order_by.format(pos="notification_id"))
            for record in named:
                yield RawEvent(record[0], str(record[1]), record[2], record[3], bytes(record[4]))


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
