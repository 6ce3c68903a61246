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

from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.signing import keys as ed25519
from ledger.signing import merkle
from ledger.signing.note import (
    SIG_TYPE_COSIGNATURE_V1,
    Checkpoint,
    Ed25519Verifier,
    NoteError,
    format_verifier_key,
    open_checkpoint,
    parse_note,
)
from ledger.storage.merkle_log import MerkleLog
from ledger.storage.checkpoints import (CheckpointError, StoredCheckpoint,
    checkpoint_time, format_time, origin_of)


def region_note_verifier(ledger: Any, key_id_hex: str | None = None) -> Ed25519Verifier:
    """The note verifier of the region key `key_id_hex` (default: the region's current key)."""
    if key_id_hex is None:
        key_id_hex = ledger.key_id_of(ledger.region_actor())
    key = ledger.get_key(key_id_hex)
    return Ed25519Verifier(origin_of(ledger.region_code), ed25519.unb64(key.public_key))


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


def witness_verifier_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """The `name+id+base64(0x04‖pubkey)` verifier key a witness publishes for its cosignatures."""
    return format_verifier_key(name, private_key.public_key().public_bytes_raw(), sig_type=SIG_TYPE_COSIGNATURE_V1)


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

