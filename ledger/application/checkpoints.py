"""Making checkpoints: the region signs one with its key; a witness cosigns another region's."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.domain.base import CLOCK
from ledger.signing import keys as ed25519
from ledger.signing import merkle
from ledger.signing.note import (
    SIG_TYPE_COSIGNATURE_V1,
    Checkpoint,
    Ed25519Signer,
    NoteError,
    cosign_checkpoint,
    key_id,
    open_checkpoint,
    parse_signer_key,
    sign_note,
)
from ledger.storage.merkle_log import MerkleLog
from ledger.storage.checkpoints import (CheckpointError, CheckpointStore, TIME_PREFIX, StoredCheckpoint,
    format_time, origin_of)
from ledger.verification.checkpoints import check_consistency, region_note_verifier


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
    region_key_id, _, private_key = ledger._signer_for(ledger.region_actor())
    origin = origin_of(ledger.region_code)
    time = format_time(CLOCK.get()())
    body = Checkpoint(origin, state.size, state.root, (TIME_PREFIX + time,)).to_body()
    note = sign_note(body, [Ed25519Signer(origin, private_key)])
    return store.add(origin=origin, size=state.size, root=state.root, time=time, key_id=region_key_id, note=note)


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
        return signer._private_key, signer.name
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"{path} is neither base64 of a 32-byte key nor a PRIVATE+KEY+ signer key") from None
    if len(raw) != 32:
        raise CheckpointError(f"{path} holds {len(raw)} bytes, an Ed25519 private key has 32")
    return ed25519.load_private(raw), None


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
