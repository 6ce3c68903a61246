"""The signed log over HTTP: checkpoints, an inclusion proof and an hour certificate that verify
offline with the root key alone."""

from __future__ import annotations

import base64

from fastapi.testclient import TestClient

from ledger.verification import proofs
from ledger.verification.certificates import verify_certificate
from ledger.verification.checkpoints import region_note_verifier
from tests.api.world import World


def test_checkpoint_proof_and_certificate_verify_offline(client: TestClient, world: World) -> None:
    region = world.headers(world.region)
    assert client.get("/v1/log/checkpoint", headers=region).status_code in (200, 404)
    signed = client.post("/v1/log/checkpoints", headers=region)
    assert signed.status_code == 200, signed.text
    checkpoint = signed.json()
    assert checkpoint["size"] > 0 and checkpoint["note"].startswith(f"timeledger/{world.ledger.region_code}\n")
    assert client.get("/v1/log/checkpoint", headers=world.headers(world.a.member)).json() == checkpoint

    proof = client.get("/v1/log/proofs/inclusion", params={"position": 3}, headers=world.headers(world.auditor))
    assert proof.status_code == 200, proof.text
    verified = proofs.verify_inclusion_file(proof.text, region_note_verifier(world.ledger))
    assert verified is not None
    consistency = client.get("/v1/log/proofs/consistency", params={"from": checkpoint["size"],
                                                                     "to": checkpoint["size"]}, headers=region)
    assert consistency.status_code == 200 and checkpoint["note"] in consistency.text, consistency.text
    assert proofs.verify_consistency_file(consistency.text, region_note_verifier(world.ledger)).size2 == checkpoint["size"]
    unsigned = client.get("/v1/log/proofs/consistency", params={"from": 1, "to": checkpoint["size"]}, headers=region)
    assert unsigned.status_code == 422 and unsigned.json()["code"] == "invalid_input", unsigned.text  # no signed root
    assert client.get("/v1/log/proofs/consistency", params={"from": 5, "to": 2},
                      headers=region).json()["code"] == "invalid_input"

    member = world.a.member
    issued = client.post(f"/v1/members/{member.actor_id}/certificates", headers=world.headers(member))
    assert issued.status_code == 201, issued.text
    root = base64.b64decode(world.ledger.root_public_key())
    certificate = verify_certificate(issued.content, root)
    assert certificate.total_minutes > 0
    pdf = client.post(f"/v1/members/{member.actor_id}/certificates", params={"format": "pdf"},
                      headers=world.headers(member))
    assert pdf.status_code == 201 and pdf.content.startswith(b"%PDF")
    other = client.post(f"/v1/members/{world.b.member.actor_id}/certificates", headers=world.headers(member))
    assert other.status_code == 403
