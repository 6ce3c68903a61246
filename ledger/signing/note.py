"""C2SP signed notes, checkpoints, cosignatures and tlog proofs (Ed25519 only).

Formats implemented, checked against the C2SP specifications and Go's ``golang.org/x/mod/sumdb/note``:

* **signed-note** (c2sp.org/signed-note): ``<text ending in \\n>`` + ``\\n`` + one or more lines
  ``— <key name> <base64(key id ‖ signature)>\\n`` (em dash U+2014, space). Key id = first 4 bytes of
  ``SHA-256(name ‖ 0x0A ‖ type ‖ public key)``; type 0x01 is plain Ed25519 over the note text. Key names are
  non-empty, without Unicode white space or ``+``. Notes are UTF-8 without control characters except newline.
  Verifier keys ``<name>+<8 hex key id>+<base64(type ‖ public key)>``; signer keys (Go's format)
  ``PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 ‖ 32-byte seed)>``.
  Opening ignores unknown keys, rejects the note if a known key's signature fails (the spec's SHOULD), and
  fails unless a known key verifies. Stricter than Go: every signature by a known key is verified (Go skips
  repeats), base64 must be canonical, and at most 100 signature lines are read (the spec asks for at least 16).
* **tlog-checkpoint** (c2sp.org/tlog-checkpoint): body ``<origin>\\n<size>\\n<base64 root>\\n[<extension>\\n…]``;
  size in decimal without leading zeros, root 32 bytes, every line non-empty.
* **tlog-cosignature** (c2sp.org/tlog-cosignature), Ed25519 ``cosignature/v1`` only: key id type 0x04; the signed
  message is ``cosignature/v1\\ntime <POSIX seconds>\\n`` + the checkpoint body; the signature bytes are
  ``timestamp (u64 big-endian) ‖ Ed25519 signature (64)``; the timestamp is at most 2^63-1. Witness verifier keys
  use type 0x04. Not implemented: the ML-DSA-44 ``subtree/v1`` cosignature (type 0x06), rejecting timestamps
  in the future (the spec's MAY; compare ``Cosignature.timestamp`` yourself).
* **tlog-proof** (c2sp.org/tlog-proof@v1): ``c2sp.org/tlog-proof@v1``, optional ``extra <base64>`` (opaque,
  unauthenticated), ``index <N>``, the inclusion path one base64 hash a line, an empty line, then the checkpoint
  note verbatim.

Not confirmed against a published vector: the Ed25519 cosignature bytes (no public known-answer with a private
key was found); the layout above is from the spec text and transparency-dev/formats ``note_cosigv1.go``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.signing.merkle import HASH_BYTES, MAX_TREE_SIZE, verify_inclusion

__all__ = [
    "COSIGNATURE_V1_HEADER",
    "MAX_SIGNATURES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "Cosignature",
    "CosignatureSigner",
    "CosignatureVerifier",
    "Ed25519Signer",
    "Ed25519Verifier",
    "NoteError",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "ParsedNote",
    "TlogProof",
    "VerifiedCheckpoint",
    "add_signatures",
    "cosign_checkpoint",
    "format_signer_key",
    "format_tlog_proof",
    "format_verifier_key",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_note",
    "parse_signer_key",
    "parse_tlog_proof",
    "parse_verifier_key",
    "sign_note",
    "verify_cosignatures",
    "verify_tlog_proof",
]

SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
MAX_SIGNATURES = 100
COSIGNATURE_V1_HEADER = "cosignature/v1"
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"

_KEY_ID_BYTES = 4
_ED25519_KEY_BYTES = 32
_ED25519_SIGNATURE_BYTES = 64
_TIMESTAMP_BYTES = 8
_MAX_TIMESTAMP = 2**63 - 1
_MAX_PROOF_HASHES = 64  # an inclusion path in a tree of at most 2^64 - 1 leaves
_SIG_PREFIX = "\u2014 "  # em dash, space
_SIGNER_KEY_PREFIX = "PRIVATE+KEY+"

_CONTROL_RE = re.compile("[\x00-\x09\x0b-\x1f]")
_DECIMAL_RE = re.compile("0|[1-9][0-9]*")
_KEY_ID_HEX_RE = re.compile("[0-9a-fA-F]{8}")
# Unicode White_Space (what Go's unicode.IsSpace tests); str.isspace() also catches U+001C..U+001F.
_WHITE_SPACE = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000" + "".join(map(chr, range(0x2000, 0x200B)))
)


class NoteError(ValueError):
    """A note, key, checkpoint, cosignature or tlog proof is malformed or does not verify."""


# ------------------------------------------------------------------------------------------------------ helpers


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    """Strict standard base64: padded, no stray characters, canonical (re-encodes to the same text)."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error, ValueError):
        raise NoteError(f"{what} is not valid base64") from None
    if _b64(raw) != text:
        raise NoteError(f"{what} is not canonical base64")
    return raw


canonical_b64 = _b64  # for the other text formats of the log (proof files)
strict_unb64 = _unb64


def _valid_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and name != ""
        and "+" not in name
        and not any(ch in _WHITE_SPACE or ch.isspace() for ch in name)
        and _CONTROL_RE.search(name) is None
        and _encodable(name)
    )


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_name(name: object, what: str) -> str:
    if not _valid_name(name):
        raise NoteError(f"invalid {what} {name!r}: must be non-empty, without white space or '+'")
    assert isinstance(name, str)
    return name


def _as_text(note: str | bytes, what: str) -> str:
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError:
            raise NoteError(f"{what} is not valid UTF-8") from None
    if not isinstance(note, str):
        raise NoteError(f"{what} must be str or bytes, not {type(note).__name__}")
    if not _encodable(note):
        raise NoteError(f"{what} is not valid UTF-8")
    match = _CONTROL_RE.search(note)
    if match is not None:
        raise NoteError(f"{what} contains control character U+{ord(match.group()):04X} at offset {match.start()}")
    return note


def _parse_decimal(text: str, what: str, maximum: int) -> int:
    if _DECIMAL_RE.fullmatch(text) is None:
        raise NoteError(f"{what} {text!r} is not a decimal without leading zeros")
    value = int(text)
    if value > maximum:
        raise NoteError(f"{what} {value} exceeds {maximum}")
    return value


def key_id(name: str, sig_type: int, public_key: bytes) -> bytes:
    """The 4-byte key id: SHA-256(name ‖ 0x0A ‖ sig_type ‖ public_key)[:4]."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([sig_type]) + public_key).digest()[:_KEY_ID_BYTES]


def _raw_public(key: Ed25519PublicKey | bytes) -> bytes:
    if isinstance(key, Ed25519PublicKey):
        return key.public_bytes_raw()
    if isinstance(key, bytes) and len(key) == _ED25519_KEY_BYTES:
        return key
    raise NoteError("an Ed25519 public key is an Ed25519PublicKey or 32 raw bytes")


def _ed25519_verify(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    if len(signature) != _ED25519_SIGNATURE_BYTES:
        return False
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


# ---------------------------------------------------------------------------------------- signers and verifiers


class NoteSigner(Protocol):
    """Signs note text for one (name, key id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def sign(self, text: bytes) -> bytes:
        """The signature bytes (without the key id) over the note text."""
        ...


class NoteVerifier(Protocol):
    """Verifies note signatures of one (name, key id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> bytes: ...

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (without the key id) is valid over the note text."""
        ...


class Ed25519Verifier:
    """Plain Ed25519 note verifier (signature type 0x01)."""

    __slots__ = ("_public_key", "key_id", "name", "public_key_bytes")

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        self.name: str = _check_name(name, "key name")
        self.public_key_bytes: bytes = _raw_public(public_key)
        self._public_key = Ed25519PublicKey.from_public_bytes(self.public_key_bytes)
        self.key_id: bytes = key_id(name, SIG_TYPE_ED25519, self.public_key_bytes)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``text``."""
        return _ed25519_verify(self._public_key, signature, text)

    def verifier_key(self) -> str:
        """The ``name+hexid+base64(0x01‖pubkey)`` verifier key string."""
        return format_verifier_key(self.name, self.public_key_bytes)

    def __repr__(self) -> str:
        return f"Ed25519Verifier({self.name!r}, key_id={self.key_id.hex()})"


class Ed25519Signer:
    """Plain Ed25519 note signer (signature type 0x01)."""

    __slots__ = ("_private_key", "key_id", "name", "public_key_bytes")

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise NoteError("an Ed25519 signer needs an Ed25519PrivateKey")
        self.name: str = _check_name(name, "key name")
        self._private_key = private_key
        self.public_key_bytes: bytes = private_key.public_key().public_bytes_raw()
        self.key_id: bytes = key_id(name, SIG_TYPE_ED25519, self.public_key_bytes)

    def sign(self, text: bytes) -> bytes:
        """The Ed25519 signature of ``text``."""
        return self._private_key.sign(text)

    def verifier(self) -> Ed25519Verifier:
        """The matching verifier."""
        return Ed25519Verifier(self.name, self.public_key_bytes)

    def __repr__(self) -> str:
        return f"Ed25519Signer({self.name!r}, key_id={self.key_id.hex()})"


def _cosigned_message(timestamp: int, text: bytes) -> bytes:
    return f"{COSIGNATURE_V1_HEADER}\ntime {timestamp}\n".encode("ascii") + text


def _check_timestamp(timestamp: int) -> int:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise NoteError(f"a cosignature timestamp is an int, not {type(timestamp).__name__}")
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise NoteError(f"cosignature timestamp {timestamp} is outside [0, 2^63-1]")
    return timestamp


class CosignatureVerifier:
    """Ed25519 ``cosignature/v1`` verifier (signature type 0x04, c2sp.org/tlog-cosignature)."""

    __slots__ = ("_public_key", "key_id", "name", "public_key_bytes")

    def __init__(self, name: str, public_key: Ed25519PublicKey | bytes) -> None:
        self.name: str = _check_name(name, "cosigner name")
        self.public_key_bytes: bytes = _raw_public(public_key)
        self._public_key = Ed25519PublicKey.from_public_bytes(self.public_key_bytes)
        self.key_id: bytes = key_id(name, SIG_TYPE_COSIGNATURE_V1, self.public_key_bytes)

    def verify(self, text: bytes, signature: bytes) -> bool:
        """Whether ``signature`` = timestamp(8) ‖ Ed25519 signature of the cosigned message over ``text``."""
        if len(signature) != _TIMESTAMP_BYTES + _ED25519_SIGNATURE_BYTES:
            return False
        timestamp = int.from_bytes(signature[:_TIMESTAMP_BYTES], "big")
        if timestamp > _MAX_TIMESTAMP:
            return False
        message = _cosigned_message(timestamp, text)
        return _ed25519_verify(self._public_key, signature[_TIMESTAMP_BYTES:], message)

    @staticmethod
    def timestamp_of(signature: bytes) -> int:
        """The POSIX timestamp carried by a cosignature's signature bytes."""
        if len(signature) != _TIMESTAMP_BYTES + _ED25519_SIGNATURE_BYTES:
            raise NoteError(f"an Ed25519 cosignature has 72 bytes, got {len(signature)}")
        return int.from_bytes(signature[:_TIMESTAMP_BYTES], "big")

    def verifier_key(self) -> str:
        """The ``name+hexid+base64(0x04‖pubkey)`` verifier key string."""
        return format_verifier_key(self.name, self.public_key_bytes, sig_type=SIG_TYPE_COSIGNATURE_V1)

    def __repr__(self) -> str:
        return f"CosignatureVerifier({self.name!r}, key_id={self.key_id.hex()})"


class CosignatureSigner:
    """Ed25519 ``cosignature/v1`` signer with a fixed timestamp (POSIX seconds)."""

    __slots__ = ("_private_key", "key_id", "name", "public_key_bytes", "timestamp")

    def __init__(self, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> None:
        if not isinstance(private_key, Ed25519PrivateKey):
            raise NoteError("a cosigner needs an Ed25519PrivateKey")
        self.name: str = _check_name(name, "cosigner name")
        self._private_key = private_key
        self.timestamp: int = _check_timestamp(timestamp)
        self.public_key_bytes: bytes = private_key.public_key().public_bytes_raw()
        self.key_id: bytes = key_id(name, SIG_TYPE_COSIGNATURE_V1, self.public_key_bytes)

    def sign(self, text: bytes) -> bytes:
        """timestamp (u64 BE) ‖ Ed25519 signature of ``cosignature/v1\\ntime <t>\\n`` + checkpoint body."""
        try:
            Checkpoint.parse(text.decode("utf-8"))  # only checkpoints are cosigned
        except UnicodeDecodeError:
            raise NoteError("a cosigned checkpoint must be UTF-8") from None
        signature = self._private_key.sign(_cosigned_message(self.timestamp, text))
        return self.timestamp.to_bytes(_TIMESTAMP_BYTES, "big") + signature

    def verifier(self) -> CosignatureVerifier:
        """The matching verifier."""
        return CosignatureVerifier(self.name, self.public_key_bytes)

    def __repr__(self) -> str:
        return f"CosignatureSigner({self.name!r}, key_id={self.key_id.hex()}, timestamp={self.timestamp})"


# ------------------------------------------------------------------------------------------------- key strings


def format_verifier_key(name: str, public_key: Ed25519PublicKey | bytes, *, sig_type: int = SIG_TYPE_ED25519) -> str:
    """``name+hexkeyid+base64(type‖pubkey)``; ``sig_type`` 0x01 (notes) or 0x04 (cosignatures)."""
    _check_name(name, "key name")
    if sig_type not in (SIG_TYPE_ED25519, SIG_TYPE_COSIGNATURE_V1):
        raise NoteError(f"unsupported signature type 0x{sig_type:02x}")
    raw = _raw_public(public_key)
    return f"{name}+{key_id(name, sig_type, raw).hex()}+{_b64(bytes([sig_type]) + raw)}"


def parse_verifier_key(vkey: str) -> Ed25519Verifier | CosignatureVerifier:
    """Parse a verifier key: type 0x01 gives an ``Ed25519Verifier``, 0x04 a ``CosignatureVerifier``."""
    if not isinstance(vkey, str):
        raise NoteError("a verifier key is a str")
    name, _, rest = vkey.partition("+")
    key_id_hex, _, key_b64 = rest.partition("+")
    _check_name(name, "verifier key name")
    if _KEY_ID_HEX_RE.fullmatch(key_id_hex) is None:
        raise NoteError(f"verifier key id {key_id_hex!r} is not 8 hex digits")
    key = _unb64(key_b64, "verifier key material")
    if len(key) != 1 + _ED25519_KEY_BYTES:
        raise NoteError(f"verifier key material has {len(key)} bytes, want 33 (type byte and Ed25519 key)")
    sig_type, public_key = key[0], key[1:]
    if key_id(name, sig_type, public_key) != bytes.fromhex(key_id_hex):
        raise NoteError(f"verifier key id {key_id_hex} does not match its name and key")
    if sig_type == SIG_TYPE_ED25519:
        return Ed25519Verifier(name, public_key)
    if sig_type == SIG_TYPE_COSIGNATURE_V1:
        return CosignatureVerifier(name, public_key)
    raise NoteError(f"unsupported verifier key type 0x{sig_type:02x}")


def format_signer_key(name: str, private_key: Ed25519PrivateKey) -> str:
    """Go's signer key: ``PRIVATE+KEY+name+hexkeyid+base64(0x01‖seed)``. Keep it secret."""
    signer = Ed25519Signer(name, private_key)
    seed = private_key.private_bytes_raw()
    return f"{_SIGNER_KEY_PREFIX}{name}+{signer.key_id.hex()}+{_b64(bytes([SIG_TYPE_ED25519]) + seed)}"


def parse_signer_key(skey: str) -> Ed25519Signer:
    """Parse Go's ``PRIVATE+KEY+…`` signer key; the key id must match the derived public key."""
    if not isinstance(skey, str) or not skey.startswith(_SIGNER_KEY_PREFIX):
        raise NoteError("a signer key starts with PRIVATE+KEY+")
    name, _, rest = skey[len(_SIGNER_KEY_PREFIX) :].partition("+")
    key_id_hex, _, key_b64 = rest.partition("+")
    _check_name(name, "signer key name")
    if _KEY_ID_HEX_RE.fullmatch(key_id_hex) is None:
        raise NoteError("signer key id is not 8 hex digits")
    key = _unb64(key_b64, "signer key material")
    if len(key) != 1 + _ED25519_KEY_BYTES:
        raise NoteError(f"signer key material has {len(key)} bytes, want 33")
    if key[0] != SIG_TYPE_ED25519:
        raise NoteError(f"unsupported signer key type 0x{key[0]:02x}")
    signer = Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(key[1:]))
    if signer.key_id != bytes.fromhex(key_id_hex):
        raise NoteError("signer key id does not match its name and public key")
    return signer


# ------------------------------------------------------------------------------------------------------- notes


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: key name, 4-byte key id and the signature bytes that follow the id."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        """The signature line, without its newline."""
        return f"{_SIG_PREFIX}{self.name} {_b64(self.key_id + self.signature)}"


@dataclass(frozen=True, slots=True)
class ParsedNote:
    """A syntactically valid note: its text (ending in newline) and signatures, none verified."""

    text: str
    signatures: tuple[NoteSignature, ...]


def parse_note(note: str | bytes) -> ParsedNote:
    """Split a signed note into text and signature lines, checking syntax only (nothing is verified)."""
    note = _as_text(note, "note")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise NoteError("note must end with signature lines, each ending in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_SIG_PREFIX):
            raise NoteError(f"signature line {number} does not start with an em dash and a space")
        name, space, sig_b64 = line[len(_SIG_PREFIX) :].partition(" ")
        if not space:
            raise NoteError(f"signature line {number} has no space between key name and signature")
        _check_name(name, f"key name on signature line {number}")
        raw = _unb64(sig_b64, f"signature on line {number}")
        if len(raw) <= _KEY_ID_BYTES:
            raise NoteError(f"signature on line {number} is too short")
        signatures.append(NoteSignature(name, raw[:_KEY_ID_BYTES], raw[_KEY_ID_BYTES:]))
    return ParsedNote(text, tuple(signatures))


def _verifier_map(verifiers: Sequence[NoteVerifier]) -> dict[tuple[str, bytes], NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for verifier in verifiers:
        ident = (verifier.name, bytes(verifier.key_id))
        if len(ident[1]) != _KEY_ID_BYTES:
            raise NoteError(f"verifier {verifier.name!r} has a key id of {len(ident[1])} bytes")
        if ident in known:
            raise NoteError(f"ambiguous verifiers: two keys named {ident[0]!r} with key id {ident[1].hex()}")
        known[ident] = verifier
    return known


def open_note(note: str | bytes, verifiers: Sequence[NoteVerifier]) -> tuple[str, tuple[NoteSignature, ...]]:
    """Verify a note; returns its text and the verified signatures (one per known key, in note order).

    Signatures by unknown (name, key id) pairs are ignored; any failing signature by a known key, or no
    verified signature at all, raises ``NoteError``.
    """
    known = _verifier_map(verifiers)
    parsed = parse_note(note)
    text = parsed.text.encode("utf-8")
    verified: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for signature in parsed.signatures:
        ident = (signature.name, signature.key_id)
        verifier = known.get(ident)
        if verifier is None:
            continue
        if not verifier.verify(text, signature.signature):
            raise NoteError(f"invalid signature by known key {signature.name}+{signature.key_id.hex()}")
        if ident not in seen:
            seen.add(ident)
            verified.append(signature)
    if not verified:
        raise NoteError("note has no valid signature from a known key")
    return parsed.text, tuple(verified)


def _signature_lines(text: str, signers: Sequence[NoteSigner]) -> tuple[list[str], set[tuple[str, bytes]]]:
    if not signers:
        raise NoteError("at least one signer is needed")
    body = text.encode("utf-8")
    lines: list[str] = []
    idents: set[tuple[str, bytes]] = set()
    for signer in signers:
        name = _check_name(signer.name, "signer name")
        ident = (name, bytes(signer.key_id))
        if len(ident[1]) != _KEY_ID_BYTES:
            raise NoteError(f"signer {name!r} has a key id of {len(ident[1])} bytes")
        if ident in idents:
            raise NoteError(f"two signers named {name!r} with key id {ident[1].hex()}")
        idents.add(ident)
        lines.append(NoteSignature(name, ident[1], signer.sign(body)).line())
    return lines, idents


def _check_note_text(text: str) -> str:
    text = _as_text(text, "note text")
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    return text


def sign_note(text: str, signers: Sequence[NoteSigner]) -> str:
    """Sign ``text`` (which must end with a newline) with every signer; returns the signed note."""
    text = _check_note_text(text)
    lines, _ = _signature_lines(text, signers)
    note = text + "\n" + "".join(line + "\n" for line in lines)
    parse_note(note)  # the result must read back
    return note


def add_signatures(note: str, signers: Sequence[NoteSigner]) -> str:
    """Add signatures to a signed note (e.g. witness cosignatures); a signer's older line is replaced.

    Existing signatures are kept as they are and not verified here.
    """
    parsed = parse_note(note)
    lines, idents = _signature_lines(parsed.text, signers)
    kept = [sig.line() for sig in parsed.signatures if (sig.name, sig.key_id) not in idents]
    if len(kept) + len(lines) > MAX_SIGNATURES:
        raise NoteError(f"a note can carry at most {MAX_SIGNATURES} signatures")
    result = parsed.text + "\n" + "".join(line + "\n" for line in kept + lines)
    parse_note(result)  # the result must read back
    return result


# ------------------------------------------------------------------------------------------------- checkpoints


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, RFC 9162 root hash and optional extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for what, line in [("origin", self.origin), *(("extension line", ext) for ext in self.extensions)]:
            if not isinstance(line, str) or not line or "\n" in line or not _encodable(line):
                raise NoteError(f"checkpoint {what} must be a non-empty single line, got {line!r}")
            if _CONTROL_RE.search(line) is not None:
                raise NoteError(f"checkpoint {what} contains a control character")
        if not isinstance(self.extensions, tuple):
            raise NoteError("checkpoint extensions must be a tuple of lines")
        if isinstance(self.size, bool) or not isinstance(self.size, int) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise NoteError(f"checkpoint size must be an int in [0, 2^64-1], got {self.size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_BYTES:
            raise NoteError(f"checkpoint root hash must be {HASH_BYTES} bytes")

    def to_body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` plus one line per extension."""
        lines = [self.origin, str(self.size), _b64(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        """Parse a checkpoint body strictly (see ``to_body``)."""
        if not isinstance(body, str):
            raise NoteError("a checkpoint body is a str")
        if not body.endswith("\n"):
            raise NoteError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise NoteError(f"checkpoint body has {len(lines)} lines, needs origin, size and root hash")
        for number, line in enumerate(lines, 1):
            if not line:
                raise NoteError(f"checkpoint line {number} is empty")
        size = _parse_decimal(lines[1], "checkpoint size", MAX_TREE_SIZE)
        root_hash = _unb64(lines[2], "checkpoint root hash")
        if len(root_hash) != HASH_BYTES:
            raise NoteError(f"checkpoint root hash has {len(root_hash)} bytes, want {HASH_BYTES}")
        return cls(lines[0], size, root_hash, tuple(lines[3:]))


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified witness signature; ``timestamp`` is set for ``cosignature/v1`` keys, else ``None``."""

    name: str
    key_id: bytes
    timestamp: int | None


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature verified, with the witness cosignatures that verified."""

    checkpoint: Checkpoint
    cosignatures: tuple[Cosignature, ...]


def _cosignature(verifier: NoteVerifier, signature: NoteSignature) -> Cosignature:
    timestamp = None
    if isinstance(verifier, CosignatureVerifier):
        timestamp = CosignatureVerifier.timestamp_of(signature.signature)
    return Cosignature(signature.name, signature.key_id, timestamp)


def verify_cosignatures(note: str, witness_verifiers: Sequence[NoteVerifier]) -> tuple[Cosignature, ...]:
    """The witness signatures on ``note`` that verify; a failing one by a known witness raises ``NoteError``.

    Unlike ``open_note`` this does not require any signature to be present, nor check the log's signature.
    """
    known = _verifier_map(witness_verifiers)
    parsed = parse_note(note)
    text = parsed.text.encode("utf-8")
    found: dict[tuple[str, bytes], Cosignature] = {}
    for signature in parsed.signatures:
        ident = (signature.name, signature.key_id)
        verifier = known.get(ident)
        if verifier is None:
            continue
        if not verifier.verify(text, signature.signature):
            raise NoteError(f"invalid cosignature by witness {signature.name}+{signature.key_id.hex()}")
        found.setdefault(ident, _cosignature(verifier, signature))
    return tuple(found.values())


def open_checkpoint(
    note: str | bytes,
    log_verifier: NoteVerifier,
    *,
    origin: str | None = None,
    witness_verifiers: Sequence[NoteVerifier] = (),
    witness_quorum: int = 0,
) -> VerifiedCheckpoint:
    """Verify a signed checkpoint: the log's signature, the origin, and ``witness_quorum`` distinct witnesses.

    ``origin`` defaults to the log key's name. Witnesses are counted by name. Any failing signature by a known
    key (log or witness) rejects the checkpoint.
    """
    if isinstance(witness_quorum, bool) or not isinstance(witness_quorum, int) or witness_quorum < 0:
        raise NoteError(f"witness quorum must be a non-negative int, got {witness_quorum!r}")
    witness_names = {verifier.name for verifier in witness_verifiers}
    if witness_quorum > len(witness_names):
        raise NoteError(f"witness quorum {witness_quorum} exceeds the {len(witness_names)} configured witnesses")
    log_ident = (log_verifier.name, bytes(log_verifier.key_id))
    witnesses = _verifier_map(witness_verifiers)
    if log_ident in witnesses:
        raise NoteError("the log key is also configured as a witness")
    text, verified = open_note(note, [log_verifier, *witness_verifiers])
    if not any((sig.name, sig.key_id) == log_ident for sig in verified):
        raise NoteError(f"checkpoint is not signed by the log key {log_ident[0]}+{log_ident[1].hex()}")
    checkpoint = Checkpoint.parse(text)
    expected_origin = log_verifier.name if origin is None else origin
    if checkpoint.origin != expected_origin:
        raise NoteError(f"checkpoint origin {checkpoint.origin!r} is not the expected {expected_origin!r}")
    cosignatures = tuple(
        _cosignature(witnesses[(sig.name, sig.key_id)], sig) for sig in verified if (sig.name, sig.key_id) in witnesses
    )
    distinct = {cosignature.name for cosignature in cosignatures}
    if len(distinct) < witness_quorum:
        raise NoteError(f"checkpoint has {len(distinct)} valid witness cosignatures, quorum is {witness_quorum}")
    return VerifiedCheckpoint(checkpoint, cosignatures)


def cosign_checkpoint(
    note: str,
    witness_name: str,
    witness_key: Ed25519PrivateKey,
    timestamp: int,
    *,
    log_verifier: NoteVerifier | None = None,
) -> str:
    """Add a ``cosignature/v1`` line by ``witness_name`` at POSIX ``timestamp`` to a signed checkpoint.

    With ``log_verifier`` the log's signature (and origin = log key name) is checked first.
    """
    if log_verifier is not None:
        open_checkpoint(note, log_verifier)
    else:
        Checkpoint.parse(parse_note(note).text)
    return add_signatures(note, [CosignatureSigner(witness_name, witness_key, timestamp)])


# ------------------------------------------------------------------------------------------------- tlog proofs


@dataclass(frozen=True, slots=True)
class TlogProof:
    """A parsed c2sp.org/tlog-proof@v1: leaf index, inclusion path, checkpoint note, optional extra data."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint_note: str
    extra: bytes | None = None


def format_tlog_proof(index: int, hashes: Sequence[bytes], checkpoint_note: str, extra: bytes | None = None) -> str:
    """Format a tlog-proof; ``checkpoint_note`` is the signed checkpoint, included verbatim."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= MAX_TREE_SIZE:
        raise NoteError(f"proof index must be an int in [0, 2^64-1], got {index!r}")
    if len(hashes) > _MAX_PROOF_HASHES:
        raise NoteError(f"an inclusion path has at most {_MAX_PROOF_HASHES} hashes")
    for i, value in enumerate(hashes):
        if not isinstance(value, bytes) or len(value) != HASH_BYTES:
            raise NoteError(f"proof hash {i} must be {HASH_BYTES} bytes")
    parse_note(checkpoint_note)
    lines = [TLOG_PROOF_HEADER]
    if extra is not None:
        lines.append(f"extra {_b64(bytes(extra))}")
    lines.append(f"index {index}")
    lines.extend(_b64(value) for value in hashes)
    return "".join(line + "\n" for line in lines) + "\n" + checkpoint_note


def parse_tlog_proof(text: str | bytes) -> TlogProof:
    """Parse a tlog-proof strictly. The checkpoint note is returned verbatim and not yet checked."""
    text = _as_text(text, "tlog proof")
    position = 0

    def next_line(what: str) -> str:
        nonlocal position
        end = text.find("\n", position)
        if end < 0:
            raise NoteError(f"tlog proof ends before its {what}")
        line = text[position:end]
        position = end + 1
        return line

    if next_line("header") != TLOG_PROOF_HEADER:
        raise NoteError(f"tlog proof does not start with {TLOG_PROOF_HEADER}")
    line = next_line("index line")
    extra = None
    if line.startswith("extra "):
        extra = _unb64(line[len("extra ") :], "tlog proof extra data")
        line = next_line("index line")
    if not line.startswith("index "):
        raise NoteError("tlog proof has no 'index N' line")
    index = _parse_decimal(line[len("index ") :], "tlog proof index", MAX_TREE_SIZE)
    hashes: list[bytes] = []
    while (line := next_line("blank line before the checkpoint")) != "":
        if len(hashes) == _MAX_PROOF_HASHES:
            raise NoteError(f"tlog proof has more than {_MAX_PROOF_HASHES} hashes")
        value = _unb64(line, f"tlog proof hash {len(hashes)}")
        if len(value) != HASH_BYTES:
            raise NoteError(f"tlog proof hash {len(hashes)} has {len(value)} bytes, want {HASH_BYTES}")
        hashes.append(value)
    checkpoint_note = text[position:]
    if not checkpoint_note:
        raise NoteError("tlog proof has no checkpoint")
    return TlogProof(index, tuple(hashes), checkpoint_note, extra)


def verify_tlog_proof(
    text: str | bytes,
    leaf_hash: bytes,
    log_verifier: NoteVerifier,
    witness_verifiers: Sequence[NoteVerifier] = (),
    witness_quorum: int = 0,
    *,
    origin: str | None = None,
) -> Checkpoint:
    """Verify a tlog-proof for ``leaf_hash``: checkpoint signature, origin, witness quorum, inclusion.

    Returns the verified checkpoint. Raises ``NoteError`` for format or signature failures and
    ``merkle.ProofError`` when the inclusion proof fails (both are ``ValueError``).
    """
    proof = parse_tlog_proof(text)
    verified = open_checkpoint(
        proof.checkpoint_note,
        log_verifier,
        origin=origin,
        witness_verifiers=witness_verifiers,
        witness_quorum=witness_quorum,
    )
    checkpoint = verified.checkpoint
    verify_inclusion(leaf_hash, proof.index, checkpoint.size, list(proof.hashes), checkpoint.root_hash)
    return checkpoint
