"""A small HTTP client for the CLI: sign in, call a command, or sign a command with a local key.

Client signing is two round trips over the same request: ``Timeledger-Prepare: true`` returns the
exact statements; the client checks that each names its own key and request id, signs them with the
local Ed25519 key and sends the request again with the signatures. The Idempotency-Key (generated
when not given) is the same for both: it is part of every signed statement.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Self
from uuid import uuid4

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.signing import keys as ed25519
from ledger.signing.statement import parse_signed_bytes


class ClientError(Exception):
    pass


@dataclass
class Answer:
    status_code: int
    body: Any
    replayed: bool = False


def load_private_key(text: str) -> Ed25519PrivateKey:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if not lines:
        raise ClientError("the key file holds no key")
    raw = base64.b64decode(lines[-1])
    if len(raw) != 32:
        raise ClientError("the key file must hold a raw 32-byte Ed25519 private key, base64")
    return ed25519.load_private(raw)


def key_id_of(private_key: Ed25519PrivateKey) -> str:
    return ed25519.key_id_of(ed25519.public_bytes(private_key.public_key()))


class Client:
    def __init__(self, server: str = "", *, token: str | None = None, timeout: float = 30.0,
                 http: httpx.Client | None = None) -> None:
        """`http` lets a caller pass its own httpx client (tests pass FastAPI's TestClient)."""
        self._http = http or httpx.Client(base_url=server.rstrip("/"), timeout=timeout)
        self._owns_http = http is None
        self.token = token

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def login(self, username: str, password: str) -> dict[str, Any]:
        response = self._http.post("/v1/auth/token", data={"username": username, "password": password})
        if response.status_code != 200:
            raise ClientError(f"sign-in failed: {response.status_code} {response.text}")
        body = response.json()
        self.token = body["access_token"]
        return body

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def call(self, method: str, path: str, body: Any = None, *, idempotency_key: str | None = None,
             headers: dict[str, str] | None = None) -> Answer:
        extra = dict(headers or {})
        if idempotency_key:
            extra["Idempotency-Key"] = idempotency_key
        if body is not None:
            extra.setdefault("Content-Type", "application/json")
        response = self._http.request(method.upper(), path, headers=self._headers(extra),
                                      content=None if body is None else json.dumps(body, ensure_ascii=False))
        try:
            payload = response.json()
        except ValueError:
            payload = response.text
        return Answer(response.status_code, payload, response.headers.get("Idempotent-Replayed") == "true")

    def submit_signed(self, method: str, path: str, body: Any, private_key: Ed25519PrivateKey, *,
                      idempotency_key: str | None = None) -> Answer:
        key_id = key_id_of(private_key)
        request_id = idempotency_key or str(uuid4())
        prepared = self.call(method, path, body, idempotency_key=request_id,
                             headers={"Timeledger-Key-Id": key_id, "Timeledger-Prepare": "true"})
        if prepared.status_code != 202:
            return prepared  # a refusal, or nothing to sign (already applied)
        signatures = []
        for encoded in prepared.body["statements"]:
            statement_bytes = base64.b64decode(encoded)
            statement = parse_signed_bytes(statement_bytes)
            if statement.key != key_id or statement.request not in (None, request_id):
                raise ClientError("the server asked to sign a statement for another key or request: refused")
            signatures.append(base64.b64encode(private_key.sign(statement_bytes)).decode("ascii"))
        return self.call(method, path, body, idempotency_key=request_id,
                         headers={"Timeledger-Key-Id": key_id, "Timeledger-Signed-At": prepared.body["signed_at"],
                                  "Timeledger-Signatures": ",".join(signatures),
                                  "Content-Type": "application/json"})
