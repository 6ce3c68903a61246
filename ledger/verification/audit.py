"""The auditor's full check (`timeledger audit`): changes nothing, reports every difference.

1. **Events** — `ledger.verification.store.verify_store`: every signature, key chain, hash chain and replay.
2. **Store against log** — one pass over the event store in position order beside the Merkle log's
   leaves: every logged event must still be in the store with the same bytes (a changed, deleted or
   inserted event is named, including the deletion of an aggregate's last event, which no
   per-aggregate hash chain can see), and the leaf hashes re-derived from the stored events must give
   every signed checkpoint's root at its size.
3. **Log tables** — the log's own leaves re-hashed into every interior node: each stored node, the
   stored size, compact range and root, and every checkpoint's root must match.
4. **Checkpoints** — each signed by a region key certified by the trust root and valid at its time,
   each consistent with the one before (a consistency proof from the log's nodes).
5. **Balances** — every time account replayed from its events with the domain classes, compared with
   what the ledger itself loads (snapshots and cache included) and with the projections' balances.
6. **Points and stars** — when the projections exist, a fresh rebuild of them from the events (the
   projections' own code and the domain's scoring function, in a scratch database) compared with the
   live tables: balances, yearly points, stars and requirements.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

import sqlalchemy as sa

from ledger.domain.region import Region
from ledger.domain.values import Role
from ledger.storage.mapper import decode_event
from ledger.storage.raw_events import RawEvent
from ledger.signing import merkle
from ledger.signing.note import Ed25519Verifier, NoteError, open_checkpoint
from ledger.signing.statement import parse_signed_bytes, statement_hash, unpack
from ledger.storage import log_tables as t
from ledger.storage.checkpoints import CheckpointError, CheckpointStore, StoredCheckpoint, checkpoint_time
from ledger.signing.statement import event_type_of
from ledger.storage.merkle_log import Leaf, MerkleLog

NODE_PAGE = 20_000


class ReadModels(Protocol):
    """What the audit asks of the read models (implemented by `projections.audit.ProjectionsAudit`)."""

    def catch_up(self, ledger: Any, report: AuditReport) -> None:
        """Take in every stored event; a failure is added to `report` (never raised)."""

    def compare(self, ledger: Any, balances: dict[str, tuple[int, int]], report: AuditReport) -> str:
        """Compare with `balances` (replayed from the events) and a scratch rebuild: "yes" or why skipped."""
        ...


@dataclass(frozen=True)
class Difference:
    kind: str  # event | store | log | checkpoint | balance | views
    detail: str
    position: int | None = None
    leaf_index: int | None = None

    def __post_init__(self) -> None:
        from ledger.verification.store import printable

        object.__setattr__(self, "detail", printable(self.detail))

    def __str__(self) -> str:
        where = []
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.leaf_index is not None:
            where.append(f"leaf {self.leaf_index}")
        return f"[{self.kind}] " + (f"{', '.join(where)}: " if where else "") + self.detail


@dataclass
class AuditReport:
    events: int = 0  # events in the store
    leaves: int = 0  # leaves in the log
    unlogged: int = 0  # events after the log's tracking position
    checkpoints: int = 0
    latest_checkpoint: StoredCheckpoint | None = None
    root: bytes = merkle.EMPTY_ROOT  # recomputed from the log's leaves
    events_verified: int = 0
    accounts: int = 0
    views_compared: str = "no"  # "no" | reason skipped | "yes"
    seconds: dict[str, float] = field(default_factory=dict)
    differences: list[Difference] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)  # comparisons that could not be made, and why

    @property
    def complete(self) -> bool:
        return not self.incomplete

    @property
    def ok(self) -> bool:
        """No difference found, and every comparison made: an audit never says yes without looking."""
        return not self.differences and not self.incomplete

    def add(self, kind: str, detail: str, *, position: int | None = None, leaf_index: int | None = None) -> None:
        self.differences.append(Difference(kind, detail, position, leaf_index))


class _Tree:
    """A compact range grown leaf by leaf, compared with the checkpoints as it reaches their sizes."""

    def __init__(self, checkpoints: list[StoredCheckpoint]) -> None:
        self.size = 0
        self.peaks: list[bytes] = []
        self._pending: list[bytes] = []
        self._targets = sorted(checkpoints, key=lambda c: (c.size, c.checkpoint_id))
        self.roots: dict[int, bytes] = {}  # checkpoint size -> root recomputed
        self.nodes: dict[merkle.NodeKey, bytes] = {}
        self.keep_nodes = False

    def add(self, leaf: bytes) -> None:
        self._pending.append(leaf)
        if len(self._pending) >= 4096:
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        while pending:
            # stop exactly at the next checkpoint size so its root can be read off the compact range
            upcoming = [c.size for c in self._targets if c.size > self.size and c.size not in self.roots]
            take = len(pending) if not upcoming else min(len(pending), upcoming[0] - self.size)
            chunk, pending = pending[:take], pending[take:]
            self.size, self.peaks, nodes = merkle.append_leaves(self.size, self.peaks, chunk)
            if self.keep_nodes:
                self.nodes.update((key, value) for key, value in nodes.items() if key[0] > 0)
            if upcoming and self.size == upcoming[0]:
                self.roots[self.size] = merkle.root_from_compact_range(self.size, self.peaks)

    def root(self) -> bytes:
        self.flush()
        return merkle.root_from_compact_range(self.size, self.peaks)


def audit(ledger: Any, *, root_public_key: bytes | None = None, verify: bool = True,
          views: ReadModels | None = None,
          workers: int | None = None, progress: Callable[[str, int], None] | None = None,
          log: MerkleLog | None = None, catch_up: bool = True) -> AuditReport:
    """Run every check (see the module docstring) and return what differs. With `catch_up` (the
    default) the Merkle log and the read models first take in every stored event, so every
    comparison covers the whole store; what still cannot be compared makes the report incomplete.
    `views` compares the read models (checks 5 and 6); the ledger knows none, so `projections.audit`
    passes its own (`projections.audit.audit` is the full audit that `timeledger audit` runs)."""
    report = AuditReport()
    if ledger.region_code is None:
        report.add("store", "the database holds no region")
        return report
    root = root_public_key if root_public_key is not None else base64.b64decode(ledger.root_public_key())
    log = log or MerkleLog.for_ledger(ledger)
    if catch_up:
        _catch_up(ledger, log, views, report)
    store = CheckpointStore.for_log(log)
    checkpoints = store.all()
    report.checkpoints = len(checkpoints)
    report.latest_checkpoint = checkpoints[-1] if checkpoints else None
    clock = time.perf_counter()

    # 1. every event --------------------------------------------------------------------------------
    if verify:
        from ledger.verification.store import verify_store

        verified = verify_store(ledger.database, root_public_key=root, region_code=ledger.region_code,
                                recorder=ledger.recorder, workers=workers,
                                progress=(lambda n: progress("verify", n)) if progress else None)
        report.events_verified = verified.events_checked
        for problem in verified.problems:
            report.add("event", str(problem), position=problem.position)
        report.seconds["verify"] = time.perf_counter() - clock
        clock = time.perf_counter()

    # 2 and 5. the store against the log, and the time accounts, in one pass in position order -------
    state = log.state()
    report.leaves = state.size
    store_tree = _Tree(checkpoints)
    accounts: dict[str, Any] = {}
    account_broken: set[str] = set()
    leaves = log.iter_leaves()
    leaf: Leaf | None = next(leaves, None)
    for raw in iter_rows(ledger.database, recorder=ledger.recorder, order="position"):
        report.events += 1
        if progress is not None and report.events % 10_000 == 0:
            progress("log", report.events)
        while leaf is not None and leaf.position < raw.position:
            report.add("store", f"event {leaf.event_type} {leaf.aggregate_id} v{leaf.version} is in the log but "
                       "no longer in the event store (deleted)", position=leaf.position, leaf_index=leaf.index)
            leaf = next(leaves, None)
        envelope = raw.state
        if raw.position <= state.position:
            digest = merkle.leaf_hash(envelope)
            store_tree.add(digest)
            if leaf is not None and leaf.position == raw.position:
                if digest != leaf.leaf_hash:
                    report.add("store", f"event {leaf.event_type} {leaf.aggregate_id} v{leaf.version} changed in the "
                               "event store after it was logged", position=raw.position, leaf_index=leaf.index)
                elif (_same_id(raw.originator_id) != _same_id(leaf.aggregate_id)
                      or raw.originator_version != leaf.version):
                    report.add("store", f"the row at this position now names {raw.originator_id} "
                               f"v{raw.originator_version}, the log {leaf.aggregate_id} v{leaf.version}",
                               position=raw.position, leaf_index=leaf.index)
                leaf = next(leaves, None)
            else:
                report.add("store", f"event {raw.originator_id} v{raw.originator_version} is in the store but not in "
                           "the log (inserted after logging)", position=raw.position)
        else:
            report.unlogged += 1
        if event_type_of(envelope).startswith("TimeAccount."):
            _replay_account(envelope, raw, accounts, account_broken, report)
    while leaf is not None:
        report.add("store", f"event {leaf.event_type} {leaf.aggregate_id} v{leaf.version} is in the log but no "
                   "longer in the event store (deleted)", position=leaf.position, leaf_index=leaf.index)
        leaf = next(leaves, None)
    if report.unlogged:
        report.incomplete.append(f"{report.unlogged} event(s) are not yet in the Merkle log: their leaves were not "
                                 "compared (run without --no-catch-up, or `timeledger checkpoint`)")
    store_tree.flush()
    for checkpoint in checkpoints:
        recomputed = store_tree.roots.get(checkpoint.size, store_tree.root() if checkpoint.size == 0 else None)
        if checkpoint.size > store_tree.size:
            report.add("store", f"checkpoint {checkpoint.checkpoint_id} covers {checkpoint.size} events but the store "
                       f"holds only {store_tree.size} logged events")
        elif recomputed != checkpoint.root:
            report.add("store", f"the stored events do not hash to checkpoint {checkpoint.checkpoint_id}'s signed root "
                       f"(size {checkpoint.size}): history before it was changed")
    report.seconds["store"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # 3. the log's own tables -----------------------------------------------------------------------
    _check_log_tables(log, state, checkpoints, report)
    report.seconds["log"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # 4. the checkpoints --------------------------------------------------------------------------------
    _check_checkpoints(ledger, log, checkpoints, root, report)
    report.seconds["checkpoints"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # 5. balances against the ledger's own loads --------------------------------------------------------
    report.accounts = len(accounts)
    live_balances: dict[str, tuple[int, int]] = {}
    for account_id, account in accounts.items():
        if account_id in account_broken:
            continue
        replayed = (account.balance_minutes, account.owed_minutes)
        try:
            loaded = ledger.repository.get(UUID(account_id))
            live = (loaded.balance_minutes, loaded.owed_minutes)
        except Exception as error:  # noqa: BLE001 - a load failure is a finding
            report.add("balance", f"account {account_id} does not load: {type(error).__name__}: {error}")
            continue
        live_balances[str(account.member_id)] = replayed
        if live != replayed:
            report.add("balance", f"account of member {account.member_id}: the events give balance {replayed[0]} "
                       f"(owed {replayed[1]}) minutes, the ledger loads {live[0]} (owed {live[1]}) — a snapshot "
                       "or cache differs from the events")
    report.seconds["balances"] = time.perf_counter() - clock
    clock = time.perf_counter()

    # 6. the projections ----------------------------------------------------------------------------------
    if views is not None:
        try:
            report.views_compared = views.compare(ledger, live_balances, report)
        except Exception as error:  # noqa: BLE001 - the events cannot be projected: a finding, never a crash
            report.views_compared = "failed"
            report.add("views", f"the projections cannot be recomputed from the events: {type(error).__name__}: "
                       f"{error}")
        if report.views_compared.startswith("skipped: the projections are behind"):
            report.incomplete.append(report.views_compared[len("skipped: "):])
        report.seconds["views"] = time.perf_counter() - clock
    return report


def iter_rows(database: Any, *, recorder: Any, order: str) -> Iterator[RawEvent]:
    from ledger.verification.store import iter_rows as clean_rows

    return clean_rows(database, recorder=recorder, order=order)


def _same_id(text: str) -> str:
    """An aggregate id in one spelling (hex or dashed), or the text itself when it is not a UUID."""
    try:
        return str(UUID(text))
    except (ValueError, TypeError, AttributeError):
        return text


def _catch_up(ledger: Any, log: MerkleLog, views: ReadModels | None, report: AuditReport) -> None:
    """Bring the Merkle log and (when given) the read models up to the store before comparing."""
    try:
        log.catch_up()
    except Exception as error:  # noqa: BLE001 - e.g. a read-only database: said, never silently skipped
        report.incomplete.append(f"the Merkle log could not catch up: {type(error).__name__}: {error}")
    if views is not None and ledger.database.kind != "memory":
        views.catch_up(ledger, report)


def _replay_account(envelope: bytes, raw: RawEvent, accounts: dict[str, Any], broken: set[str],
                    report: AuditReport) -> None:
    from ledger.verification.store import event_class

    account_id = _same_id(raw.originator_id)
    if account_id in broken:
        return
    try:
        _, signed_bytes = unpack(envelope)
        statement = parse_signed_bytes(signed_bytes, strict=False)
        domain_event = decode_event(event_class(statement.type), UUID(statement.aggregate), statement.version,
                                    statement.time, statement.payload, statement_hash(signed_bytes))
        accounts[account_id] = domain_event.mutate(accounts.get(account_id))
    except Exception as error:  # noqa: BLE001 - any failure to replay is a finding
        broken.add(account_id)
        report.add("balance", f"account {account_id} does not replay at version {raw.originator_version}: "
                   f"{type(error).__name__}: {error}", position=raw.position)


def _check_log_tables(log: MerkleLog, state: Any, checkpoints: list[StoredCheckpoint], report: AuditReport) -> None:
    """Re-hash the log's leaves: every stored node, the state row and every checkpoint root."""
    tree = _Tree(checkpoints)
    tree.keep_nodes = True
    expected_index = 0
    for leaf in log.iter_leaves():
        if leaf.index != expected_index:
            report.add("log", f"leaf indexes jump from {expected_index - 1} to {leaf.index}", leaf_index=leaf.index)
            expected_index = leaf.index
        tree.add(leaf.leaf_hash)
        expected_index += 1
        if len(tree.nodes) >= NODE_PAGE:
            tree.flush()
            _compare_nodes(log, tree.nodes, report)
            tree.nodes.clear()
    report.root = tree.root()
    _compare_nodes(log, tree.nodes, report)
    stored_nodes = _count_nodes(log)
    expected_nodes = sum(tree.size >> level for level in range(1, max(tree.size.bit_length(), 1)))
    if stored_nodes != expected_nodes:
        report.add("log", f"the log stores {stored_nodes} interior nodes, a tree of {tree.size} leaves has "
                   f"{expected_nodes}")
    if tree.size != state.size:
        report.add("log", f"the log's state says {state.size} leaves, its leaf table holds {tree.size}")
    elif tuple(tree.peaks) != tuple(state.compact_range) or report.root != state.root:
        report.add("log", "the log's stored compact range or root differs from its leaves")
    for checkpoint in checkpoints:
        if checkpoint.size > tree.size:
            report.add("log", f"checkpoint {checkpoint.checkpoint_id} (size {checkpoint.size}) is beyond the log's "
                       f"{tree.size} leaves")
            continue
        recomputed = tree.roots.get(checkpoint.size, merkle.EMPTY_ROOT if checkpoint.size == 0 else None)
        if recomputed != checkpoint.root:
            report.add("log", f"the log's leaves do not hash to checkpoint {checkpoint.checkpoint_id}'s root "
                       f"(size {checkpoint.size})")


def _compare_nodes(log: MerkleLog, expected: dict[merkle.NodeKey, bytes], report: AuditReport) -> None:
    if not expected:
        return
    keys = list(expected)
    stored = log.get_nodes(keys)
    for key in keys:
        if stored.get(key) != expected[key]:
            state = "missing" if key not in stored else "wrong"
            report.add("log", f"interior node (level {key[0]}, index {key[1]}) is {state} in the log's node table")


def _count_nodes(log: MerkleLog) -> int:
    with log.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(t.nodes)).scalar_one())


def _check_checkpoints(ledger: Any, log: MerkleLog, checkpoints: list[StoredCheckpoint], root: bytes,
                       report: AuditReport) -> None:
    from ledger.verification.store import KEY_TYPES, key_valid_at, load_trusted_keys

    if not checkpoints:
        return
    key_events = (raw for raw in iter_rows(ledger.database, recorder=ledger.recorder, order="position")
                  if event_type_of(raw.state) in KEY_TYPES)
    trusted = load_trusted_keys(key_events, root, ledger.region_code, [])
    region_actor = str(Region.create_id(ledger.region_code))
    previous: StoredCheckpoint | None = None
    for checkpoint in checkpoints:
        name = f"checkpoint {checkpoint.checkpoint_id} (size {checkpoint.size})"
        key = trusted.get(checkpoint.key_id)
        if key is None or key.role is not Role.REGION or key.owner_id != region_actor:
            report.add("checkpoint", f"{name} names signing key {checkpoint.key_id}, which is not a region key "
                       "certified by the trust root")
        else:
            try:
                parsed = open_checkpoint(checkpoint.note, Ed25519Verifier(checkpoint.origin, key.public_key)).checkpoint
                moment = checkpoint_time(parsed)
                if (parsed.size, parsed.root_hash) != (checkpoint.size, checkpoint.root):
                    report.add("checkpoint", f"{name}: the signed note says size {parsed.size}, the table another "
                               "size or root")
                if not key_valid_at(key, moment):
                    report.add("checkpoint", f"{name} was signed at {moment.isoformat()}, when key {key.key_id} was "
                               "not valid")
            except (NoteError, CheckpointError) as error:
                report.add("checkpoint", f"{name}: {error}")
        if previous is not None:
            if checkpoint.size < previous.size:
                report.add("checkpoint", f"{name} is smaller than checkpoint {previous.checkpoint_id} "
                           f"(size {previous.size}): the log shrank")
            elif checkpoint.size <= report.leaves:
                try:
                    proof = log.consistency_proof(previous.size, checkpoint.size)
                    merkle.verify_consistency(previous.size, checkpoint.size, proof, previous.root, checkpoint.root)
                except (merkle.ProofError, merkle.MissingNodeError) as error:
                    report.add("checkpoint", f"{name} is not consistent with checkpoint {previous.checkpoint_id} "
                               f"(size {previous.size}): {error}")
        previous = checkpoint


def format_report(report: AuditReport) -> list[str]:
    """Plain lines for people: the summary, then every difference."""
    latest = report.latest_checkpoint
    lines = [
        f"events in the store: {report.events} (signatures and chains verified: {report.events_verified})",
        f"Merkle log: {report.leaves} leaves, root {report.root.hex()} (recomputed from the leaves)",
        f"events not yet in the log: {report.unlogged}",
        f"checkpoints: {report.checkpoints}" + (f", latest #{latest.checkpoint_id} size {latest.size} signed "
                                                f"{latest.time}" if latest else " (run `timeledger checkpoint`)"),
        f"time accounts replayed: {report.accounts}",
        f"projections compared: {report.views_compared}",
    ]
    lines.extend(f"INCOMPLETE: {reason}" for reason in report.incomplete)
    lines.extend(str(difference) for difference in report.differences)
    return lines
