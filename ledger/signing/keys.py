"""Ed25519 keys: ids, encodings, signing and verifying."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

SIGNATURE_BYTES = 64
PUBLIC_KEY_BYTES = 32
KEY_ID_HEX_CHARS = 32  # 128 bits of SHA-256: collision-free for any realistic number of keys


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def private_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def key_id_of(public_key: bytes) -> str:
    """The stable id of a public key: hex of the first 16 bytes of its SHA-256."""
    assert len(public_key) == PUBLIC_KEY_BYTES
    return hashlib.sha256(b"timeledger-key\n" + public_key).hexdigest()[:KEY_ID_HEX_CHARS]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def load_public(public_key_b64: str) -> Ed25519PublicKey:
    raw = unb64(public_key_b64)
    if len(raw) != PUBLIC_KEY_BYTES:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def load_private(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def generate() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def verify(public_key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
