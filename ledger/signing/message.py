"""Signed federation messages: `{"body": {...}, "key_id": "...", "signature": "<base64 Ed25519>"}` in
canonical JSON (RFC 8785), the signature over the canonical bytes of `body`, whose `format` names what it
is. Regions exchange them for 通存通兑 (requests, answers, settlement statements and verdicts); they keep
them verbatim, so anyone with the signer's public key checks them later.

`parse_message` is total: any bytes → `Signed` or `MessageError` (it does not check the signature:
which key should have signed depends on who the caller trusts)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.signing import keys as ed25519
from ledger.signing.canonical import JsonInputError, canonical_bytes, loads_bounded


class MessageError(ValueError):
    """Not a signed message of the expected format."""


@dataclass(frozen=True)
class Signed:
    body: dict[str, Any]
    key_id: str
    signature: bytes
    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    def signed_by(self, public_key: bytes) -> bool:
        """Whether the signature over the body verifies under `public_key` (32 raw bytes)."""
        return ed25519.verify(ed25519.load_public(ed25519.b64(public_key)), self.signature, canonical_bytes(self.body))


def sign_body(key_id: str, private_key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    return canonical_bytes({"body": body, "key_id": key_id,
                            "signature": ed25519.b64(private_key.sign(canonical_bytes(body)))})


def parse_message(message: Any, expected_format: str, *, bytes_max: int) -> Signed:
    """The message's parts, if it is a canonical signed message of `expected_format` within `bytes_max`."""
    if not isinstance(message, bytes) or len(message) > bytes_max:
        raise MessageError("not a message of this size")
    try:
        document = loads_bounded(message)
        body, key_id = document["body"], document["key_id"]
        signature = ed25519.unb64(document["signature"])
        if not isinstance(body, dict) or not isinstance(key_id, str) or set(document) != {"body", "key_id",
                                                                                          "signature"}:
            raise TypeError("body, key_id and signature expected")
        if body.get("format") != expected_format:
            raise ValueError(f"format is not {expected_format}")
        if canonical_bytes(document) != message:
            raise ValueError("the message is not canonical JSON")
    except (JsonInputError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise MessageError(f"not a {expected_format} message: {error}") from None
    return Signed(body, key_id, signature, message)
