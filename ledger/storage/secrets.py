"""Secrets that must never be events: the master key, wrapped private keys and members' data keys
(two small tables beside the events), and the stored transfer bundles."""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, NamedTuple, Sequence
from uuid import UUID

import sqlalchemy as sa

from ledger.signing import sealed
from ledger.storage.database import ConfigurationError, Database


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


_KEYS_PER_STATEMENT = 500  # bound parameters per statement stay well under every driver's limit


class NewKey(NamedTuple):
    """A private key to store: made for `actor_id` in `role`, registered by an event not saved yet."""

    key_id: str
    actor_id: UUID
    role: str
    private_key: bytes


def _next_sequence(connection: sa.Connection) -> int:
    """The order of a new key row: after every row there is (a row of a key never activated may be deleted,
    so the count of rows would repeat a number)."""
    return int(connection.execute(sa.select(sa.func.coalesce(sa.func.max(actor_keys.c.sequence), -1) + 1))
               .scalar_one())


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
    def put_keys(self, keys: Sequence[NewKey]) -> None:
        """Private keys (wrapped, not active yet), in one transaction."""
        if not keys:
            return
        rows = [{"key_id": key.key_id, "actor_id": str(key.actor_id), "role": key.role, "active": False,
                 "wrapped_private_key": sealed.wrap(self._master_key, purpose=f"private-key/{key.key_id}",
                                                    secret=key.private_key)} for key in keys]
        with self._lock, self.engine.begin() as connection:
            sequence = _next_sequence(connection)
            connection.execute(actor_keys.insert(), [{**row, "sequence": sequence + index}
                                                     for index, row in enumerate(rows)])

    def put_held_key(self, *, key_id: str, actor_id: UUID, role: str) -> None:
        """Record a key whose private half this store does NOT hold (a member's key, wrapped under the
        member's own password by the API): the row gives the actor its role, `active_key` returns an
        empty private key and the ledger refuses to sign with it unless the member unlocked it."""
        with self._lock, self.engine.begin() as connection:
            sequence = _next_sequence(connection)
            connection.execute(actor_keys.insert().values(
                key_id=key_id, actor_id=str(actor_id), role=role, wrapped_private_key=b"", active=False,
                sequence=sequence))

    def activate_keys(self, key_ids: Sequence[str]) -> None:
        """Several keys made usable at once (their registrations are stored), in one transaction."""
        if not key_ids:
            return
        with self._lock, self.engine.begin() as connection:
            for start in range(0, len(key_ids), _KEYS_PER_STATEMENT):
                connection.execute(actor_keys.update().where(
                    actor_keys.c.key_id.in_(key_ids[start:start + _KEYS_PER_STATEMENT])).values(active=True))

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
