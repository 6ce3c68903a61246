"""密钥 Keys: public keys, client-held keys, rotation and revocation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from api.deps import ActorDep, CommandsDep, LedgerDep
from api.errors import COMMAND_RESPONSES, READ_RESPONSES
from api.policy import authorize
from api.schemas.common import DoneOut
from api.schemas.region import ClientKeyIn, KeyIdOut, KeyOut, KeyRevokeIn, KeyRotateIn
from ledger.signing import keys as ed25519

router = APIRouter(tags=["keys 密钥"])
KeyId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", min_length=32, max_length=32,
                            description="密钥编号 / key id (hex)")]


@router.get("/v1/keys/{key_id}", response_model=KeyOut, responses=READ_RESPONSES, summary="公钥 A public key")
def read_key(key_id: KeyId, actor: ActorDep, ledger: LedgerDep) -> KeyOut:
    authorize(ledger, actor, "key.read")
    key = ledger.get_key(key_id)
    return KeyOut(key_id=key.key_id, public_key=key.public_key, owner_id=key.owner_id, role=key.role,
                  certified_by=key.certified_by, label=key.label, revoked_at=key.revoked_at,
                  replaced_by=key.replaced_by)


@router.post("/v1/keys", status_code=201, response_model=KeyIdOut, responses=COMMAND_RESPONSES,
             summary="登记客户端密钥 Register a client-held key",
             description="私钥留在客户端（柜台终端、社区办公电脑）；由有权认证该主体的一方登记：地区登记单位/社区/审计/党员的，"
                         "社区登记本社区柜台/居民/党员的，单位登记本单位党员的。/ The private key stays with the client; "
                         "registered by the actor that certifies the owner.")
def register_client_key(body: ClientKeyIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor

    def call() -> str:
        owner = ledger.actor_for(body.owner_id)
        return ledger.register_client_key(authority=actor, owner=owner, public_key=ed25519.unb64(body.public_key),
                                          label=body.label)

    return commands.run(action="key.register_client", object_id=body.owner_id, body=body, status_code=201,
                        alone=True, present=lambda k: KeyIdOut(key_id=k), call=call)


@router.post("/v1/actors/{actor_id}/key-rotation", response_model=KeyIdOut, responses=COMMAND_RESPONSES,
             summary="轮换服务端密钥 Rotate a server-held key",
             description="新密钥立即生效，旧密钥自此吊销。/ The new key signs from now on; the old one is revoked.")
def rotate_key(actor_id: UUID, body: KeyRotateIn, commands: CommandsDep) -> object:
    ledger, actor = commands.services.ledger, commands.actor

    def call() -> str:
        return ledger.rotate_key(authority=actor, owner=ledger.actor_for(actor_id), reason=body.reason)

    return commands.run(action="key.rotate", object_id=actor_id, body=body, alone=True,
                        present=lambda k: KeyIdOut(key_id=k), call=call)


@router.post("/v1/keys/{key_id}/revocation", response_model=DoneOut, responses=COMMAND_RESPONSES,
             summary="吊销密钥 Revoke a key",
             description="自 effective_at 起该密钥签署的事件无效（泄露时可追溯）。/ Events it signed at or after "
                         "`effective_at` fail verification.")
def revoke_key(key_id: KeyId, body: KeyRevokeIn, commands: CommandsDep) -> object:
    return commands.run(action="key.revoke", object_id=key_id, body=body, alone=True, present=lambda _: DoneOut(),
                        call=lambda: commands.services.ledger.revoke_key(
                            authority=commands.actor, key_id=key_id, effective_at=body.effective_at,
                            reason=body.reason))
