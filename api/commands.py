"""Running one command for one request: authorise → (idempotency) → sign → group commit → answer.

Signing modes, chosen by headers (the same for every command endpoint):

* default — the service signs each event with the signed-in actor's key held server-side;
* ``Timeledger-Prepare: true`` + ``Timeledger-Key-Id`` — nothing is stored: the answer (202) holds
  the exact statement bytes (base64) the client must sign with that key, and `signed_at`;
* ``Timeledger-Key-Id`` + ``Timeledger-Signed-At`` + ``Timeledger-Signatures`` (comma-separated
  base64 Ed25519 signatures, in statement order) — the same command again; the ledger re-derives the
  statements, checks every signature against the registered key (certified, not revoked, of the
  actor's role) and stores them verbatim. The key must belong to the signed-in actor.

Ids the command would otherwise invent (a session id, a redemption id …) must be sent by a client
that signs, so that the prepared statements and the submitted ones are the same bytes; so must the
Idempotency-Key, which is part of the signed statement (`request`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.errors import ApiError, InvalidHeader
from api.idempotency import Slot, Stored, check_key, fingerprint
from api.policy import authorize
from api.schemas.common import PreparedOut
from api.services import Services
from ledger.application import Actor, StatementsPrepared
from ledger.domain.base import CLOCK, utc_now
from ledger.domain.errors import NotPermitted
from ledger.domain.values import Role


class MemberKeyNotOwn(ApiError):
    code = "member_key_not_own"

# Acts that must carry the member's own signature (issue #10): consents to share their record (the
# unit's year-end feedback, a transfer) and suggestions. Accepted only when signed with a key the
# member alone controls: their password-held key, unlocked by this sign-in, or a client-held key.
MEMBER_OWN_KEY_ACTIONS = frozenset({"member.give_consent", "member.withdraw_consent", "member.submit_suggestion"})
SIGNATURES_MAX = 64  # statements per command: the largest command writes a handful of events
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class Signing:
    key_id: str | None = None
    prepare: bool = False
    signed_at: datetime | None = None
    signatures: tuple[bytes, ...] = ()

    @property
    def client_signed(self) -> bool:
        return self.key_id is not None and not self.prepare


def parse_signing(key_id: str | None, prepare: str | None, signed_at: str | None,
                  signatures: str | None) -> Signing:
    wants_prepare = (prepare or "").strip().lower() in ("1", "true", "yes")
    if prepare is not None and not wants_prepare and prepare.strip().lower() not in ("0", "false", "no", ""):
        raise InvalidHeader("Timeledger-Prepare: true or false")
    if key_id is None:
        if wants_prepare or signed_at is not None or signatures is not None:
            raise InvalidHeader("client signing needs Timeledger-Key-Id")
        return Signing()
    key_id = key_id.strip()
    if not (1 <= len(key_id) <= 64) or not all(c in "0123456789abcdef" for c in key_id):
        raise InvalidHeader("Timeledger-Key-Id: the hex key id")
    if wants_prepare:
        return Signing(key_id=key_id, prepare=True)
    if signed_at is None or signatures is None:
        raise InvalidHeader("a client-signed command needs Timeledger-Signed-At and Timeledger-Signatures "
                            "(or Timeledger-Prepare: true to get the statements to sign)")
    try:
        moment = datetime.fromisoformat(signed_at.strip())
    except ValueError:
        raise InvalidHeader("Timeledger-Signed-At: an ISO 8601 time with offset, as returned by prepare") from None
    if moment.tzinfo is None:
        raise InvalidHeader("Timeledger-Signed-At needs a UTC offset")
    parts = [p.strip() for p in signatures.split(",") if p.strip()]
    if not 1 <= len(parts) <= SIGNATURES_MAX:
        raise InvalidHeader(f"Timeledger-Signatures: 1 to {SIGNATURES_MAX} base64 signatures")
    try:
        decoded = tuple(base64.b64decode(p, validate=True) for p in parts)
    except (binascii.Error, ValueError):
        raise InvalidHeader("Timeledger-Signatures: base64 signatures separated by commas") from None
    return Signing(key_id=key_id, signed_at=moment, signatures=decoded)


def _json_body(body: Any) -> Any:
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json")
    return body


class Commands:
    """Per-request command runner (built by the `CommandsDep` dependency)."""

    def __init__(self, services: Services, actor: Actor, *, method: str, path: str,
                 idempotency_key: str | None, signing: Signing, member_key: tuple[str, bytes] | None = None) -> None:
        self.services = services
        self.actor = actor
        self._member_key = member_key  # (key id, private key) unlocked by the member's sign-in
        self._method = method
        self._path = path
        self._idempotency_key = check_key(idempotency_key) if idempotency_key is not None else None
        self._signing = signing

    @property
    def request_id(self) -> str | None:
        return self._idempotency_key

    def run(self, *, action: str, call: Callable[[], Any], present: Callable[[Any], BaseModel],
            object_id: UUID | str | None = None, body: Any = None, status_code: int = 200,
            alone: bool = False) -> JSONResponse:
        """Authorise `action` on the object, then run `call()` (a Ledger command) in the writer and
        answer with `present(result)`."""
        ledger = self.services.ledger
        authorize(ledger, self.actor, action, object_id)
        signing = self._signing
        if signing.key_id is not None:
            self._check_key_owner(signing.key_id)
        if action in MEMBER_OWN_KEY_ACTIONS and self.actor.role is Role.MEMBER and signing.key_id is None \
                and self._member_key is None:
            raise MemberKeyNotOwn("同意和建议须由党员本人持有的密钥签名：请先凭激活码设置本人登录 / consents and "
                                  "suggestions are signed only with a key the member alone holds: set up your own "
                                  "login with an activation code first")
        if signing.prepare:
            return self._prepare(signing.key_id or "", call, present, status_code)
        member_key = self._member_key if signing.key_id is None else None
        actor = self.actor

        def job() -> Stored:
            if signing.client_signed:
                assert signing.key_id is not None and signing.signed_at is not None
                with ledger.signed_by_client(key_id=signing.key_id, signed_at=signing.signed_at,
                                             signatures=list(signing.signatures)):
                    result = call()
            elif member_key is not None:
                with ledger.signing_as(actor, key_id=member_key[0], private_key=member_key[1]):
                    result = call()
            else:
                result = call()
            return Stored(status_code, present(result).model_dump(mode="json"))

        slot = None
        if self._idempotency_key is not None:
            slot = Slot(self.actor.actor_id, self._idempotency_key,
                        fingerprint(self._method, self._path, _json_body(body)))
            self.services.idempotency.claim(slot)
        try:
            outcome: Stored = self.services.writer.submit(job, alone=alone or signing.client_signed,
                                                          idempotency=slot)
        except BaseException:
            if slot is not None:
                self.services.idempotency.release(slot)
            raise
        headers = {REPLAYED_HEADER: "true"} if outcome.replayed else None
        return JSONResponse(outcome.body, status_code=outcome.status_code, headers=headers)

    def _check_key_owner(self, key_id: str) -> None:
        key = self.services.ledger.get_key(key_id)
        if key.owner_id != self.actor.actor_id:
            raise NotPermitted("a client signs only with its own key")

    def _prepare(self, key_id: str, call: Callable[[], Any], present: Callable[[Any], BaseModel],
                 status_code: int) -> JSONResponse:
        """Run the command without saving and answer with the statements to sign. Every event of the
        command gets the same time, which the client sends back as Timeledger-Signed-At."""
        now = utc_now()
        token = CLOCK.set(lambda: now)
        try:
            with self.services.ledger.prepare(key_id=key_id):
                result = call()
        except StatementsPrepared as prepared:
            out = PreparedOut(key_id=key_id, signed_at=prepared.signed_at,
                              statements=[base64.b64encode(s).decode("ascii") for s in prepared.statements])
            return JSONResponse(out.model_dump(mode="json"), status_code=202)
        finally:
            CLOCK.reset(token)
        # Nothing to sign (a retry of something already applied): the ordinary answer.
        return JSONResponse(present(result).model_dump(mode="json"), status_code=status_code)
