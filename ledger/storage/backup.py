"""Backups and restores of a whole store: events, secrets (still wrapped under the master key), the
Merkle log and its checkpoints, read models and the service's logins — everything in the database.

* SQLite: the online backup API copies the database page by page, with progress, from one read
  transaction (a consistent snapshot while the service keeps writing). The backup is a plain
  SQLite file (rollback journal, no WAL), created 0600.
* PostgreSQL: `pg_dump --format=custom` of the store's schema (one consistent snapshot), restored
  with `pg_restore` into a staging schema that replaces the target only after the checks pass.

The master key is never in a backup: keep it apart (the backup records only its id, so a restore
under another key is refused before anything changes).

A restore is refused, unless forced, when it would roll the target back: when the target has
published a checkpoint the backup's log does not extend (smaller, or another root at that size),
or holds events the backup lacks. A rolled-back log is exactly what consistency proofs catch.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import sqlalchemy as sa

from ledger.storage.database import PRIVATE_FILE_MODE, Database, create_engine
from ledger.storage.raw_events import _pg_table
from ledger.storage.secrets import MASTER_KEY_BYTES, master_key_id, master_key_path, settings_table

SQLITE_BACKUP_STEP_PAGES = 1024  # pages per backup step (4 MiB at 4 KiB pages): progress granularity
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
PG_COMMAND_TIMEOUT_SECONDS = 3600  # a dump or restore that takes longer is stuck
Progress = Callable[[int, int], None]  # (done, total)


class BackupRefused(Exception):
    """A backup or restore that cannot or must not run; nothing was changed."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class StoreState:
    """What a restore compares: the highest event position, the Merkle log's size, the latest
    published checkpoint, and the master key id the secrets are sealed under."""

    events: int
    log_size: int
    checkpoint_size: int | None
    checkpoint_root: bytes | None
    master_key_id: str | None
    region_code: str | None

    def describe(self) -> str:
        checkpoint = "none" if self.checkpoint_size is None else f"size {self.checkpoint_size}"
        return f"region {self.region_code or '-'}, {self.events} events, log {self.log_size}, checkpoint {checkpoint}"


def _events_table(database: Database) -> tuple[str, str]:
    if database.kind == "postgresql":
        return _pg_table(database), "notification_id"
    return "stored_events", "rowid"


def store_state(database: Database, engine: sa.Engine | None = None) -> StoreState | None:
    """The state of a store, read without its master key; None when it holds no events."""
    own = engine is None
    engine = engine or create_engine(database)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            table, position = _events_table(database)
            if not inspector.has_table("ledger_events" if database.kind == "postgresql" else "stored_events",
                                       schema=database.schema):
                return None
            events = connection.execute(sa.text(f"SELECT max({position}) FROM {table}")).scalar()  # noqa: S608 - identifiers from the recorder, no input
            if not events:
                return None

            def setting(name: str) -> str | None:
                if not inspector.has_table(settings_table.name, schema=database.schema):
                    return None
                value = connection.execute(sa.select(settings_table.c.value)
                                           .where(settings_table.c.name == name)).scalar()
                return None if value is None else str(value)

            from ledger.storage import log_tables as t

            log_size, checkpoint_size, checkpoint_root = 0, None, None
            if inspector.has_table(t.state.name, schema=database.schema):
                log_size = int(connection.execute(sa.select(t.state.c.size)).scalar() or 0)
            if inspector.has_table(t.checkpoints.name, schema=database.schema):
                row = connection.execute(sa.select(t.checkpoints.c.size, t.checkpoints.c.root)
                                         .order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1)).first()
                if row is not None:
                    checkpoint_size, checkpoint_root = int(row.size), bytes(row.root)
            return StoreState(int(events), log_size, checkpoint_size, checkpoint_root, setting("master_key_id"),
                              setting("region_code"))
    finally:
        if own:
            engine.dispose()


def _root_at(engine: sa.Engine, size: int) -> bytes:
    from ledger.storage.merkle_log import MerkleLog

    class _Nodes(MerkleLog):  # only the node reads of the log, on any engine
        def __init__(self, engine: sa.Engine) -> None:
            self.engine = engine

    return _Nodes(engine).root_at(size)


def rollback_problems(target: StoreState | None, restored: StoreState, restored_engine: sa.Engine) -> list[str]:
    """Why restoring `restored` over `target` would roll the target back (empty: it would not)."""
    if target is None:
        return []
    problems = []
    if target.region_code and restored.region_code and target.region_code != restored.region_code:
        problems.append(f"the target holds region {target.region_code}, the backup region {restored.region_code}")
    if target.events > restored.events:
        problems.append(f"the target holds events up to position {target.events}, the backup only up to "
                        f"{restored.events}: {target.events - restored.events} would be lost")
    if target.checkpoint_size is not None:
        if restored.log_size < target.checkpoint_size:
            problems.append(f"the target published a checkpoint of size {target.checkpoint_size}; the backup's "
                            f"log has only {restored.log_size} entries")
        elif _root_at(restored_engine, target.checkpoint_size) != target.checkpoint_root:
            problems.append(f"the backup's log does not extend the checkpoint of size {target.checkpoint_size} "
                            "the target published (another root at that size)")
    return problems


def _current_master_key_id(target: Database) -> str | None:
    """The id of the master key a restored store would be opened with (None: no key is set up)."""
    import base64

    value = os.environ.get("TIMELEDGER_MASTER_KEY")
    if not value:
        path = master_key_path(target)
        if not path.exists():
            return None
        value = path.read_text().strip()
    try:
        key = base64.b64decode(value, validate=True)
    except ValueError:
        key = b""
    if len(key) != MASTER_KEY_BYTES:
        raise BackupRefused("master_key_invalid", "主密钥不是 32 字节的 base64 / the master key is not base64 of 32 bytes")
    return master_key_id(key)


def _check_master_key(target: Database, restored: StoreState) -> None:
    if restored.master_key_id is None:
        return  # a store sealed before ids were recorded: the first start checks a wrapped key
    current = _current_master_key_id(target)
    if current is None:
        raise BackupRefused("master_key_missing", (
            f"备份中的数据用主密钥 {restored.master_key_id} 加密；请先配置该主密钥（TIMELEDGER_MASTER_KEY 或 "
            f"{master_key_path(target)}）再恢复 / the backup is sealed under master key {restored.master_key_id}: "
            f"put that key in place (TIMELEDGER_MASTER_KEY or {master_key_path(target)}) before restoring"))
    if current != restored.master_key_id:
        raise BackupRefused("master_key_mismatch", (
            f"备份用主密钥 {restored.master_key_id} 加密，当前主密钥为 {current} / the backup is sealed under "
            f"master key {restored.master_key_id}, not the key set up here ({current})"))


def _check_rollback(target: StoreState | None, restored: StoreState, engine: sa.Engine, *, force: bool) -> list[str]:
    problems = rollback_problems(target, restored, engine)
    if problems and not force:
        raise BackupRefused("restore_would_roll_back", (
            "恢复会使本库回退到已发布的检查点之前，已拒绝（确需恢复请加 --force） / the restore would roll this store "
            "back: " + "; ".join(problems) + " (use --force to restore anyway)"))
    return problems


# -------------------------------------------------------------------------------------------
# Backup


def backup(database: Database, out: Path, *, progress: Progress | None = None) -> StoreState:
    """Write a backup of the store to `out` (which must not exist); returns what it holds."""
    if database.kind == "memory" or (database.sqlite_path or "").startswith("file:"):
        raise BackupRefused("backup_in_memory", "内存数据库无法备份 / an in-memory store cannot be backed up")
    if out.exists():
        raise BackupRefused("backup_exists", f"{out} 已存在 / {out} already exists: choose a new file")
    partial = out.with_name(out.name + ".partial")
    partial.unlink(missing_ok=True)
    try:
        if database.kind == "sqlite":
            state = _backup_sqlite(database, partial, progress)
        else:
            state = _backup_postgresql(database, partial, progress)
        os.chmod(partial, PRIVATE_FILE_MODE)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return state


def _backup_sqlite(database: Database, partial: Path, progress: Progress | None) -> StoreState:
    path = database.sqlite_path
    assert path is not None
    if not Path(path).exists():
        raise BackupRefused("backup_no_store", f"{path} 不存在 / {path} does not exist")
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None, timeout=30)
    target = sqlite3.connect(partial, isolation_level=None)
    try:
        source.execute("BEGIN")  # one read transaction: every step copies the same snapshot
        source.backup(target, pages=SQLITE_BACKUP_STEP_PAGES,
                      progress=(lambda _status, remaining, total: progress(total - remaining, total))
                      if progress else None)
        source.execute("COMMIT")
        target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        integrity = target.execute("PRAGMA quick_check").fetchone()[0]
        if integrity != "ok":
            raise BackupRefused("backup_damaged", f"the copy fails SQLite's check: {integrity}")
    finally:
        source.close()
        target.close()
    state = store_state(Database(url=f"sqlite:///{partial}", kind="sqlite", sqlite_path=str(partial)),
                        _sqlite_read_only_engine(partial))
    if state is None:
        raise BackupRefused("backup_no_store", f"{path} 中没有事件 / {path} holds no events")
    return state


def _sqlite_read_only_engine(path: Path) -> sa.Engine:
    return sa.create_engine("sqlite://", poolclass=sa.pool.StaticPool, creator=lambda: sqlite3.connect(
        f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False))


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupRefused("pg_tools_missing", f"找不到 {name}（PostgreSQL 客户端工具） / {name} (the PostgreSQL "
                            "client tools) is not installed")
    return found


def _run_with_progress(command: list[str], pattern: str, total: int, progress: Progress | None) -> None:
    """Run a PostgreSQL tool with --verbose, counting stderr lines that match `pattern`."""
    done = 0
    errors: list[str] = []
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL)
    assert process.stderr is not None
    started = time.monotonic()
    for line in process.stderr:
        if pattern in line:
            done += 1
            if progress:
                progress(min(done, total), total)
        elif "error" in line.lower():
            errors.append(line.strip())
        if time.monotonic() - started > PG_COMMAND_TIMEOUT_SECONDS:
            process.kill()
    if process.wait() != 0:
        raise BackupRefused("pg_tool_failed", f"{Path(command[0]).name} failed: " + " | ".join(errors[-5:]))
    if progress:
        progress(total, total)


def _backup_postgresql(database: Database, partial: Path, progress: Progress | None) -> StoreState:
    schema = database.schema or "public"
    state = store_state(database)
    if state is None:
        raise BackupRefused("backup_no_store", f"schema {schema} holds no events")
    engine = create_engine(database)
    try:
        with engine.connect() as connection:
            tables = len(sa.inspect(connection).get_table_names(schema=schema))
    finally:
        engine.dispose()
    _run_with_progress([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges", "--verbose",
                        f"--schema={schema}", f"--file={partial}", database.libpq_url],
                       "dumping contents of table", tables, progress)
    return state  # read just before the dump's snapshot: the dump holds at least this


# -------------------------------------------------------------------------------------------
# Restore


@dataclass(frozen=True)
class Restored:
    state: StoreState
    forced_over: list[str]  # the rollback problems a --force restore overrode


def backup_kind(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise BackupRefused("not_a_backup", f"{path} 不是 timeledger 备份 / {path} is not a timeledger backup")


def restore(database: Database, backup_file: Path, *, force: bool = False,
            progress: Progress | None = None) -> Restored:
    """Restore `backup_file` into the store at `database` (the caller holds its writer lock)."""
    kind = backup_kind(backup_file)
    if kind != database.kind:
        raise BackupRefused("backup_kind_mismatch", f"a {kind} backup cannot be restored into a {database.kind} store")
    if kind == "sqlite":
        return _restore_sqlite(database, backup_file, force=force, progress=progress)
    return _restore_postgresql(database, backup_file, force=force, progress=progress)


def _restore_sqlite(database: Database, backup_file: Path, *, force: bool, progress: Progress | None) -> Restored:
    engine = _sqlite_read_only_engine(backup_file)
    try:
        restored = store_state(Database(url=f"sqlite:///{backup_file}", kind="sqlite",
                                        sqlite_path=str(backup_file)), engine)
        if restored is None:
            raise BackupRefused("not_a_backup", f"{backup_file} holds no events")
        _check_master_key(database, restored)
        target = store_state(database) if Path(database.sqlite_path or "").exists() else None
        problems = _check_rollback(target, restored, engine, force=force)
    finally:
        engine.dispose()
    database.ensure_private_files()
    source = sqlite3.connect(f"file:{backup_file}?mode=ro&immutable=1", uri=True)
    target_connection = sqlite3.connect(database.sqlite_path or "", timeout=30)
    try:
        source.backup(target_connection, pages=SQLITE_BACKUP_STEP_PAGES, sleep=0.05,
                      progress=(lambda _status, remaining, total: progress(total - remaining, total))
                      if progress else None)
        target_connection.execute("PRAGMA journal_mode=WAL")
    finally:
        source.close()
        target_connection.close()
    database.ensure_private_files()
    return Restored(restored, problems)


def _dump_schema(backup_file: Path) -> tuple[str | None, int]:
    """The schema a custom-format dump creates (None: it creates none) and its table-data entries."""
    listing = subprocess.run([_pg_tool("pg_restore"), "--list", str(backup_file)], capture_output=True, text=True,
                             timeout=PG_COMMAND_TIMEOUT_SECONDS, check=False)
    if listing.returncode != 0:
        raise BackupRefused("not_a_backup", f"pg_restore cannot read {backup_file}: {listing.stderr.strip()}")
    schema = None
    tables = 0
    for line in listing.stdout.splitlines():
        if line.startswith(";"):
            continue
        found = re.search(r"\bSCHEMA - (\S+)", line)
        if found:
            schema = found.group(1)
        if " TABLE DATA " in line:
            tables += 1
    return schema, tables


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _restore_postgresql(database: Database, backup_file: Path, *, force: bool,
                        progress: Progress | None) -> Restored:
    import psycopg

    target_schema = database.schema or "public"
    dump_schema, tables = _dump_schema(backup_file)
    staging = dump_schema or "public"
    aside = f"{target_schema}_before_restore_{int(time.time())}"[:63]
    with psycopg.connect(database.libpq_url, autocommit=True) as connection:
        def exists(name: str) -> bool:
            return connection.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (name,)).fetchone() is not None

        if exists(staging) and staging != target_schema:
            raise BackupRefused("restore_schema_in_use", (
                f"备份恢复到模式 {staging}，但该模式已被另一个库使用 / the dump restores into schema {staging}, which "
                f"another store uses: restore into ?schema={staging} or move that schema away first"))
        target_existed = exists(target_schema)
        target = store_state(database) if target_existed else None
        if staging == target_schema and target_existed:
            connection.execute(f"ALTER SCHEMA {_quote(target_schema)} RENAME TO {_quote(aside)}")
        moved_aside = staging == target_schema and target_existed
        previous = Database(url=_with_schema(database, aside if moved_aside else target_schema), kind="postgresql")
        try:
            if dump_schema is None:
                connection.execute(f"CREATE SCHEMA {_quote(staging)}")
            _run_with_progress([_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                                "--verbose", f"--dbname={database.libpq_url}", str(backup_file)],
                               "processing data for table", tables, progress)
            staged = Database(url=_with_schema(database, staging), kind="postgresql")
            engine = create_engine(staged)
            try:
                restored = store_state(staged, engine)
                if restored is None:
                    raise BackupRefused("not_a_backup", f"{backup_file} holds no events")
                _check_master_key(database, restored)
                problems = _check_rollback(target, restored, engine, force=force)
            finally:
                engine.dispose()
        except BaseException:
            connection.execute(f"DROP SCHEMA IF EXISTS {_quote(staging)} CASCADE")
            if moved_aside:
                connection.execute(f"ALTER SCHEMA {_quote(aside)} RENAME TO {_quote(target_schema)}")
            raise
        with connection.transaction():  # the switch: one transaction
            if target_existed:
                connection.execute(f"DROP SCHEMA {_quote(previous.schema or aside)} CASCADE")
            if staging != target_schema:
                connection.execute(f"ALTER SCHEMA {_quote(staging)} RENAME TO {_quote(target_schema)}")
    return Restored(restored, problems)


def _with_schema(database: Database, schema: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(database.url).update_query_dict({"schema": schema}).render_as_string(hide_password=False)
