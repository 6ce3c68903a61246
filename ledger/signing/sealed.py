"""Field-level encryption of personal data and wrapping of secrets (AES-256-GCM).

A sealed field is `base64(nonce(12) ‖ ciphertext‖tag)` with associated data binding it to its
member and field name, so a ciphertext moved to another member or field fails to open.
Destroying the member's data key makes every sealed field unreadable (crypto-shredding) while the
signatures over the ciphertext stay valid.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

KEY_BYTES = 32
NONCE_BYTES = 12
SEALED_PREFIX = "enc:v1:"


class SealError(ValueError):
    """A sealed value that cannot be opened with the key given."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def _aad(subject: str, field: str) -> bytes:
    return f"timeledger/v1 field\n{subject}\n{field}".encode()


def seal(key: bytes, *, subject: str, field: str, plaintext: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(nonce, plaintext.encode("utf-8"), _aad(subject, field))
    return SEALED_PREFIX + base64.b64encode(nonce + ciphertext).decode("ascii")


def open_sealed(key: bytes, *, subject: str, field: str, sealed: str) -> str:
    if not sealed.startswith(SEALED_PREFIX):
        raise SealError(f"{field} is not a sealed value")
    raw = base64.b64decode(sealed[len(SEALED_PREFIX) :])
    try:
        plaintext = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(subject, field))
    except InvalidTag:
        raise SealError(f"{field} does not open with this key") from None
    return plaintext.decode("utf-8")


def wrap(master_key: bytes, *, purpose: str, secret: bytes) -> bytes:
    """Encrypt a secret (a private key, a data key) under the master key."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(master_key).encrypt(nonce, secret, purpose.encode())


def unwrap(master_key: bytes, *, purpose: str, wrapped: bytes) -> bytes:
    try:
        return AESGCM(master_key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], purpose.encode())
    except InvalidTag:
        raise SealError(f"{purpose}: wrong master key or damaged secret") from None


# ---------------------------------------------------------------------------------------------
# Sealed boxes to a region's X25519 key: ephemeral ECDH → HKDF-SHA256 → AES-256-GCM.

SEALED_BOX_FORMAT = b"timeledger/v1 sealed-box"


def x25519_public_bytes(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519_private_bytes(key: X25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes, context: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=ephemeral + recipient,
                info=SEALED_BOX_FORMAT + b"\n" + context).derive(shared)


def seal_to(recipient_public: bytes, plaintext: bytes, *, context: bytes) -> bytes:
    """Encrypt so that only the holder of the recipient's X25519 private key can read it.
    `context` (e.g. the transfer id and destination) is bound as associated data."""
    ephemeral = X25519PrivateKey.generate()
    ephemeral_public = x25519_public_bytes(ephemeral.public_key())
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(recipient_public))
    key = _box_key(shared, ephemeral_public, recipient_public, context)
    nonce = os.urandom(NONCE_BYTES)
    return ephemeral_public + nonce + AESGCM(key).encrypt(nonce, plaintext, context)


def open_box(recipient: X25519PrivateKey, box: bytes, *, context: bytes) -> bytes:
    if len(box) < 32 + NONCE_BYTES + 16:
        raise SealError("sealed box is too short")
    ephemeral_public, nonce, ciphertext = box[:32], box[32:32 + NONCE_BYTES], box[32 + NONCE_BYTES:]
    shared = recipient.exchange(X25519PublicKey.from_public_bytes(ephemeral_public))
    key = _box_key(shared, ephemeral_public, x25519_public_bytes(recipient.public_key()), context)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, context)
    except InvalidTag:
        raise SealError("sealed box does not open: wrong recipient, wrong context or altered") from None
