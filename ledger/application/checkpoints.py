"""Signed checkpoints of the region's Merkle log, and witness cosignatures.

A checkpoint is a C2SP tlog-checkpoint signed as a C2SP signed note by the region's own key (the
key the province root certified for the region; after a rotation, the region's current key):

    timeledger/320102                       ← origin: "timeledger/" + the region code
    1048576                                 ← tree size
    <base64 RFC 9162 root hash>
    time 2026-05-01T04:00:00.000000+00:00   ← extension line: when it was signed (UTC)

    — timeledger/320102 <base64(key id ‖ Ed25519 signature)>

The note key name is the origin. The `time` line lets an offline verifier check that the region key
was certified and not revoked when it signed. Other regions cosign as witnesses with Ed25519
`cosignature/v1` lines appended to the same note; a witness first checks the region's signature
and a consistency proof from the last checkpoint it cosigned, so a region cannot show two
histories to anyone who asks a witness.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.base import CLOCK
from ledger.signing import keys as ed25519
from ledger.signing import merkle
from ledger.signing.note import (
    SIG_TYPE_COSIGNATURE_V1,
    Checkpoint,
    CosignatureVerifier,
    Ed25519Signer,
    Ed25519Verifier,
    NoteError,
    cosign_checkpoint,
    format_verifier_key,
    key_id,
    open_checkpoint,
    parse_note,
    parse_signer_key,
    sign_note,
)
from ledger.storage import log_tables as t
from ledger.storage.merkle_log import MerkleLog

ORIGIN_PREFIX = "timeledger/"
TIME_PREFIX = "time "


class CheckpointError(ValueError):
    """A checkpoint cannot be made, cosigned or trusted."""


def origin_of(region_code: str) -> str:
    return f"{ORIGIN_PREFIX}{region_code}"


def format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def checkpoint_time(checkpoint: Checkpoint) -> datetime:
    """The signing time named by the checkpoint's `time` extension line (exactly one is required)."""
    lines = [line for line in checkpoint.extensions if line.startswith(TIME_PREFIX)]
    if len(lines) != 1:
        raise CheckpointError(f"checkpoint has {len(lines)} 'time' extension lines, needs exactly one")
    text = lines[0][len(TIME_PREFIX):]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CheckpointError(f"checkpoint time {text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None or moment.utcoffset() != timezone.utc.utcoffset(None) or format_time(moment) != text:
        raise CheckpointError(f"checkpoint time {text!r} is not in the canonical UTC form")
    return moment


@dataclass(frozen=True)
class StoredCheckpoint:
    checkpoint_id: int
    origin: str
    size: int
    root: bytes
    time: str
    key_id: str  # the timeledger key id of the region key that signed
    note: str  # the signed note, witness cosignatures included

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.parse(parse_note(self.note).text)

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.time)

    def witnesses(self) -> list[tuple[str, bytes]]:
        """(name, note key id) of every signature line other than the region's own."""
        return [(signature.name, signature.key_id) for signature in parse_note(self.note).signatures
                if signature.name != self.origin]


class CheckpointStore:
    """The `tlt_checkpoints` table."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        t.create_tables(engine)

    @classmethod
    def for_log(cls, log: MerkleLog) -> CheckpointStore:
        return cls(log.engine)

    @staticmethod
    def _row(row: Any) -> StoredCheckpoint:
        return StoredCheckpoint(int(row.checkpoint_id), row.origin, int(row.size), bytes(row.root), row.time,
                                row.key_id, row.note)

    def _query(self, query: Any) -> list[StoredCheckpoint]:
        with self.engine.connect() as connection:
            return [self._row(row) for row in connection.execute(query)]

    def latest(self) -> StoredCheckpoint | None:
        found = self._query(sa.select(t.checkpoints).order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1))
        return found[0] if found else None

    def get(self, checkpoint_id: int) -> StoredCheckpoint | None:
        found = self._query(sa.select(t.checkpoints).where(t.checkpoints.c.checkpoint_id == checkpoint_id))
        return found[0] if found else None

    def all(self) -> list[StoredCheckpoint]:
        return self._query(sa.select(t.checkpoints).order_by(t.checkpoints.c.checkpoint_id))

    def with_size(self, size: int) -> StoredCheckpoint | None:
        """The latest checkpoint of exactly this size."""
        found = self._query(sa.select(t.checkpoints).where(t.checkpoints.c.size == size)
                            .order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1))
        return found[0] if found else None

    def before(self, checkpoint: StoredCheckpoint) -> StoredCheckpoint | None:
        found = self._query(sa.select(t.checkpoints).where(t.checkpoints.c.checkpoint_id < checkpoint.checkpoint_id)
                            .order_by(t.checkpoints.c.checkpoint_id.desc()).limit(1))
        return found[0] if found else None

    def add(self, *, origin: str, size: int, root: bytes, time: str, key_id: str, note: str) -> StoredCheckpoint:
        with self.engine.begin() as connection:
            checkpoint_id = connection.execute(t.checkpoints.insert().values(
                origin=origin, size=size, root=root, time=time, key_id=key_id, note=note)).inserted_primary_key[0]
        return StoredCheckpoint(int(checkpoint_id), origin, size, root, time, key_id, note)

    def replace_note(self, checkpoint: StoredCheckpoint, note: str) -> StoredCheckpoint:
        """Store the note with added cosignatures (its text must be the same checkpoint)."""
        if parse_note(note).text != parse_note(checkpoint.note).text:
            raise CheckpointError("a cosigned note must carry the same checkpoint text")
        with self.engine.begin() as connection:
            connection.execute(t.checkpoints.update().where(t.checkpoints.c.checkpoint_id == checkpoint.checkpoint_id)
                               .values(note=note))
        return StoredCheckpoint(checkpoint.checkpoint_id, checkpoint.origin, checkpoint.size, checkpoint.root,
                                checkpoint.time, checkpoint.key_id, note)


# ------------------------------------------------------------------------------------------------- the region side


def region_note_verifier(ledger: Any, key_id_hex: str | None = None) -> Ed25519Verifier:
    """The note verifier of the region key `key_id_hex` (default: the region's current key)."""
    if key_id_hex is None:
        key_id_hex = ledger.key_id_of(ledger.region_actor())
    key = ledger.get_key(key_id_hex)
    return Ed25519Verifier(origin_of(ledger.region_code), ed25519.unb64(key.public_key))


def sign_checkpoint(ledger: Any, log: MerkleLog | None = None, *, catch_up: bool = True,
                    reuse_latest: bool = False) -> StoredCheckpoint:
    """Catch the log up and sign a checkpoint of its whole tree with the region key.

    With `reuse_latest`, the latest checkpoint is returned instead when it already covers the tree.
    """
    if ledger.region_code is None:
        raise CheckpointError("the database holds no region")
    log = log or MerkleLog.for_ledger(ledger)
    store = CheckpointStore.for_log(log)
    if catch_up:
        log.catch_up()
    state = log.state()
    if reuse_latest:
        latest = store.latest()
        if latest is not None and latest.size == state.size and latest.root == state.root:
            return latest
    region_key_id, _, private_key = ledger._signer_for(ledger.region_actor())  # noqa: SLF001 - the region's key
    origin = origin_of(ledger.region_code)
    time = format_time(CLOCK.get()())
    body = Checkpoint(origin, state.size, state.root, (TIME_PREFIX + time,)).to_body()
    note = sign_note(body, [Ed25519Signer(origin, private_key)])
    return store.add(origin=origin, size=state.size, root=state.root, time=time, key_id=region_key_id, note=note)


def check_consistency(log: MerkleLog, older: StoredCheckpoint, newer: StoredCheckpoint) -> None:
    """Raise `merkle.ProofError` unless `newer`'s tree extends `older`'s (proof from the log's nodes)."""
    if newer.size < older.size:
        raise merkle.ProofError(f"checkpoint {newer.checkpoint_id} (size {newer.size}) is smaller than "
                                f"checkpoint {older.checkpoint_id} (size {older.size})")
    proof = log.consistency_proof(older.size, newer.size)
    merkle.verify_consistency(older.size, newer.size, proof, older.root, newer.root)


class RegionKeyring:
    """The keys of one region certified by the trust root (with their validity), to open the region's
    checkpoint notes: a note opens only under a key that chains to the root, was the region's, and
    was valid at the note's `time`."""

    def __init__(self, region_code: str, keys: list[Any]) -> None:
        from ledger.domain.region import Region
        from ledger.domain.values import Role

        region_actor = str(Region.create_id(region_code))
        self.origin = origin_of(region_code)
        self.keys = [key for key in keys if key.role is Role.REGION and key.owner_id == region_actor]

    @classmethod
    def from_store(cls, ledger: Any, root_public_key: bytes) -> RegionKeyring:
        """The region keys that the store's key events chain to `root_public_key`."""
        from ledger.verification.store import KEY_TYPES, iter_rows, load_trusted_keys

        if ledger.region_code is None:
            raise CheckpointError("the database holds no region")
        key_events = (raw for raw in iter_rows(ledger.database, recorder=ledger.recorder, order="position")
                      if _key_topic(raw.topic, KEY_TYPES))
        trusted = load_trusted_keys(key_events, root_public_key, ledger.region_code, [])
        return cls(ledger.region_code, list(trusted.values()))

    def open(self, note: str | bytes) -> tuple[Checkpoint, Any]:
        """The checkpoint of a note signed by one of these keys valid at its time, and that key.
        Raises `CheckpointError` naming why not."""
        from ledger.verification.store import key_valid_at

        try:
            signatures = parse_note(note).signatures
        except NoteError as error:
            raise CheckpointError(f"not a signed note: {error}") from None
        for key in self.keys:
            verifier = Ed25519Verifier(self.origin, key.public_key)
            if not any((s.name, s.key_id) == (verifier.name, verifier.key_id) for s in signatures):
                continue
            try:
                checkpoint = open_checkpoint(note, verifier).checkpoint
            except NoteError as error:
                raise CheckpointError(f"checkpoint signature: {error}") from None
            moment = checkpoint_time(checkpoint)
            if not key_valid_at(key, moment):
                raise CheckpointError(f"the checkpoint was signed at {format_time(moment)}, when region key "
                                      f"{key.key_id} was not valid (registered {key.registered_at.isoformat()}"
                                      + (f", revoked {key.revoked_at.isoformat()})" if key.revoked_at else ")"))
            return checkpoint, key
        raise CheckpointError(f"the checkpoint is not signed by a key of {self.origin} certified by the trust root")


def _key_topic(topic: str, key_types: tuple[str, ...]) -> bool:
    from ledger.verification.store import _topic_type

    resolved = _topic_type(topic)
    return resolved is not None and resolved[1] in key_types


# ------------------------------------------------------------------------------------------------ the witness side


def load_private_key_file(path: Path) -> tuple[Ed25519PrivateKey, str | None]:
    """An Ed25519 private key file: base64 of the raw 32-byte seed (as `timeledger init` writes the root
    key) or a C2SP/Go signer key `PRIVATE+KEY+name+id+…` (whose name is returned too)."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise CheckpointError(f"{path} holds no key")
    text = lines[-1]
    if text.startswith("PRIVATE+KEY+"):
        try:
            signer = parse_signer_key(text)
        except NoteError as error:
            raise CheckpointError(f"{path}: {error}") from None
        return signer._private_key, signer.name  # noqa: SLF001 - the parsed key itself
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{path} is neither base64 of a 32-byte key nor a PRIVATE+KEY+ signer key") from None
    if len(raw) != 32:
        raise CheckpointError(f"{path} holds {len(raw)} bytes, an Ed25519 private key has 32")
    return ed25519.load_private(raw), None


def witness_verifier_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """The `name+id+base64(0x04‖pubkey)` verifier key a witness publishes for its cosignatures."""
    return format_verifier_key(name, private_key.public_key().public_bytes_raw(), sig_type=SIG_TYPE_COSIGNATURE_V1)


def cosign(ledger: Any, *, witness_name: str, witness_key: Ed25519PrivateKey,
           checkpoint: StoredCheckpoint | None = None, log: MerkleLog | None = None,
           timestamp: int | None = None) -> StoredCheckpoint:
    """Cosign a checkpoint (default the latest) as witness `witness_name`, after checking the region's
    signature and a consistency proof from the last checkpoint this witness cosigned."""
    log = log or MerkleLog.for_ledger(ledger)
    store = CheckpointStore.for_log(log)
    checkpoint = checkpoint or store.latest()
    if checkpoint is None:
        raise CheckpointError("there is no checkpoint to cosign: run `timeledger checkpoint` first")
    verifier = region_note_verifier(ledger, checkpoint.key_id)
    try:
        open_checkpoint(checkpoint.note, verifier)
    except NoteError as error:
        raise CheckpointError(f"checkpoint {checkpoint.checkpoint_id}: {error}") from None
    witness_public = witness_key.public_key().public_bytes_raw()
    witness_id = key_id(witness_name, SIG_TYPE_COSIGNATURE_V1, witness_public)
    if witness_public == verifier.public_key_bytes or witness_name == verifier.name:
        raise CheckpointError("a region cannot witness its own checkpoints")
    previous = [c for c in store.all() if c.checkpoint_id != checkpoint.checkpoint_id
                and (witness_name, witness_id) in c.witnesses()]
    if previous:
        last = max(previous, key=lambda c: c.size)
        try:
            check_consistency(log, last, checkpoint)
        except (merkle.ProofError, merkle.MissingNodeError) as error:
            raise CheckpointError(f"checkpoint {checkpoint.checkpoint_id} is not consistent with checkpoint "
                                  f"{last.checkpoint_id} that {witness_name} cosigned: {error}") from None
    when = int(CLOCK.get()().timestamp()) if timestamp is None else timestamp
    try:
        note = cosign_checkpoint(checkpoint.note, witness_name, witness_key, when, log_verifier=verifier)
    except NoteError as error:
        raise CheckpointError(str(error)) from None
    return store.replace_note(checkpoint, note)


def verify_witnesses(note: str, witness_keys: list[str], quorum: int) -> list[str]:
    """Names of the witnesses (given as verifier keys) whose cosignatures on `note` verify; raises
    `CheckpointError` below `quorum`."""
    from ledger.signing.note import parse_verifier_key, verify_cosignatures

    try:
        verifiers = [parse_verifier_key(vkey) for vkey in witness_keys]
        found = verify_cosignatures(note, verifiers)
    except NoteError as error:
        raise CheckpointError(str(error)) from None
    names = sorted({cosignature.name for cosignature in found})
    if len(names) < quorum:
        raise CheckpointError(f"checkpoint has {len(names)} valid witness cosignature(s), quorum is {quorum}")
    return names


__all__ = [
    "ORIGIN_PREFIX",
    "CheckpointError",
    "RegionKeyring",
    "CheckpointStore",
    "CosignatureVerifier",
    "StoredCheckpoint",
    "check_consistency",
    "checkpoint_time",
    "cosign",
    "format_time",
    "load_private_key_file",
    "origin_of",
    "region_note_verifier",
    "sign_checkpoint",
    "verify_witnesses",
    "witness_verifier_key",
]
