"""Verification of a whole region's store, trusting only the province root key.

Pass 1 reads the key registrations (few) in log order and builds the trust chain:
root (self-registered) → region → unit / community / auditor → counter / resident / member.
Pass 2 streams every event ordered by aggregate and version, so hash chains and replays are
checked with one aggregate in memory at a time; signatures are verified on every core.
For each event it checks: the envelope and canonical form, that the stored row (id, version,
topic) matches the signed statement, the region, the signer's key (known, trusted, of the role
that may sign this event type, owned by the actor named, registered before and not revoked at the
event's time), the Ed25519 signature, the hash-chain link, and that replaying it succeeds.
Pass 1 also checks which member signed which activity event (ledger/verification/organisers.py).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Sequence
from uuid import UUID

from eventsourcing.utils import resolve_topic

from ledger.domain.keys import key_valid_between
from ledger.domain.permissions import SIGNER_ROLES
from ledger.domain.values import CERTIFIERS, Role
from ledger.storage.database import Database
from ledger.storage.mapper import decode_event, event_type_name
from ledger.storage.raw_events import RawEvent, iter_raw_events
from ledger.verification.organisers import OrganiserCheck
from ledger.signing import keys as ed25519
from ledger.signing.canonical import CanonicalError, canonical_bytes
from ledger.signing.statement import (
    GENESIS_HASH,
    EnvelopeError,
    Statement,
    parse_signed_bytes,
    statement_hash,
    unpack,
)

VERIFY_CHUNK_EVENTS = 1024  # events (whole aggregates) per task sent to a worker process
KEY_TYPES = ("Key.Registered", "Key.Revoked")


def printable(text: Any) -> str:
    """Untrusted text made safe to print and to encode as UTF-8 JSON: lone surrogates and other
    unencodable characters become backslash escapes (a finding must never crash its own report)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "backslashreplace")
    elif not isinstance(text, str):
        text = str(text)
    return str(text).encode("utf-8", "backslashreplace").decode("utf-8")


@dataclass(frozen=True)
class Problem:
    aggregate_id: str
    version: int
    position: int
    event_type: str
    reason: str

    def __post_init__(self) -> None:
        for name in ("aggregate_id", "event_type", "reason"):
            object.__setattr__(self, name, printable(getattr(self, name)))
        if type(self.version) is not int:
            object.__setattr__(self, "version", -1)

    def __str__(self) -> str:
        return (f"event {self.event_type or '?'} aggregate={self.aggregate_id} version={self.version} "
                f"position={self.position}: {self.reason}")


@dataclass
class Report:
    events_checked: int = 0
    aggregates_checked: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class TrustedKey:
    key_id: str
    public_key: bytes
    role: Role
    owner_id: str
    registered_at: datetime
    revoked_at: datetime | None = None


# -------------------------------------------------------------------------------------------
# Signature checking, parallel over processes


def _verify_chunk(items: Sequence[tuple[int, bytes, bytes, bytes]]) -> list[int]:
    """Indexes of the items whose signature does not verify."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    bad = []
    cache: dict[bytes, Ed25519PublicKey] = {}
    for index, public, signature, message in items:
        key = cache.get(public)
        if key is None:
            key = cache[public] = Ed25519PublicKey.from_public_bytes(public)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            bad.append(index)
    return bad


# -------------------------------------------------------------------------------------------


_SAFE_INTEGER = 2**53 - 1
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TOPIC_TYPES: dict[str, tuple[type, str] | None] = {}


def _parse(raw: RawEvent) -> tuple[bytes, bytes, Statement]:
    """`parse_signed_bytes(strict=True)`, faster: the subset walk only runs when the body could need it.
    Malformed bytes raise `EnvelopeError` (never `UnicodeDecodeError` or `CanonicalError`)."""
    signature, signed_bytes = unpack(raw.state)
    statement = parse_signed_bytes(signed_bytes, strict=False)
    try:
        return _check_canonical(signature, signed_bytes, statement)
    except EnvelopeError:
        raise
    except (UnicodeError, RecursionError, ValueError, TypeError) as error:  # e.g. a lone surrogate escape
        raise EnvelopeError(f"statement is not canonical UTF-8 JSON: {type(error).__name__}") from None


def _check_canonical(signature: bytes, signed_bytes: bytes, statement: Statement) -> tuple[bytes, bytes, Statement]:
    _, head_region, head_type, body = signed_bytes.split(b"\n", 3)
    try:
        if head_region.decode() != statement.region or head_type.decode() != statement.type:
            raise EnvelopeError("prefix does not match the statement")
    except UnicodeDecodeError:
        raise EnvelopeError("prefix is not UTF-8") from None
    document = statement.as_json()
    try:  # the canonical subset is checked by a fast walk; the library's own check names what is outside
        encoded = canonical_bytes(document, checked=not _in_subset(document))
    except CanonicalError as error:
        raise EnvelopeError(f"statement holds a value outside canonical JSON: {error}") from None
    if encoded != body:
        raise EnvelopeError("statement is not in canonical form")
    return signature, signed_bytes, statement


def _in_subset(value: Any) -> bool:
    """Whether `canonical_bytes(value, checked=True)` would accept it (JSON types, safe integers, BMP keys)."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(-_SAFE_INTEGER <= value <= _SAFE_INTEGER)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str or not (key.isascii() or max(key, default="") <= "\uffff") or not _in_subset(item):
                return False
        return True
    if kind is list:
        return all(_in_subset(item) for item in value)
    return False


def _topic_type(topic: str) -> tuple[type, str] | None:
    """(event class, event type name) of a stored topic, or None when it does not resolve (cached)."""
    if topic not in _TOPIC_TYPES:
        try:
            cls = resolve_topic(topic)
            _TOPIC_TYPES[topic] = (cls, event_type_name(cls))
        except Exception:  # noqa: BLE001 - an unknown topic is a finding, named by _row_matches
            _TOPIC_TYPES[topic] = None
    return _TOPIC_TYPES[topic]


def clean_row(raw: RawEvent) -> RawEvent:
    """A stored row with the types the checks expect, whatever a tampered database returns (SQLite
    keeps any type in any column): ids and topics as text, versions as int (-1 when not one), the
    envelope as bytes. What does not fit is then named by the checks, never raised."""
    originator_id, version, topic, state = raw.originator_id, raw.originator_version, raw.topic, raw.state
    if type(originator_id) is str and type(version) is int and type(topic) is str and type(state) is bytes:
        return raw
    if type(state) is not bytes:
        state = bytes(state) if isinstance(state, (bytearray, memoryview)) else printable(
            "" if state is None else state).encode()
    return RawEvent(raw.position, originator_id if type(originator_id) is str else printable(originator_id),
                    version if type(version) is int else -1, topic if type(topic) is str else printable(topic),
                    state)


def iter_rows(database: Database, *, recorder: Any = None, order: str = "aggregate") -> Iterator[RawEvent]:
    """`iter_raw_events` with every row cleaned (see `clean_row`)."""
    for raw in iter_raw_events(database, recorder=recorder, order=order):
        yield clean_row(raw)


def _row_matches(raw: RawEvent, statement: Statement) -> str | None:
    signed = statement.aggregate
    if (raw.originator_id == signed or raw.originator_id == signed.replace("-", "")) and (
            type(signed) is str and _CANONICAL_UUID.fullmatch(signed)):
        pass  # the canonical id or its hex: what the UUID comparison below concludes, without parsing
    else:
        mismatch = _row_id_mismatch(raw, statement)
        if mismatch:
            return mismatch
    if raw.originator_version != statement.version:
        return f"stored version differs from the signed one ({statement.version})"
    resolved = _topic_type(raw.topic)
    if resolved is None:
        return f"unknown event topic {raw.topic!r}"
    if resolved[1] != statement.type:
        return f"stored topic does not match the signed event type {statement.type}"
    return None


def _row_id_mismatch(raw: RawEvent, statement: Statement) -> str | None:
    try:
        row_id = UUID(raw.originator_id)
        signed_id = UUID(statement.aggregate)
    except ValueError:
        return "aggregate id is not a UUID"
    if row_id != signed_id or raw.originator_id not in (signed_id.hex, str(signed_id)):
        return f"stored aggregate id differs from the signed one ({statement.aggregate})"
    return None


def load_trusted_keys(events: Iterable[RawEvent], root_public_key: bytes, region_code: str | None,
                      problems: list[Problem]) -> dict[str, TrustedKey]:
    """Pass 1: the keys whose registration chains up to the root, with their revocations."""
    root_id = ed25519.key_id_of(root_public_key)
    trusted: dict[str, TrustedKey] = {}
    for raw in events:
        raw = clean_row(raw)
        try:
            signature, signed_bytes, statement = _parse(raw)
        except EnvelopeError:
            continue  # named in pass 2
        if statement.type not in KEY_TYPES or _row_matches(raw, statement) is not None:
            continue
        if region_code is not None and statement.region != region_code:
            continue
        try:
            _trust_key_event(trusted, root_id, root_public_key, signature, signed_bytes, statement)
        except Exception:  # noqa: BLE001 - a malformed key event trusts nothing; pass 2 names it
            continue
    return trusted


def _trust_key_event(trusted: dict[str, TrustedKey], root_id: str, root_public_key: bytes, signature: bytes,
                     signed_bytes: bytes, statement: Statement) -> None:
    """Add a registration (or a revocation) to the trusted keys if it chains to the root."""
    signer = trusted.get(statement.key)
    time = datetime.fromisoformat(statement.time)
    payload = statement.payload
    if statement.type == "Key.Registered":
        public = ed25519.unb64(payload["public_key"])
        self_signed = payload["key_id"] == statement.key == root_id and public == root_public_key
        if self_signed:
            signer_public = root_public_key
        elif signer is None or not key_valid_at(signer, time):
            return
        else:
            signer_public = signer.public_key
            if signer.role not in CERTIFIERS.get(Role(payload["role"]), frozenset()):
                return
        if ed25519.key_id_of(public) != payload["key_id"]:
            return
        if not ed25519.verify(ed25519.load_public(ed25519.b64(signer_public)), signature, signed_bytes):
            return
        trusted[payload["key_id"]] = TrustedKey(payload["key_id"], public, Role(payload["role"]),
                                                payload["owner_id"], time)
    else:
        target = trusted.get(_key_id_from_aggregate(trusted, statement.aggregate))
        if target is None or signer is None or not key_valid_at(signer, time):
            return
        if signer.role not in CERTIFIERS.get(target.role, frozenset()) | {Role.PROVINCE}:
            return  # named in pass 2 (`_certifier_problem`)
        if not ed25519.verify(ed25519.load_public(ed25519.b64(signer.public_key)), signature, signed_bytes):
            return
        effective = datetime.fromisoformat(payload["effective_at"])
        if target.revoked_at is None or effective < target.revoked_at:
            target.revoked_at = effective


def _key_id_from_aggregate(trusted: dict[str, TrustedKey], aggregate_id: str) -> str:
    from ledger.domain.keys import Key

    wanted = UUID(aggregate_id)
    for key_id in trusted:
        if Key.create_id(key_id) == wanted:
            return key_id
    return ""


def key_valid_at(key: TrustedKey, moment: datetime) -> bool:
    """Whether a trusted key signs at `moment` (`ledger.domain.keys.key_valid_between`, the one rule)."""
    return key_valid_between(key.registered_at, key.revoked_at, moment)


def _signer_problem(statement: Statement, trusted: dict[str, TrustedKey]) -> tuple[str | None, TrustedKey | None]:
    key = trusted.get(statement.key)
    if key is None:
        return f"signed by key {statement.key}, which is not certified by the trust root", None
    if key.role.value != statement.role:
        return f"statement claims role {statement.role} but key {statement.key} belongs to a {key.role.value}", None
    if key.owner_id != statement.actor:
        return f"statement names actor {statement.actor} but key {statement.key} belongs to {key.owner_id}", None
    allowed = SIGNER_ROLES.get(statement.type)
    if allowed is None:
        return f"unknown event type {statement.type}", None
    if key.role not in allowed:
        return f"a {key.role.value} may not sign {statement.type}", None
    moment = datetime.fromisoformat(statement.time)
    if not key_valid_at(key, moment):
        if moment < key.registered_at:
            return f"signed at {statement.time}, before key {statement.key} was registered", None
        assert key.revoked_at is not None
        return f"signed at {statement.time} by key {statement.key}, revoked from {key.revoked_at.isoformat()}", None
    return None, key


def _certifier_problem(statement: Statement, signer: TrustedKey, key_before: Any) -> str | None:
    """Who may register or revoke a key (`CERTIFIERS`; the root also revokes): a key event by a
    role that may not certify that key is named, not just left untrusted."""
    if statement.type == "Key.Registered":
        role = Role(statement.payload["role"])
    else:
        role = Role(getattr(key_before, "role", ""))
    allowed = CERTIFIERS.get(role, frozenset())
    if statement.type == "Key.Revoked":
        allowed = allowed | {Role.PROVINCE}
    if signer.role not in allowed:
        verb = "certify" if statement.type == "Key.Registered" else "revoke"
        return f"a {signer.role.value} may not {verb} a {role.value} key"
    return None


def _aggregates(events: Iterator[RawEvent]) -> Iterator[list[RawEvent]]:
    group: list[RawEvent] = []
    for raw in events:
        if group and raw.originator_id != group[0].originator_id:
            yield group
            group = []
        group.append(raw)
    if group:
        yield group


@dataclass
class _ChainState:
    """What checking one aggregate carries from event to event."""

    prev_hash: str = GENESIS_HASH
    aggregate: Any = None
    replay_ok: bool = True
    aggregate_id: tuple[str, UUID] | None = None


class _AggregateChecker:
    """Checks one aggregate's events at a time: rows against statements, keys, chain, replay.
    Signatures go to `add_signature`, which may check them later on another core."""

    def __init__(self, trusted: dict[str, TrustedKey], region_code: str | None, report: Report,
                 add_signature: Callable[[RawEvent, str, bytes, bytes, bytes], None]) -> None:
        self.trusted = trusted
        self.region_code = region_code
        self.report = report
        self.add_signature = add_signature

    def check(self, group: Sequence[RawEvent]) -> Any:
        """The replayed aggregate, or None when its events do not replay."""
        report = self.report
        report.aggregates_checked += 1
        state = _ChainState()
        for expected_version, raw in enumerate(group, start=1):
            report.events_checked += 1
            try:
                self._check_event(raw, expected_version, state)
            except Exception as error:  # noqa: BLE001 - a verifier is total: whatever the bytes, a finding
                report.problems.append(Problem(raw.originator_id, raw.originator_version, raw.position, "",
                                               f"event cannot be checked: {type(error).__name__}: {error}"))
                state.prev_hash, state.replay_ok = "", False
        return state.aggregate if state.replay_ok else None

    def _check_event(self, raw: RawEvent, expected_version: int, state: _ChainState) -> None:
        report = self.report

        def fail(reason: str, event_type: str = "", raw: RawEvent = raw) -> None:
            report.problems.append(Problem(raw.originator_id, raw.originator_version, raw.position,
                                           event_type, reason))

        try:
            signature, signed_bytes, statement = _parse(raw)
        except EnvelopeError as error:
            fail(f"stored bytes are not a valid signed statement: {error}")
            state.prev_hash, state.replay_ok = "", False
            return
        report.by_type[statement.type] += 1
        mismatch = _row_matches(raw, statement)
        if mismatch:
            fail(mismatch, statement.type)
        if self.region_code is not None and statement.region != self.region_code:
            fail(f"signed for region {statement.region}, not {self.region_code}", statement.type)
        if raw.originator_version != expected_version:
            fail(f"version {raw.originator_version} where {expected_version} was expected: "
                 "the aggregate's history has a gap", statement.type)
        if statement.prev != state.prev_hash:
            fail("hash chain broken: prev does not match the previous statement's hash", statement.type)
        state.prev_hash = statement_hash(signed_bytes)
        try:
            problem, key = _signer_problem(statement, self.trusted)
            if key is not None and statement.type in KEY_TYPES:
                problem = _certifier_problem(statement, key, state.aggregate)
        except (TypeError, ValueError, KeyError, AttributeError) as error:  # a malformed field is a finding
            problem, key = f"malformed statement: {error}", None
        if problem:
            fail(problem, statement.type)
        else:
            assert key is not None
            self.add_signature(raw, statement.type, key.public_key, signature, signed_bytes)
        if state.replay_ok and not mismatch:
            try:
                if state.aggregate_id is None or state.aggregate_id[0] != statement.aggregate:
                    state.aggregate_id = (statement.aggregate, UUID(statement.aggregate))
                resolved = _topic_type(raw.topic)
                assert resolved is not None  # a row whose topic does not resolve is a mismatch
                domain_event = decode_event(resolved[0], state.aggregate_id[1], statement.version, statement.time,
                                            statement.payload, state.prev_hash)
                state.aggregate = domain_event.mutate(state.aggregate)
            except Exception as error:  # noqa: BLE001 - any failure to replay is a finding
                fail(f"replay failed: {type(error).__name__}: {error}", statement.type)
                state.replay_ok = False


def _key_rows(events: Iterable[RawEvent]) -> Iterator[RawEvent]:
    """The rows whose topic is a key event: the only rows `load_trusted_keys` can trust anything from."""
    for raw in events:
        resolved = _topic_type(raw.topic)
        if resolved is not None and resolved[1] in KEY_TYPES:
            yield raw


LOG_PAGE_LEAVES = 20_000  # leaves read per query when comparing positions with the Merkle log


def _logged_positions(database: Database) -> Iterator[tuple[int, str, int, str]]:
    """(position, aggregate id, version, event type) of every leaf of the Merkle log kept beside the
    store, in position order; nothing when the store has no log (read only: never creates one)."""
    import sqlalchemy as sa

    from ledger.storage import log_tables as t

    if database.kind == "memory":
        return
    engine = t.create_engine(database)
    try:
        schema = database.schema if database.kind == "postgresql" else None
        if not sa.inspect(engine).has_table(t.leaves.name, schema=schema):
            return
        after = -1
        columns = (t.leaves.c.leaf_index, t.leaves.c.position, t.leaves.c.aggregate_id, t.leaves.c.version,
                   t.leaves.c.event_type)
        while True:
            with engine.connect() as connection:
                page = connection.execute(sa.select(*columns).where(t.leaves.c.leaf_index > after)
                                          .order_by(t.leaves.c.leaf_index).limit(LOG_PAGE_LEAVES)).all()
            if not page:
                return
            for row in page:
                yield int(row[1]), str(row[2]), int(row[3]), str(row[4])
            after = int(page[-1][0])
    finally:
        engine.dispose()


def _against_log(rows: Iterator[RawEvent], database: Database, problems: list[Problem]) -> Iterator[RawEvent]:
    """Pass the rows through, naming every event the Merkle log holds that the store no longer does:
    the deletion of an aggregate's last event breaks no hash chain, only the log can see it. (Whether
    the bytes still hash to their leaves is `timeledger audit`'s comparison.)"""
    leaves = _logged_positions(database)

    def advance() -> tuple[int, str, int, str] | None:
        try:
            return next(leaves, None)
        except Exception as error:  # noqa: BLE001 - a damaged log table is a finding, not a crash
            problems.append(Problem("", -1, 0, "", f"the Merkle log cannot be read: {type(error).__name__}: {error}"))
            return None

    def deleted(leaf: tuple[int, str, int, str]) -> Problem:
        return Problem(leaf[1], leaf[2], leaf[0], leaf[3], "the Merkle log holds this event but the event store no "
                       "longer does (deleted)")

    leaf = advance()
    for raw in rows:
        while leaf is not None and leaf[0] < raw.position:
            problems.append(deleted(leaf))
            leaf = advance()
        if leaf is not None and leaf[0] == raw.position:
            leaf = advance()
        yield raw
    while leaf is not None:
        problems.append(deleted(leaf))
        leaf = advance()


_WORKER: dict[str, Any] = {}


def _init_worker(trusted: dict[str, TrustedKey], region_code: str | None) -> None:
    _WORKER["trusted"], _WORKER["region_code"] = trusted, region_code


def _check_rows_in_worker(groups: list[list[tuple[int, str, int, str, bytes]]]) -> Report:
    return _check_rows(groups, _WORKER["trusted"], _WORKER["region_code"])


class SignatureMemo:
    """Ed25519 verifications that succeeded, by the exact bytes verified: SHA-256 of public key (32
    bytes) ‖ signature (64 bytes) ‖ signed message. A store verified again with the memo of an earlier
    pass (the torture script verifies after every restart) skips only repeated arithmetic on
    byte-identical inputs, whose answer cannot differ; every other check runs on every row, and a
    row changed in any byte is a new entry, verified afresh. Failures are never remembered."""

    def __init__(self) -> None:
        self._verified: set[bytes] = set()

    @staticmethod
    def _entry(public: bytes, signature: bytes, message: bytes) -> bytes:
        import hashlib

        return hashlib.sha256(len(public).to_bytes(2, "big") + public + len(signature).to_bytes(2, "big")
                              + signature + message).digest()

    def verified(self, public: bytes, signature: bytes, message: bytes) -> bool:
        return self._entry(public, signature, message) in self._verified

    def add(self, public: bytes, signature: bytes, message: bytes) -> None:
        self._verified.add(self._entry(public, signature, message))

    def __len__(self) -> int:
        return len(self._verified)


def _check_rows(groups: list[list[tuple[int, str, int, str, bytes]]], trusted: dict[str, TrustedKey],
                region_code: str | None, memo: SignatureMemo | None = None) -> Report:
    """Every check of whole aggregates, signatures included (run on one core)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    report = Report()
    keys: dict[bytes, Ed25519PublicKey] = {}

    def check_signature(raw: RawEvent, event_type: str, public: bytes, signature: bytes, message: bytes) -> None:
        if memo is not None and memo.verified(public, signature, message):
            return
        key = keys.get(public)
        if key is None:
            key = keys[public] = Ed25519PublicKey.from_public_bytes(public)
        try:
            key.verify(signature, message)
        except InvalidSignature:
            report.problems.append(Problem(raw.originator_id, raw.originator_version, raw.position, event_type,
                                           "signature does not verify"))
            return
        if memo is not None:
            memo.add(public, signature, message)

    checker = _AggregateChecker(trusted, region_code, report, check_signature)
    for group in groups:
        checker.check([RawEvent(*row) for row in group])
    return report


def _merge(into: Report, part: Report) -> None:
    into.events_checked += part.events_checked
    into.aggregates_checked += part.aggregates_checked
    into.by_type.update(part.by_type)
    into.problems.extend(part.problems)


def verify_store(database: Database, *, root_public_key: bytes, region_code: str | None = None,
                 recorder: Any = None, workers: int | None = None,
                 progress: Callable[[int], None] | None = None, memo: SignatureMemo | None = None) -> Report:
    """Verify every stored event. `workers=0` checks everything inline (no processes).

    The main process only reads rows (grouped by aggregate) and hands chunks of whole aggregates to
    the workers, which run every check — parse, row, key, chain, signature, replay — so all cores
    spend their time on the checks themselves, most of it in Ed25519.

    `memo` (inline only: `workers=0`) remembers the signatures verified, for a later pass over the
    same store (`SignatureMemo`).
    """
    if memo is not None and workers != 0:
        raise ValueError("a SignatureMemo lives in this process: verify with workers=0")
    report = Report()
    rows = iter_rows(database, recorder=recorder, order="position")
    organisers = OrganiserCheck()  # fed by the same pass: which member may sign which activity event
    trusted = load_trusted_keys(_key_rows(organisers.watch(_against_log(rows, database, report.problems))),
                                root_public_key, region_code, report.problems)
    report.problems.extend(Problem(raw.originator_id, raw.originator_version, raw.position, event_type, reason)
                           for raw, event_type, reason in organisers.problems)
    workers = os.cpu_count() or 1 if workers is None else workers
    executor = (ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(trusted, region_code))
                if workers > 0 else None)
    in_flight: list[Any] = []
    next_progress = 10_000

    def collect(part: Report) -> None:
        nonlocal next_progress
        _merge(report, part)
        if progress is not None and report.events_checked >= next_progress:
            progress(report.events_checked)
            next_progress = report.events_checked + 10_000

    def submit(chunk: list[list[tuple[int, str, int, str, bytes]]]) -> None:
        if executor is None:
            collect(_check_rows(chunk, trusted, region_code, memo))
            return
        in_flight.append(executor.submit(_check_rows_in_worker, chunk))
        while len(in_flight) > 3 * workers:  # bounded memory: wait for the oldest
            collect(in_flight.pop(0).result())

    try:
        chunk: list[list[tuple[int, str, int, str, bytes]]] = []
        size = 0
        for group in _aggregates(iter_rows(database, recorder=recorder, order="aggregate")):
            chunk.append([(r.position, r.originator_id, r.originator_version, r.topic, r.state) for r in group])
            size += len(group)
            if size >= VERIFY_CHUNK_EVENTS:
                submit(chunk)
                chunk, size = [], 0
        if chunk:
            submit(chunk)
        while in_flight:
            collect(in_flight.pop(0).result())
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)
    report.problems.sort(key=lambda p: (p.position, p.aggregate_id, p.version))
    return report


# -------------------------------------------------------------------------------------------
# Sets of envelopes outside a store: transfer bundles and certificates.


@dataclass
class EventSet:
    """The result of verifying a set of signed events given as envelopes."""

    report: Report
    trusted: dict[str, TrustedKey]
    aggregates: dict[UUID, Any]  # replayed, for aggregates whose events all replay
    heads: dict[UUID, bytes]  # each aggregate's last envelope (what a Merkle proof must include)


def raw_from_envelope(envelope: bytes, position: int) -> RawEvent:
    """A RawEvent for an envelope outside a store (the row fields come from the statement)."""
    from eventsourcing.utils import get_topic

    try:
        _, signed_bytes = unpack(envelope)
        statement = parse_signed_bytes(signed_bytes, strict=False)
        topic = get_topic(event_class(statement.type))
        return RawEvent(position, statement.aggregate, statement.version, topic, envelope)
    except (EnvelopeError, KeyError, ValueError):
        return RawEvent(position, "00000000-0000-0000-0000-000000000000", 0, "", envelope)


def event_class(event_type: str) -> type:
    """The event class named `Aggregate.Event` in a statement."""
    return _event_classes()[event_type]


def _event_classes() -> dict[str, type]:
    if not _EVENT_CLASSES:
        import ledger.domain.keys
        import ledger.domain.member
        import ledger.domain.orders
        import ledger.domain.organisations
        import ledger.domain.region
        import ledger.domain.scoring
        import ledger.domain.service_session
        import ledger.domain.time_account
        import ledger.domain.transfer
        from ledger.domain.base import LedgerAggregate

        modules = (ledger.domain.keys, ledger.domain.member, ledger.domain.orders, ledger.domain.organisations,
                   ledger.domain.region, ledger.domain.scoring, ledger.domain.service_session,
                   ledger.domain.time_account, ledger.domain.transfer)
        for module in modules:
            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, LedgerAggregate) and value is not LedgerAggregate:
                    for attribute in vars(value).values():
                        if isinstance(attribute, type) and issubclass(attribute, LedgerAggregate.Event):
                            _EVENT_CLASSES[event_type_name(attribute)] = attribute
    return _EVENT_CLASSES


_EVENT_CLASSES: dict[str, type] = {}


def _certification_order(raws: list[RawEvent]) -> list[RawEvent]:
    """Key events with every certifier's registration before the keys it certified, and
    revocations last (a set of envelopes has no log order to rely on)."""
    registrations: dict[str, tuple[str, RawEvent]] = {}
    rest: list[RawEvent] = []
    for raw in raws:
        try:
            statement = parse_signed_bytes(unpack(raw.state)[1], strict=False)
            key_id = statement.payload["key_id"] if statement.type == "Key.Registered" else None
        except (EnvelopeError, KeyError, TypeError):
            key_id = None
        if key_id is not None and key_id not in registrations:
            registrations[key_id] = (statement.key, raw)
        else:
            rest.append(raw)
    ordered: list[RawEvent] = []
    placed: set[str] = set()

    def place(key_id: str, depth: int = 0) -> None:
        if key_id in placed or key_id not in registrations or depth > len(registrations):
            return
        certifier, raw = registrations[key_id]
        if certifier != key_id:
            place(certifier, depth + 1)
        placed.add(key_id)
        ordered.append(raw)

    for key_id in registrations:
        place(key_id)
    return ordered + [raw for _, raw in registrations.values() if raw not in ordered] + rest


def verify_envelopes(envelopes: Sequence[bytes], *, key_envelopes: Sequence[bytes], root_public_key: bytes,
                     region_code: str | None) -> EventSet:
    """Verify signed events given as envelopes (complete aggregate chains from version 1), with
    the key registrations that certify their signers, trusting only the root key."""
    report = Report()
    key_raws = _certification_order([raw_from_envelope(envelope, index) for index, envelope in enumerate(key_envelopes)])
    trusted = load_trusted_keys(key_raws, root_public_key, region_code, report.problems)
    raws = sorted((raw_from_envelope(envelope, index) for index, envelope in enumerate(envelopes)),
                  key=lambda r: (r.originator_id, r.originator_version))

    def add_signature(raw: RawEvent, event_type: str, public: bytes, signature: bytes, message: bytes) -> None:
        if _verify_chunk([(0, public, signature, message)]):
            report.problems.append(Problem(raw.originator_id, raw.originator_version, raw.position, event_type,
                                           "signature does not verify"))

    checker = _AggregateChecker(trusted, region_code, report, add_signature)
    aggregates: dict[UUID, Any] = {}
    heads: dict[UUID, bytes] = {}
    for group in _aggregates(iter(raws)):
        problems_before = len(report.problems)
        aggregate = checker.check(group)
        if aggregate is not None and len(report.problems) == problems_before:
            aggregates[aggregate.id] = aggregate
            heads[aggregate.id] = group[-1].state
    report.problems.sort(key=lambda p: (p.position, p.aggregate_id, p.version))
    return EventSet(report, trusted, aggregates, heads)
