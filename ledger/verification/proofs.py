"""Inclusion and consistency proofs as files.

Inclusion: a C2SP `tlog-proof@v1` (c2sp.org/tlog-proof), whose optional `extra` line carries the
stored event envelope itself, so the file is self-contained: the verifier hashes `extra` as the leaf,
checks the path against the signed checkpoint at the end, and can read the signed statement.

    c2sp.org/tlog-proof@v1
    extra <base64 of the stored envelope>
    index <leaf index>
    <base64 hash>            ← the RFC 9162 inclusion path, one hash a line
    …
                             ← empty line
    <the signed checkpoint note, verbatim>

Consistency (no C2SP format exists; this one follows tlog-proof's style):

    timeledger/consistency-proof@v1
    old <size1> <base64 root1>
    new <size2> <base64 root2>
    <base64 hash>            ← the RFC 9162 consistency proof, one hash a line
    …
                             ← empty line
    [<signed checkpoint note of size1>]<signed checkpoint note of size2>

A note's signature lines all start with an em dash, so notes placed one after another split
unambiguously. The roots of a consistency proof mean nothing unless someone signed them, so the
file must carry the signed checkpoint of each tree it names (the old one may be omitted only when
it is the empty tree, whose root is fixed), and verification fails closed without them: every
checkpoint must open under the region key chained to the trust root (`RegionKeyring`) or under a
verifier key the caller pins. The producer refuses sizes no checkpoint was signed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.values import is_ascii_digits
from ledger.signing import merkle
from ledger.signing.note import canonical_b64 as _b64
from ledger.signing.note import strict_unb64 as note_unb64
from ledger.signing.note import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    format_tlog_proof,
    open_checkpoint,
    parse_tlog_proof,
)
from ledger.storage.checkpoints import CheckpointError, CheckpointStore, StoredCheckpoint
from ledger.verification.checkpoints import RegionKeyring
from ledger.storage.merkle_log import Leaf, MerkleLog

CONSISTENCY_HEADER = "timeledger/consistency-proof@v1"
# Log positions, leaf counts and event versions are SQL BIGINTs: a larger number names nothing, and
# handing it to the database raises OverflowError (SQLite) or DataError (PostgreSQL).
LOG_POSITION_MAX = 2**63 - 1
EVENT_VERSION_MAX = 2**31 - 1  # the leaves table keeps an aggregate's version in a 32-bit INTEGER
_SIG_PREFIX = "\u2014 "


class ProofFileError(ValueError):
    """A proof file is malformed or does not verify. `code` names the finding."""

    def __init__(self, message: str, code: str = "proof_invalid") -> None:
        super().__init__(message)
        self.code = code


CheckpointOpener = NoteVerifier | RegionKeyring


def _open_checkpoint(note: str, opener: CheckpointOpener, origin: str | None) -> Checkpoint:
    """A note's checkpoint, opened under a pinned verifier key or a trust-root keyring."""
    try:
        if isinstance(opener, RegionKeyring):
            checkpoint, _ = opener.open(note)
            if origin is not None and checkpoint.origin != origin:
                raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the expected {origin!r}")
            return checkpoint
        return open_checkpoint(note, opener, origin=origin).checkpoint
    except (NoteError, CheckpointError) as error:
        raise ProofFileError(f"checkpoint: {error}", "checkpoint_untrusted") from None


def _unb64(text: str, what: str) -> bytes:
    """Strict canonical base64, as in signed notes."""
    try:
        return note_unb64(text, what)
    except NoteError as error:
        raise ProofFileError(str(error)) from None


# ------------------------------------------------------------------------------------------------------- inclusion


def inclusion_file(log: MerkleLog, checkpoint: StoredCheckpoint, leaf: Leaf, *, envelope: bytes | None = None) -> str:
    """The tlog-proof of `leaf` against `checkpoint` (which must cover it), with the envelope as `extra`."""
    if leaf.index >= checkpoint.size:
        raise ProofFileError(f"leaf {leaf.index} is not covered by checkpoint {checkpoint.checkpoint_id} "
                             f"(size {checkpoint.size})")
    if envelope is None:
        envelope = log.envelopes_of([leaf])[leaf.index]
    if merkle.leaf_hash(envelope) != leaf.leaf_hash:
        raise ProofFileError(f"the envelope given does not hash to leaf {leaf.index}")
    path = log.inclusion_proof(leaf.index, checkpoint.size)
    return format_tlog_proof(leaf.index, path, checkpoint.note, extra=envelope)


@dataclass(frozen=True)
class VerifiedInclusion:
    checkpoint: Checkpoint
    index: int
    envelope: bytes | None
    leaf_hash: bytes


def verify_inclusion_file(text: str | bytes, log_verifier: CheckpointOpener, *, leaf_data: bytes | None = None,
                          origin: str | None = None) -> VerifiedInclusion:
    """Check a tlog-proof file: the checkpoint's signature and origin, then the inclusion of the leaf
    (`leaf_data`, else the file's `extra` envelope)."""
    try:
        proof = parse_tlog_proof(text)
    except NoteError as error:
        raise ProofFileError(f"not a tlog-proof: {error}") from None
    data = leaf_data if leaf_data is not None else proof.extra
    if data is None:
        raise ProofFileError("the proof carries no event (no 'extra' line) and none was given")
    if leaf_data is not None and proof.extra is not None and proof.extra != leaf_data:
        raise ProofFileError("the event given differs from the one the proof carries")
    checkpoint = _open_checkpoint(proof.checkpoint_note, log_verifier, origin)
    leaf = merkle.leaf_hash(data)
    try:
        merkle.verify_inclusion(leaf, proof.index, checkpoint.size, list(proof.hashes), checkpoint.root_hash)
    except merkle.ProofError as error:
        raise ProofFileError(f"inclusion of leaf {proof.index} in size {checkpoint.size}: {error}") from None
    return VerifiedInclusion(checkpoint, proof.index, proof.extra, leaf)


# ----------------------------------------------------------------------------------------------------- consistency


@dataclass(frozen=True)
class ConsistencyFile:
    size1: int
    root1: bytes
    size2: int
    root2: bytes
    hashes: tuple[bytes, ...]
    notes: tuple[str, ...]  # signed checkpoints of size1 and/or size2, verbatim


def consistency_file(log: MerkleLog, size1: int, size2: int, *, store: CheckpointStore | None = None) -> str:
    """The consistency proof from the tree of `size1` leaves to that of `size2` (both ≤ the log size),
    with the signed checkpoints of those sizes; a size no checkpoint was signed at is refused
    (`unsigned_size`), except an old size of 0."""
    if not 0 <= size1 <= size2 <= LOG_POSITION_MAX:
        raise ProofFileError(f"sizes must satisfy 0 <= from ({size1}) <= to ({size2}) <= {LOG_POSITION_MAX}",
                             "size_out_of_range")
    state = log.state()
    if not 0 <= size1 <= size2 <= state.size:
        raise ProofFileError(f"sizes must satisfy 0 <= from ({size1}) <= to ({size2}) <= log size ({state.size})",
                             "size_out_of_range")
    store = store or CheckpointStore.for_log(log)
    signed = {size: store.with_size(size) for size in {size1, size2} if size > 0}
    missing = sorted(size for size, checkpoint in signed.items() if checkpoint is None)
    if missing or size2 == 0:
        sizes = sorted({c.size for c in store.all()})
        raise ProofFileError(f"no signed checkpoint of size {', '.join(map(str, missing or [0]))}: a consistency proof "
                             "needs the signed checkpoint of each tree it names (signed sizes: "
                             f"{', '.join(map(str, sizes[-20:])) or 'none'})", "unsigned_size")
    root1, root2 = log.root_at(size1), log.root_at(size2)
    hashes = log.consistency_proof(size1, size2)
    notes = [checkpoint.note for size in sorted(signed) if (checkpoint := signed[size]) is not None]
    lines = [CONSISTENCY_HEADER, f"old {size1} {_b64(root1)}", f"new {size2} {_b64(root2)}",
             *(_b64(h) for h in hashes)]
    return "".join(line + "\n" for line in lines) + "\n" + "".join(notes)


def parse_consistency_file(text: str | bytes) -> ConsistencyFile:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProofFileError("a consistency proof is UTF-8 text") from None
    head, separator, tail = text.partition("\n\n")
    if not separator:
        raise ProofFileError("consistency proof has no empty line after its hashes")
    lines = head.split("\n")
    if lines[0] != CONSISTENCY_HEADER:
        raise ProofFileError(f"consistency proof does not start with {CONSISTENCY_HEADER}")
    if len(lines) < 3:
        raise ProofFileError("consistency proof lacks its 'old' and 'new' lines")
    sizes: list[tuple[int, bytes]] = []
    for line, word in ((lines[1], "old"), (lines[2], "new")):
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != word:
            raise ProofFileError(f"expected '{word} <size> <root>', got {line!r}")
        if not is_ascii_digits(parts[1]) or (parts[1] != "0" and parts[1].startswith("0")):
            raise ProofFileError(f"{word} size {parts[1]!r} is not a decimal")
        root = _unb64(parts[2], f"{word} root")
        if len(root) != merkle.HASH_BYTES:
            raise ProofFileError(f"{word} root has {len(root)} bytes")
        sizes.append((int(parts[1]), root))
    hashes = tuple(_unb64(line, f"proof hash {number}") for number, line in enumerate(lines[3:]))
    return ConsistencyFile(sizes[0][0], sizes[0][1], sizes[1][0], sizes[1][1], hashes, tuple(_split_notes(tail)))


def _split_notes(text: str) -> list[str]:
    notes: list[str] = []
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    elif lines:
        raise ProofFileError("the checkpoints must end with a newline")
    i = 0
    while i < len(lines):
        body: list[str] = []
        while i < len(lines) and lines[i] != "":
            body.append(lines[i])
            i += 1
        i += 1  # the empty line before the signatures
        signatures: list[str] = []
        while i < len(lines) and lines[i].startswith(_SIG_PREFIX):
            signatures.append(lines[i])
            i += 1
        if not body or not signatures:
            raise ProofFileError("a checkpoint after the proof is not a signed note")
        notes.append("\n".join(body) + "\n\n" + "\n".join(signatures) + "\n")
    return notes


def verify_consistency_file(text: str | bytes, log_verifier: CheckpointOpener, *,
                            origin: str | None = None) -> ConsistencyFile:
    """Check the proof and fail closed: each tree it names must come with its signed checkpoint
    (the empty old tree excepted, whose root is fixed), opened by `log_verifier` (a pinned verifier
    key, or the region keys chained to the trust root), with the proof's size and root. Returns the
    parsed file; raises `ProofFileError` with a `code` naming the finding."""
    proof = parse_consistency_file(text)
    if proof.size1 > proof.size2:
        raise ProofFileError(f"the old size {proof.size1} is larger than the new size {proof.size2}", "proof_invalid")
    authenticated: set[tuple[int, bytes]] = set()
    for note in proof.notes:
        checkpoint = _open_checkpoint(note, log_verifier, origin)
        if (checkpoint.size, checkpoint.root_hash) not in ((proof.size1, proof.root1), (proof.size2, proof.root2)):
            raise ProofFileError(f"the checkpoint of size {checkpoint.size} is not one of the proof's trees",
                                 "checkpoint_mismatch")
        authenticated.add((checkpoint.size, checkpoint.root_hash))
    if proof.size1 == 0:
        if proof.root1 != merkle.EMPTY_ROOT:
            raise ProofFileError("the old tree is empty but its root is not the empty tree's root", "proof_invalid")
        authenticated.add((0, merkle.EMPTY_ROOT))
    for size, root, which in ((proof.size1, proof.root1, "old"), (proof.size2, proof.root2, "new")):
        if (size, root) not in authenticated:
            raise ProofFileError(f"the {which} tree (size {size}) carries no signed checkpoint: its root is "
                                 "not authenticated", "checkpoint_missing")
    try:
        merkle.verify_consistency(proof.size1, proof.size2, list(proof.hashes), proof.root1, proof.root2)
    except merkle.ProofError as error:
        raise ProofFileError(f"consistency from size {proof.size1} to {proof.size2}: {error}") from None
    return proof


def leaf_for(log: MerkleLog, *, position: int | None = None, event: tuple[str, int] | None = None) -> Leaf:
    """The leaf of an event named by its notification position or by (aggregate id, version)."""
    leaf: Leaf | None = None
    for number, what, most in ((position, "position", LOG_POSITION_MAX),
                               (event[1] if event is not None else None, "version", EVENT_VERSION_MAX)):
        if number is not None and not 1 <= number <= most:
            raise ProofFileError(f"{what} must be between 1 and {most}")
    if position is not None:
        leaf = log.leaf_at_position(position)
        what = f"position {position}"
    elif event is not None:
        leaf = log.leaf_of_event(event[0], event[1])
        what = f"event {event[0]}:{event[1]}"
    else:
        raise ProofFileError("name the event by position or by aggregate:version")
    if leaf is None:
        raise ProofFileError(f"{what} is not in the Merkle log")
    return leaf
